"""Flat NumPy tables of ground truth and detections, keyed by image position.

Shared by the VOC and COCO evaluators. Formats:

- labels: per image a `(k, 5)` array `[class_id, xmin, ymin, xmax, ymax]`
  (or any column order given by `columns`); empty for an image without objects.
- detections: rows `[image_id, class_id, conf, xmin, ymin, xmax, ymax]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GroundTruth",
    "check_class_ids",
    "check_n_classes",
    "detection_table",
    "ground_truth_table",
    "image_positions",
]


def check_n_classes(n_classes) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(
            f"`n_classes` must be a positive integer. Received: n_classes={n_classes!r}"
        )
    return int(n_classes)


def check_class_ids(class_ids: np.ndarray, n_classes: int, name: str) -> np.ndarray:
    bad = (class_ids < 1) | (class_ids > n_classes) | (class_ids != np.round(class_ids))
    if bad.any():
        raise ValueError(
            f"`{name}` class IDs must be integers in [1, n_classes={n_classes}]. "
            f"Received: class_id={class_ids[bad][0]:g}"
        )
    return class_ids.astype(np.int64)


@dataclass(frozen=True)
class GroundTruth:
    """All ground-truth boxes of a dataset as flat arrays."""

    index: dict  # image_id -> image position
    image: np.ndarray  # (g,) int
    class_id: np.ndarray  # (g,) int
    boxes: np.ndarray  # (g, 4) corners
    neutral: np.ndarray  # (g,) bool


def ground_truth_table(labels, image_ids, eval_neutral, n_classes, columns=None) -> GroundTruth:
    """Flatten per-image labels (sequence aligned with `image_ids`) and neutral flags."""
    columns = list(range(5)) if columns is None else columns
    index = {}
    parts, flags, positions = [], [], []
    for position, image_id in enumerate(image_ids):
        if image_id in index:
            raise ValueError(f"Image IDs must be unique. Received: duplicate image_id={image_id!r}")
        index[image_id] = position
        image_labels = np.asarray(labels[position], dtype=np.float64)
        if image_labels.size == 0:
            image_labels = np.zeros((0, max(columns) + 1))
        if image_labels.ndim != 2 or image_labels.shape[1] <= max(columns):
            raise ValueError(
                "Ground-truth labels must be (k, 5) arrays [class_id, xmin, ymin, xmax, ymax]. "
                f"Received: labels of shape {image_labels.shape} for image_id={image_id!r}"
            )
        neutral = None if eval_neutral is None else eval_neutral[position]
        neutral = (
            np.zeros(len(image_labels), dtype=bool) if neutral is None
            else np.asarray(neutral, dtype=bool).reshape(-1)
        )
        if len(neutral) != len(image_labels):
            raise ValueError(
                "`eval_neutral` must hold one flag per ground-truth box. Received: "
                f"{len(neutral)} flags for {len(image_labels)} boxes, image_id={image_id!r}"
            )
        parts.append(image_labels[:, columns])
        flags.append(neutral)
        positions.append(np.full(len(image_labels), position, dtype=np.int64))
    table = np.concatenate(parts) if parts else np.zeros((0, 5))
    return GroundTruth(
        index=index,
        image=np.concatenate(positions) if positions else np.zeros(0, np.int64),
        class_id=check_class_ids(table[:, 0], n_classes, "ground_truth"),
        boxes=table[:, 1:5],
        neutral=np.concatenate(flags) if flags else np.zeros(0, bool),
    )


def image_positions(image_ids, index: dict) -> np.ndarray:
    """Position of each image ID in `index` (`{image_id: position}`)."""
    ids = np.asarray(image_ids)
    keys = np.asarray(list(index))
    if ids.size and keys.size and (
        (ids.dtype.kind in "iuf" and keys.dtype.kind in "iu")
        or (ids.dtype.kind == "U" and keys.dtype.kind == "U")
    ):
        # One sorted lookup instead of a dict lookup per detection.
        order = np.argsort(keys, kind="stable")
        found = np.minimum(np.searchsorted(keys[order], ids), len(keys) - 1)
        missing = keys[order][found] != ids
        if not missing.any():
            positions = np.fromiter(index.values(), dtype=np.int64, count=len(index))
            return positions[order][found]
    try:
        return np.fromiter((index[i] for i in image_ids), dtype=np.int64, count=len(image_ids))
    except KeyError as error:
        key = error.args[0]
        key = key.item() if isinstance(key, np.generic) else key
        raise ValueError(
            "Every detection's image ID must be a key of the ground truth. "
            f"Received: image_id={key!r}"
        ) from None


def detection_table(detections):
    """Split `[image_id, class_id, conf, xmin, ymin, xmax, ymax]` rows into IDs and `(n, 6)`."""
    numeric = isinstance(detections, np.ndarray) and detections.dtype != object
    rows = detections if numeric else list(detections)
    if len(rows) == 0:
        return [], np.zeros((0, 6))
    try:
        values = np.asarray(rows if numeric else [list(row)[1:] for row in rows], np.float64)
    except (TypeError, ValueError):
        values = np.zeros((0, 0))  # ragged or non-numeric: reported below
    width = 7 if numeric else 6
    if values.ndim != 2 or values.shape[1] != width or len(values) != len(rows):
        raise ValueError(
            "`detections` must be rows [image_id, class_id, conf, xmin, ymin, xmax, ymax]. "
            f"Received: first row {list(rows[0])!r}"
        )
    if numeric:
        return values[:, 0], values[:, 1:]
    return [row[0] for row in rows], values
