"""Matching ground-truth boxes to anchors from a similarity (IoU) matrix.

Both functions take a weight matrix of shape `(m, n)`: one row per ground-truth
box, one column per anchor, entries are non-negative similarities (IoU). They
also accept a batch `(batch, m, n)`, which is how `SSDInputEncoder` calls them:
the matching runs for every image at once, with no Python loop over boxes,
anchors or images. Rows whose entries are all negative are padding (images
with fewer boxes than the batch maximum) and are never matched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["match_bipartite_greedy", "match_multi"]


def _as_weights(weight_matrix) -> np.ndarray:
    weights = np.asarray(weight_matrix)
    if weights.ndim not in (2, 3):
        raise ValueError(
            "`weight_matrix` must have shape (m, n) or (batch, m, n). "
            f"Received: weight_matrix.shape={weights.shape}"
        )
    return weights


def greedy_bipartite(best_anchor, best_value, row_weights) -> np.ndarray:
    """Greedy bipartite matching of a batch, vectorised across images.

    Works from each row's best anchor and asks for full rows only when that
    anchor is taken, so a caller can compute rows on demand instead of holding
    a `(batch, m, n)` matrix.

    Args:
        best_anchor: int `(batch, m)`, the first argmax of each row.
        best_value: float `(batch, m)`, the row maxima; rows of padding (no
            box) must hold a value <= 0.
        row_weights: callable `(images, rows) -> (r, n)` returning the original
            weights of the requested rows (a fresh array it may be changed).

    Returns:
        int64 `(batch, m)`: the anchor matched to each row, -1 for none.
    """
    batch, m = best_anchor.shape
    matches = np.full((batch, m), -1, dtype=np.int64)
    best_anchor = np.array(best_anchor, dtype=np.int64)
    # Rows with nothing positive left are finished: -inf.
    best_value = np.where(best_value > 0, best_value, -np.inf)
    images = np.arange(batch)
    for _ in range(m):  # one pair per image per round; rounds <= boxes per image
        row = best_value.argmax(axis=-1)  # first row on ties, like ssd_keras
        active = np.isfinite(best_value[images, row])
        if not active.any():
            break
        img, row = images[active], row[active]
        anchor = best_anchor[img, row]
        matches[img, row] = anchor
        best_value[img, row] = -np.inf
        # Only rows whose best anchor was just taken need a new best: for the
        # others the maximum and its first position are unchanged.
        stale = (best_anchor[img] == anchor[:, None]) & np.isfinite(best_value[img])
        stale_img, stale_row = np.nonzero(stale)
        if stale_img.size:
            stale_img = img[stale_img]
            weights = row_weights(stale_img, stale_row)
            taken = matches[stale_img]  # (r, m): anchors already matched in that image
            r, k = np.nonzero(taken >= 0)
            weights[r, taken[r, k]] = 0.0  # ssd_keras zeroes matched columns
            new_anchor = weights.argmax(axis=-1)
            new_value = weights[np.arange(len(weights)), new_anchor]
            best_anchor[stale_img, stale_row] = new_anchor
            best_value[stale_img, stale_row] = np.where(new_value > 0, new_value, -np.inf)
    return matches


def match_bipartite_greedy(weight_matrix) -> np.ndarray:
    """Greedy bipartite matching: every ground-truth box gets its own best anchor.

    Repeatedly takes the largest remaining entry of the matrix (first row,
    then first column on ties), pairs that row and column, and removes both.
    This is ssd_keras's algorithm, and gives every box an anchor even when its
    best IoU is below any threshold. One difference: a row with no positive
    entry left (a box overlapping no free anchor) is left unmatched (-1)
    instead of being given anchor 0, which ssd_keras may already have given to
    another box.

    Args:
        weight_matrix: `(m, n)` or `(batch, m, n)` non-negative similarities,
            rows are ground-truth boxes, columns anchors. Not modified.

    Returns:
        int64 `(m,)` or `(batch, m)`: the anchor index matched to each row, or
        -1 when the row has no positive entry left.
    """
    weights = _as_weights(weight_matrix)
    batched = weights.ndim == 3
    weights = weights if batched else weights[None]
    if 0 in weights.shape:
        return np.full(weights.shape[:2] if batched else weights.shape[1:2], -1, np.int64)
    best_anchor = weights.argmax(axis=-1)
    best_value = np.take_along_axis(weights, best_anchor[..., None], axis=-1)[..., 0]
    matches = greedy_bipartite(
        best_anchor,
        best_value,
        lambda images, rows: np.array(weights[images, rows], dtype=np.float64),
    )
    return matches if batched else matches[0]


def best_rows(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each column of `(..., m, n)` weights, the best row and its weight.

    With no rows (`m == 0`) every column gets row -1 and weight -inf.
    """
    if weights.shape[-2] == 0:
        shape = weights.shape[:-2] + weights.shape[-1:]
        return np.full(shape, -1, dtype=np.int64), np.full(shape, -np.inf)
    row = weights.argmax(axis=-2)
    value = np.take_along_axis(weights, row[..., None, :], axis=-2)[..., 0, :]
    return row, value


def match_multi(weight_matrix, threshold: float):
    """Match every anchor to its best ground-truth box if the weight is >= `threshold`.

    Args:
        weight_matrix: `(m, n)` or `(batch, m, n)` similarities. To exclude an
            anchor (one already matched), set its column below the threshold.
        threshold: the minimum weight of a match (inclusive).

    Returns:
        For `(m, n)`: `(gt_indices, anchor_indices)`, two int64 arrays of the
        matched pairs, in anchor order (as ssd_keras). For `(batch, m, n)`:
        `(batch_indices, gt_indices, anchor_indices)`.
    """
    weights = _as_weights(weight_matrix)
    row, value = best_rows(weights)
    matched = np.nonzero(value >= threshold)
    return (*matched[:-1], row[matched], matched[-1])
