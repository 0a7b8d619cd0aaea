"""Pascal VOC average precision in pure NumPy: matching, precision/recall, AP.

The definitions are those of the Pascal VOC devkit (`VOCevaldet.m`, `VOCap.m`):

- Detections of one class are ranked by descending confidence. Each detection
  takes the ground-truth box of its class in its image with the highest IoU
  (whether or not that box was already taken). IoU below the threshold: false
  positive (FP). Otherwise: a "difficult" (evaluation-neutral) box makes it
  neither TP nor FP; the first detection to reach a box is a true positive
  (TP); later ones are duplicates, hence FP.
- 'sample' AP with 11 recall points is the VOC2007 metric: the mean over
  t in {0, 0.1, ..., 1} of max(precision[recall >= t]), or 0 where no recall
  reaches t.
- 'integrate' AP is the VOC2010+ metric: the area under the monotone
  (right-to-left running maximum) precision envelope, from recall 0 to 1.

Because a detection's best box does not depend on which boxes are already
taken, the greedy devkit loop is equivalent to: "a detection is a TP iff it is
the highest-ranked detection whose best box is that (non-difficult) box with
IoU >= threshold". `match_class` computes exactly that with array operations,
without a Python loop per detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_ssd.boxes import border_offset
from keras_ssd.boxes import iou

__all__ = [
    "AVERAGE_PRECISION_MODES",
    "ClassMatch",
    "average_precision",
    "check_matching_iou_threshold",
    "check_sorting_algorithm",
    "match_class",
    "mean_average_precision",
    "precision_recall",
]

AVERAGE_PRECISION_MODES = ("sample", "integrate")
_SORTING_ALGORITHMS = ("quicksort", "mergesort", "heapsort", "stable")
# Upper bound on the (detections x boxes-per-image) IoU block computed at once.
_MAX_BLOCK = 1 << 21


@dataclass(frozen=True)
class ClassMatch:
    """Matching result of one class, every array in descending-confidence order.

    Attributes:
        order: `(n,)` int, indices of the detections as passed to `match_class`,
            sorted by descending confidence.
        true_positives: `(n,)` bool.
        false_positives: `(n,)` bool. A detection that is neither TP nor FP
            matched a difficult box and is ignored.
        matched_gt: `(n,)` int, index (as passed) of the ground-truth box with
            the highest IoU, or -1 where the image has no box of this class.
        matched_iou: `(n,)` float, that IoU (0 where there is no box).
    """

    order: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    matched_gt: np.ndarray
    matched_iou: np.ndarray


def check_sorting_algorithm(sorting_algorithm: str) -> str:
    if sorting_algorithm not in _SORTING_ALGORITHMS:
        raise ValueError(
            f"`sorting_algorithm` must be one of {_SORTING_ALGORITHMS}. "
            f"Received: sorting_algorithm={sorting_algorithm!r}"
        )
    return sorting_algorithm


def check_matching_iou_threshold(matching_iou_threshold) -> float:
    if (
        isinstance(matching_iou_threshold, bool)
        or not isinstance(matching_iou_threshold, (int, float, np.number))
        or not 0.0 < matching_iou_threshold <= 1.0
    ):
        raise ValueError(
            "`matching_iou_threshold` must be a number in (0, 1]. "
            f"Received: matching_iou_threshold={matching_iou_threshold!r}"
        )
    return float(matching_iou_threshold)


def _as_boxes(boxes, name: str) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"`{name}` must have shape (n, 4) [xmin, ymin, xmax, ymax]. "
            f"Received: {name}.shape={boxes.shape}"
        )
    return boxes


def match_class(
    pred_image_index,
    pred_conf,
    pred_boxes,
    gt_image_index,
    gt_boxes,
    gt_neutral=None,
    matching_iou_threshold: float = 0.5,
    border_pixels: str = "include",
    sorting_algorithm: str = "quicksort",
) -> ClassMatch:
    """Match the detections of one class to its ground truth, VOC style.

    Args:
        pred_image_index: `(n,)` non-negative ints, the image of each detection.
        pred_conf: `(n,)` confidences.
        pred_boxes: `(n, 4)` corners `[xmin, ymin, xmax, ymax]`.
        gt_image_index: `(g,)` non-negative ints, the image of each box.
        gt_boxes: `(g, 4)` corners.
        gt_neutral: `(g,)` bool, True for boxes to ignore ("difficult"), or
            None for none.
        matching_iou_threshold: minimum IoU (inclusive) for a match.
        border_pixels: 'include' (+1 pixel, the VOC devkit), 'half' or 'exclude'.
        sorting_algorithm: `kind` of `np.argsort` for the confidence ranking;
            'mergesort'/'stable' keep ties in input order, as Matlab's sort.

    Returns:
        A `ClassMatch`.
    """
    matching_iou_threshold = check_matching_iou_threshold(matching_iou_threshold)
    border_offset(border_pixels)
    check_sorting_algorithm(sorting_algorithm)
    pred_image_index = np.asarray(pred_image_index, dtype=np.int64).reshape(-1)
    pred_conf = np.asarray(pred_conf, dtype=np.float64).reshape(-1)
    pred_boxes = _as_boxes(pred_boxes, "pred_boxes")
    gt_image_index = np.asarray(gt_image_index, dtype=np.int64).reshape(-1)
    gt_boxes = _as_boxes(gt_boxes, "gt_boxes")
    n, g = len(pred_conf), len(gt_image_index)
    if len(pred_image_index) != n or len(pred_boxes) != n:
        raise ValueError(
            "`pred_image_index`, `pred_conf` and `pred_boxes` must have the same length. "
            f"Received: lengths {len(pred_image_index)}, {n}, {len(pred_boxes)}"
        )
    if len(gt_boxes) != g:
        raise ValueError(
            "`gt_image_index` and `gt_boxes` must have the same length. "
            f"Received: lengths {g}, {len(gt_boxes)}"
        )
    neutral = (
        np.zeros(g, dtype=bool) if gt_neutral is None
        else np.asarray(gt_neutral, dtype=bool).reshape(-1)
    )
    if len(neutral) != g:
        raise ValueError(
            f"`gt_neutral` must have one flag per ground-truth box ({g}). "
            f"Received: gt_neutral of length {len(neutral)}"
        )

    order = np.argsort(-pred_conf, kind=sorting_algorithm)
    image = pred_image_index[order]
    boxes = pred_boxes[order]
    matched_gt = np.full(n, -1, dtype=np.int64)
    matched_iou = np.zeros(n)
    if n and g:
        # Lay the boxes out as a padded (n_images, k_max) table, so that each
        # detection sees the boxes of its own image in one gather.
        n_images = int(max(image.max(), gt_image_index.max())) + 1
        by_image = np.argsort(gt_image_index, kind="stable")
        counts = np.bincount(gt_image_index, minlength=n_images)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        k_max = int(counts.max())
        slot = np.arange(g) - starts[gt_image_index[by_image]]
        table = np.zeros((n_images, k_max, 4))
        table[gt_image_index[by_image], slot] = gt_boxes[by_image]
        step = max(1, _MAX_BLOCK // k_max)
        for lo in range(0, n, step):  # blocks bound the memory, not a per-detection loop
            img = image[lo : lo + step]
            overlaps = iou(
                boxes[lo : lo + step, None, :], table[img], coords="corners",
                mode="element-wise", border_pixels=border_pixels,
            )
            overlaps[np.arange(k_max) >= counts[img][:, None]] = -1.0  # padding
            best = np.argmax(overlaps, axis=1)
            has_gt = counts[img] > 0
            matched_gt[lo : lo + step] = np.where(
                has_gt, by_image[np.minimum(starts[img] + best, g - 1)], -1
            )
            matched_iou[lo : lo + step] = np.where(
                has_gt, overlaps[np.arange(len(img)), best], 0.0
            )

    hit = (matched_gt >= 0) & (matched_iou >= matching_iou_threshold)
    ignored = np.zeros(n, dtype=bool)
    ignored[hit] = neutral[matched_gt[hit]]
    candidates = np.flatnonzero(hit & ~ignored)
    # The first (highest-ranked) candidate of each box is its TP; the rest are duplicates.
    _, first = np.unique(matched_gt[candidates], return_index=True)
    true_positives = np.zeros(n, dtype=bool)
    true_positives[candidates[first]] = True
    false_positives = ~true_positives & ~ignored
    return ClassMatch(order, true_positives, false_positives, matched_gt, matched_iou)


def precision_recall(true_positives, false_positives, num_gt: int):
    """Cumulative precision and recall along the ranking.

    Args:
        true_positives: `(n,)` bool or 0/1 per ranked detection.
        false_positives: `(n,)` bool or 0/1.
        num_gt: number of (non-ignored) ground-truth boxes of the class.

    Returns:
        `(precisions, recalls)`, two `(n,)` float arrays. Precision is
        TP / (TP + FP), 0 where no detection has counted yet (leading ignored
        ones). Recall is TP / num_gt; it is NaN everywhere when `num_gt` is 0.
    """
    if isinstance(num_gt, bool) or not isinstance(num_gt, (int, np.integer)) or num_gt < 0:
        raise ValueError(f"`num_gt` must be a non-negative integer. Received: num_gt={num_gt!r}")
    tp = np.cumsum(np.asarray(true_positives, dtype=np.float64))
    fp = np.cumsum(np.asarray(false_positives, dtype=np.float64))
    counted = tp + fp
    precisions = np.divide(tp, counted, out=np.zeros_like(tp), where=counted > 0)
    recalls = tp / num_gt if num_gt > 0 else np.full_like(tp, np.nan)
    return precisions, recalls


def average_precision(
    precisions, recalls, mode: str = "sample", num_recall_points: int = 11
) -> float:
    """Average precision of one precision-recall curve.

    Args:
        precisions: `(n,)` cumulative precisions along the ranking.
        recalls: `(n,)` cumulative recalls (non-decreasing).
        mode: 'sample' (VOC2007 with 11 points: the mean over `num_recall_points`
            evenly spaced recall levels t in [0, 1] of max(precision[recall >= t]),
            0 where none) or 'integrate' (VOC2010+: the area under the precision
            envelope, recall from 0 to 1).
        num_recall_points: number of recall levels for 'sample'.

    Returns:
        The AP as a float; 0.0 for an empty curve (no detections); NaN when
        the recalls are NaN (a class without ground truth).
    """
    if mode not in AVERAGE_PRECISION_MODES:
        raise ValueError(
            f"`mode` must be one of {AVERAGE_PRECISION_MODES}. Received: mode={mode!r}"
        )
    if (
        isinstance(num_recall_points, bool)
        or not isinstance(num_recall_points, (int, np.integer))
        or num_recall_points < 1
    ):
        raise ValueError(
            "`num_recall_points` must be a positive integer. "
            f"Received: num_recall_points={num_recall_points!r}"
        )
    precisions = np.asarray(precisions, dtype=np.float64).reshape(-1)
    recalls = np.asarray(recalls, dtype=np.float64).reshape(-1)
    if precisions.shape != recalls.shape:
        raise ValueError(
            "`precisions` and `recalls` must have the same length. "
            f"Received: {len(precisions)} and {len(recalls)}"
        )
    if np.isnan(recalls).any():  # a class without ground truth has no recall
        return float("nan")
    if mode == "sample":
        # envelope[i] = max(precisions[i:]); recalls are sorted, so the points
        # with recall >= t are a suffix, which starts at searchsorted(t).
        envelope = np.maximum.accumulate(precisions[::-1])[::-1]
        # k / (n - 1), not linspace's k * step: recall 3/10 must reach level 0.3
        # (np.linspace gives 0.30000000000000004 there).
        levels = np.arange(num_recall_points) / max(num_recall_points - 1, 1)
        first = np.searchsorted(recalls, levels, side="left")
        padded = np.append(envelope, 0.0)  # "no recall reaches t" -> 0
        return float(np.mean(padded[first]))
    mrec = np.concatenate([[0.0], recalls, [1.0]])
    mpre = np.concatenate([[0.0], precisions, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    changes = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def mean_average_precision(average_precisions) -> float:
    """Mean of per-class APs, skipping NaN (classes without ground truth).

    Args:
        average_precisions: the APs of the object classes (no background entry).

    Returns:
        The mean, or NaN when no class has ground truth.
    """
    aps = np.asarray(average_precisions, dtype=np.float64).reshape(-1)
    valid = aps[~np.isnan(aps)]
    return float(valid.mean()) if valid.size else float("nan")
