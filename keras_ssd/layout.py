"""The "classes + 12" layout of `y_true` and of the model's `predictions` output.

Both tensors have shape `(batch, n_boxes, n_classes + 1 + 12)`. Along the last
axis:

| slice       | `y_true` (SSDInputEncoder)               | `y_pred` (model)                  |
|-------------|------------------------------------------|-----------------------------------|
| `CLASSES`   | one-hot class; background at column 0 by | softmax class scores              |
|             | default; neutral anchors are all zero    |                                   |
| `OFFSETS`   | 4 encoded ground-truth offsets           | 4 predicted offsets               |
| `ANCHORS`   | 4 anchor coordinates (`coords` format)   | the same anchors                  |
| `VARIANCES` | 4 variances                              | the same variances                |

This module is the only place that knows these slices; everything else imports
them. The slices are counted from the end, so they hold for any class count.
"""

from __future__ import annotations

__all__ = [
    "ANCHORS",
    "CLASSES",
    "N_TRAILING",
    "OFFSETS",
    "VARIANCES",
    "n_channels",
    "n_classes_from_channels",
]

#: Channels after the class scores: 4 offsets, 4 anchor coordinates, 4 variances.
N_TRAILING = 12

CLASSES = slice(None, -N_TRAILING)
OFFSETS = slice(-12, -8)
ANCHORS = slice(-8, -4)
VARIANCES = slice(-4, None)


def n_channels(n_classes: int) -> int:
    """Width of the last axis for `n_classes` positive classes (background added)."""
    return int(n_classes) + 1 + N_TRAILING


def n_classes_from_channels(channels: int) -> int:
    """Inverse of `n_channels`: the number of positive classes in a layout tensor."""
    n_classes = int(channels) - 1 - N_TRAILING
    if n_classes < 1:
        raise ValueError(
            "A layout tensor needs at least 1 + 1 + 12 = 14 channels (one positive class). "
            f"Received: channels={channels}"
        )
    return n_classes
