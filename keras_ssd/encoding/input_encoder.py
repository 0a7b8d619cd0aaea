"""`SSDInputEncoder`: ground-truth boxes -> the `y_true` tensor that `SSDLoss` trains on.

The encoder holds the anchors of a model configuration (computed with
`keras_ssd.anchors`, the same function the model's `AnchorBoxes` layers use)
and, for a batch of ground-truth labels, matches boxes to anchors and encodes
the matches in the "classes + 12" layout of `keras_ssd.layout`.

The whole batch is encoded at once: one IoU array `(batch, max_boxes, n_anchors)`,
greedy bipartite matching vectorised across images, then multi matching and
the neutral zone as array operations. There is no Python loop over boxes,
anchors or images (the bipartite rounds are bounded by the boxes per image).
"""

from __future__ import annotations

import numbers

import numpy as np

from keras_ssd.anchors import anchor_boxes_for_model
from keras_ssd.anchors import resolve_anchor_config
from keras_ssd.boxes import border_offset
from keras_ssd.boxes import check_coords
from keras_ssd.boxes import convert_coordinates
from keras_ssd.boxes import encode_offsets
from keras_ssd.encoding.matching import greedy_bipartite
from keras_ssd.layout import ANCHORS
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES
from keras_ssd.layout import n_channels

__all__ = ["DegenerateBoxError", "SSDInputEncoder"]

# GT rows per IoU block: keeps the (rows, n_anchors) temporaries in cache.
_IOU_BLOCK_ROWS = 16
_MATCHING_TYPES = ("multi", "bipartite")


class DegenerateBoxError(ValueError):
    """A ground-truth box has `xmax <= xmin` or `ymax <= ymin`."""


def _positive_int(value, name: str) -> int:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or value != int(value)
        or value < 1
    ):
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _unit_interval(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}")
    return float(value)


def _predictor_sizes(predictor_sizes) -> tuple[tuple[int, int], ...]:
    """`(n_layers, 2)` positive ints; a single `(h, w)` pair means one layer."""
    try:
        sizes = np.asarray(predictor_sizes, dtype=float)
    except (TypeError, ValueError):
        sizes = np.empty((0, 0))
    if sizes.ndim == 1 and sizes.size == 2:
        sizes = sizes[None]
    if (
        sizes.ndim != 2
        or sizes.shape[0] == 0
        or sizes.shape[1] != 2
        or np.any(sizes < 1)
        or np.any(sizes != np.round(sizes))
    ):
        raise ValueError(
            "`predictor_sizes` must be a list of (height, width) pairs of positive integers, "
            f"one per predictor layer. Received: predictor_sizes={predictor_sizes!r}"
        )
    return tuple((int(h), int(w)) for h, w in sizes)


class _AnchorIoU:
    """IoU of pixel-corner boxes against a fixed set of anchors, fast.

    The anchors of a model sit on grids, so they share few distinct x and y
    intervals. The intersection's width and height are computed against those
    intervals only (small tables) and gathered per anchor: the same arithmetic
    as `keras_ssd.boxes.iou`, bit for bit, with half the passes over the
    `(k, n_anchors)` result.
    """

    def __init__(self, anchor_corners: np.ndarray, border_pixels: str):
        self.d = border_offset(border_pixels)
        self.x, self.x_index = np.unique(anchor_corners[:, [0, 2]], axis=0, return_inverse=True)
        self.y, self.y_index = np.unique(anchor_corners[:, [1, 3]], axis=0, return_inverse=True)
        self.x_index, self.y_index = self.x_index.ravel(), self.y_index.ravel()
        d = self.d
        self.area = (anchor_corners[:, 2] - anchor_corners[:, 0] + d) * (
            anchor_corners[:, 3] - anchor_corners[:, 1] + d
        )

    def _overlap(self, lo, hi, intervals):
        side = np.minimum(hi[:, None], intervals[:, 1]) - np.maximum(lo[:, None], intervals[:, 0])
        return np.maximum(side + self.d, 0.0)

    def __call__(self, boxes: np.ndarray) -> np.ndarray:
        """float64 `(k, n_anchors)` IoU of `(k, 4)` pixel corners."""
        d = self.d
        inter = np.take(self._overlap(boxes[:, 0], boxes[:, 2], self.x), self.x_index, axis=1)
        inter *= np.take(self._overlap(boxes[:, 1], boxes[:, 3], self.y), self.y_index, axis=1)
        area = (boxes[:, 2] - boxes[:, 0] + d) * (boxes[:, 3] - boxes[:, 1] + d)
        union = np.add(area[:, None], self.area)
        union -= inter
        if d < 0:  # 'exclude' can give boxes of at most 1 pixel an empty union
            inter[union <= 0] = 0.0
            union[union <= 0] = 1.0
        inter /= union
        return inter


class SSDInputEncoder:
    """Encode ground-truth boxes into `y_true` for `SSDLoss`.

    The anchors are defined exactly as in the model (`ssd_300`, `ssd_512`,
    `build_model`), so use the model's settings and its predictor sizes.

    Args:
        img_height, img_width: input image size in pixels.
        n_classes: number of positive classes (background not counted). The
            attribute `n_classes` keeps this number; `y_true` has
            `n_classes + 1` class columns (ssd_keras stored `n_classes + 1`).
        predictor_sizes: `(height, width)` of each predictor layer's feature map.
        min_scale, max_scale: used when `scales` is None:
            `scales = linspace(min_scale, max_scale, n_layers + 1)`.
        scales: `n_layers + 1` anchor scales (fractions of the shorter side).
        aspect_ratios_global: aspect ratios of every layer.
        aspect_ratios_per_layer: one list of aspect ratios per layer (wins over
            `aspect_ratios_global`).
        two_boxes_for_ar1: add a second square anchor of scale `sqrt(s_k s_k+1)`.
        steps: per layer, pixels between cell centres (number or (h, w) pair).
        offsets: per layer, first centre as a fraction of the step.
        clip_boxes: clip the anchors to the image.
        variances: 4 positive numbers the offsets are divided by.
        matching_type: 'multi' (bipartite, then every anchor with IoU >=
            `pos_iou_threshold`) or 'bipartite' (bipartite only).
        pos_iou_threshold: IoU of a multi match, in [0, 1].
        neg_iou_limit: unmatched anchors whose best IoU is >= this limit are
            neutral (all-zero class columns, ignored by the loss), in [0, 1].
        border_pixels: 'half', 'include' or 'exclude', applied in pixels.
        coords: format of the anchors and offsets, 'centroids', 'corners' or 'minmax'.
        normalize_coords: anchors and boxes relative to the image size.
        background_id: class column of negative anchors, in [0, n_classes].

    Attributes:
        n_boxes: total number of anchors.
        anchors: float32 `(n_boxes, 4)` anchors in `coords` format, in layer
            order (the `ANCHORS` slice of every `y_true` row).
        boxes_list: per layer, float64 `(fh, fw, n_per_cell, 4)` anchors.
        anchor_config: the resolved `keras_ssd.anchors.AnchorConfig`.

    Call arguments:
        ground_truth_labels: one `(k, 5)` array per image, rows `[class_id,
            xmin, ymin, xmax, ymax]` in pixels; `k` may be 0.
        diagnostics: also return a copy of `y_true` whose offsets are zero, so
            that decoding it shows the matched anchors.

    Returns:
        float32 `y_true` of shape `(batch, n_boxes, n_classes + 1 + 12)`.
    """

    def __init__(
        self,
        img_height,
        img_width,
        n_classes,
        predictor_sizes,
        min_scale=0.1,
        max_scale=0.9,
        scales=None,
        aspect_ratios_global=(0.5, 1.0, 2.0),
        aspect_ratios_per_layer=None,
        two_boxes_for_ar1=True,
        steps=None,
        offsets=None,
        clip_boxes=False,
        variances=(0.1, 0.1, 0.2, 0.2),
        matching_type="multi",
        pos_iou_threshold=0.5,
        neg_iou_limit=0.3,
        border_pixels="half",
        coords="centroids",
        normalize_coords=True,
        background_id=0,
    ):
        self.img_height = _positive_int(img_height, "img_height")
        self.img_width = _positive_int(img_width, "img_width")
        self.n_classes = _positive_int(n_classes, "n_classes")
        self.predictor_sizes = _predictor_sizes(predictor_sizes)
        if matching_type not in _MATCHING_TYPES:
            raise ValueError(
                f"`matching_type` must be one of {_MATCHING_TYPES}. "
                f"Received: matching_type={matching_type!r}"
            )
        if (
            isinstance(background_id, (bool, np.bool_))
            or not isinstance(background_id, numbers.Integral)
            or not 0 <= background_id <= self.n_classes
        ):
            raise ValueError(
                f"`background_id` must be an integer in [0, n_classes={self.n_classes}]. "
                f"Received: background_id={background_id!r}"
            )
        border_offset(border_pixels)  # validates
        self.anchor_config = resolve_anchor_config(
            len(self.predictor_sizes),
            min_scale=min_scale,
            max_scale=max_scale,
            scales=scales,
            aspect_ratios_global=aspect_ratios_global,
            aspect_ratios_per_layer=aspect_ratios_per_layer,
            two_boxes_for_ar1=two_boxes_for_ar1,
            steps=steps,
            offsets=offsets,
            variances=variances,
        )
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.scales = self.anchor_config.scales
        self.aspect_ratios_global = aspect_ratios_global
        self.aspect_ratios_per_layer = aspect_ratios_per_layer
        self.aspect_ratios = self.anchor_config.aspect_ratios
        self.two_boxes_for_ar1 = bool(two_boxes_for_ar1)
        self.steps = self.anchor_config.steps
        self.offsets = self.anchor_config.offsets
        self.clip_boxes = bool(clip_boxes)
        self.variances = self.anchor_config.variances
        self.matching_type = matching_type
        self.pos_iou_threshold = _unit_interval(pos_iou_threshold, "pos_iou_threshold")
        self.neg_iou_limit = _unit_interval(neg_iou_limit, "neg_iou_limit")
        self.border_pixels = border_pixels
        self.coords = check_coords(coords)
        self.normalize_coords = bool(normalize_coords)
        self.background_id = int(background_id)

        geometry = dict(
            img_height=self.img_height,
            img_width=self.img_width,
            predictor_sizes=self.predictor_sizes,
            config=self.anchor_config,
            clip_boxes=self.clip_boxes,
        )
        self.boxes_list = anchor_boxes_for_model(
            **geometry, normalize_coords=self.normalize_coords, coords=self.coords
        )
        self._anchors64 = np.concatenate([b.reshape(-1, 4) for b in self.boxes_list])
        self.anchors = self._anchors64.astype(np.float32)
        self.n_boxes = len(self.anchors)
        # Matching works on pixel corners, so `border_pixels` is a pixel count.
        corners = anchor_boxes_for_model(**geometry, normalize_coords=False, coords="corners")
        self._iou = _AnchorIoU(np.concatenate([b.reshape(-1, 4) for b in corners]), border_pixels)
        # Divides pixel coordinates in `coords` order by the image size.
        w, h = float(self.img_width), float(self.img_height)
        self._coord_scale = np.array((w, w, h, h) if coords == "minmax" else (w, h, w, h))
        # One y_true row per anchor before matching: background, zero offsets.
        self._template = np.zeros((self.n_boxes, n_channels(self.n_classes)), dtype=np.float32)
        self._template[:, self.background_id] = 1.0
        self._template[:, ANCHORS] = self.anchors
        self._template[:, VARIANCES] = np.asarray(self.variances, dtype=np.float32)

    def _parse_labels(self, ground_truth_labels) -> list[np.ndarray]:
        """Validate the labels of a batch; return one float64 `(k, 5)` array per image."""
        parsed = []
        for i, labels in enumerate(ground_truth_labels):
            labels = np.zeros((0, 5)) if labels is None else np.asarray(labels, dtype=np.float64)
            if labels.size == 0:
                parsed.append(np.zeros((0, 5)))
                continue
            if labels.ndim != 2 or labels.shape[1] != 5:
                raise ValueError(
                    "The labels of each image must have shape (k, 5): "
                    "[class_id, xmin, ymin, xmax, ymax]. "
                    f"Received: ground_truth_labels[{i}].shape={labels.shape}"
                )
            if not np.all(np.isfinite(labels)):
                raise ValueError(
                    f"The labels of image {i} contain NaN or infinite values. "
                    f"Received: ground_truth_labels[{i}]={labels.tolist()}"
                )
            class_ids = labels[:, 0]
            bad = (class_ids != np.round(class_ids)) | (class_ids < 0)
            bad |= class_ids > self.n_classes
            if bad.any():
                raise ValueError(
                    f"Class ids must be integers in [0, n_classes={self.n_classes}]. "
                    f"Received: class_id={class_ids[bad][0]} in ground_truth_labels[{i}]"
                )
            degenerate = (labels[:, 3] <= labels[:, 1]) | (labels[:, 4] <= labels[:, 2])
            if degenerate.any():
                j = int(np.argmax(degenerate))
                raise DegenerateBoxError(
                    f"Image {i} has a degenerate ground-truth box (xmax <= xmin or "
                    f"ymax <= ymin): box {j} = {labels[j].tolist()} "
                    "([class_id, xmin, ymin, xmax, ymax]). Remove or fix it, e.g. with a "
                    "box filter."
                )
            parsed.append(labels)
        return parsed

    def _match(self, corners: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Match the boxes of a batch to the anchors.

        Args:
            corners: float64 `(K, 4)` pixel corners of all boxes, image by image.
            counts: `(batch,)` boxes per image.

        Returns:
            `matched` int64 `(batch, n_boxes)`: for each positive anchor the
            index of its box in the image's labels, else -1; and `neutral`,
            bool `(batch, n_boxes)`.
        """
        batch, n = len(counts), self.n_boxes
        first = np.cumsum(counts) - counts  # row of each image's first box
        image = np.repeat(np.arange(batch), counts)
        row = np.arange(len(corners)) - first[image]  # box index within its image
        # An unmatched anchor whose best IoU is below both thresholds is plainly
        # negative, so only pairs at or above `floor` need to be kept.
        floor = self.neg_iou_limit
        if self.matching_type == "multi":
            floor = min(floor, self.pos_iou_threshold)

        # IoU in blocks of rows that fit in the cache; keep each row's best
        # anchor (for bipartite matching) and the sparse pairs >= floor.
        row_anchor, row_iou, pair_row, pair_anchor, pair_iou = [], [], [], [], []
        for start in range(0, len(corners), _IOU_BLOCK_ROWS):
            ious = self._iou(corners[start : start + _IOU_BLOCK_ROWS])
            best = ious.argmax(axis=-1)
            row_anchor.append(best)
            row_iou.append(ious[np.arange(len(ious)), best])
            flat = np.flatnonzero(ious >= floor)
            pair_row.append(flat // n + start)
            pair_anchor.append(flat % n)
            pair_iou.append(ious.ravel()[flat])
        pair_row, pair_anchor, pair_iou = map(np.concatenate, (pair_row, pair_anchor, pair_iou))

        # Best box of each (image, anchor): highest IoU, then the first box.
        key = image[pair_row] * n + pair_anchor
        order = np.lexsort((pair_row, -pair_iou, key))
        key, pair_row, pair_iou = key[order], pair_row[order], pair_iou[order]
        head = np.ones(len(key), dtype=bool)
        head[1:] = key[1:] != key[:-1]
        best_iou = np.full(batch * n, -1.0)
        best_box = np.full(batch * n, -1, dtype=np.int64)
        best_iou[key[head]] = pair_iou[head]
        best_box[key[head]] = row[pair_row[head]]
        best_iou, best_box = best_iou.reshape(batch, n), best_box.reshape(batch, n)

        # Bipartite first: every box gets its best free anchor.
        m = int(counts.max())
        padded_anchor = np.zeros((batch, m), dtype=np.int64)
        padded_iou = np.zeros((batch, m))  # padding rows: 0, never matched
        padded_anchor[image, row] = np.concatenate(row_anchor)
        padded_iou[image, row] = np.concatenate(row_iou)
        bipartite = greedy_bipartite(
            padded_anchor,
            padded_iou,
            lambda img, r: self._iou(corners[first[img] + r]),
        )
        # Then the other anchors: multi matching and the neutral zone on their IoU.
        if self.matching_type == "multi":
            matched = np.where(best_iou >= self.pos_iou_threshold, best_box, -1)
        else:
            matched = np.full((batch, n), -1, dtype=np.int64)
        b, g = np.nonzero(bipartite >= 0)
        matched[b, bipartite[b, g]] = g
        neutral = (matched < 0) & (best_iou >= self.neg_iou_limit)
        return matched, neutral

    def __call__(self, ground_truth_labels, diagnostics=False):
        labels = self._parse_labels(ground_truth_labels)
        y = np.empty((len(labels), self.n_boxes, n_channels(self.n_classes)), dtype=np.float32)
        y[...] = self._template  # all background, offsets 0, anchors, variances
        counts = np.array([len(x) for x in labels], dtype=np.int64)
        if counts.sum() > 0:
            flat = np.concatenate(labels)  # (K, 5), image by image
            matched, neutral = self._match(flat[:, 1:], counts)
            y[..., self.background_id][neutral] = 0.0  # neutral: all-zero classes
            pb, pa = np.nonzero(matched >= 0)
            gt = (np.cumsum(counts) - counts)[pb] + matched[pb, pa]  # rows of `flat`
            y[pb, pa, self.background_id] = 0.0
            y[pb, pa, flat[gt, 0].astype(np.int64)] = 1.0
            y[pb, pa, OFFSETS] = encode_offsets(
                self._gt_in_coords(flat[gt, 1:]), self._anchors64[pa], self.variances, self.coords
            )
        if diagnostics:
            matched_anchors = y.copy()
            matched_anchors[..., OFFSETS] = 0.0  # decoding gives the anchors themselves
            return y, matched_anchors
        return y

    def _gt_in_coords(self, corners: np.ndarray) -> np.ndarray:
        """Pixel corners `(k, 4)` -> `coords` format, normalised if `normalize_coords`."""
        boxes = corners
        if self.coords != "corners":
            boxes = convert_coordinates(corners, 0, f"corners2{self.coords}", self.border_pixels)
        if self.normalize_coords:
            boxes = boxes / self._coord_scale
        return boxes
