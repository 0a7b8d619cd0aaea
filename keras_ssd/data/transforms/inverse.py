"""`apply_inverse_transforms`: map decoded predictions back to the original images."""

from __future__ import annotations

import numpy as np

__all__ = ["apply_inverse_transforms"]


def apply_inverse_transforms(y_pred_decoded, inverse_transforms):
    """Apply each batch item's inverters to its predictions.

    Args:
        y_pred_decoded: a list of `(k_i, 6)` arrays, or a `(batch, k, 6)` array, of
            rows `[class_id, conf, xmin, ymin, xmax, ymax]` in the transformed images.
        inverse_transforms: one list of inverters per batch item, already in the order
            to apply (last transform's inverter first); `None` entries are skipped.

    Returns:
        The same structure (list or array) with the boxes in original-image
        coordinates; items without predictions are returned unchanged (copied).
        The input is not modified.
    """
    if not isinstance(y_pred_decoded, (list, tuple, np.ndarray)):
        raise TypeError(
            "`y_pred_decoded` must be a list of (k, 6) arrays or a (batch, k, 6) array. "
            f"Received: y_pred_decoded={type(y_pred_decoded).__name__}"
        )
    if len(inverse_transforms) != len(y_pred_decoded):
        raise ValueError(
            "`inverse_transforms` must have one entry per batch item. Received: "
            f"len(inverse_transforms)={len(inverse_transforms)}, "
            f"len(y_pred_decoded)={len(y_pred_decoded)}"
        )
    inverted = []
    for y_pred, inverters in zip(y_pred_decoded, inverse_transforms):
        y_pred = np.array(y_pred, copy=True)
        if y_pred.size > 0:
            for inverter in inverters:
                if inverter is not None:
                    y_pred = inverter(y_pred)
        inverted.append(y_pred)
    if isinstance(y_pred_decoded, np.ndarray):
        return np.stack(inverted) if inverted else np.array(y_pred_decoded, copy=True)
    return inverted
