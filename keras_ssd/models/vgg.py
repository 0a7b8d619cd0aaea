"""The VGG-16 SSDs (SSD300, SSD512): base network, extra layers, assembly.

All layer names are the Caffe ones, which the published weight files use.
The base is VGG-16 up to `conv5_3`, then `pool5` (3x3, stride 1) and the convolutionalised,
reduced fully connected layers `fc6` (3x3, 1024, dilation 6) and `fc7`
(1x1, 1024), as in the `VGG_ILSVRC_16_layers_fc_reduced` weights.
"""

from __future__ import annotations

import keras

from keras_ssd.anchors import resolve_anchor_config
from keras_ssd.layers.l2_normalization import L2Normalization
from keras_ssd.models.heads import INPUT_NAME
from keras_ssd.models.heads import check_builder_args
from keras_ssd.models.heads import conv2d
from keras_ssd.models.heads import finish_model
from keras_ssd.models.heads import predictor_heads
from keras_ssd.models.heads import preprocess

__all__ = ["MIN_INPUT_SIZE", "build_vgg_ssd", "extra_block", "vgg16_reduced"]

#: Smallest input side of SSD300 and SSD512: 257 -> 33 (conv4_3) -> 17 (fc7) -> 9 -> 5 -> 3
#: -> 1 (SSD300's conv9_2); 256 leaves conv9_2 (SSD300) or conv10_2 (SSD512) empty.
MIN_INPUT_SIZE = 257

# (block, filters, number of convolutions)
_BLOCKS = ((1, 64, 2), (2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3))


def vgg16_reduced(x, l2_regularization):
    """Apply the base network to `x` `(batch, H, W, 3)`.

    Pools 1-4 are 2x2/2 with 'same' padding (so 75 -> 38 at 300x300).

    Returns:
        `(conv4_3, fc7)`: `(batch, ceil(H/8), ceil(W/8), 512)` and
        `(batch, ceil(H/16), ceil(W/16), 1024)`.
    """
    conv4_3 = None
    for block, filters, n_convs in _BLOCKS:
        for i in range(1, n_convs + 1):
            x = conv2d(filters, (3, 3), f"conv{block}_{i}", l2_regularization, activation="relu")(x)
        if block == 4:
            conv4_3 = x
        if block < 5:
            x = keras.layers.MaxPooling2D(2, 2, padding="same", name=f"pool{block}")(x)
    x = keras.layers.MaxPooling2D(3, 1, padding="same", name="pool5")(x)
    x = conv2d(1024, (3, 3), "fc6", l2_regularization, activation="relu", dilation_rate=6)(x)
    fc7 = conv2d(1024, (1, 1), "fc7", l2_regularization, activation="relu")(x)
    return conv4_3, fc7


def extra_block(
    x, block, filters_1x1, filters, l2_regularization, strides=1, padded=False, kernel_size=3
):
    """`conv{block}_1` (1x1, relu) then `conv{block}_2` (`kernel_size`, 'valid', relu).

    With `padded`, a 1-pixel `conv{block}_padding` precedes `conv{block}_2`, as
    in Caffe, which pads explicitly: a 3x3/2 convolution then gives
    `(n + 2 - 3) // 2 + 1` cells (19 -> 10 -> 5 in SSD300).
    """
    x = conv2d(filters_1x1, (1, 1), f"conv{block}_1", l2_regularization, activation="relu")(x)
    if padded:
        x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name=f"conv{block}_padding")(x)
    return conv2d(
        filters,
        (kernel_size, kernel_size),
        f"conv{block}_2",
        l2_regularization,
        activation="relu",
        strides=strides,
        padding="valid",
    )(x)


def build_vgg_ssd(
    name,
    extras,
    image_size,
    n_classes,
    mode,
    l2_regularization,
    min_scale,
    max_scale,
    scales,
    aspect_ratios_global,
    aspect_ratios_per_layer,
    two_boxes_for_ar1,
    steps,
    offsets,
    clip_boxes,
    variances,
    coords,
    normalize_coords,
    subtract_mean,
    divide_by_stddev,
    swap_channels,
    confidence_thresh,
    iou_threshold,
    top_k,
    nms_max_output_size,
    return_predictor_sizes,
):
    """Assemble an SSD on the reduced VGG-16 (see `ssd_300` for the arguments).

    `extras` lists the extra blocks as `extra_block` keyword dicts; the
    predictor sources are `conv4_3_norm`, `fc7` and every `conv{block}_2`.
    """
    img_height, img_width, img_channels = check_builder_args(
        image_size, n_classes, mode, l2_regularization, min_size=MIN_INPUT_SIZE
    )
    source_names = ["conv4_3_norm", "fc7"] + [f"conv{e['block']}_2" for e in extras]
    config = resolve_anchor_config(
        len(source_names),
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
    conv4_3, x = vgg16_reduced(x, l2_regularization)
    sources = [None, x]
    for extra in extras:
        x = extra_block(x, l2_regularization=l2_regularization, **extra)
        sources.append(x)
    # conv4_3's features are on a different scale from the deeper sources';
    # ParseNet's L2 normalisation with a learned scale (init 20) evens that out.
    sources[0] = L2Normalization(gamma_init=20, name="conv4_3_norm")(conv4_3)

    predictions, confs = predictor_heads(
        sources,
        source_names,
        config,
        n_classes=n_classes + 1,
        img_height=img_height,
        img_width=img_width,
        l2_regularization=l2_regularization,
        clip_boxes=clip_boxes,
        coords=coords,
        normalize_coords=normalize_coords,
    )
    return finish_model(
        inputs,
        predictions,
        confs,
        mode=mode,
        name=name,
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
