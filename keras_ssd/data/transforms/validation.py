"""Box and image validation: `BoundGenerator`, `BoxFilter`, `ImageValidator`.

Labels are `(k, n)` float arrays in `labels_format`, absolute pixel-edge corners;
the image extent is `[0, image_width] x [0, image_height]`.
"""

from __future__ import annotations

import numpy as np

from keras_ssd.boxes import border_offset
from keras_ssd.boxes import intersection_area
from keras_ssd.boxes import iou
from keras_ssd.data.transforms._base import DEFAULT_LABELS_FORMAT
from keras_ssd.data.transforms._base import Component
from keras_ssd.data.transforms._base import Transform
from keras_ssd.data.transforms._base import box_columns
from keras_ssd.data.transforms._base import prepare_labels

__all__ = ["BoundGenerator", "BoxFilter", "ImageValidator"]

OVERLAP_CRITERIA = ("iou", "area", "center_point")


def _check_criterion(overlap_criterion) -> str:
    if overlap_criterion not in OVERLAP_CRITERIA:
        raise ValueError(
            f"`overlap_criterion` must be one of {OVERLAP_CRITERIA}. "
            f"Received: overlap_criterion={overlap_criterion!r}"
        )
    return overlap_criterion


def _check_bounds(bounds, name: str):
    """A `(lower, upper)` pair with lower <= upper, or a `BoundGenerator`."""
    if isinstance(bounds, BoundGenerator):
        return bounds
    if (
        not isinstance(bounds, (list, tuple))
        or len(bounds) != 2
        or not all(isinstance(b, (int, float, np.number)) for b in bounds)
        or bounds[0] > bounds[1]
    ):
        raise ValueError(
            f"`{name}` must be a (lower, upper) pair with lower <= upper, or a "
            f"BoundGenerator. Received: {name}={bounds!r}"
        )
    return tuple(bounds)


class BoundGenerator(Component):
    """Draws a `[lower, upper]` pair from a fixed set of pairs.

    Args:
        sample_space: pairs `(lower, upper)`; a `None` lower bound means 0.0 and a
            `None` upper bound means 1.0.
        weights: optional sampling weights, one per pair (normalised); uniform if None.
        rng: a `numpy.random.Generator`, an int seed, or None.
    """

    def __init__(
        self,
        sample_space=(
            (0.1, None), (0.3, None), (0.5, None), (0.7, None), (0.9, None), (None, None)
        ),
        weights=None,
        *,
        rng=None,
    ):
        self.sample_space = []
        for pair in sample_space:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(
                    "Every element of `sample_space` must be a (lower, upper) pair. "
                    f"Received: sample_space={sample_space!r}"
                )
            lower = 0.0 if pair[0] is None else float(pair[0])
            upper = 1.0 if pair[1] is None else float(pair[1])
            if lower > upper:
                raise ValueError(
                    "Every pair of `sample_space` must have lower <= upper. "
                    f"Received: sample_space={sample_space!r}"
                )
            self.sample_space.append([lower, upper])
        if not self.sample_space:
            raise ValueError("`sample_space` must not be empty. Received: sample_space=()")
        n = len(self.sample_space)
        if weights is None:
            self.weights = np.full(n, 1.0 / n)
        else:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (n,) or np.any(weights < 0) or weights.sum() <= 0:
                raise ValueError(
                    f"`weights` must be {n} non-negative numbers, one per pair of "
                    f"`sample_space`. Received: weights={weights.tolist()!r}"
                )
            self.weights = weights / weights.sum()
        self._seed(rng)

    def __call__(self) -> list[float]:
        """One `[lower, upper]` pair."""
        return list(self.sample_space[self.rng.choice(len(self.sample_space), p=self.weights)])


class BoxFilter(Transform):
    """Keeps the boxes that pass every enabled check.

    - degenerate: `xmax > xmin` and `ymax > ymin`;
    - min area: `(xmax - xmin) * (ymax - ymin) >= min_area`;
    - overlap with the image `[0, W] x [0, H]`, given `(lower, upper) = overlap_bounds`:
      `'iou'`: `lower < IoU(image, box) <= upper`; `'area'`: the fraction of the box
      inside the image is in `[lower, upper]` (`> lower` when lower is 0);
      `'center_point'`: the box center lies inside the image (bounds unused).

    `overlap_bounds` may be a `BoundGenerator`, drawn anew on every call.
    """

    def __init__(
        self,
        check_overlap=True,
        check_min_area=True,
        check_degenerate=True,
        overlap_criterion="center_point",
        overlap_bounds=(0.3, 1.0),
        min_area=16,
        labels_format=DEFAULT_LABELS_FORMAT,
        border_pixels="half",
    ):
        self.check_overlap = bool(check_overlap)
        self.check_min_area = bool(check_min_area)
        self.check_degenerate = bool(check_degenerate)
        self.overlap_criterion = _check_criterion(overlap_criterion)
        self.overlap_bounds = _check_bounds(overlap_bounds, "overlap_bounds")
        if not isinstance(min_area, (int, float, np.number)) or min_area < 0:
            raise ValueError(f"`min_area` must be >= 0. Received: min_area={min_area!r}")
        self.min_area = min_area
        border_offset(border_pixels)  # validates
        self.border_pixels = border_pixels
        self.labels_format = labels_format

    def __call__(self, labels, image_height=None, image_width=None):
        """Return the rows of `labels` (`(k, n)`) that pass; `image_*` needed for overlap."""
        labels = prepare_labels(labels, self.labels_format)
        xmin, ymin, xmax, ymax = (labels[:, c] for c in box_columns(self.labels_format))
        keep = np.ones(len(labels), dtype=bool)
        if self.check_degenerate:
            keep &= (xmax > xmin) & (ymax > ymin)
        if self.check_min_area:
            keep &= (xmax - xmin) * (ymax - ymin) >= self.min_area
        if self.check_overlap:
            if image_height is None or image_width is None:
                raise ValueError(
                    "`image_height` and `image_width` are required when `check_overlap` "
                    f"is True. Received: image_height={image_height}, image_width={image_width}"
                )
            keep &= self._overlap_mask(labels, image_height, image_width)
        return labels[keep]

    def _overlap_mask(self, labels, height, width) -> np.ndarray:
        bounds = self.overlap_bounds
        lower, upper = bounds() if isinstance(bounds, BoundGenerator) else bounds
        boxes = labels[:, box_columns(self.labels_format)]
        image_box = np.array([0.0, 0.0, width, height])
        if self.overlap_criterion == "iou":
            ious = iou(image_box, boxes, "corners", "element-wise", self.border_pixels)
            return (ious > lower) & (ious <= upper)
        if self.overlap_criterion == "area":
            d = border_offset(self.border_pixels)
            inside = intersection_area(
                image_box, boxes, "corners", "element-wise", self.border_pixels
            )
            areas = (boxes[:, 2] - boxes[:, 0] + d) * (boxes[:, 3] - boxes[:, 1] + d)
            above = inside > lower * areas if lower == 0 else inside >= lower * areas
            return above & (inside <= upper * areas)
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
        return (cx >= 0) & (cx <= width) & (cy >= 0) & (cy <= height)


class ImageValidator(Transform):
    """Accepts an image if at least `n_boxes_min` boxes (or all, with `'all'`) pass
    an overlap-only `BoxFilter(overlap_criterion, bounds)`.

    `bounds` may be reassigned between calls (`RandomPatchInf` does) and may be a
    `BoundGenerator`. An image without boxes passes only with `n_boxes_min` 0 or 'all'.
    """

    def __init__(
        self,
        overlap_criterion="center_point",
        bounds=(0.3, 1.0),
        n_boxes_min=1,
        labels_format=DEFAULT_LABELS_FORMAT,
        border_pixels="half",
    ):
        if not (n_boxes_min == "all" or (isinstance(n_boxes_min, int) and n_boxes_min >= 0)):
            raise ValueError(
                "`n_boxes_min` must be a non-negative int or 'all'. "
                f"Received: n_boxes_min={n_boxes_min!r}"
            )
        self.overlap_criterion = _check_criterion(overlap_criterion)
        self.bounds = _check_bounds(bounds, "bounds")
        self.n_boxes_min = n_boxes_min
        self.border_pixels = border_pixels
        self.box_filter = BoxFilter(
            check_overlap=True,
            check_min_area=False,
            check_degenerate=False,
            overlap_criterion=overlap_criterion,
            overlap_bounds=self.bounds,
            labels_format=labels_format,
            border_pixels=border_pixels,
        )
        self.labels_format = labels_format

    def __call__(self, labels, image_height, image_width) -> bool:
        """Whether enough boxes of `labels` (`(k, n)`) pass the overlap check."""
        self.box_filter.overlap_criterion = _check_criterion(self.overlap_criterion)
        self.box_filter.overlap_bounds = _check_bounds(self.bounds, "bounds")
        labels = prepare_labels(labels, self.labels_format)
        n_valid = len(self.box_filter(labels, image_height, image_width))
        if self.n_boxes_min == "all":
            return n_valid == len(labels)
        return n_valid >= self.n_boxes_min
