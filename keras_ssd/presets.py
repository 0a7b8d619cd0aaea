"""Model presets: a builder and the encoder settings that must match it.

A model and its `SSDInputEncoder` must share every anchor argument, or the
targets describe other boxes than the ones the model predicts offsets for.
`build_detector` builds both from one preset, so they cannot drift apart.

- `ssd7`: the small BN + ELU model of the ssd7_training notebook, inputs scaled
  to [-1, 1]; default input 160x160 (the shapes dataset).
- `ssd300` / `ssd512`: the Pascal VOC configurations of the original
  (VOC anchor scales, Caffe mean subtraction and BGR channel order), so the
  published weights load into them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PRESETS", "build_detector", "model_anchor_kwargs"]

_AR3 = (1.0, 2.0, 0.5)
_AR5 = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)

PRESETS = {
    "ssd7": {
        "builder": "keras_ssd.models.ssd7:ssd_7",
        "image_size": (160, 160),
        "anchors": {
            "scales": (0.1, 0.2, 0.37, 0.6, 0.9),
            "aspect_ratios_global": (0.5, 1.0, 2.0),
            "two_boxes_for_ar1": True,
            "steps": None,
            "offsets": None,
            "variances": (0.1, 0.1, 0.2, 0.2),
        },
        "preprocessing": {"subtract_mean": 127.5, "divide_by_stddev": 127.5,
                          "swap_channels": False},
        "matching": {"pos_iou_threshold": 0.5, "neg_iou_limit": 0.3},
    },
    "ssd300": {
        "builder": "keras_ssd.models.ssd300:ssd_300",
        "image_size": (300, 300),
        "anchors": {
            "scales": (0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05),
            "aspect_ratios_per_layer": (_AR3, _AR5, _AR5, _AR5, _AR3, _AR3),
            "two_boxes_for_ar1": True,
            "steps": (8, 16, 32, 64, 100, 300),
            "offsets": (0.5,) * 6,
            "variances": (0.1, 0.1, 0.2, 0.2),
        },
        "preprocessing": {"subtract_mean": (123, 117, 104), "divide_by_stddev": None,
                          "swap_channels": (2, 1, 0)},
        "matching": {"pos_iou_threshold": 0.5, "neg_iou_limit": 0.5},
    },
    "ssd512": {
        "builder": "keras_ssd.models.ssd512:ssd_512",
        "image_size": (512, 512),
        "anchors": {
            "scales": (0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05),
            "aspect_ratios_per_layer": (_AR3, _AR5, _AR5, _AR5, _AR5, _AR3, _AR3),
            "two_boxes_for_ar1": True,
            "steps": (8, 16, 32, 64, 128, 256, 512),
            "offsets": (0.5,) * 7,
            "variances": (0.1, 0.1, 0.2, 0.2),
        },
        "preprocessing": {"subtract_mean": (123, 117, 104), "divide_by_stddev": None,
                          "swap_channels": (2, 1, 0)},
        "matching": {"pos_iou_threshold": 0.5, "neg_iou_limit": 0.5},
    },
}


def _preset(name: str) -> dict:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"`model` must be one of {tuple(PRESETS)}. Received: model={name!r}"
        ) from None


def model_anchor_kwargs(name: str, image_size=None) -> dict:
    """The anchor arguments of a preset for an input size.

    The SSD300/512 steps are tied to their native input size; at any other size
    the steps are left to the default (`image size / feature map size`).
    """
    preset = _preset(name)
    anchors = dict(preset["anchors"])
    if image_size is not None and tuple(image_size[:2]) != tuple(preset["image_size"]):
        anchors["steps"] = None
    return anchors


def _import(path: str):
    import importlib

    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)


def build_detector(name: str, n_classes: int, image_size=None, mode: str = "training",
                   l2_regularization: float = 0.0005, **decoding):
    """Build a preset model and the `SSDInputEncoder` that matches it.

    Args:
        name: 'ssd7', 'ssd300' or 'ssd512'.
        n_classes: number of positive classes (background excluded).
        image_size: `(height, width)`; the preset's native size when None.
        mode: 'training', 'inference' or 'inference_fast'.
        l2_regularization: the builders' L2 factor.
        **decoding: `confidence_thresh`, `iou_threshold`, `top_k`,
            `nms_max_output_size` for the inference modes.

    Returns:
        `(model, encoder)`.
    """
    from keras_ssd.encoding.input_encoder import SSDInputEncoder

    preset = _preset(name)
    height, width = tuple(image_size[:2]) if image_size is not None else preset["image_size"]
    anchors = model_anchor_kwargs(name, (height, width))
    builder = _import(preset["builder"])
    model, predictor_sizes = builder(
        image_size=(height, width, 3),
        n_classes=n_classes,
        mode=mode,
        l2_regularization=l2_regularization,
        normalize_coords=True,
        return_predictor_sizes=True,
        **anchors,
        **preset["preprocessing"],
        **decoding,
    )
    encoder = SSDInputEncoder(
        img_height=height,
        img_width=width,
        n_classes=n_classes,
        predictor_sizes=np.asarray(predictor_sizes),
        normalize_coords=True,
        **anchors,
        **preset["matching"],
    )
    return model, encoder
