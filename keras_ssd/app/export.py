"""`keras-ssd export`: write a trained detector as a SavedModel and/or TFLite files.

Artifacts in `--output-dir`:

    saved_model/                     SavedModel (signatures serving_default, serving_uint8)
    model.tflite                     TFLite, float32 weights
    model_float16.tflite             TFLite, float16 weights
    model_dynamic_range.tflite       TFLite, int8 weights (dynamic-range quantisation)
    labels.txt                       class names by class id, 'background' first
"""

from __future__ import annotations

import os

__all__ = ["EXPORT_FORMATS", "export_command"]

#: format -> (file name in the output directory, TFLite quantisation or None for SavedModel)
EXPORT_FORMATS = {
    "saved_model": ("saved_model", None),
    "tflite": ("model.tflite", "float32"),
    "tflite_float16": ("model_float16.tflite", "float16"),
    "tflite_dynamic_range": ("model_dynamic_range.tflite", "dynamic_range"),
}
EXPORT_MODES = ("inference", "inference_fast")


def _inference_model(args):
    """The model to export, built in `args.mode` with the decoding flags, and class names."""
    from keras_ssd.app.models import model_from_args

    decoding = {
        key: getattr(args, key)
        for key in ("confidence_thresh", "iou_threshold", "top_k")
        if getattr(args, key, None) is not None
    }
    return model_from_args(args, mode=args.mode, **decoding)


def export_command(args) -> dict:
    """Export as `args` says; returns {format: path} (plus 'labels').

    `args` fields: run, weights, model, classes, image_size (as for `keras-ssd
    evaluate`), output_dir, formats (any of `EXPORT_FORMATS`), mode
    ('inference' or 'inference_fast'), confidence_thresh, iou_threshold, top_k
    (None keeps the model default).
    """
    from keras_ssd.export import export_saved_model
    from keras_ssd.export import export_tflite

    formats = list(args.formats or ["saved_model", "tflite"])
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"`formats` must be among {tuple(EXPORT_FORMATS)}. Received: "
                         f"formats={formats!r}")
    if args.mode not in EXPORT_MODES:
        raise ValueError(f"`mode` must be one of {EXPORT_MODES}. Received: mode={args.mode!r}")
    model, class_names = _inference_model(args)
    os.makedirs(args.output_dir, exist_ok=True)
    paths = {}
    for name in formats:
        filename, quantization = EXPORT_FORMATS[name]
        path = os.path.join(args.output_dir, filename)
        if quantization is None:
            paths[name] = export_saved_model(model, path)
        else:
            paths[name] = export_tflite(model, path, quantization=quantization)
    labels = os.path.join(args.output_dir, "labels.txt")
    with open(labels, "w", encoding="utf-8") as f:
        f.write("\n".join(class_names) + "\n")
    paths["labels"] = labels
    return paths
