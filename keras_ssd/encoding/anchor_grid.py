"""IoU of ground-truth boxes against the anchors of a model, dense or sparse.

The anchors of a predictor layer sit on a grid: anchor `(i, j, p)` (cell row
`i`, cell column `j`, box kind `p`) has an x interval that depends only on
`(j, p)` and a y interval that depends only on `(i, p)`, also after clipping.

- `AnchorGrid.dense` computes the IoU of boxes with every anchor from two small
  tables per box, x overlaps with every `(j, p)` interval and y overlaps with
  every `(i, p)` interval, multiplied per anchor.
- `AnchorGrid.pairs` returns only the pairs that can reach a given IoU. For a
  box and one kind of one layer (a "group"), the anchors that can reach it lie
  in one rectangle of cells, computed from the box, the anchor size and the
  grid's centres and steps before any IoU is.

Both use the arithmetic of `keras_ssd.boxes.iou`, so their IoUs are the same
numbers, bit for bit.
"""

from __future__ import annotations

import numpy as np

from keras_ssd.boxes import border_offset

__all__ = ["AnchorGrid"]

# Keeps the bound a hair looser than exact, so that rounding in the IoU can
# never drop a pair that reaches the threshold.
_BOUND_SLACK = 1.0 - 1e-9
# Cell positions are computed to ~1e-12 cells; this margin covers that.
_CELL_MARGIN = 1e-6
# Boxes per block of full IoU rows: bounds the `(rows, n_anchors)` float64 temporaries.
_DENSE_BLOCK_ROWS = 64


class AnchorGrid:
    """IoU of pixel-corner boxes against the anchors of all predictor layers.

    Args:
        layer_corners: per predictor layer, float64 `(fh, fw, kinds, 4)` anchors
            as pixel corners `(xmin, ymin, xmax, ymax)` (as
            `keras_ssd.anchors.anchor_boxes_for_model` returns them).
        border_pixels: 'half', 'include' or 'exclude'.
        unclipped_corners: the same anchors before clipping to the image, when
            `layer_corners` are clipped (they place the cell centres); default
            `layer_corners`.

    Attributes:
        n_anchors: number of anchors, in layer order then row, column, kind.
    """

    def __init__(self, layer_corners, border_pixels: str, unclipped_corners=None):
        self.d = d = border_offset(border_pixels)
        unclipped_corners = layer_corners if unclipped_corners is None else unclipped_corners
        x_tables, y_tables, x_index, y_index, groups = [], [], [], [], []
        n_x = n_y = first_anchor = 0
        for corners, unclipped in zip(layer_corners, unclipped_corners):
            fh, fw, kinds, _ = corners.shape
            x = corners[0, :, :, 0::2]  # (fw, kinds, 2): xmin, xmax
            y = corners[:, 0, :, 1::2]  # (fh, kinds, 2): ymin, ymax
            if not (
                np.array_equal(corners[..., 0::2], np.broadcast_to(x, corners[..., 0::2].shape))
                and np.array_equal(corners[..., 1::2], y[:, None].repeat(fw, axis=1))
            ):
                raise ValueError("The anchors of a predictor layer must lie on a grid.")
            # Interval tables, kind-major: entry `p * fw + j` is column j of kind p.
            x_tables.append(x.transpose(1, 0, 2).reshape(-1, 2))
            y_tables.append(y.transpose(1, 0, 2).reshape(-1, 2))
            i, j, p = np.indices((fh, fw, kinds)).reshape(3, -1)
            x_index.append(n_x + p * fw + j)
            y_index.append(n_y + p * fh + i)
            widths, heights = x[..., 1] - x[..., 0] + d, y[..., 1] - y[..., 0] + d
            min_area = widths.min(axis=0) * heights.min(axis=0)  # (kinds,), clipped ones too
            # Cell centres and sizes before clipping (clipping only shrinks an anchor).
            x_centre = unclipped[0, :, 0, 0::2].mean(axis=-1)  # (fw,)
            y_centre = unclipped[:, 0, 0, 1::2].mean(axis=-1)  # (fh,)
            x_step = x_centre[1] - x_centre[0] if fw > 1 else 1.0
            y_step = y_centre[1] - y_centre[0] if fh > 1 else 1.0
            size = unclipped[0, 0, :, 2:] - unclipped[0, 0, :, :2]  # (kinds, 2): w, h
            for kind in range(kinds):
                groups.append({
                    "cols": fw, "rows": fh, "kinds": kinds, "anchor0": first_anchor + kind,
                    "min_area": min_area[kind],
                    "x_centre0": x_centre[0], "x_step": x_step, "half_width": size[kind, 0] / 2,
                    "y_centre0": y_centre[0], "y_step": y_step, "half_height": size[kind, 1] / 2,
                })
            n_x, n_y = n_x + fw * kinds, n_y + fh * kinds
            first_anchor += fh * fw * kinds
        x, y = np.concatenate(x_tables), np.concatenate(y_tables)
        self.x_min, self.x_max = x[:, 0].copy(), x[:, 1].copy()
        self.y_min, self.y_max = y[:, 0].copy(), y[:, 1].copy()
        self.x_index, self.y_index = np.concatenate(x_index), np.concatenate(y_index)
        self.n_anchors = first_anchor
        # Per anchor: corners and area, `(xmax - xmin + d) * (ymax - ymin + d)`.
        self.corners = np.stack([
            self.x_min[self.x_index], self.y_min[self.y_index],
            self.x_max[self.x_index], self.y_max[self.y_index],
        ])  # (4, n_anchors)
        x_min, y_min, x_max, y_max = self.corners
        self.area = (x_max - x_min + d) * (y_max - y_min + d)
        # Per group `(n_groups,)`: its grid (ints) and geometry (floats, pixels).
        column = {key: np.array([g[key] for g in groups]) for key in groups[0]}
        self.group_cols, self.group_rows = column["cols"], column["rows"]
        self.group_kinds, self.group_anchor0 = column["kinds"], column["anchor0"]
        self.group_min_area = column["min_area"]
        self.x_centre0, self.x_step, self.half_width = (
            column["x_centre0"], column["x_step"], column["half_width"]
        )
        self.y_centre0, self.y_step, self.half_height = (
            column["y_centre0"], column["y_step"], column["half_height"]
        )

    def _overlaps(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x overlaps `(k, n_x)`, y overlaps `(k, n_y)` and areas `(k,)` of `(k, 4)` boxes."""
        d = self.d

        def overlap(lo, hi, interval_min, interval_max):
            side = np.minimum(hi[:, None], interval_max)
            side -= np.maximum(lo[:, None], interval_min)
            if d:
                side += d
            return np.maximum(side, 0.0, out=side)

        area = (boxes[:, 2] - boxes[:, 0] + d) * (boxes[:, 3] - boxes[:, 1] + d)
        return (
            overlap(boxes[:, 0], boxes[:, 2], self.x_min, self.x_max),
            overlap(boxes[:, 1], boxes[:, 3], self.y_min, self.y_max),
            area,
        )

    def _iou(self, inter, box_area, anchor_area):
        union = np.add(box_area, anchor_area)
        union -= inter
        if self.d < 0:  # 'exclude' can give boxes of at most 1 pixel an empty union
            inter[union <= 0] = 0.0
            union[union <= 0] = 1.0
        inter /= union
        return inter

    def dense(self, boxes: np.ndarray) -> np.ndarray:
        """float64 `(k, n_anchors)` IoU of `(k, 4)` pixel-corner boxes with every anchor."""
        ox, oy, area = self._overlaps(boxes)
        inter = np.take(ox, self.x_index, axis=1)
        inter *= np.take(oy, self.y_index, axis=1)
        return self._iou(inter, area[:, None], self.area)

    def best_anchors(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each box's best anchor (the first on ties) and its IoU, over every anchor.

        Computed `_DENSE_BLOCK_ROWS` boxes at a time, so memory stays bounded for any `k`.

        Returns:
            int64 `(k,)` anchor indices and float64 `(k,)` IoUs.
        """
        anchor = np.zeros(len(boxes), dtype=np.int64)
        iou = np.zeros(len(boxes))
        for start in range(0, len(boxes), _DENSE_BLOCK_ROWS):
            rows = self.dense(boxes[start : start + _DENSE_BLOCK_ROWS])
            best = rows.argmax(axis=-1)
            anchor[start : start + len(rows)] = best
            iou[start : start + len(rows)] = rows[np.arange(len(rows)), best]
        return anchor, iou

    def pairs(self, boxes: np.ndarray, threshold: float):
        """Every (box, anchor) pair whose IoU may reach `threshold`, with its IoU.

        Returns a superset of the pairs with IoU >= `threshold`: every pair
        that reaches it, plus a few that fall short, grouped by box in box
        order. The IoU of the anchors that cannot reach it is never computed.

        Args:
            boxes: float64 `(k, 4)` pixel corners.
            threshold: IoU in [0, 1]; 0 gives every pair.

        Returns:
            `box` int64 `(p,)`, `anchor` int64 `(p,)`, `iou` float64 `(p,)`.
        """
        k, d = len(boxes), self.d
        if threshold <= 0:
            n = self.n_anchors
            return np.repeat(np.arange(k), n), np.tile(np.arange(n), k), self.dense(boxes).ravel()
        x1, y1, x2, y2 = boxes.T[:, :, None]  # (k, 1) each
        area = (x2 - x1 + d) * (y2 - y1 + d)
        # IoU >= t  <=>  inter * (1 + t) >= t * (box_area + anchor_area), so the
        # intersection must reach `need`; as it is at most (x overlap) * (the
        # largest y overlap any anchor of the group can have), the x overlap
        # must reach `need / that`, which bounds the columns; rows likewise.
        need = threshold / (1.0 + threshold) * _BOUND_SLACK * (area + self.group_min_area)
        x_top = np.minimum(x2 - x1, 2 * self.half_width) + d  # (k, groups)
        y_top = np.minimum(y2 - y1, 2 * self.half_height) + d
        with np.errstate(divide="ignore", invalid="ignore"):
            x_need, y_need = need / y_top, need / x_top
        possible = (x_top > 0) & (y_top > 0) & (x_top >= x_need) & (y_top >= y_need)
        col0, n_cols = self._cells(x1, x2, x_need, self.x_centre0, self.x_step, self.half_width,
                                   self.group_cols, possible)
        row0, n_rows = self._cells(y1, y2, y_need, self.y_centre0, self.y_step, self.half_height,
                                   self.group_rows, possible)
        # Enumerate the cells of every (box, group) rectangle, box-major: `rect` is the
        # rectangle of each pair, `local` the pair's position in it.
        size = (n_rows * n_cols).ravel()
        rect = np.repeat(np.arange(size.size), size)
        local = np.arange(len(rect)) - (np.cumsum(size) - size)[rect]
        row, col = np.divmod(local, n_cols.ravel()[rect])
        box, group = np.divmod(rect, len(self.group_cols))
        first_cell = self.group_anchor0 + (row0 * self.group_cols + col0) * self.group_kinds
        anchor = first_cell.ravel()[rect]
        anchor += (row * self.group_cols[group] + col) * self.group_kinds[group]
        # Per pair, with 1-D gathers (much faster than gathering rows).
        bx1, by1, bx2, by2 = (side.ravel().take(box) for side in (x1, y1, x2, y2))
        ax1, ay1, ax2, ay2 = (side.take(anchor) for side in self.corners)
        inter = np.minimum(bx2, ax2)
        inter -= np.maximum(bx1, ax1)
        height = np.minimum(by2, ay2)
        height -= np.maximum(by1, ay1)
        if d:
            inter += d
            height += d
        inter = np.maximum(inter, 0.0, out=inter)
        inter *= np.maximum(height, 0.0, out=height)
        return box, anchor, self._iou(inter, area.ravel().take(box), self.area.take(anchor))

    def _cells(self, lo, hi, need, centre0, step, half, count, possible):
        """First cell and number of cells along one axis whose overlap may reach `need`.

        The overlap of `[lo, hi]` with the anchor `[c - half, c + half]` is
        `min(hi - lo, 2 half, c + half - lo, hi - c + half) + d`, so it reaches
        `need` only for centres `c` in `[lo - half + need - d, hi + half - need + d]`.
        A margin of `_CELL_MARGIN` cells absorbs rounding.
        """
        d = self.d
        with np.errstate(invalid="ignore"):
            first = np.ceil((lo - half + need - d - centre0) / step - _CELL_MARGIN)
            last = np.floor((hi + half - need + d - centre0) / step + _CELL_MARGIN)
        first = np.where(possible, np.clip(first, 0, count), 0).astype(np.int64)
        last = np.where(possible, np.clip(last, -1, count - 1), -1).astype(np.int64)
        return first, np.maximum(last - first + 1, 0)
