"""Test support for SSDLoss: batch generators and an independent NumPy implementation."""

from __future__ import annotations

import math

import numpy as np


def make_batch(
    rng,
    batch_size,
    n_boxes,
    n_classes,
    pos_frac=0.05,
    neutral_frac=0.05,
    dtype=np.float32,
    quantize=None,
):
    """A realistic `(y_true, y_pred)` pair in the classes + 12 layout.

    `y_true`: mostly background (one-hot column 0), `pos_frac` positives (one-hot
    in 1..n_classes), `neutral_frac` neutral anchors (all-zero class block);
    encoded offsets ~ N(0, 1); random anchors and variances (ignored by the loss).
    `y_pred`: softmax probabilities and offsets ~ N(0, 1.5), so both branches of
    the smooth L1 occur. `quantize=q` rounds the logits to multiples of q so that
    many negative losses tie exactly.
    """
    n_cols = n_classes + 1
    kind = rng.random((batch_size, n_boxes))
    labels = np.zeros((batch_size, n_boxes), dtype=int)
    positive = kind < pos_frac
    labels[positive] = rng.integers(1, n_cols, size=int(positive.sum()))
    neutral = (kind >= pos_frac) & (kind < pos_frac + neutral_frac)

    y_true = np.zeros((batch_size, n_boxes, n_cols + 12), dtype=np.float32)
    y_true[..., :n_cols] = np.eye(n_cols, dtype=np.float32)[labels]
    y_true[neutral, :n_cols] = 0.0
    y_true[..., n_cols : n_cols + 4] = rng.normal(size=(batch_size, n_boxes, 4))
    y_true[..., n_cols + 4 :] = rng.random((batch_size, n_boxes, 8))

    logits = rng.normal(scale=2.0, size=(batch_size, n_boxes, n_cols))
    if quantize is not None:
        logits = np.round(logits / quantize) * quantize
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    y_pred = np.concatenate(
        [
            probs,
            rng.normal(scale=1.5, size=(batch_size, n_boxes, 4)),
            rng.random((batch_size, n_boxes, 8)),
        ],
        axis=-1,
    )
    return y_true, y_pred.astype(dtype)


def top_k_by_index(values, k):
    """Indices of the `k` largest entries of a 1-D array; ties: lower index first."""
    return np.argsort(-values, kind="stable")[:k]


def reference_loss(
    y_true,
    y_pred,
    neg_pos_ratio=3,
    n_neg_min=0,
    alpha=1.0,
    mining="batch",
    negatives_for_hard=0,
):
    """The SSD loss written plainly from the spec (ssd_keras reference section 2.6).

    The negative losses are ranked in float32 (the precision the loss works in), so
    that the kept set is the one the TF code keeps; everything else is float64.

    Returns:
        (per-image loss (B,), boolean mask of the kept negatives (B, n_boxes)).
    """
    y_true = np.asarray(y_true, dtype=np.float32)
    y_pred = np.asarray(y_pred).astype(np.float32)
    batch_size, n_boxes, _ = y_true.shape
    class_true, class_pred = y_true[..., :-12], y_pred[..., :-12]

    log_loss = -np.sum(class_true * np.log(np.maximum(class_pred, 1e-15)), axis=-1)
    diff = np.abs(y_pred[..., -12:-8].astype(np.float64) - y_true[..., -12:-8])
    smooth_l1 = np.sum(np.where(diff < 1.0, 0.5 * diff**2, diff - 0.5), axis=-1)

    is_negative = class_true[..., 0] == 1.0
    is_positive = class_true[..., 1:].max(axis=-1) == 1.0
    n_positive = int(is_positive.sum())
    neg_losses = np.where(is_negative, log_loss, 0.0).astype(np.float32)

    def n_keep(n_pos, candidates):
        k = max(math.floor(neg_pos_ratio * n_pos), n_neg_min)
        if n_positive == 0:
            k = max(k, negatives_for_hard)
        return min(k, int(np.count_nonzero(candidates)))

    kept = np.zeros((batch_size, n_boxes), dtype=bool)
    if mining == "batch":
        flat = neg_losses.reshape(-1)
        flat_kept = np.zeros(flat.shape, dtype=bool)
        flat_kept[top_k_by_index(flat, n_keep(n_positive, flat))] = True
        kept = flat_kept.reshape(batch_size, n_boxes)
    else:
        for i in range(batch_size):
            k = n_keep(int(is_positive[i].sum()), neg_losses[i])
            kept[i, top_k_by_index(neg_losses[i], k)] = True

    pos_class = np.where(is_positive, log_loss, 0.0).sum(axis=-1)
    neg_class = np.where(kept, neg_losses.astype(np.float64), 0.0).sum(axis=-1)
    loc = np.where(is_positive, smooth_l1, 0.0).sum(axis=-1)
    total = (pos_class + neg_class + alpha * loc) / max(1, n_positive) * batch_size
    return total, kept
