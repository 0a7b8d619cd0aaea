"""`ssd_7` (`build_model` in ssd_keras): the small 7-layer SSD trained from scratch."""

from __future__ import annotations

import keras

from keras_ssd.anchors import resolve_anchor_config
from keras_ssd.models.heads import INPUT_NAME
from keras_ssd.models.heads import HeadNames
from keras_ssd.models.heads import check_builder_args
from keras_ssd.models.heads import conv2d
from keras_ssd.models.heads import finish_model
from keras_ssd.models.heads import predictor_heads
from keras_ssd.models.heads import preprocess

__all__ = ["build_model", "ssd_7"]

# Filters of conv1..conv7; blocks 1-6 end in a 2x2 'valid' max pooling.
_FILTERS = (32, 48, 64, 64, 48, 48, 32)
_SOURCE_BLOCKS = (4, 5, 6, 7)  # the predictors sit on the outputs of these blocks

_NAMES = HeadNames(
    conf="classes{}",
    loc="boxes{}",
    anchors="anchors{}",
    conf_concat="classes_concat",
    loc_concat="boxes_concat",
    anchors_concat="anchors_concat",
    softmax="classes_softmax",
)


def ssd_7(
    image_size,
    n_classes,
    mode="training",
    l2_regularization=0.0,
    min_scale=0.1,
    max_scale=0.9,
    scales=None,
    aspect_ratios_global=(0.5, 1.0, 2.0),
    aspect_ratios_per_layer=None,
    two_boxes_for_ar1=True,
    steps=None,
    offsets=None,
    clip_boxes=False,
    variances=(1.0, 1.0, 1.0, 1.0),
    coords="centroids",
    normalize_coords=False,
    subtract_mean=None,
    divide_by_stddev=None,
    swap_channels=False,
    confidence_thresh=0.01,
    iou_threshold=0.45,
    top_k=200,
    nms_max_output_size=400,
    return_predictor_sizes=False,
):
    """Build SSD7: 7 conv + BatchNorm + ELU blocks and 4 predictor layers.

    Layers: `conv1` (5x5, 32) and `conv2`..`conv7` (3x3; 48, 64, 64, 48, 48,
    32 filters), each followed by `bnK` (BatchNormalization, momentum 0.99)
    and `eluK`; blocks 1-6 end in `poolK` (2x2, 'valid'). The predictors
    `classesK` (class scores), `boxesK` (offsets) and `anchorsK`
    (`AnchorBoxes`) sit on `elu4`..`elu7`; then `*_reshape`, `classes_concat`,
    `boxes_concat`, `anchors_concat`, `classes_softmax`, `predictions` and, in
    the inference modes, `decoded_predictions`. The input layer is `input_1`.

    Arguments are those of `ssd_300` with SSD7's defaults: 4 predictor
    layers, so `scales` takes 5 values and the per-layer arguments 4 entries;
    scales from `min_scale=0.1` to `max_scale=0.9`, global aspect ratios
    `(0.5, 1.0, 2.0)`, variances 1, unnormalised coordinates, no L2 and no
    preprocessing by default. Inputs must be at least 64x64 (six 2x2 poolings).

    Returns:
        The `keras.Model`; with `return_predictor_sizes`, `(model,
        predictor_sizes)` with `predictor_sizes` an int array `(4, 2)`.
    """
    img_height, img_width, img_channels = check_builder_args(
        image_size, n_classes, mode, l2_regularization, min_size=2 ** (len(_FILTERS) - 1)
    )
    config = resolve_anchor_config(
        len(_SOURCE_BLOCKS),
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

    inputs = keras.Input(shape=(img_height, img_width, img_channels), name=INPUT_NAME)
    x = preprocess(inputs, subtract_mean, divide_by_stddev, swap_channels)
    sources = []
    for block, filters in enumerate(_FILTERS, start=1):
        kernel_size = (5, 5) if block == 1 else (3, 3)
        x = conv2d(filters, kernel_size, f"conv{block}", l2_regularization)(x)
        x = keras.layers.BatchNormalization(axis=3, momentum=0.99, name=f"bn{block}")(x)
        x = keras.layers.ELU(name=f"elu{block}")(x)
        if block in _SOURCE_BLOCKS:
            sources.append(x)
        if block < len(_FILTERS):
            x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)

    predictions, confs = predictor_heads(
        sources,
        [str(block) for block in _SOURCE_BLOCKS],
        config,
        n_classes=n_classes + 1,
        img_height=img_height,
        img_width=img_width,
        l2_regularization=l2_regularization,
        clip_boxes=clip_boxes,
        coords=coords,
        normalize_coords=normalize_coords,
        names=_NAMES,
    )
    return finish_model(
        inputs,
        predictions,
        confs,
        mode=mode,
        name="ssd7",
        img_height=img_height,
        img_width=img_width,
        coords=coords,
        normalize_coords=normalize_coords,
        confidence_thresh=confidence_thresh,
        iou_threshold=iou_threshold,
        top_k=top_k,
        nms_max_output_size=nms_max_output_size,
        return_predictor_sizes=return_predictor_sizes,
    )


#: The ssd_keras name of the SSD7 builder (`models/keras_ssd7.py`).
build_model = ssd_7
