"""Box utilities in NumPy: format conversion, intersection, IoU, offset coding.

Box formats (the ssd_keras names, used everywhere in keras_ssd):

- `'centroids'`: `(cx, cy, w, h)`
- `'corners'`: `(xmin, ymin, xmax, ymax)`
- `'minmax'`: `(xmin, xmax, ymin, ymax)` (legacy)

`border_pixels` decides whether a box's border pixels belong to it, which
changes every width and height by `d`: `'half'` (d = 0, the default),
`'include'` (d = +1, the Pascal VOC devkit convention) or `'exclude'` (d = -1).
It applies to widths, areas *and* intersections, so two identical boxes have an
IoU of exactly 1.0 under every setting (ssd_keras forgot the intersection).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BORDER_PIXELS",
    "COORDS",
    "border_offset",
    "check_coords",
    "convert_coordinates",
    "decode_offsets",
    "encode_offsets",
    "intersection_area",
    "iou",
    "to_corners",
]

COORDS = ("centroids", "corners", "minmax")
BORDER_PIXELS = {"half": 0.0, "include": 1.0, "exclude": -1.0}
_CONVERSIONS = {
    f"{source}2{target}"
    for source in COORDS
    for target in COORDS
    if source != target
}
# Column order that turns corners into minmax and back (the swap is its own inverse).
_CORNERS_MINMAX_SWAP = [0, 2, 1, 3]


def border_offset(border_pixels: str) -> float:
    """The `d` added to every `max - min` difference for a `border_pixels` setting."""
    try:
        return BORDER_PIXELS[border_pixels]
    except (KeyError, TypeError):
        raise ValueError(
            f"`border_pixels` must be one of {sorted(BORDER_PIXELS)}. "
            f"Received: border_pixels={border_pixels!r}"
        ) from None


def check_coords(coords: str, name: str = "coords") -> str:
    """Validate a box-format name and return it."""
    if coords not in COORDS:
        raise ValueError(f"`{name}` must be one of {COORDS}. Received: {name}={coords!r}")
    return coords


def convert_coordinates(
    tensor, start_index: int, conversion: str, border_pixels: str = "half"
) -> np.ndarray:
    """Convert the 4 box coordinates starting at `start_index` of the last axis.

    Args:
        tensor: array of any shape `(..., K)` holding 4 consecutive box
            coordinates at `start_index` (negative indices allowed).
        start_index: position of the first coordinate in the last axis.
        conversion: `'<source>2<target>'` for any two of 'centroids', 'corners',
            'minmax', e.g. `'corners2centroids'`.
        border_pixels: 'half', 'include' or 'exclude'; the width and height
            gain `d` when converting to centroids and lose it when converting
            from centroids, so round trips are exact under every setting.

    Returns:
        A float copy of `tensor` with the coordinates converted; other columns
        are untouched.
    """
    if conversion not in _CONVERSIONS:
        raise ValueError(
            f"`conversion` must be one of {sorted(_CONVERSIONS)}. "
            f"Received: conversion={conversion!r}"
        )
    d = border_offset(border_pixels)
    tensor = np.asarray(tensor)
    out = tensor.astype(np.result_type(tensor.dtype, np.float32), copy=True)
    k = out.shape[-1]
    start = start_index + k if start_index < 0 else start_index
    if not 0 <= start <= k - 4:
        raise ValueError(
            f"`start_index` must leave room for 4 coordinates in a last axis of size {k}. "
            f"Received: start_index={start_index}"
        )
    cols = out[..., start : start + 4]  # a view into `out`
    source, target = conversion.split("2")
    if source == "minmax":
        cols[...] = cols[..., _CORNERS_MINMAX_SWAP]
        source = "corners"
    if source == "corners" and target == "centroids":
        x1, y1, x2, y2 = (cols[..., i].copy() for i in range(4))
        cols[..., 0] = (x1 + x2) / 2.0
        cols[..., 1] = (y1 + y2) / 2.0
        cols[..., 2] = x2 - x1 + d
        cols[..., 3] = y2 - y1 + d
    elif source == "centroids":
        cx, cy, w, h = (cols[..., i].copy() for i in range(4))
        cols[..., 0] = cx - (w - d) / 2.0
        cols[..., 1] = cy - (h - d) / 2.0
        cols[..., 2] = cx + (w - d) / 2.0
        cols[..., 3] = cy + (h - d) / 2.0
    if target == "minmax":
        cols[...] = cols[..., _CORNERS_MINMAX_SWAP]
    return out


def to_corners(boxes, coords: str, border_pixels: str = "half") -> np.ndarray:
    """Return `(..., 4)` boxes given in `coords` as a float corners array."""
    check_coords(coords)
    boxes = np.asarray(boxes)
    if coords == "corners":
        return boxes.astype(np.result_type(boxes.dtype, np.float32), copy=False)
    return convert_coordinates(boxes, 0, f"{coords}2corners", border_pixels)


def _as_box_array(boxes, name: str) -> np.ndarray:
    boxes = np.asarray(boxes)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(
            f"`{name}` must have shape (..., 4). Received: {name}.shape={boxes.shape}"
        )
    if boxes.ndim == 1:  # a single box, as in ssd_keras
        boxes = boxes[None, :]
    return boxes


def _areas(corners: np.ndarray, d: float) -> np.ndarray:
    return (corners[..., 2] - corners[..., 0] + d) * (corners[..., 3] - corners[..., 1] + d)


def _pairwise(boxes1, boxes2, coords, mode, border_pixels):
    """Corners, d and the per-pair intersection for `intersection_area` and `iou`."""
    if mode not in ("outer_product", "element-wise"):
        raise ValueError(
            "`mode` must be 'outer_product' or 'element-wise'. "
            f"Received: mode={mode!r}"
        )
    d = border_offset(border_pixels)
    b1 = to_corners(_as_box_array(boxes1, "boxes1"), coords, border_pixels)
    b2 = to_corners(_as_box_array(boxes2, "boxes2"), coords, border_pixels)
    if mode == "outer_product":
        b1 = b1[..., :, None, :]  # (..., m, 1, 4)
        b2 = b2[..., None, :, :]  # (..., 1, n, 4)
    lo = np.maximum(b1[..., :2], b2[..., :2])
    hi = np.minimum(b1[..., 2:], b2[..., 2:])
    side = np.maximum(0.0, hi - lo + d)
    return b1, b2, d, side[..., 0] * side[..., 1]


def intersection_area(
    boxes1, boxes2, coords: str = "centroids", mode: str = "outer_product",
    border_pixels: str = "half",
) -> np.ndarray:
    """Intersection areas of two sets of boxes.

    Args:
        boxes1: `(..., m, 4)` boxes in `coords` format (a single `(4,)` box is
            treated as `(1, 4)`).
        boxes2: `(..., n, 4)` boxes in `coords` format.
        coords: 'centroids', 'corners' or 'minmax'.
        mode: 'outer_product' gives `(..., m, n)` (every pair); 'element-wise'
            broadcasts `boxes1` against `boxes2` and gives `(..., m)`.
        border_pixels: 'half', 'include' or 'exclude'.
    """
    return _pairwise(boxes1, boxes2, coords, mode, border_pixels)[3]


def iou(
    boxes1, boxes2, coords: str = "centroids", mode: str = "outer_product",
    border_pixels: str = "half",
) -> np.ndarray:
    """Intersection over union (Jaccard overlap); same shapes as `intersection_area`.

    A pair whose union is empty (two degenerate boxes) has IoU 0.
    """
    b1, b2, d, inter = _pairwise(boxes1, boxes2, coords, mode, border_pixels)
    union = _areas(b1, d) + _areas(b2, d) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _anchor_sizes(anchors: np.ndarray, coords: str):
    """Anchor width and height for offset coding in `coords` format."""
    if coords == "centroids":
        return anchors[..., 2], anchors[..., 3]
    if coords == "corners":
        return anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    return anchors[..., 1] - anchors[..., 0], anchors[..., 3] - anchors[..., 2]


def _scale_axes(anchors: np.ndarray, coords: str) -> np.ndarray:
    """Per-coordinate normaliser: anchor w or h for each of the 4 offset columns."""
    w, h = _anchor_sizes(anchors, coords)
    order = (w, h, w, h) if coords != "minmax" else (w, w, h, h)
    return np.stack(order, axis=-1)


def encode_offsets(boxes, anchors, variances, coords: str = "centroids") -> np.ndarray:
    """SSD regression targets of `boxes` relative to `anchors`.

    For 'centroids': `((cx - cx_a) / w_a, (cy - cy_a) / h_a, ln(w / w_a),
    ln(h / h_a)) / variances`. For 'corners'/'minmax' each coordinate difference
    is divided by the anchor width (x) or height (y), then by its variance.

    Args:
        boxes: `(..., 4)` ground-truth boxes in `coords` format.
        anchors: `(..., 4)` anchors in the same format (broadcastable).
        variances: `(..., 4)` or `(4,)` positive variances.
    """
    check_coords(coords)
    boxes, anchors = np.asarray(boxes, np.float64), np.asarray(anchors, np.float64)
    variances = np.asarray(variances, np.float64)
    if coords == "centroids":
        with np.errstate(divide="ignore"):
            out = np.concatenate(
                [
                    (boxes[..., :2] - anchors[..., :2]) / anchors[..., 2:],
                    np.log(boxes[..., 2:] / anchors[..., 2:]),
                ],
                axis=-1,
            )
    else:
        out = (boxes - anchors) / _scale_axes(anchors, coords)
    return out / variances


def decode_offsets(offsets, anchors, variances, coords: str = "centroids") -> np.ndarray:
    """Invert `encode_offsets`: boxes in `coords` format from predicted offsets."""
    check_coords(coords)
    offsets = np.asarray(offsets, np.float64) * np.asarray(variances, np.float64)
    anchors = np.asarray(anchors, np.float64)
    if coords == "centroids":
        return np.concatenate(
            [
                offsets[..., :2] * anchors[..., 2:] + anchors[..., :2],
                np.exp(offsets[..., 2:]) * anchors[..., 2:],
            ],
            axis=-1,
        )
    return offsets * _scale_axes(anchors, coords) + anchors
