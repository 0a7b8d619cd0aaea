"""Parts shared by the SSD300, SSD512 and SSD7 builders.

- `check_builder_args`: validation of the arguments all builders share.
- `conv2d`: a Conv2D with the ssd_keras initialiser and L2 regulariser.
- `preprocess`: the preprocessing layers (`identity_layer`,
  `input_mean_normalization`, `input_stddev_normalization`, `input_channel_swap`).
- `predictor_heads`: per source layer a class predictor, a box predictor and an
  `AnchorBoxes` layer, reshaped and concatenated into the `predictions` tensor
  `(batch, n_boxes_total, n_classes + 1 + 12)` (see `keras_ssd.layout`).
- `finish_model`: adds the decoding layer for the inference modes.

Channel order of the predictors (needed by the published weights): within a
cell, the `n_boxes * n_classes` class channels are box-major (box index slow,
class index fast) and the boxes follow the anchor order of
`keras_ssd.anchors`; `Reshape((-1, n_classes))` on NHWC then gives one row per
anchor in (row, column, box) order, the same order `AnchorBoxes` emits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from keras_ssd.anchors import AnchorConfig
from keras_ssd.layers.anchor_boxes import AnchorBoxes
from keras_ssd.layers.preprocessing import ChannelSwap
from keras_ssd.layers.preprocessing import DivideByStddev
from keras_ssd.layers.preprocessing import SubtractMean

__all__ = [
    "INPUT_NAME",
    "MODES",
    "HeadNames",
    "check_builder_args",
    "conv2d",
    "finish_model",
    "predictor_heads",
    "preprocess",
]

MODES = ("training", "inference", "inference_fast")

#: Name of the model input. ssd_keras left it unnamed, so Keras 2 called it `input_1`;
#: keeping that name makes it stable across builds and equal to the old one.
INPUT_NAME = "input_1"


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_builder_args(
    image_size, n_classes, mode, l2_regularization, min_size: int = 1
) -> tuple[int, int, int]:
    """Validate the arguments every builder takes; return `(height, width, channels)`.

    `min_size` is the smallest height and width for which the architecture's
    last feature map is not empty.
    """
    if (
        not isinstance(image_size, (Sequence, np.ndarray))
        or len(image_size) != 3
        or not all(_is_int(v) and v > 0 for v in image_size)
    ):
        raise ValueError(
            "`image_size` must be (height, width, channels) with positive integers. "
            f"Received: image_size={image_size!r}"
        )
    if min(image_size[:2]) < min_size:
        raise ValueError(
            f"`image_size` must be at least {min_size}x{min_size} pixels for this model "
            f"(smaller inputs leave no cells in the last predictor layer). "
            f"Received: image_size={tuple(image_size)!r}"
        )
    if not _is_int(n_classes) or n_classes < 1:
        raise ValueError(
            "`n_classes` must be a positive integer (the number of positive classes, "
            f"without background). Received: n_classes={n_classes!r}"
        )
    if mode not in MODES:
        raise ValueError(
            f"`mode` must be one of 'training', 'inference' or 'inference_fast'. "
            f"Received: mode={mode!r}"
        )
    if (
        isinstance(l2_regularization, bool)
        or not isinstance(l2_regularization, (int, float, np.number))
        or not np.isfinite(l2_regularization)
        or l2_regularization < 0
    ):
        raise ValueError(
            "`l2_regularization` must be a non-negative number. "
            f"Received: l2_regularization={l2_regularization!r}"
        )
    return tuple(int(v) for v in image_size)


def conv2d(filters, kernel_size, name, l2_regularization, **kwargs) -> keras.layers.Conv2D:
    """Conv2D with `he_normal` weights and `L2(l2_regularization)` on the kernel.

    Keras' `L2(l)` adds `l * sum(w**2)` to the loss, twice Caffe's
    `weight_decay * sum(w**2) / 2` at the same number: ssd_keras' `l2=0.0005`
    equals Caffe's `weight_decay=0.001`. A zero factor adds no regulariser.
    """
    regularizer = keras.regularizers.L2(l2_regularization) if l2_regularization else None
    kwargs.setdefault("padding", "same")
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        kernel_initializer="he_normal",
        kernel_regularizer=regularizer,
        name=name,
        **kwargs,
    )


def preprocess(x, subtract_mean=None, divide_by_stddev=None, swap_channels=None):
    """The input block: identity, `x - mean`, `x / stddev`, channel reordering.

    Each step is present only when its argument is set (`swap_channels`: not
    None, False or empty), in this order, with the ssd_keras layer names.
    """
    x = keras.layers.Identity(name="identity_layer")(x)
    if subtract_mean is not None:
        x = SubtractMean(subtract_mean, name="input_mean_normalization")(x)
    if divide_by_stddev is not None:
        x = DivideByStddev(divide_by_stddev, name="input_stddev_normalization")(x)
    if swap_channels is not None and swap_channels is not False and np.size(swap_channels):
        x = ChannelSwap(swap_channels, name="input_channel_swap")(x)
    return x


@dataclass(frozen=True)
class HeadNames:
    """Layer names of the predictor heads; `{}` is replaced by the source name.

    Every per-source layer also gets a `<name>_reshape` layer.
    """

    conf: str = "{}_mbox_conf"
    loc: str = "{}_mbox_loc"
    anchors: str = "{}_mbox_priorbox"
    conf_concat: str = "mbox_conf"
    loc_concat: str = "mbox_loc"
    anchors_concat: str = "mbox_priorbox"
    softmax: str = "mbox_conf_softmax"


def predictor_heads(
    sources,
    source_names: Sequence[str],
    config: AnchorConfig,
    n_classes: int,
    img_height: int,
    img_width: int,
    l2_regularization: float,
    clip_boxes: bool,
    coords: str,
    normalize_coords: bool,
    names: HeadNames = HeadNames(),  # noqa: B008 (frozen, immutable)
):
    """Class, box and anchor predictors on each source feature map.

    Args:
        sources: feature maps `(batch, fh_i, fw_i, channels_i)`, one per layer.
        source_names: the name each head's layer names are formatted with.
        config: the resolved anchor configuration (one entry per source).
        n_classes: classes including background.

    Returns:
        `(predictions, conf_tensors)`: `predictions` is
        `(batch, n_boxes_total, n_classes + 12)` (softmax scores, 4 offsets,
        4 anchors, 4 variances); `conf_tensors` are the raw class predictor
        outputs `(batch, fh_i, fw_i, n_boxes_i * n_classes)`.
    """
    n_boxes = config.n_boxes
    confs = [
        conv2d(n * n_classes, (3, 3), names.conf.format(s), l2_regularization)(x)
        for x, n, s in zip(sources, n_boxes, source_names)
    ]
    locs = [
        conv2d(n * 4, (3, 3), names.loc.format(s), l2_regularization)(x)
        for x, n, s in zip(sources, n_boxes, source_names)
    ]
    anchors = [
        AnchorBoxes(
            img_height,
            img_width,
            this_scale=config.scales[i],
            next_scale=config.scales[i + 1],
            aspect_ratios=config.aspect_ratios[i],
            two_boxes_for_ar1=config.two_boxes_for_ar1,
            this_steps=config.steps[i],
            this_offsets=config.offsets[i],
            clip_boxes=clip_boxes,
            variances=config.variances,
            coords=coords,
            normalize_coords=normalize_coords,
            name=names.anchors.format(s),
            dtype="float32",
        )(loc)
        for i, (loc, s) in enumerate(zip(locs, source_names))
    ]

    def flatten(tensors, pattern, width, dtype=None):
        # (batch, fh, fw, n * width) -> (batch, fh * fw * n, width), rows in anchor order.
        return [
            keras.layers.Reshape((-1, width), name=pattern.format(s) + "_reshape", dtype=dtype)(t)
            for t, s in zip(tensors, source_names)
        ]

    confs_flat = flatten(confs, names.conf, n_classes)
    locs_flat = flatten(locs, names.loc, 4)
    # Under a mixed-precision policy the anchors, the softmax and the output stay
    # float32: float16 anchors would move boxes by ~0.15 px at 300x300, and Keras
    # advises a float32 softmax for numerically safe outputs.
    anchors_flat = flatten(anchors, names.anchors, 8, dtype="float32")
    conf = keras.layers.Concatenate(axis=1, name=names.conf_concat)(confs_flat)
    loc = keras.layers.Concatenate(axis=1, name=names.loc_concat)(locs_flat)
    anchor = keras.layers.Concatenate(axis=1, name=names.anchors_concat, dtype="float32")(
        anchors_flat
    )
    conf = keras.layers.Activation("softmax", name=names.softmax, dtype="float32")(conf)
    predictions = keras.layers.Concatenate(axis=2, name="predictions", dtype="float32")(
        [conf, loc, anchor]
    )
    return predictions, confs


def finish_model(
    inputs,
    predictions,
    conf_tensors,
    mode: str,
    name: str,
    img_height: int,
    img_width: int,
    coords: str,
    normalize_coords: bool,
    confidence_thresh: float,
    iou_threshold: float,
    top_k: int,
    nms_max_output_size: int,
    return_predictor_sizes: bool,
):
    """The model for `mode`, and its predictor sizes when asked for.

    'training' outputs `predictions`; 'inference' adds `DecodeDetections` and
    'inference_fast' `DecodeDetectionsFast` as `decoded_predictions`,
    output `(batch, top_k, 6)`.
    """
    outputs = predictions
    if mode != "training":
        from keras_ssd.layers.decode_detections import DecodeDetections
        from keras_ssd.layers.decode_detections import DecodeDetectionsFast

        decode_cls = DecodeDetections if mode == "inference" else DecodeDetectionsFast
        outputs = decode_cls(
            confidence_thresh=confidence_thresh,
            iou_threshold=iou_threshold,
            top_k=top_k,
            nms_max_output_size=nms_max_output_size,
            coords=coords,
            normalize_coords=normalize_coords,
            img_height=img_height,
            img_width=img_width,
            name="decoded_predictions",
        )(predictions)
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    if return_predictor_sizes:
        sizes = np.array([tuple(t.shape[1:3]) for t in conf_tensors], dtype=np.int64)
        return model, sizes
    return model
