"""Affine helpers shared by the geometric and patch ops.

Box math uses pixel-edge coordinates (the image spans `[0, W] x [0, H]`); OpenCV's
`warpAffine` uses pixel-center indices, so matrices are converted before warping.
A transform's 2x3 matrix maps input edge coordinates to output edge coordinates.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from keras_ssd.data.transforms._base import BoxInverter
from keras_ssd.data.transforms._base import box_columns
from keras_ssd.data.transforms._base import clip_box_columns
from keras_ssd.data.transforms.validation import BoxFilter
from keras_ssd.data.transforms.validation import ImageValidator

__all__ = [
    "INTERPOLATION_MODES",
    "affine_matrix",
    "check_background",
    "check_box_filter",
    "check_image_validator",
    "check_interpolation",
    "check_n_trials",
    "check_size",
    "finish_labels",
    "inverter_for",
    "keep_channels",
    "map_boxes",
    "move_labels",
    "warp",
]

INTERPOLATION_MODES = (
    cv2.INTER_NEAREST,
    cv2.INTER_LINEAR,
    cv2.INTER_CUBIC,
    cv2.INTER_AREA,
    cv2.INTER_LANCZOS4,
)


def check_interpolation(mode, name: str = "interpolation_mode") -> int:
    if isinstance(mode, bool) or mode not in INTERPOLATION_MODES:
        raise ValueError(
            f"`{name}` must be one of the OpenCV modes INTER_NEAREST, INTER_LINEAR, "
            f"INTER_CUBIC, INTER_AREA, INTER_LANCZOS4 ({INTERPOLATION_MODES}). "
            f"Received: {name}={mode!r}"
        )
    return int(mode)


def check_size(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def check_n_trials(n_trials_max, name: str = "n_trials_max") -> int:
    if isinstance(n_trials_max, bool) or not isinstance(n_trials_max, int) or n_trials_max < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={n_trials_max!r}")
    return n_trials_max


def check_box_filter(box_filter):
    if box_filter is not None and not isinstance(box_filter, BoxFilter):
        raise TypeError(
            f"`box_filter` must be a BoxFilter or None. Received: box_filter={box_filter!r}"
        )
    return box_filter


def check_image_validator(image_validator):
    if image_validator is not None and not isinstance(image_validator, ImageValidator):
        raise TypeError(
            "`image_validator` must be an ImageValidator or None. "
            f"Received: image_validator={image_validator!r}"
        )
    return image_validator


def check_background(background) -> tuple:
    values = np.atleast_1d(np.asarray(background, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            "`background` must be a number or a sequence of per-channel numbers. "
            f"Received: background={background!r}"
        )
    return tuple(float(v) for v in values)


def affine_matrix(sx=1.0, sy=1.0, tx=0.0, ty=0.0) -> np.ndarray:
    """The 2x3 matrix of `x' = sx * x + tx`, `y' = sy * y + ty`."""
    return np.array([[sx, 0.0, tx], [0.0, sy, ty]], dtype=np.float64)


def map_boxes(boxes, matrix) -> np.ndarray:
    """Map `(..., 4)` corners through an axis-aligned 2x3 `matrix` (flips, 90-degree turns
    included); each output box is the bounding box of the mapped corners."""
    boxes = np.asarray(boxes, dtype=np.float64)
    a, t = matrix[:, :2], matrix[:, 2]
    p1 = boxes[..., :2] @ a.T + t
    p2 = boxes[..., 2:] @ a.T + t
    return np.concatenate([np.minimum(p1, p2), np.maximum(p1, p2)], axis=-1)


def move_labels(labels, matrix, labels_format):
    """Map the box columns of `labels` (a float array, modified in place) and return it."""
    cols = box_columns(labels_format)
    labels[:, cols] = map_boxes(labels[:, cols], matrix)
    return labels


def finish_labels(labels, box_filter, clip_boxes, labels_format, height, width):
    """Filter (if a box_filter is given) then clip (if asked) boxes for a `height x width` image."""
    if box_filter is not None:
        labels = box_filter(labels, image_height=height, image_width=width)
    if clip_boxes:
        clip_box_columns(labels, labels_format, height, width)
    return labels


def inverter_for(matrix) -> BoxInverter:
    """The inverter of a transform whose edge-coordinate matrix is `matrix`."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return BoxInverter(functools.partial(map_boxes, matrix=np.linalg.inv(full)[:2]))


def keep_channels(out, image):
    """OpenCV drops a trailing channel axis of size 1; put it back."""
    return out[..., None] if image.ndim == 3 and out.ndim == 2 else out


def warp(image, matrix, background, interpolation=cv2.INTER_LINEAR):
    """`cv2.warpAffine` of `image` by an edge-coordinate `matrix`, same output size."""
    # Edge coordinate e = index + 0.5, so t_index = A @ (0.5, 0.5) + t - 0.5.
    pixel_matrix = matrix.copy()
    pixel_matrix[:, 2] = matrix[:, :2] @ np.array([0.5, 0.5]) + matrix[:, 2] - 0.5
    height, width = image.shape[:2]
    out = cv2.warpAffine(
        image,
        pixel_matrix,
        dsize=(width, height),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=background[:4] if len(background) > 1 else background * 4,
    )
    return keep_channels(out, image)
