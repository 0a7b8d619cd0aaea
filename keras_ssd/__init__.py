"""keras_ssd: SSD (Single Shot MultiBox Detector) for Keras 3 / TensorFlow 2.

The ssd_keras public API, ported. Names are imported lazily, so
`import keras_ssd` is cheap and NumPy-only parts (boxes, anchors, encoding,
data transforms) do not pull in TensorFlow until a Keras object is used.

    from keras_ssd import ssd_300, SSDLoss, SSDInputEncoder
"""

from __future__ import annotations

import importlib

from keras_ssd.version import __version__

# public name -> module that defines it
_EXPORTS = {
    # boxes and layout
    "convert_coordinates": "keras_ssd.boxes",
    "intersection_area": "keras_ssd.boxes",
    "iou": "keras_ssd.boxes",
    # layers
    "AnchorBoxes": "keras_ssd.layers.anchor_boxes",
    "L2Normalization": "keras_ssd.layers.l2_normalization",
    "DecodeDetections": "keras_ssd.layers.decode_detections",
    "DecodeDetectionsFast": "keras_ssd.layers.decode_detections",
    # loss
    "SSDLoss": "keras_ssd.losses.ssd_loss",
    # encoding and decoding
    "match_bipartite_greedy": "keras_ssd.encoding.matching",
    "match_multi": "keras_ssd.encoding.matching",
    "SSDInputEncoder": "keras_ssd.encoding.input_encoder",
    "DegenerateBoxError": "keras_ssd.encoding.input_encoder",
    "decode_detections": "keras_ssd.encoding.output_decoder",
    "decode_detections_fast": "keras_ssd.encoding.output_decoder",
    # models
    "ssd_300": "keras_ssd.models.ssd300",
    "ssd_512": "keras_ssd.models.ssd512",
    "ssd_7": "keras_ssd.models.ssd7",
    "build_model": "keras_ssd.models.ssd7",
    # weights
    "sample_tensors": "keras_ssd.weights",
    # data
    "DataGenerator": "keras_ssd.data.generator",
    # evaluation
    "Evaluator": "keras_ssd.evaluation.voc",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_ssd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: the next lookup is a plain attribute
    return value


def __dir__():
    return sorted(__all__)
