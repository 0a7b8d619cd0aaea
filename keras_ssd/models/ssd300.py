"""`ssd_300`: SSD300 on the reduced VGG-16 (Liu et al. 2016), ssd_keras' builder."""

from __future__ import annotations

from keras_ssd.models.vgg import build_vgg_ssd

__all__ = ["ssd_300"]

_EXTRAS = (
    dict(block=6, filters_1x1=256, filters=512, strides=2, padded=True),
    dict(block=7, filters_1x1=128, filters=256, strides=2, padded=True),
    dict(block=8, filters_1x1=128, filters=256),
    dict(block=9, filters_1x1=128, filters=256),
)

_AR_3 = (1.0, 2.0, 0.5)
_AR_5 = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def ssd_300(
    image_size,
    n_classes,
    mode="training",
    l2_regularization=0.0005,
    min_scale=None,
    max_scale=None,
    scales=None,
    aspect_ratios_global=None,
    aspect_ratios_per_layer=(_AR_3, _AR_5, _AR_5, _AR_5, _AR_3, _AR_3),
    two_boxes_for_ar1=True,
    steps=(8, 16, 32, 64, 100, 300),
    offsets=None,
    clip_boxes=False,
    variances=(0.1, 0.1, 0.2, 0.2),
    coords="centroids",
    normalize_coords=True,
    subtract_mean=(123, 117, 104),
    divide_by_stddev=None,
    swap_channels=(2, 1, 0),
    confidence_thresh=0.01,
    iou_threshold=0.45,
    top_k=200,
    nms_max_output_size=400,
    return_predictor_sizes=False,
):
    """Build SSD300 with the Caffe layer names, so the published weights load by name.

    The model expects RGB images with values in [0, 255] (float): it subtracts
    the RGB means `subtract_mean` and reorders the channels to BGR
    (`swap_channels`), as the Caffe-trained weights need. The input layer is
    named `input_1`.

    Predictor layers (sizes at 300x300): `conv4_3_norm` 38x38, `fc7` 19x19,
    `conv6_2` 10x10, `conv7_2` 5x5, `conv8_2` 3x3, `conv9_2` 1x1; with the
    default aspect ratios 4, 6, 6, 6, 4, 4 anchors per cell, 8732 in all.
    Any input of at least 257x257 pixels (square or not) gives valid sizes.

    Args:
        image_size: `(height, width, channels)` of the input.
        n_classes: number of positive classes (background is added: VOC 20, COCO 80).
        mode: 'training' (output `predictions`), 'inference' (adds
            `DecodeDetections`) or 'inference_fast' (adds `DecodeDetectionsFast`).
        l2_regularization: L2 factor on every convolution kernel. Keras adds
            `l * sum(w**2)`, so 0.0005 equals Caffe's `weight_decay` 0.001.
        min_scale, max_scale: smallest and largest anchor scale (fractions of
            the shorter image side), linearly spaced over the 7 scale slots.
            Ignored when `scales` is given.
        scales: 7 scales (one per predictor layer, plus one for the last
            layer's extra ar == 1 box). VOC: `[0.1, 0.2, 0.37, 0.54, 0.71,
            0.88, 1.05]`; COCO: `[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]`.
        aspect_ratios_global: aspect ratios for all layers, used when
            `aspect_ratios_per_layer` is None.
        aspect_ratios_per_layer: one tuple of aspect ratios per predictor layer.
        two_boxes_for_ar1: add a second square anchor per cell for ar == 1.
        steps: per layer, the pixel distance between anchor centres (a number
            or a `(step_h, step_w)` pair); None derives it from the feature map.
        offsets: per layer, the first centre as a fraction of the step; None is 0.5.
        clip_boxes: clip the anchors to the image.
        variances: the 4 offset scaling factors.
        coords: anchor and offset format, 'centroids' (the only one the
            inference modes accept), 'corners' or 'minmax'.
        normalize_coords: anchors relative to the image size.
        subtract_mean: number or per-channel values subtracted from the input,
            or None.
        divide_by_stddev: number or per-channel values the input is divided
            by, or None.
        swap_channels: new channel order (e.g. `(2, 1, 0)`), or None/False.
        confidence_thresh, iou_threshold, top_k, nms_max_output_size: decoding
            settings of the inference modes (see `DecodeDetections`).
        return_predictor_sizes: also return the predictor sizes.

    Returns:
        The `keras.Model`; with `return_predictor_sizes`, `(model,
        predictor_sizes)` where `predictor_sizes` is an int array `(6, 2)` of
        `(height, width)` per predictor layer, as `SSDInputEncoder` takes it.
        The output is `(batch, n_boxes, n_classes + 1 + 12)` in 'training'
        mode (see `keras_ssd.layout`) and `(batch, top_k, 6)` rows
        `[class_id, confidence, xmin, ymin, xmax, ymax]` otherwise.

    Raises:
        ValueError: for a bad `image_size`, `n_classes`, `mode`, anchor
            setting or preprocessing value, naming the argument.
    """
    return build_vgg_ssd(
        "ssd300",
        _EXTRAS,
        image_size,
        n_classes,
        mode=mode,
        l2_regularization=l2_regularization,
        min_scale=min_scale,
        max_scale=max_scale,
        scales=scales,
        aspect_ratios_global=aspect_ratios_global,
        aspect_ratios_per_layer=aspect_ratios_per_layer,
        two_boxes_for_ar1=two_boxes_for_ar1,
        steps=steps,
        offsets=offsets,
        clip_boxes=clip_boxes,
        variances=variances,
        coords=coords,
        normalize_coords=normalize_coords,
        subtract_mean=subtract_mean,
        divide_by_stddev=divide_by_stddev,
        swap_channels=swap_channels,
        confidence_thresh=confidence_thresh,
        iou_threshold=iou_threshold,
        top_k=top_k,
        nms_max_output_size=nms_max_output_size,
        return_predictor_sizes=return_predictor_sizes,
    )
