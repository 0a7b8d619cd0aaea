"""Patch sampling: crop and/or pad an image to a (random) patch.

Every op: `__call__(image, labels=None, return_inverter=False)` returns `image`, or
`(image, labels)` when labels are given, with the inverter appended when
`return_inverter=True`. Images are `(H, W, C)` or `(H, W)` arrays; labels are
`(k, n)` float arrays in `labels_format`, absolute pixel-edge corners. A patch
`(ymin, xmin, height, width)` is given in input-image pixels; negative `ymin`/`xmin`
or a patch reaching past the image pads with `background`. Inverters map
prediction rows `[class_id, conf, xmin, ymin, xmax, ymax]` back to the input image.
Random ops fire when `rng.random() < prob`.
"""

from __future__ import annotations

import numpy as np

from keras_ssd.data.transforms._base import DEFAULT_LABELS_FORMAT
from keras_ssd.data.transforms._base import Transform
from keras_ssd.data.transforms._base import check_positive
from keras_ssd.data.transforms._base import check_prob
from keras_ssd.data.transforms._base import identity_inverter
from keras_ssd.data.transforms._base import pack
from keras_ssd.data.transforms._base import prepare_labels
from keras_ssd.data.transforms._geometry import affine_matrix
from keras_ssd.data.transforms._geometry import check_background
from keras_ssd.data.transforms._geometry import check_box_filter
from keras_ssd.data.transforms._geometry import check_image_validator
from keras_ssd.data.transforms._geometry import check_n_trials
from keras_ssd.data.transforms._geometry import check_size
from keras_ssd.data.transforms._geometry import finish_labels
from keras_ssd.data.transforms._geometry import inverter_for
from keras_ssd.data.transforms._geometry import move_labels
from keras_ssd.data.transforms.patch_coordinates import PatchCoordinateGenerator
from keras_ssd.data.transforms.validation import BoundGenerator

__all__ = [
    "Crop",
    "CropPad",
    "Pad",
    "PatchCoordinateGenerator",
    "RandomMaxCropFixedAR",
    "RandomPadFixedAR",
    "RandomPatch",
    "RandomPatchInf",
]


def _check_nonnegative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={value!r}")
    return int(value)


class CropPad(Transform):
    """Cut the patch `(patch_ymin, patch_xmin, patch_height, patch_width)` out of the
    image, padding with `background` wherever it reaches past the image.

    Boxes are shifted into the patch, passed through the optional `box_filter`, then
    clipped to the patch if `clip_boxes`. The patch must overlap the image.
    """

    def __init__(
        self,
        patch_ymin,
        patch_xmin,
        patch_height,
        patch_width,
        clip_boxes=True,
        box_filter=None,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
    ):
        self.patch_ymin, self.patch_xmin = patch_ymin, patch_xmin
        self.patch_height, self.patch_width = patch_height, patch_width
        if patch_height is not None or patch_width is not None:  # None: set later (Crop)
            self._check_patch()
        self.clip_boxes = bool(clip_boxes)
        self.box_filter = check_box_filter(box_filter)
        self.background = check_background(background)
        self.labels_format = labels_format

    def _check_patch(self):
        for name in ("patch_ymin", "patch_xmin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"`{name}` must be an int. Received: {name}={value!r}")
        check_size(self.patch_height, "patch_height")
        check_size(self.patch_width, "patch_width")

    def _canvas(self, image):
        ymin, xmin = int(self.patch_ymin), int(self.patch_xmin)
        height, width = int(self.patch_height), int(self.patch_width)
        img_height, img_width = image.shape[:2]
        y0, y1 = max(0, ymin), min(img_height, ymin + height)
        x0, x1 = max(0, xmin), min(img_width, xmin + width)
        if y1 <= y0 or x1 <= x0:
            raise ValueError(
                f"The patch (ymin, xmin, height, width)={(ymin, xmin, height, width)} does "
                f"not overlap the {img_height}x{img_width} image."
            )
        canvas = np.empty((height, width, *image.shape[2:]), dtype=image.dtype)
        background = np.asarray(self.background)
        channels = image.shape[2] if image.ndim == 3 else 1
        if channels == 1:  # gray: the first value, as in ssd_keras
            background = background[:1]
        elif background.size not in (1, channels):
            raise ValueError(
                f"`background` must have 1 or {channels} values for this image. "
                f"Received: background={self.background}"
            )
        canvas[...] = background[0] if image.ndim == 2 else background
        canvas[y0 - ymin : y1 - ymin, x0 - xmin : x1 - xmin] = image[y0:y1, x0:x1]
        return canvas

    def __call__(self, image, labels=None, return_inverter=False):
        self._check_patch()
        image = self._canvas(np.asarray(image))
        labels = prepare_labels(labels, self.labels_format)
        matrix = affine_matrix(tx=-float(self.patch_xmin), ty=-float(self.patch_ymin))
        if labels is not None:
            labels = move_labels(labels, matrix, self.labels_format)
            labels = finish_labels(
                labels, self.box_filter, self.clip_boxes, self.labels_format, *image.shape[:2]
            )
        return pack(image, labels, inverter_for(matrix), return_inverter)


class Crop(Transform):
    """Remove `crop_top`, `crop_bottom`, `crop_left`, `crop_right` pixels (a `CropPad`)."""

    def __init__(
        self,
        crop_top,
        crop_bottom,
        crop_left,
        crop_right,
        clip_boxes=True,
        box_filter=None,
        labels_format=DEFAULT_LABELS_FORMAT,
    ):
        self.crop_top = _check_nonnegative_int(crop_top, "crop_top")
        self.crop_bottom = _check_nonnegative_int(crop_bottom, "crop_bottom")
        self.crop_left = _check_nonnegative_int(crop_left, "crop_left")
        self.crop_right = _check_nonnegative_int(crop_right, "crop_right")
        self.crop = CropPad(crop_top, crop_left, None, None, clip_boxes, box_filter,
                            labels_format=labels_format)
        self.labels_format = labels_format

    def __call__(self, image, labels=None, return_inverter=False):
        img_height, img_width = np.shape(image)[:2]
        height = img_height - self.crop_top - self.crop_bottom
        width = img_width - self.crop_left - self.crop_right
        if height <= 0 or width <= 0:
            raise ValueError(
                f"The crop leaves no pixels of the {img_height}x{img_width} image. Received: "
                f"crop_top={self.crop_top}, crop_bottom={self.crop_bottom}, "
                f"crop_left={self.crop_left}, crop_right={self.crop_right}"
            )
        self.crop.patch_height, self.crop.patch_width = height, width
        return self.crop(image, labels, return_inverter)


class Pad(Transform):
    """Add `pad_top`, `pad_bottom`, `pad_left`, `pad_right` pixels of `background`."""

    def __init__(
        self,
        pad_top,
        pad_bottom,
        pad_left,
        pad_right,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
    ):
        self.pad_top = _check_nonnegative_int(pad_top, "pad_top")
        self.pad_bottom = _check_nonnegative_int(pad_bottom, "pad_bottom")
        self.pad_left = _check_nonnegative_int(pad_left, "pad_left")
        self.pad_right = _check_nonnegative_int(pad_right, "pad_right")
        self.pad = CropPad(-pad_top, -pad_left, None, None, clip_boxes=False,
                           background=background, labels_format=labels_format)
        self.labels_format = labels_format

    def __call__(self, image, labels=None, return_inverter=False):
        img_height, img_width = np.shape(image)[:2]
        self.pad.patch_height = img_height + self.pad_top + self.pad_bottom
        self.pad.patch_width = img_width + self.pad_left + self.pad_right
        return self.pad(image, labels, return_inverter)


def _failed(labels, return_inverter):
    out = (None,) if labels is None else (None, None)
    out += (None,) if return_inverter else ()
    return out[0] if len(out) == 1 else out


class _PatchSampler(Transform):
    """Shared by the random patch ops: `patch_coord_generator`, `image_validator`,
    `sample_patch` (a CropPad) and `_try_patches`."""

    def _unchanged(self, image, labels, return_inverter):
        return pack(image, labels, identity_inverter, return_inverter)

    def _try_patches(self, image, labels, return_inverter, check_aspect_ratio=False):
        """Crop the first of `n_trials_max` sampled patches that the validator accepts
        (any patch without labels or validator); None if none is accepted."""
        generator = self.patch_coord_generator
        generator.img_height, generator.img_width = image.shape[:2]
        for _ in range(self.n_trials_max):
            ymin, xmin, height, width = generator()
            if check_aspect_ratio and not (
                generator.min_aspect_ratio <= width / height <= generator.max_aspect_ratio
            ):
                continue
            if labels is not None and self.image_validator is not None:
                moved = move_labels(
                    labels.copy(), affine_matrix(tx=-xmin, ty=-ymin), self.labels_format
                )
                if not self.image_validator(moved, image_height=height, image_width=width):
                    continue
            crop = self.sample_patch
            crop.patch_ymin, crop.patch_xmin = ymin, xmin
            crop.patch_height, crop.patch_width = height, width
            return crop(image, labels, return_inverter)
        return None


def _check_generator(patch_coord_generator):
    if not isinstance(patch_coord_generator, PatchCoordinateGenerator):
        raise TypeError(
            "`patch_coord_generator` must be a PatchCoordinateGenerator. "
            f"Received: patch_coord_generator={patch_coord_generator!r}"
        )
    return patch_coord_generator


class RandomPatch(_PatchSampler):
    """With probability `prob`, crop/pad a patch from `patch_coord_generator`, trying up
    to `n_trials_max` patches until `image_validator` accepts one.

    If none is accepted: with `can_fail` the outputs are all None (image, labels and
    inverter), otherwise the input comes back unchanged (identity inverter).
    """

    def __init__(
        self,
        patch_coord_generator,
        box_filter=None,
        image_validator=None,
        n_trials_max=3,
        clip_boxes=True,
        prob=1.0,
        background=(0, 0, 0),
        can_fail=False,
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        self.patch_coord_generator = _check_generator(patch_coord_generator)
        self.image_validator = check_image_validator(image_validator)
        self.n_trials_max = check_n_trials(n_trials_max)
        self.prob = check_prob(prob)
        self.can_fail = bool(can_fail)
        self.sample_patch = CropPad(0, 0, 1, 1, clip_boxes, box_filter, background, labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        image = np.asarray(image)
        labels = prepare_labels(labels, self.labels_format)
        if not self.rng.random() < self.prob:
            return self._unchanged(image, labels, return_inverter)
        result = self._try_patches(image, labels, return_inverter)
        if result is not None:
            return result
        if self.can_fail:
            return _failed(labels, return_inverter)
        return self._unchanged(image, labels, return_inverter)


class RandomPatchInf(_PatchSampler):
    """The SSD random crop: in each round, return the input unchanged with probability
    `1 - prob`; otherwise draw validator bounds from `bound_generator` and try up to
    `n_trials_max` patches whose aspect ratio lies within the generator's min/max.

    The original looped until success; here at most `n_rounds_max` rounds run, after
    which the input comes back unchanged (identity inverter), so it never hangs.
    """

    def __init__(
        self,
        patch_coord_generator,
        box_filter=None,
        image_validator=None,
        bound_generator=None,
        n_trials_max=50,
        clip_boxes=True,
        prob=0.857,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        n_rounds_max=100,
        rng=None,
    ):
        self.patch_coord_generator = _check_generator(patch_coord_generator)
        self.image_validator = check_image_validator(image_validator)
        if bound_generator is not None and not isinstance(bound_generator, BoundGenerator):
            raise TypeError(
                "`bound_generator` must be a BoundGenerator or None. "
                f"Received: bound_generator={bound_generator!r}"
            )
        self.bound_generator = bound_generator
        self.n_trials_max = check_n_trials(n_trials_max)
        self.n_rounds_max = check_n_trials(n_rounds_max, "n_rounds_max")
        self.prob = check_prob(prob)
        self.sample_patch = CropPad(0, 0, 1, 1, clip_boxes, box_filter, background, labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        image = np.asarray(image)
        labels = prepare_labels(labels, self.labels_format)
        for _ in range(self.n_rounds_max):
            if not self.rng.random() < self.prob:
                break
            if self.image_validator is not None and self.bound_generator is not None:
                self.image_validator.bounds = self.bound_generator()
            result = self._try_patches(image, labels, return_inverter, check_aspect_ratio=True)
            if result is not None:
                return result
        return self._unchanged(image, labels, return_inverter)


def _check_aspect_ratio(patch_aspect_ratio):
    return check_positive(patch_aspect_ratio, "patch_aspect_ratio")


class RandomMaxCropFixedAR(Transform):
    """Crop the largest patch with aspect ratio w/h = `patch_aspect_ratio` at a random
    position (a `RandomPatch`, validated by `image_validator` if given)."""

    def __init__(
        self,
        patch_aspect_ratio,
        box_filter=None,
        image_validator=None,
        n_trials_max=3,
        clip_boxes=True,
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        self.patch_aspect_ratio = _check_aspect_ratio(patch_aspect_ratio)
        self.random_patch = RandomPatch(
            PatchCoordinateGenerator(must_match="h_w"),
            box_filter, image_validator, n_trials_max, clip_boxes, prob=1.0,
            can_fail=False, labels_format=labels_format,
        )
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        img_height, img_width = np.shape(image)[:2]
        if img_width / img_height < self.patch_aspect_ratio:  # too narrow: crop the height
            height = min(img_height, max(1, round(img_width / self.patch_aspect_ratio)))
            width = img_width
        else:
            height = img_height
            width = min(img_width, max(1, round(img_height * self.patch_aspect_ratio)))
        generator = self.random_patch.patch_coord_generator
        generator.patch_height, generator.patch_width = height, width
        return self.random_patch(image, labels, return_inverter)


class RandomPadFixedAR(Transform):
    """Pad (never crop) to aspect ratio w/h = `patch_aspect_ratio`, placing the image
    at a random offset; the inverter removes the offset."""

    def __init__(
        self,
        patch_aspect_ratio,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        self.patch_aspect_ratio = _check_aspect_ratio(patch_aspect_ratio)
        self.random_patch = RandomPatch(
            PatchCoordinateGenerator(must_match="h_w"),
            n_trials_max=1, clip_boxes=False, prob=1.0, background=background,
            labels_format=labels_format,
        )
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        img_height, img_width = np.shape(image)[:2]
        if img_width / img_height < self.patch_aspect_ratio:  # too narrow: pad the width
            height = img_height
            width = max(img_width, round(img_height * self.patch_aspect_ratio))
        else:
            height = max(img_height, round(img_width / self.patch_aspect_ratio))
            width = img_width
        generator = self.random_patch.patch_coord_generator
        generator.patch_height, generator.patch_width = height, width
        return self.random_patch(image, labels, return_inverter)
