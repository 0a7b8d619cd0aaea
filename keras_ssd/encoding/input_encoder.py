"""`SSDInputEncoder`: ground-truth boxes -> the `y_true` tensor that `SSDLoss` trains on.

The encoder holds the anchors of a model configuration (computed with
`keras_ssd.anchors`, the same function the model's `AnchorBoxes` layers use)
and, for a batch of ground-truth labels, matches boxes to anchors and encodes
the matches in the "classes + 12" layout of `keras_ssd.layout`.

The whole batch is encoded at once, with no Python loop over boxes, anchors or
images (the bipartite rounds are bounded by the boxes per image):

1. `AnchorGrid.pairs` lists the (box, anchor) pairs whose IoU can reach the
   lower of the two thresholds, without computing the IoU of the rest;
2. greedy bipartite matching runs for every image at once from each box's
   best anchor (a box whose best anchor is below the thresholds gets a full
   IoU row);
3. the best box of every listed anchor decides multi matches and the neutral
   zone; every other anchor is plainly negative.

`y_true` memory is reused once the caller has dropped a batch (see
`keras_ssd.encoding.recycling`).
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
from keras_ssd.encoding.anchor_grid import AnchorGrid
from keras_ssd.encoding.matching import greedy_bipartite
from keras_ssd.encoding.recycling import ArrayRecycler
from keras_ssd.layout import ANCHORS
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES
from keras_ssd.layout import n_channels

__all__ = ["DegenerateBoxError", "SSDInputEncoder"]

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


def _best_per_run(group: np.ndarray, value: np.ndarray, index: np.ndarray):
    """For each run of equal `group` entries: its first position, the largest
    `value` and the smallest `index` that holds it (the first argmax).

    Args:
        group, value, index: `(p,)` arrays, `group` sorted, `p >= 1`.

    Returns:
        `start` `(runs,)` positions, `best_value` and `best_index` per run.
    """
    new_run = np.empty(len(group), dtype=bool)
    new_run[0] = True
    np.not_equal(group[1:], group[:-1], out=new_run[1:])
    start = np.flatnonzero(new_run)
    if len(start) == len(group):  # no repeated group: nothing to choose
        return start, value, index
    best_value = np.maximum.reduceat(value, start)
    run = np.cumsum(new_run) - 1
    holders = np.where(value == best_value[run], index, np.iinfo(np.int64).max)
    return start, best_value, np.minimum.reduceat(holders, start)


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
        float32 `y_true` of shape `(batch, n_boxes, n_classes + 1 + 12)`, a new array
        (the encoder keeps up to two released `y_true` buffers of a large batch for reuse;
        an array is never changed while anything refers to it).
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
        pixel_corners = dict(geometry, normalize_coords=False, coords="corners")
        self._grid = AnchorGrid(
            anchor_boxes_for_model(**pixel_corners),
            border_pixels,
            anchor_boxes_for_model(**dict(pixel_corners, clip_boxes=False)),
        )
        # Divides pixel coordinates in `coords` order by the image size.
        w, h = float(self.img_width), float(self.img_height)
        self._coord_scale = np.array((w, w, h, h) if coords == "minmax" else (w, h, w, h))
        # One y_true row per anchor before matching: background, zero offsets.
        self._template = np.zeros((self.n_boxes, n_channels(self.n_classes)), dtype=np.float32)
        self._template[:, self.background_id] = 1.0
        self._template[:, ANCHORS] = self.anchors
        self._template[:, VARIANCES] = np.asarray(self.variances, dtype=np.float32)
        # `y_true` memory is reused once the caller has dropped a batch.
        self._outputs = ArrayRecycler()

    def _parse_labels(self, ground_truth_labels) -> tuple[np.ndarray, np.ndarray]:
        """Validate the labels of a batch.

        Returns:
            float64 `(K, 5)` labels of all images, image by image, and the
            int64 `(batch,)` number of boxes of each image.
        """
        parsed = []
        for i, labels in enumerate(ground_truth_labels):
            labels = np.zeros((0, 5)) if labels is None else np.asarray(labels, dtype=np.float64)
            if labels.size == 0:
                labels = np.zeros((0, 5))
            elif labels.ndim != 2 or labels.shape[1] != 5:
                raise ValueError(
                    "The labels of each image must have shape (k, 5): "
                    "[class_id, xmin, ymin, xmax, ymax]. "
                    f"Received: ground_truth_labels[{i}].shape={labels.shape}"
                )
            parsed.append(labels)
        counts = np.array([len(labels) for labels in parsed], dtype=np.int64)
        flat = np.concatenate(parsed) if parsed else np.zeros((0, 5))

        def first_bad(bad):  # (image, box within the image) of the first True row
            row = int(np.argmax(bad))
            image = int(np.searchsorted(np.cumsum(counts), row, side="right"))
            return image, row - int(counts[:image].sum())

        not_finite = ~np.isfinite(flat).all(axis=1)
        if not_finite.any():
            i, _ = first_bad(not_finite)
            raise ValueError(
                f"The labels of image {i} contain NaN or infinite values. "
                f"Received: ground_truth_labels[{i}]={parsed[i].tolist()}"
            )
        class_ids = flat[:, 0]
        bad = (class_ids != np.round(class_ids)) | (class_ids < 0) | (class_ids > self.n_classes)
        if bad.any():
            i, j = first_bad(bad)
            raise ValueError(
                f"Class ids must be integers in [0, n_classes={self.n_classes}]. "
                f"Received: class_id={parsed[i][j, 0]} in ground_truth_labels[{i}]"
            )
        degenerate = (flat[:, 3] <= flat[:, 1]) | (flat[:, 4] <= flat[:, 2])
        if degenerate.any():
            i, j = first_bad(degenerate)
            raise DegenerateBoxError(
                f"Image {i} has a degenerate ground-truth box (xmax <= xmin or "
                f"ymax <= ymin): box {j} = {parsed[i][j].tolist()} "
                "([class_id, xmin, ymin, xmax, ymax]). Remove or fix it, e.g. with a "
                "box filter."
            )
        return flat, counts

    def _match(self, corners: np.ndarray, counts: np.ndarray):
        """Match the boxes of a batch to the anchors.

        Args:
            corners: float64 `(K, 4)` pixel corners of all boxes, image by image.
            counts: `(batch,)` boxes per image.

        Returns:
            `positive`: `(image, anchor, box)` int64 arrays of the matched pairs
            (`box` indexes `corners`), and `neutral`: `(image, anchor)` of the
            unmatched anchors in the neutral zone.
        """
        batch, n = len(counts), self.n_boxes
        first = np.cumsum(counts) - counts  # row of each image's first box
        image = np.repeat(np.arange(batch), counts)
        # An unmatched anchor whose best IoU is below both thresholds is plainly
        # negative, so only the pairs at or above `floor` matter, and the grid
        # finds those without computing the IoU of every anchor.
        floor = self.neg_iou_limit
        if self.matching_type == "multi":
            floor = min(floor, self.pos_iou_threshold)
        box, anchor, iou = self._grid.pairs(corners, floor)

        # Each box's best anchor (first on ties) for bipartite matching. Every
        # pair >= floor is among the pairs, so their best is exact when it
        # reaches the floor; the other boxes get a full row.
        box_best_anchor = np.zeros(len(corners), dtype=np.int64)
        box_best_iou = np.full(len(corners), -np.inf)
        if box.size:
            start, best_iou, best_anchor = _best_per_run(box, iou, anchor)
            box_best_iou[box[start]], box_best_anchor[box[start]] = best_iou, best_anchor
        full_row = np.flatnonzero(box_best_iou < floor)
        if full_row.size:
            box_best_anchor[full_row], box_best_iou[full_row] = self._grid.best_anchors(
                corners[full_row]
            )
        m = int(counts.max())
        padded_anchor = np.zeros((batch, m), dtype=np.int64)
        padded_iou = np.zeros((batch, m))  # padding rows: 0, never matched
        within = np.arange(len(corners)) - first[image]  # box index within its image
        padded_anchor[image, within] = box_best_anchor
        padded_iou[image, within] = box_best_iou
        bipartite = greedy_bipartite(
            padded_anchor, padded_iou, lambda img, r: self._grid.dense(corners[first[img] + r])
        )
        b_img, b_row = np.nonzero(bipartite >= 0)
        b_key = b_img * n + bipartite[b_img, b_row]
        b_box = first[b_img] + b_row

        # The other anchors: the best box of each (image, anchor) among the
        # pairs >= floor (highest IoU, then the first box), then multi matching
        # and the neutral zone on that IoU.
        keep = np.flatnonzero(iou >= floor)
        key = image[box[keep]] * n + anchor[keep]
        order = np.argsort(key, kind="stable")  # stable: boxes stay ascending within a key
        key, key_box, key_iou = key[order], box[keep[order]], iou[keep[order]]
        if key.size:
            start, key_iou, key_box = _best_per_run(key, key_iou, key_box)
            key = key[start]
        free = ~np.isin(key, b_key, assume_unique=True)
        multi = free & (key_iou >= self.pos_iou_threshold)
        if self.matching_type != "multi":
            multi[:] = False
        neutral = free & ~multi & (key_iou >= self.neg_iou_limit)
        positive_key = np.concatenate([b_key, key[multi]])
        positive_box = np.concatenate([b_box, key_box[multi]])
        return (
            (*np.divmod(positive_key, n), positive_box),
            np.divmod(key[neutral], n),
        )

    def __call__(self, ground_truth_labels, diagnostics=False):
        flat, counts = self._parse_labels(ground_truth_labels)  # (K, 5), image by image
        y = self._outputs.empty((len(counts), *self._template.shape), np.float32)
        y[...] = self._template  # all background, offsets 0, anchors, variances
        if len(flat):
            (pi, pa, gt), (ni, na) = self._match(flat[:, 1:], counts)
            y[ni, na, self.background_id] = 0.0  # neutral: all-zero classes
            y[pi, pa, self.background_id] = 0.0
            y[pi, pa, flat[gt, 0].astype(np.int64)] = 1.0
            y[pi, pa, OFFSETS] = encode_offsets(
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
