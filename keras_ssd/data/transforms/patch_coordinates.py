"""`PatchCoordinateGenerator`: random patch coordinates for the patch sampling ops."""

from __future__ import annotations

from keras_ssd.data.transforms._base import Component
from keras_ssd.data.transforms._base import check_positive

__all__ = ["PatchCoordinateGenerator"]


class PatchCoordinateGenerator(Component):
    """Samples patch coordinates `(ymin, xmin, height, width)` for an image of size
    `img_height x img_width` (set by the op that uses it).

    `must_match` picks the two sampled quantities, the third is derived:
    'h_w' (height and width, each `scale * image side`), 'h_ar' (height and aspect
    ratio w/h) or 'w_ar' (width and aspect ratio). `scale_uniformly` ('h_w' only)
    uses one scale for both sides. Any `patch_*` value that is not None is fixed.
    Scales may exceed 1: such a patch is placed so that it contains the image
    (padding); a smaller one lies inside the image. Sides are at least 1 pixel.
    """

    def __init__(
        self,
        img_height=None,
        img_width=None,
        must_match="h_w",
        min_scale=0.3,
        max_scale=1.0,
        scale_uniformly=False,
        min_aspect_ratio=0.5,
        max_aspect_ratio=2.0,
        patch_ymin=None,
        patch_xmin=None,
        patch_height=None,
        patch_width=None,
        patch_aspect_ratio=None,
        *,
        rng=None,
    ):
        if must_match not in ("h_w", "h_ar", "w_ar"):
            raise ValueError(
                f"`must_match` must be 'h_w', 'h_ar' or 'w_ar'. Received: must_match={must_match!r}"
            )
        check_positive(min_scale, "min_scale")
        if not min_scale < max_scale:
            raise ValueError(
                "`min_scale` must be smaller than `max_scale`. "
                f"Received: min_scale={min_scale!r}, max_scale={max_scale!r}"
            )
        check_positive(min_aspect_ratio, "min_aspect_ratio")
        if not min_aspect_ratio < max_aspect_ratio:
            raise ValueError(
                "`min_aspect_ratio` must be smaller than `max_aspect_ratio`. "
                f"Received: min_aspect_ratio={min_aspect_ratio!r}, "
                f"max_aspect_ratio={max_aspect_ratio!r}"
            )
        if scale_uniformly and (patch_height is not None or patch_width is not None):
            raise ValueError(
                "`scale_uniformly` cannot be combined with a fixed `patch_height` or "
                f"`patch_width`. Received: patch_height={patch_height!r}, "
                f"patch_width={patch_width!r}"
            )
        self.img_height, self.img_width = img_height, img_width
        self.must_match = must_match
        self.min_scale, self.max_scale = min_scale, max_scale
        self.scale_uniformly = bool(scale_uniformly)
        self.min_aspect_ratio, self.max_aspect_ratio = min_aspect_ratio, max_aspect_ratio
        self.patch_ymin, self.patch_xmin = patch_ymin, patch_xmin
        self.patch_height, self.patch_width = patch_height, patch_width
        self.patch_aspect_ratio = patch_aspect_ratio
        self._seed(rng)

    def _side(self, fixed, image_side):
        if fixed is not None:
            return fixed
        return int(self.rng.uniform(self.min_scale, self.max_scale) * image_side)

    def _aspect_ratio(self):
        if self.patch_aspect_ratio is not None:
            return self.patch_aspect_ratio
        return self.rng.uniform(self.min_aspect_ratio, self.max_aspect_ratio)

    def _position(self, fixed, image_side, patch_side):
        if fixed is not None:
            return fixed
        room = image_side - patch_side
        # room >= 0: the patch lies inside the image; room < 0: it contains the image.
        return int(self.rng.integers(0, room + 1) if room >= 0 else self.rng.integers(room, 1))

    def __call__(self):
        """One patch `(ymin, xmin, height, width)` in image pixels."""
        if self.img_height is None or self.img_width is None:
            raise ValueError(
                "`img_height` and `img_width` must be set before sampling. "
                f"Received: img_height={self.img_height}, img_width={self.img_width}"
            )
        if self.must_match == "h_w":
            if self.scale_uniformly:
                scale = self.rng.uniform(self.min_scale, self.max_scale)
                height, width = int(scale * self.img_height), int(scale * self.img_width)
            else:
                height = self._side(self.patch_height, self.img_height)
                width = self._side(self.patch_width, self.img_width)
        elif self.must_match == "h_ar":
            height = self._side(self.patch_height, self.img_height)
            width = int(height * self._aspect_ratio())
        else:
            width = self._side(self.patch_width, self.img_width)
            height = int(width / self._aspect_ratio())
        height, width = max(1, height), max(1, width)
        ymin = self._position(self.patch_ymin, self.img_height, height)
        xmin = self._position(self.patch_xmin, self.img_width, width)
        return ymin, xmin, height, width
