"""Export an inference model (preprocessing, network, decoding with NMS).

- `export_saved_model`: a TensorFlow SavedModel with two signatures,
  `serving_default` (float32 images, 0-255) and `serving_uint8` (uint8 images).
  Both take a batch of any size and any image size `(None, None, None, 3)`,
  resize to the model input inside the graph, and return boxes in the pixel
  coordinates of the images they were given.
- `export_tflite`: a TFLite flatbuffer (float32, float16 weights, or
  dynamic-range int8 weights) with a fixed-size float32 input of any batch size.

Outputs of both, for `K = top_k` detections per image (zero-padded, sorted by score):

    boxes           (batch, K, 4) float32  [xmin, ymin, xmax, ymax] in pixels
    classes         (batch, K)    int32    class ids (0 in padding rows)
    scores          (batch, K)    float32  confidences (0 in padding rows)
    num_detections  (batch,)      int32    number of real rows
"""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

__all__ = [
    "QUANTIZATIONS",
    "detection_outputs",
    "export_saved_model",
    "export_tflite",
]

QUANTIZATIONS = ("float32", "float16", "dynamic_range")


def _check_inference_model(model) -> tuple[int, int]:
    shape = tuple(model.output_shape)
    if len(shape) != 3 or shape[-1] != 6:
        raise ValueError(
            "Export needs an inference-mode model whose output is (batch, top_k, 6) "
            "(build it with mode='inference' or 'inference_fast'). "
            f"Received: model output shape {shape}"
        )
    height, width = model.input_shape[1:3]
    if height is None or width is None:
        raise ValueError(f"The model needs a fixed input size. Received: {model.input_shape}")
    return int(height), int(width)


def detection_outputs(decoded, x_scale=1.0, y_scale=1.0) -> dict:
    """Split `(batch, K, 6)` decoded rows into the named export outputs."""
    decoded = tf.cast(decoded, tf.float32)
    scale = tf.stack([x_scale, y_scale, x_scale, y_scale], axis=-1)
    scale = tf.reshape(tf.cast(scale, tf.float32), (-1, 1, 4))
    valid = decoded[..., 1] > 0.0
    return {
        "boxes": decoded[..., 2:6] * scale,
        "classes": tf.cast(decoded[..., 0], tf.int32),
        "scores": decoded[..., 1],
        "num_detections": tf.reduce_sum(tf.cast(valid, tf.int32), axis=-1),
    }


class _DetectorModule(tf.Module):
    """Holds the Keras model and the serving functions of the SavedModel."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.height, self.width = _check_inference_model(model)

    def _detect(self, images):
        shape = tf.shape(images)
        resized = tf.image.resize(tf.cast(images, tf.float32), (self.height, self.width))
        decoded = self.model(resized, training=False)
        x_scale = tf.cast(shape[2], tf.float32) / self.width
        y_scale = tf.cast(shape[1], tf.float32) / self.height
        return detection_outputs(decoded, x_scale, y_scale)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, "images")])
    def serve_float(self, images):
        return self._detect(images)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, "images")])
    def serve_uint8(self, images):
        return self._detect(images)


def export_saved_model(model, path: str | os.PathLike) -> str:
    """Write `model` (inference mode) as a SavedModel with float and uint8 signatures."""
    module = _DetectorModule(model)
    path = os.fspath(path)
    tf.saved_model.save(
        module, path,
        signatures={"serving_default": module.serve_float, "serving_uint8": module.serve_uint8},
    )
    return path


def _frozen_detect_function(model, height: int, width: int):
    """The detection function with the weights folded in as constants.

    Converting the Keras model's function directly keeps its weights as TFLite
    resource variables that the interpreter starts uninitialised (every output
    zero) and that no quantisation touches; frozen weights are stored in the file
    and quantised. The outer function restores the named outputs for the
    TFLite signature.
    """
    spec = tf.TensorSpec([None, height, width, 3], tf.float32, "images")

    @tf.function(input_signature=[spec])
    def detect(images):
        return detection_outputs(model(images, training=False))

    concrete = detect.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)

    @tf.function(input_signature=[spec])
    def serve(images):
        return tf.nest.pack_sequence_as(
            concrete.structured_outputs, tf.nest.flatten(frozen(images))
        )

    return serve.get_concrete_function()


def export_tflite(model, path: str | os.PathLike, quantization: str = "float32",
                  allow_select_tf_ops: bool = True) -> str:
    """Write `model` (inference mode) as a TFLite model.

    Args:
        model: an inference-mode keras_ssd model (fixed input size).
        path: the `.tflite` file to write.
        quantization: 'float32', 'float16' (weights stored as float16) or
            'dynamic_range' (weights stored as int8, computed in float).
        allow_select_tf_ops: let TF ops without a TFLite builtin run through the
            Flex delegate instead of failing the conversion.

    The input is float32 `(batch, height, width, 3)` at the model's size, 0-255 RGB;
    the signature `serving_default` returns the outputs listed in the module docstring
    (boxes in the model's input pixels). The keras_ssd models convert with TFLite
    builtin ops only, so the file runs without the Flex delegate.

    Returns:
        The path written.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. "
            f"Received: quantization={quantization!r}"
        )
    height, width = _check_inference_model(model)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [_frozen_detect_function(model, height, width)], tf.Module()
    )
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if allow_select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    flatbuffer = converter.convert()
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return path

