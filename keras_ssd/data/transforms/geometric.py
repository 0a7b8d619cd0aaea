"""Geometric ops: resize, flip, translate, scale, rotate, and their random variants.

Every op: `__call__(image, labels=None, return_inverter=False)` returns `image`, or
`(image, labels)` when labels are given, with the inverter appended when
`return_inverter=True`. Images are `(H, W, C)` or `(H, W)` arrays; labels are
`(k, n)` float arrays in `labels_format` with absolute pixel-edge corners (an image
spans `[0, W] x [0, H]`); coordinates stay floats. Inverters map prediction rows
`[class_id, conf, xmin, ymin, xmax, ymax]` back to the input image. Inputs are
never modified in place. Random ops fire when `rng.random() < prob`.
"""

from __future__ import annotations

import cv2
import numpy as np

from keras_ssd.data.transforms._base import DEFAULT_LABELS_FORMAT
from keras_ssd.data.transforms._base import Transform
from keras_ssd.data.transforms._base import check_positive
from keras_ssd.data.transforms._base import check_prob
from keras_ssd.data.transforms._base import identity_inverter
from keras_ssd.data.transforms._base import pack
from keras_ssd.data.transforms._base import prepare_labels
from keras_ssd.data.transforms._geometry import INTERPOLATION_MODES
from keras_ssd.data.transforms._geometry import affine_matrix
from keras_ssd.data.transforms._geometry import check_background
from keras_ssd.data.transforms._geometry import check_box_filter
from keras_ssd.data.transforms._geometry import check_image_validator
from keras_ssd.data.transforms._geometry import check_interpolation
from keras_ssd.data.transforms._geometry import check_n_trials
from keras_ssd.data.transforms._geometry import check_size
from keras_ssd.data.transforms._geometry import finish_labels
from keras_ssd.data.transforms._geometry import inverter_for
from keras_ssd.data.transforms._geometry import keep_channels
from keras_ssd.data.transforms._geometry import move_labels
from keras_ssd.data.transforms._geometry import warp

__all__ = [
    "Flip",
    "RandomFlip",
    "RandomRotate",
    "RandomScale",
    "RandomTranslate",
    "Resize",
    "ResizeRandomInterp",
    "Rotate",
    "Scale",
    "Translate",
]

_ROTATIONS = (90, 180, 270)


def _check_minmax(pair, name: str, low=0.0):
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or not low <= pair[0] <= pair[1]
    ):
        raise ValueError(
            f"`{name}` must be a pair ({low} <= min <= max). Received: {name}={pair!r}"
        )
    return tuple(pair)


class _MatrixOp(Transform):
    """An op whose box motion is one edge-coordinate affine matrix (see `_matrix`)."""

    box_filter = None
    clip_boxes = False

    def _matrix(self, height, width) -> np.ndarray:
        raise NotImplementedError

    def _image(self, image, matrix):
        raise NotImplementedError

    def __call__(self, image, labels=None, return_inverter=False):
        image = np.asarray(image)
        labels = prepare_labels(labels, self.labels_format)
        matrix = self._matrix(*image.shape[:2])
        image = self._image(image, matrix)
        if labels is not None:
            labels = move_labels(labels, matrix, self.labels_format)
            labels = finish_labels(
                labels, self.box_filter, self.clip_boxes, self.labels_format, *image.shape[:2]
            )
        return pack(image, labels, inverter_for(matrix), return_inverter)


class Resize(_MatrixOp):
    """Resize to `(height, width)` with `cv2.resize`; boxes scale with the pixels (floats),
    then go through the optional `box_filter`."""

    def __init__(
        self,
        height,
        width,
        interpolation_mode=cv2.INTER_LINEAR,
        box_filter=None,
        labels_format=DEFAULT_LABELS_FORMAT,
    ):
        self.out_height = check_size(height, "height")
        self.out_width = check_size(width, "width")
        self.interpolation_mode = check_interpolation(interpolation_mode)
        self.box_filter = check_box_filter(box_filter)
        self.labels_format = labels_format

    def _matrix(self, height, width):
        return affine_matrix(sx=self.out_width / width, sy=self.out_height / height)

    def _image(self, image, matrix):
        out = cv2.resize(
            image, (self.out_width, self.out_height), interpolation=int(self.interpolation_mode)
        )
        return keep_channels(out, image)


class ResizeRandomInterp(Transform):
    """`Resize` with an interpolation mode drawn uniformly from `interpolation_modes`."""

    def __init__(
        self,
        height,
        width,
        interpolation_modes=INTERPOLATION_MODES,
        box_filter=None,
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        if not isinstance(interpolation_modes, (list, tuple)) or not interpolation_modes:
            raise ValueError(
                "`interpolation_modes` must be a non-empty list of OpenCV modes. "
                f"Received: interpolation_modes={interpolation_modes!r}"
            )
        self.interpolation_modes = tuple(
            check_interpolation(m, "interpolation_modes") for m in interpolation_modes
        )
        self.height, self.width = height, width
        self.box_filter = box_filter
        self.resize = Resize(height, width, box_filter=box_filter, labels_format=labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        index = self.rng.integers(len(self.interpolation_modes))
        self.resize.interpolation_mode = self.interpolation_modes[index]
        return self.resize(image, labels, return_inverter)


class Flip(_MatrixOp):
    """Mirror along `dim`: 'horizontal' maps x to `W - x`, 'vertical' maps y to `H - y`."""

    def __init__(self, dim="horizontal", labels_format=DEFAULT_LABELS_FORMAT):
        if dim not in ("horizontal", "vertical"):
            raise ValueError(
                f"`dim` must be 'horizontal' or 'vertical'. Received: dim={dim!r}"
            )
        self.dim = dim
        self.labels_format = labels_format

    def _matrix(self, height, width):
        if self.dim == "horizontal":
            return affine_matrix(sx=-1.0, tx=width)
        return affine_matrix(sy=-1.0, ty=height)

    def _image(self, image, matrix):
        flipped = image[:, ::-1] if self.dim == "horizontal" else image[::-1]
        return np.ascontiguousarray(flipped)


class _RandomWrapper(Transform):
    """Applies `self.op` with probability `prob`; otherwise returns the input unchanged."""

    def _fire(self) -> bool:
        return self.rng.random() < self.prob

    def _unchanged(self, image, labels, return_inverter):
        labels = prepare_labels(labels, self.labels_format)
        return pack(np.asarray(image), labels, identity_inverter, return_inverter)


class RandomFlip(_RandomWrapper):
    """`Flip(dim)` with probability `prob`."""

    def __init__(
        self, dim="horizontal", prob=0.5, labels_format=DEFAULT_LABELS_FORMAT, *, rng=None
    ):
        self.dim = dim
        self.prob = check_prob(prob)
        self.flip = Flip(dim=dim, labels_format=labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        if self._fire():
            return self.flip(image, labels, return_inverter)
        return self._unchanged(image, labels, return_inverter)


class Translate(_MatrixOp):
    """Shift by `dy * H` and `dx * W` pixels (rounded to ints) onto a `background` canvas.

    Boxes are shifted, passed through the optional `box_filter`, then clipped to the
    image if `clip_boxes`.
    """

    def __init__(
        self,
        dy,
        dx,
        clip_boxes=True,
        box_filter=None,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
    ):
        self.dy_rel, self.dx_rel = float(dy), float(dx)
        self.clip_boxes = bool(clip_boxes)
        self.box_filter = check_box_filter(box_filter)
        self.background = check_background(background)
        self.labels_format = labels_format

    def _matrix(self, height, width):
        return affine_matrix(tx=round(width * self.dx_rel), ty=round(height * self.dy_rel))

    def _image(self, image, matrix):
        return warp(image, matrix, self.background)


class Scale(_MatrixOp):
    """Zoom by `factor` about the image center, keeping the image size (`factor > 1`
    zooms in, `< 1` zooms out onto `background`). Boxes are filtered, then clipped."""

    def __init__(
        self,
        factor,
        clip_boxes=True,
        box_filter=None,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
    ):
        self.factor = check_positive(factor, "factor")
        self.clip_boxes = bool(clip_boxes)
        self.box_filter = check_box_filter(box_filter)
        self.background = check_background(background)
        self.labels_format = labels_format

    def _matrix(self, height, width):
        s = self.factor
        return affine_matrix(sx=s, sy=s, tx=(1 - s) * width / 2, ty=(1 - s) * height / 2)

    def _image(self, image, matrix):
        return warp(image, matrix, self.background)


class Rotate(_MatrixOp):
    """Rotate counter-clockwise by `angle` in {90, 180, 270} (lossless; 90 and 270 swap
    the image height and width)."""

    def __init__(self, angle, labels_format=DEFAULT_LABELS_FORMAT):
        if angle not in _ROTATIONS:
            raise ValueError(f"`angle` must be one of {_ROTATIONS}. Received: angle={angle!r}")
        self.angle = int(angle)
        self.labels_format = labels_format

    def _matrix(self, height, width):
        if self.angle == 90:  # x' = y, y' = W - x
            return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width]])
        if self.angle == 180:
            return affine_matrix(sx=-1.0, sy=-1.0, tx=width, ty=height)
        return np.array([[0.0, -1.0, height], [1.0, 0.0, 0.0]])  # x' = H - y, y' = x

    def _image(self, image, matrix):
        return np.ascontiguousarray(np.rot90(image, k=self.angle // 90))


class RandomRotate(_RandomWrapper):
    """With probability `prob`, `Rotate` by an angle drawn uniformly from `angles`."""

    def __init__(
        self, angles=(90, 180, 270), prob=0.5, labels_format=DEFAULT_LABELS_FORMAT, *, rng=None
    ):
        if not isinstance(angles, (list, tuple)) or not angles or any(
            a not in _ROTATIONS for a in angles
        ):
            raise ValueError(
                f"`angles` must be a non-empty list of values in {_ROTATIONS}. "
                f"Received: angles={angles!r}"
            )
        self.angles = tuple(int(a) for a in angles)
        self.prob = check_prob(prob)
        self.rotate = Rotate(self.angles[0], labels_format=labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def __call__(self, image, labels=None, return_inverter=False):
        if self._fire():
            self.rotate.angle = self.angles[self.rng.integers(len(self.angles))]
            return self.rotate(image, labels, return_inverter)
        return self._unchanged(image, labels, return_inverter)


class _RandomWithValidator(_RandomWrapper):
    """Draws op parameters up to `n_trials_max` times until `image_validator` accepts
    the moved boxes (any draw is accepted without labels or validator); if none is
    accepted the input comes back unchanged."""

    def _draw(self) -> None:
        raise NotImplementedError

    def __call__(self, image, labels=None, return_inverter=False):
        if not self._fire():
            return self._unchanged(image, labels, return_inverter)
        image = np.asarray(image)
        height, width = image.shape[:2]
        labels = prepare_labels(labels, self.labels_format)
        for _ in range(self.n_trials_max):
            self._draw()
            if labels is None or self.image_validator is None:
                return self.op(image, labels, return_inverter)
            moved = move_labels(labels.copy(), self.op._matrix(height, width), self.labels_format)
            if self.image_validator(moved, image_height=height, image_width=width):
                return self.op(image, labels, return_inverter)
        return self._unchanged(image, labels, return_inverter)


class RandomTranslate(_RandomWithValidator):
    """With probability `prob`, `Translate` by fractions drawn uniformly from
    `dy_minmax`/`dx_minmax` with a random sign each."""

    def __init__(
        self,
        dy_minmax=(0.03, 0.3),
        dx_minmax=(0.03, 0.3),
        prob=0.5,
        clip_boxes=True,
        box_filter=None,
        image_validator=None,
        n_trials_max=3,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        self.dy_minmax = _check_minmax(dy_minmax, "dy_minmax")
        self.dx_minmax = _check_minmax(dx_minmax, "dx_minmax")
        self.prob = check_prob(prob)
        self.image_validator = check_image_validator(image_validator)
        self.n_trials_max = check_n_trials(n_trials_max)
        self.op = Translate(0.0, 0.0, clip_boxes, box_filter, background, labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def _draw(self):
        dy, dx = self.rng.uniform(*self.dy_minmax), self.rng.uniform(*self.dx_minmax)
        signs = np.where(self.rng.random(2) < 0.5, -1.0, 1.0)
        self.op.dy_rel, self.op.dx_rel = dy * signs[0], dx * signs[1]


class RandomScale(_RandomWithValidator):
    """With probability `prob`, `Scale` by a factor drawn uniformly from
    `[min_factor, max_factor]`."""

    def __init__(
        self,
        min_factor=0.5,
        max_factor=1.5,
        prob=0.5,
        clip_boxes=True,
        box_filter=None,
        image_validator=None,
        n_trials_max=3,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        if not 0 < min_factor <= max_factor:
            raise ValueError(
                "`min_factor` and `max_factor` must satisfy 0 < min_factor <= max_factor. "
                f"Received: min_factor={min_factor!r}, max_factor={max_factor!r}"
            )
        self.min_factor, self.max_factor = min_factor, max_factor
        self.prob = check_prob(prob)
        self.image_validator = check_image_validator(image_validator)
        self.n_trials_max = check_n_trials(n_trials_max)
        self.op = Scale(1.0, clip_boxes, box_filter, background, labels_format)
        self.labels_format = labels_format
        self._seed(rng)

    def _draw(self):
        self.op.factor = self.rng.uniform(self.min_factor, self.max_factor)

