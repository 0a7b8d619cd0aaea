"""Anchor-box geometry: the single source for `AnchorBoxes` and `SSDInputEncoder`.

`anchor_boxes_for_layer` computes the anchors of one predictor layer;
`resolve_anchor_config` validates and expands a model-wide configuration
(scales, aspect ratios, steps, offsets, variances) into per-layer values. Both
the model builders and the encoder go through these two functions, so the
anchors the model emits and the anchors in `y_true` are the same numbers.

Sizes (ssd_keras / SSD paper): with `size = min(img_height, img_width)`, an
aspect ratio `ar` gives a box `w = s * size * sqrt(ar)`, `h = s * size / sqrt(ar)`;
`ar == 1` with `two_boxes_for_ar1` adds a second square of side
`sqrt(s * s_next) * size` right after the first. Box order within a cell follows
`aspect_ratios`, which must match the predictor channel order of the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keras_ssd.boxes import check_coords
from keras_ssd.boxes import convert_coordinates

__all__ = [
    "AnchorConfig",
    "anchor_boxes_for_layer",
    "anchor_boxes_for_model",
    "n_boxes_per_cell",
    "resolve_anchor_config",
]


def _is_pair(value) -> bool:
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str)


def _pair(value, default, name: str) -> tuple[float, float]:
    """`value` as `(vertical, horizontal)`: None -> default, scalar -> both, pair -> itself."""
    if value is None:
        return default
    if _is_pair(value):
        values = [float(v) for v in np.asarray(value, dtype=float).ravel()]
        if len(values) != 2:
            raise ValueError(
                f"`{name}` must be a number or a (vertical, horizontal) pair. "
                f"Received: {name}={value!r}"
            )
        return values[0], values[1]
    return float(value), float(value)


def n_boxes_per_cell(aspect_ratios, two_boxes_for_ar1: bool = True) -> int:
    """Anchors per feature-map cell: one per aspect ratio, plus one per ar == 1."""
    ratios = [float(ar) for ar in np.asarray(aspect_ratios, dtype=float).ravel()]
    extra = sum(ar == 1.0 for ar in ratios) if two_boxes_for_ar1 else 0
    return len(ratios) + extra


def _box_sizes(aspect_ratios, this_scale, next_scale, two_boxes_for_ar1, size):
    """`(n_boxes, 2)` array of `(w, h)` in pixels, in cell order."""
    wh = []
    for ar in np.asarray(aspect_ratios, dtype=float).ravel():
        if ar == 1.0:
            side = this_scale * size
            wh.append((side, side))
            if two_boxes_for_ar1:
                side = np.sqrt(this_scale * next_scale) * size
                wh.append((side, side))
        else:
            wh.append((this_scale * size * np.sqrt(ar), this_scale * size / np.sqrt(ar)))
    return np.array(wh, dtype=np.float64).reshape(-1, 2)


def anchor_boxes_for_layer(
    img_height: int,
    img_width: int,
    feature_map_size: Sequence[int],
    aspect_ratios: Sequence[float],
    this_scale: float,
    next_scale: float,
    two_boxes_for_ar1: bool = True,
    this_steps=None,
    this_offsets=None,
    clip_boxes: bool = False,
    normalize_coords: bool = False,
    coords: str = "centroids",
) -> np.ndarray:
    """Anchor boxes of one predictor layer.

    Args:
        img_height, img_width: input image size in pixels.
        feature_map_size: `(fh, fw)` of the predictor layer.
        aspect_ratios: width/height ratios, in the order of the predictor channels.
        this_scale, next_scale: this layer's scale and the next one's (fractions
            of `min(img_height, img_width)`; `next_scale` only sizes the extra
            ar == 1 box).
        two_boxes_for_ar1: add the `sqrt(this_scale * next_scale)` square box.
        this_steps: pixels between cell centres; None means
            `img_size / feature_map_size`, a number or `(step_h, step_w)`.
        this_offsets: first centre, as a fraction of the step; None means 0.5,
            a number or `(off_h, off_w)`.
        clip_boxes: clip the corners to `[0, img_width - 1] x [0, img_height - 1]`.
        normalize_coords: divide x by `img_width` and y by `img_height`.
        coords: output format, 'centroids', 'corners' or 'minmax'.

    Returns:
        float64 array `(fh, fw, n_boxes, 4)` in `coords` format.
    """
    check_coords(coords)
    fh, fw = (int(v) for v in feature_map_size)
    size = min(img_height, img_width)
    wh = _box_sizes(aspect_ratios, this_scale, next_scale, two_boxes_for_ar1, size)
    step_h, step_w = _pair(this_steps, (img_height / fh, img_width / fw), "this_steps")
    off_h, off_w = _pair(this_offsets, (0.5, 0.5), "this_offsets")
    cy = np.linspace(off_h * step_h, (off_h + fh - 1) * step_h, fh)
    cx = np.linspace(off_w * step_w, (off_w + fw - 1) * step_w, fw)
    cx_grid, cy_grid = np.meshgrid(cx, cy)  # (fh, fw) each

    n_boxes = len(wh)
    boxes = np.empty((fh, fw, n_boxes, 4), dtype=np.float64)
    boxes[..., 0] = cx_grid[:, :, None]
    boxes[..., 1] = cy_grid[:, :, None]
    boxes[..., 2] = wh[:, 0]
    boxes[..., 3] = wh[:, 1]
    boxes = convert_coordinates(boxes, 0, "centroids2corners")
    if clip_boxes:
        boxes[..., [0, 2]] = np.clip(boxes[..., [0, 2]], 0, img_width - 1)
        boxes[..., [1, 3]] = np.clip(boxes[..., [1, 3]], 0, img_height - 1)
    if normalize_coords:
        boxes[..., [0, 2]] /= img_width
        boxes[..., [1, 3]] /= img_height
    if coords != "corners":
        boxes = convert_coordinates(boxes, 0, f"corners2{coords}")
    return boxes


@dataclass(frozen=True)
class AnchorConfig:
    """Per-layer anchor settings of a whole model, validated.

    Attributes:
        scales: `n_layers + 1` positive scales.
        aspect_ratios: one tuple of positive ratios per layer.
        steps: one step (None, a number or a pair) per layer.
        offsets: one offset (None, a number or a pair) per layer.
        variances: 4 positive variances.
    """

    scales: tuple[float, ...]
    aspect_ratios: tuple[tuple[float, ...], ...]
    steps: tuple
    offsets: tuple
    variances: tuple[float, float, float, float]
    two_boxes_for_ar1: bool = True

    @property
    def n_layers(self) -> int:
        return len(self.aspect_ratios)

    @property
    def n_boxes(self) -> tuple[int, ...]:
        """Anchors per cell for each layer."""
        return tuple(n_boxes_per_cell(ar, self.two_boxes_for_ar1) for ar in self.aspect_ratios)


def _per_layer(value, n_layers: int, name: str) -> tuple:
    if value is None:
        return (None,) * n_layers
    if not _is_pair(value) or len(value) != n_layers:
        raise ValueError(
            f"`{name}` must hold one entry per predictor layer ({n_layers}). "
            f"Received: {name}={value!r}"
        )
    return tuple(tuple(float(x) for x in v) if _is_pair(v) else v for v in value)


def _positive_floats(values, name: str) -> tuple[float, ...]:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0 or np.any(~np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"`{name}` must be positive numbers. Received: {name}={values!r}")
    return tuple(float(v) for v in array)


def resolve_anchor_config(
    n_layers: int,
    min_scale=None,
    max_scale=None,
    scales=None,
    aspect_ratios_global=None,
    aspect_ratios_per_layer=None,
    two_boxes_for_ar1: bool = True,
    steps=None,
    offsets=None,
    variances=(0.1, 0.1, 0.2, 0.2),
) -> AnchorConfig:
    """Validate the ssd_keras anchor arguments and expand them per layer.

    `scales` (n_layers + 1 values) wins over `min_scale`/`max_scale`, which
    otherwise give `linspace(min_scale, max_scale, n_layers + 1)`.
    `aspect_ratios_per_layer` wins over `aspect_ratios_global`. Lists, tuples,
    NumPy arrays and NumPy scalars are all accepted.

    Raises:
        ValueError: naming the argument and the received value.
    """
    if scales is not None:
        scales = _positive_floats(scales, "scales")
        if len(scales) != n_layers + 1:
            raise ValueError(
                f"`scales` must hold n_predictor_layers + 1 = {n_layers + 1} values. "
                f"Received: scales={list(scales)}"
            )
    elif min_scale is not None and max_scale is not None:
        min_scale, max_scale = _positive_floats([min_scale, max_scale], "min_scale/max_scale")
        if min_scale > max_scale:
            raise ValueError(
                "`min_scale` must not exceed `max_scale`. "
                f"Received: min_scale={min_scale}, max_scale={max_scale}"
            )
        scales = tuple(float(s) for s in np.linspace(min_scale, max_scale, n_layers + 1))
    else:
        raise ValueError(
            "Either `min_scale` and `max_scale` or `scales` need to be specified. "
            f"Received: min_scale={min_scale}, max_scale={max_scale}, scales={scales}"
        )

    if aspect_ratios_per_layer is not None:
        if len(aspect_ratios_per_layer) != n_layers:
            raise ValueError(
                f"`aspect_ratios_per_layer` must hold one list per predictor layer "
                f"({n_layers}). Received: aspect_ratios_per_layer={aspect_ratios_per_layer!r}"
            )
        aspect_ratios = tuple(
            _positive_floats(ar, "aspect_ratios_per_layer") for ar in aspect_ratios_per_layer
        )
    elif aspect_ratios_global is not None:
        aspect_ratios = (_positive_floats(aspect_ratios_global, "aspect_ratios_global"),) * n_layers
    else:
        raise ValueError(
            "Either `aspect_ratios_global` or `aspect_ratios_per_layer` must be given. "
            "Received: both None"
        )

    variances = _positive_floats(variances, "variances")
    if len(variances) != 4:
        raise ValueError(f"`variances` must be 4 positive numbers. Received: variances={variances}")

    return AnchorConfig(
        scales=scales,
        aspect_ratios=aspect_ratios,
        steps=_per_layer(steps, n_layers, "steps"),
        offsets=_per_layer(offsets, n_layers, "offsets"),
        variances=variances,
        two_boxes_for_ar1=bool(two_boxes_for_ar1),
    )


def anchor_boxes_for_model(
    img_height: int,
    img_width: int,
    predictor_sizes: Sequence[Sequence[int]],
    config: AnchorConfig,
    clip_boxes: bool = False,
    normalize_coords: bool = False,
    coords: str = "centroids",
) -> list[np.ndarray]:
    """The anchors of every predictor layer: a list of `(fh, fw, n_boxes, 4)` arrays."""
    if len(predictor_sizes) != config.n_layers:
        raise ValueError(
            f"`predictor_sizes` must hold one (height, width) per predictor layer "
            f"({config.n_layers}). Received: predictor_sizes={predictor_sizes!r}"
        )
    return [
        anchor_boxes_for_layer(
            img_height,
            img_width,
            feature_map_size=predictor_sizes[i],
            aspect_ratios=config.aspect_ratios[i],
            this_scale=config.scales[i],
            next_scale=config.scales[i + 1],
            two_boxes_for_ar1=config.two_boxes_for_ar1,
            this_steps=config.steps[i],
            this_offsets=config.offsets[i],
            clip_boxes=clip_boxes,
            normalize_coords=normalize_coords,
            coords=coords,
        )
        for i in range(config.n_layers)
    ]
