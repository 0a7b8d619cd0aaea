"""Export: SavedModel and TFLite artifacts loaded back and compared with the Keras model.

The detector is an SSD7 at 64x64 trained for a few seconds on generated shapes images until
it detects them confidently, so that its detections are well separated and the quantised
variants can be compared with it box for box.
"""

from __future__ import annotations

import argparse
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.app.export import export_command
from keras_ssd.data.synthetic import SHAPE_CLASSES
from keras_ssd.data.synthetic import render_shapes_image
from keras_ssd.export import export_saved_model
from keras_ssd.export import export_tflite
from keras_ssd.losses.ssd_loss import SSDLoss
from keras_ssd.presets import build_detector

SIZE = (64, 64)
N_CLASSES = len(SHAPE_CLASSES)
DECODING = {"confidence_thresh": 0.5, "iou_threshold": 0.45, "top_k": 10}


def _shapes(n, seed):
    rng = np.random.default_rng(seed)
    items = [render_shapes_image(rng, SIZE, max_objects=2, empty_fraction=0.0) for _ in range(n)]
    images = np.stack([item.image for item in items])
    return images, [item.labels.astype("float32") for item in items]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(inference model, weights path, uint8 images): SSD7 overfitted on 8 shapes images."""
    keras.utils.set_random_seed(1)
    model, encoder = build_detector("ssd7", N_CLASSES, SIZE, l2_regularization=0.0)
    images, labels = _shapes(8, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=SSDLoss())
    model.fit(images.astype("float32"), encoder(labels), batch_size=8, epochs=150, verbose=0)
    path = str(tmp_path_factory.mktemp("export") / "ssd7.weights.h5")
    model.save_weights(path)
    inference, _ = build_detector("ssd7", N_CLASSES, SIZE, mode="inference", **DECODING)
    inference.load_weights(path)
    return inference, path, images[:4]


def keras_detections(model, images):
    """`(boxes, classes, scores, num)` of the Keras model, as the export outputs name them."""
    rows = keras.ops.convert_to_numpy(model(np.asarray(images, "float32")))
    num = (rows[..., 1] > 0).sum(-1)
    return rows[..., 2:6], rows[..., 0].astype("int32"), rows[..., 1], num


def assert_same_detections(outputs, reference, box_atol, score_atol):
    boxes, classes, scores, num = reference
    np.testing.assert_array_equal(np.asarray(outputs["num_detections"]), num)
    assert num.min() >= 1  # the trained model detects something in every image
    np.testing.assert_array_equal(np.asarray(outputs["classes"]), classes)
    np.testing.assert_allclose(np.asarray(outputs["scores"]), scores, atol=score_atol)
    np.testing.assert_allclose(np.asarray(outputs["boxes"]), boxes, atol=box_atol)


@pytest.fixture(scope="module")
def saved_model(trained, tmp_path_factory):
    model, _, _ = trained
    path = export_saved_model(model, tmp_path_factory.mktemp("sm") / "saved_model")
    return tf.saved_model.load(path)


def test_trained_model_is_confident(trained):
    model, _, images = trained
    _, _, scores, num = keras_detections(model, images)
    assert num.min() >= 1 and scores[:, 0].min() > 0.8


def test_saved_model_float_signature_matches_keras(trained, saved_model):
    model, _, images = trained
    outputs = saved_model.signatures["serving_default"](images=tf.constant(images, tf.float32))
    assert outputs["boxes"].dtype == tf.float32 and outputs["classes"].dtype == tf.int32
    assert outputs["num_detections"].dtype == tf.int32
    assert tuple(outputs["boxes"].shape) == (4, DECODING["top_k"], 4)
    assert_same_detections(outputs, keras_detections(model, images), box_atol=1e-3,
                           score_atol=1e-5)


def test_saved_model_uint8_signature_any_batch_size(trained, saved_model):
    model, _, images = trained
    serve = saved_model.signatures["serving_uint8"]
    for batch in (images[:1], images[1:4]):
        outputs = serve(images=tf.constant(batch, tf.uint8))
        assert_same_detections(outputs, keras_detections(model, batch), box_atol=1e-3,
                               score_atol=1e-5)


def test_saved_model_resizes_and_returns_boxes_in_input_pixels(trained, saved_model):
    model, _, images = trained
    height, width = 96, 128  # any size: resized in the graph
    big = tf.image.resize(tf.constant(images, tf.float32), (height, width)).numpy()
    outputs = saved_model.signatures["serving_default"](images=tf.constant(big))
    back = tf.image.resize(big, SIZE).numpy()
    boxes, classes, scores, num = keras_detections(model, back)
    scale = np.array([width / SIZE[1], height / SIZE[0]] * 2, "float32")
    assert_same_detections(outputs, (boxes * scale, classes, scores, num), box_atol=1e-2,
                           score_atol=1e-5)


@pytest.fixture(scope="module")
def tflite_files(trained, tmp_path_factory):
    model, _, _ = trained
    root = tmp_path_factory.mktemp("tflite")
    # Builtin ops only: the files run without the Flex delegate.
    return {
        q: export_tflite(model, root / f"{q}.tflite", quantization=q, allow_select_tf_ops=False)
        for q in ("float32", "float16", "dynamic_range")
    }


def run_tflite(path, images):
    interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    return runner(images=np.asarray(images, "float32")), interpreter


@pytest.mark.parametrize(
    ("quantization", "box_atol", "score_atol"),
    [("float32", 1e-3, 1e-5), ("float16", 0.5, 0.01), ("dynamic_range", 1.5, 0.05)],
)
def test_tflite_matches_keras(trained, tflite_files, quantization, box_atol, score_atol):
    model, _, images = trained
    outputs, _ = run_tflite(tflite_files[quantization], images)
    assert set(outputs) == {"boxes", "classes", "scores", "num_detections"}
    assert_same_detections(outputs, keras_detections(model, images), box_atol, score_atol)


def _weight_bytes(interpreter, dtype):
    return sum(
        int(np.prod(d["shape"])) * np.dtype(dtype).itemsize
        for d in interpreter.get_tensor_details()
        # conv kernels: constant 4-D tensors (activations have a variable batch dimension)
        if d["dtype"] == dtype and len(d["shape"]) == 4 and -1 not in d["shape_signature"]
    )


def test_tflite_stores_the_weights_at_the_requested_precision(trained, tflite_files):
    model, _, images = trained
    n_kernel = sum(int(np.prod(w.shape)) for w in model.weights if "kernel" in w.path)
    sizes = {q: os.path.getsize(p) for q, p in tflite_files.items()}
    interpreters = {q: run_tflite(p, images[:1])[1] for q, p in tflite_files.items()}
    # float32: every conv kernel stored as float32 (the weights are in the file).
    assert sizes["float32"] > 4 * n_kernel
    assert _weight_bytes(interpreters["float32"], np.float32) >= 4 * n_kernel
    # float16: the kernels stored as float16, about half the file.
    assert _weight_bytes(interpreters["float16"], np.float16) >= 2 * n_kernel
    assert sizes["float16"] < 0.6 * sizes["float32"]
    # dynamic range: the kernels stored as int8, about a quarter of the file.
    assert _weight_bytes(interpreters["dynamic_range"], np.int8) >= n_kernel
    assert _weight_bytes(interpreters["dynamic_range"], np.float32) < 0.05 * 4 * n_kernel
    assert sizes["dynamic_range"] < 0.35 * sizes["float32"]


def test_tflite_inference_fast_mode(trained, tmp_path):
    model, weights, images = trained
    fast, _ = build_detector("ssd7", N_CLASSES, SIZE, mode="inference_fast", **DECODING)
    fast.load_weights(weights)
    path = export_tflite(fast, tmp_path / "fast.tflite", allow_select_tf_ops=False)
    outputs, _ = run_tflite(path, images)
    assert_same_detections(outputs, keras_detections(fast, images), 1e-3, 1e-5)


def test_export_rejects_bad_arguments(trained, tmp_path):
    model, _, _ = trained
    with pytest.raises(ValueError, match=r"Received: quantization='int4'"):
        export_tflite(model, tmp_path / "m.tflite", quantization="int4")
    training, _ = build_detector("ssd7", N_CLASSES, SIZE)
    with pytest.raises(ValueError, match=r"inference-mode model"):
        export_saved_model(training, tmp_path / "sm")
    with pytest.raises(ValueError, match=r"inference-mode model"):
        export_tflite(training, tmp_path / "m.tflite")


def _args(tmp_path, weights, **overrides):
    values = dict(run=None, weights=weights, model="ssd7", classes=list(SHAPE_CLASSES),
                  image_size=list(SIZE), output_dir=str(tmp_path / "exported"),
                  formats=["saved_model", "tflite"], mode="inference", **DECODING)
    values.update(overrides)
    return argparse.Namespace(**values)


def test_export_command_writes_loadable_artifacts(trained, tmp_path):
    model, weights, images = trained
    paths = export_command(_args(tmp_path, weights))
    assert set(paths) == {"saved_model", "tflite", "labels"}
    with open(paths["labels"], encoding="utf-8") as f:
        assert f.read().split() == ["background", *SHAPE_CLASSES]
    reference = keras_detections(model, images)
    loaded = tf.saved_model.load(paths["saved_model"])
    outputs = loaded.signatures["serving_uint8"](images=tf.constant(images))
    assert_same_detections(outputs, reference, 1e-3, 1e-5)
    outputs, _ = run_tflite(paths["tflite"], images)
    assert_same_detections(outputs, reference, 1e-3, 1e-5)


def test_export_command_applies_decoding_flags(trained, tmp_path):
    _, weights, images = trained
    paths = export_command(_args(tmp_path, weights, formats=["tflite"], top_k=3,
                                 mode="inference_fast"))
    outputs, _ = run_tflite(paths["tflite"], images)
    assert outputs["boxes"].shape == (len(images), 3, 4)


def test_export_command_rejects_bad_arguments(trained, tmp_path):
    _, weights, _ = trained
    with pytest.raises(ValueError, match=r"Received: formats=\['coreml'\]"):
        export_command(_args(tmp_path, weights, formats=["coreml"]))
    with pytest.raises(ValueError, match=r"Received: mode='training'"):
        export_command(_args(tmp_path, weights, mode="training"))
    with pytest.raises(ValueError, match=r"--classes"):
        export_command(_args(tmp_path, weights, classes=None))

