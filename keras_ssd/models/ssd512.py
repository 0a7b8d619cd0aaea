"""`ssd_512`: SSD512 on the reduced VGG-16 (Liu et al. 2016), ssd_keras' builder."""

from __future__ import annotations

from keras_ssd.models.vgg import build_vgg_ssd

__all__ = ["ssd_512"]

_EXTRAS = (
    dict(block=6, filters_1x1=256, filters=512, strides=2, padded=True),
    dict(block=7, filters_1x1=128, filters=256, strides=2, padded=True),
    dict(block=8, filters_1x1=128, filters=256, strides=2, padded=True),
    dict(block=9, filters_1x1=128, filters=256, strides=2, padded=True),
    dict(block=10, filters_1x1=128, filters=256, padded=True, kernel_size=4),
)

_AR_3 = (1.0, 2.0, 0.5)
_AR_5 = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def ssd_512(
    image_size,
    n_classes,
    mode="training",
    l2_regularization=0.0005,
    min_scale=None,
    max_scale=None,
    scales=None,
    aspect_ratios_global=None,
    aspect_ratios_per_layer=(_AR_3, _AR_5, _AR_5, _AR_5, _AR_5, _AR_3, _AR_3),
    two_boxes_for_ar1=True,
    steps=(8, 16, 32, 64, 128, 256, 512),
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
    """Build SSD512 with the Caffe layer names, so the published weights load by name.

    Same arguments, preprocessing and outputs as `ssd_300`, with 7 predictor
    layers: `conv4_3_norm` 64x64, `fc7` 32x32, `conv6_2` 16x16, `conv7_2`
    8x8, `conv8_2` 4x4, `conv9_2` 2x2, `conv10_2` 1x1 at 512x512 (4, 6, 6, 6,
    6, 4, 4 anchors per cell, 24564 in all). `conv8_2` and `conv9_2` have
    stride 2 and `conv10_2` is a 4x4 'valid' convolution on a padded input.
    `scales` therefore takes 8 values (VOC: `[0.07, 0.15, 0.3, 0.45, 0.6,
    0.75, 0.9, 1.05]`; COCO: `[0.04, 0.1, 0.26, 0.42, 0.58, 0.74, 0.9,
    1.06]`), and `aspect_ratios_per_layer`, `steps` and `offsets` 7 entries.
    `predictor_sizes` is `(7, 2)`. Any input of at least 257x257 pixels gives
    valid sizes.
    """
    return build_vgg_ssd(
        "ssd512",
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
