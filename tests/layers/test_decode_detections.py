"""Tests for the in-graph decoding layers `DecodeDetections` and `DecodeDetectionsFast`."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssd.layers import DecodeDetections
from keras_ssd.layers import DecodeDetectionsFast
from keras_ssd.layout import n_channels
from tests.helpers import assert_config_has_all_init_args
from tests.helpers import run_layer_test

VARIANCES = (0.1, 0.1, 0.2, 0.2)


# ---------------------------------------------------------------------------------------------
# An independent plain reference: per-box loops, float64, greedy NMS written out.
# ---------------------------------------------------------------------------------------------


def plain_iou(a, b):
    """IoU of two corner boxes (xmin, ymin, xmax, ymax)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def plain_decode_box(row, normalize_coords, img_height, img_width):
    """Corners of one prediction row (centroid offsets, anchors, variances in the last 12)."""
    t_cx, t_cy, t_w, t_h, cx_a, cy_a, w_a, h_a, v0, v1, v2, v3 = (float(v) for v in row[-12:])
    cx = t_cx * v0 * w_a + cx_a
    cy = t_cy * v1 * h_a + cy_a
    w = math.exp(t_w * v2) * w_a
    h = math.exp(t_h * v3) * h_a
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    if normalize_coords:
        box = [box[0] * img_width, box[1] * img_height, box[2] * img_width, box[3] * img_height]
    return box


def plain_greedy_nms(candidates, iou_threshold, max_output_size):
    """candidates: list of (score, index, ...); greedy NMS in decreasing score order."""
    kept = []
    for cand in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if len(kept) == max_output_size:
            break
        if all(plain_iou(cand[-1], k[-1]) <= iou_threshold for k in kept):
            kept.append(cand)
    return kept


def plain_decode(
    y_pred,
    confidence_thresh=0.01,
    iou_threshold=0.45,
    top_k=200,
    nms_max_output_size=400,
    normalize_coords=True,
    img_height=None,
    img_width=None,
    fast=False,
):
    """A list of `(k, 6)` float64 arrays, one per image, sorted by decreasing confidence."""
    results = []
    for image in np.asarray(y_pred, dtype=np.float64):
        n_classes = image.shape[-1] - 12
        boxes = [plain_decode_box(r, normalize_coords, img_height, img_width) for r in image]
        detections = []
        if fast:
            candidates = []
            for i, row in enumerate(image):
                class_id = int(np.argmax(row[:n_classes]))
                score = row[class_id]
                if class_id != 0 and score > confidence_thresh:
                    candidates.append((score, i, class_id, boxes[i]))
            cap = min(top_k, nms_max_output_size)
            for score, _, class_id, box in plain_greedy_nms(candidates, iou_threshold, cap):
                detections.append([class_id, score, *box])
        else:
            for class_id in range(1, n_classes):
                candidates = [
                    (row[class_id], i, boxes[i])
                    for i, row in enumerate(image)
                    if row[class_id] > confidence_thresh
                ]
                for score, _, box in plain_greedy_nms(
                    candidates, iou_threshold, nms_max_output_size
                ):
                    detections.append([class_id, score, *box])
        detections.sort(key=lambda d: -d[1])
        results.append(np.array(detections[:top_k], dtype=np.float64).reshape(-1, 6))
    return results


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def random_predictions(rng, batch, n_boxes, n_classes, background_logit=2.0):
    """float32 `(batch, n_boxes, n_classes + 13)` predictions with many overlapping boxes.

    Anchors cluster around a few centres so NMS has real work; scores are a softmax with a
    background bias, so a part of the boxes clears a 0.01-0.3 threshold.
    """
    logits = rng.normal(0.0, 2.0, (batch, n_boxes, n_classes + 1))
    logits[..., 0] += background_logit
    scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    centres = rng.uniform(0.2, 0.8, (batch, 5, 2))
    pick = rng.integers(0, 5, (batch, n_boxes))
    anchor_centre = np.take_along_axis(centres, pick[..., None], axis=1)
    anchor_centre = anchor_centre + rng.normal(0.0, 0.05, (batch, n_boxes, 2))
    anchor_size = rng.uniform(0.1, 0.4, (batch, n_boxes, 2))
    offsets = rng.normal(0.0, 1.0, (batch, n_boxes, 4))
    variances = np.broadcast_to(VARIANCES, (batch, n_boxes, 4))
    y = np.concatenate([scores, offsets, anchor_centre, anchor_size, variances], axis=-1)
    return y.astype(np.float32)


def boxes_to_predictions(rows, n_classes):
    """One image of predictions whose decoded boxes are exactly the given boxes.

    rows: list of (scores over n_classes + 1, (xmin, ymin, xmax, ymax)); zero offsets and unit
    variances make the anchor the box (use `normalize_coords=False`).
    """
    y = np.zeros((1, len(rows), n_channels(n_classes)), dtype=np.float32)
    for i, (scores, (xmin, ymin, xmax, ymax)) in enumerate(rows):
        y[0, i, : n_classes + 1] = scores
        y[0, i, -8:-4] = [(xmin + xmax) / 2, (ymin + ymax) / 2, xmax - xmin, ymax - ymin]
        y[0, i, -4:] = 1.0
    return y


def assert_matches_reference(output, reference):
    """Layer output `(batch, top_k, 6)` equals the per-image reference, then zero rows."""
    output = np.asarray(output)
    assert len(output) == len(reference)
    for detections, expected in zip(output, reference):
        k = len(expected)
        np.testing.assert_array_equal(detections[:k, 0], expected[:, 0])
        np.testing.assert_allclose(detections[:k, 1], expected[:, 1], rtol=1e-6)
        np.testing.assert_allclose(detections[:k, 2:], expected[:, 2:], rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(detections[k:], 0.0)


LAYERS = [DecodeDetections, DecodeDetectionsFast]


# ---------------------------------------------------------------------------------------------
# Golden cases, by hand
# ---------------------------------------------------------------------------------------------


def golden_input():
    """Two classes. Boxes 0/1 (class 1) overlap with IoU 0.6; box 2 (class 2) overlaps box 0;
    box 3 (class 1) is far away; box 4 is below the threshold; box 5 is background."""
    return boxes_to_predictions(
        [
            ([0.1, 0.9, 0.0], (0, 0, 10, 10)),
            ([0.2, 0.8, 0.0], (0, 2, 10, 12)),  # IoU with box 0: 80 / 120
            ([0.3, 0.0, 0.7], (1, 1, 11, 11)),
            ([0.4, 0.6, 0.0], (50, 50, 60, 70)),
            ([0.995, 0.005, 0.0], (100, 100, 110, 110)),
            ([0.5, 0.4, 0.1], (200, 200, 220, 220)),
        ],
        n_classes=2,
    )


def test_decode_detections_golden():
    layer = DecodeDetections(confidence_thresh=0.01, top_k=6, normalize_coords=False)
    output = keras.ops.convert_to_numpy(layer(golden_input()))
    expected = [
        [1, 0.9, 0, 0, 10, 10],  # box 1 suppressed by box 0 (same class, IoU 0.67)
        [2, 0.7, 1, 1, 11, 11],  # another class: kept although it overlaps box 0
        [1, 0.6, 50, 50, 60, 70],
        [1, 0.4, 200, 200, 220, 220],  # class scores count even where background wins
        [2, 0.1, 200, 200, 220, 220],
        [0, 0, 0, 0, 0, 0],  # zero padding; box 4 (0.005) is below the threshold
    ]
    np.testing.assert_allclose(output[0], expected, rtol=1e-6)


def test_decode_detections_fast_golden():
    layer = DecodeDetectionsFast(confidence_thresh=0.01, top_k=4, normalize_coords=False)
    output = keras.ops.convert_to_numpy(layer(golden_input()))
    expected = [
        [1, 0.9, 0, 0, 10, 10],  # suppresses box 1 and, class-agnostic, box 2 (IoU 0.68)
        [1, 0.6, 50, 50, 60, 70],
        [0, 0, 0, 0, 0, 0],  # boxes 4 and 5: background has the highest score
        [0, 0, 0, 0, 0, 0],
    ]
    np.testing.assert_allclose(output[0], expected, rtol=1e-6)


def test_fast_background_wins_ties():
    # argmax takes the first maximum: a box whose best positive score equals its background
    # score is background for the fast layer (and for NumPy's argmax), not a detection.
    y = boxes_to_predictions(
        [([0.4, 0.4, 0.2], (0, 0, 10, 10)), ([0.3, 0.2, 0.5], (50, 0, 60, 10))], n_classes=2
    )
    fast = DecodeDetectionsFast(top_k=3, normalize_coords=False)
    output = keras.ops.convert_to_numpy(fast(y))[0]
    np.testing.assert_allclose(output, [[2, 0.5, 50, 0, 60, 10], [0] * 6, [0] * 6], rtol=1e-6)
    reference = plain_decode(y, top_k=3, normalize_coords=False, fast=True)
    assert_matches_reference(output[None], reference)


def test_sorted_by_confidence_across_classes():
    scores = [0.3, 0.5, 0.9, 0.2, 0.7]
    rows = [
        ([0.0, 0.0, s, 0.0] if i % 2 else [0.0, s, 0.0, 0.0], (i * 20, 0, i * 20 + 10, 10))
        for i, s in enumerate(scores)
    ]
    y = boxes_to_predictions(rows, n_classes=3)
    for layer_cls in LAYERS:
        output = keras.ops.convert_to_numpy(layer_cls(top_k=7, normalize_coords=False)(y))[0]
        np.testing.assert_allclose(output[:5, 1], sorted(scores, reverse=True), rtol=1e-6)
        np.testing.assert_allclose(output[:5, 2], [40, 80, 20, 0, 60])
        np.testing.assert_array_equal(output[:5, 0], [1, 1, 2, 1, 2])
        np.testing.assert_array_equal(output[5:], 0.0)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_thresholds_are_exclusive(layer_cls):
    # IoU of the two boxes is exactly 8 / 16 = 0.5; the third score equals the threshold.
    y = boxes_to_predictions(
        [
            ([0.0, 0.75, 0.0], (0, 0, 4, 4)),
            ([0.0, 0.625, 0.0], (0, 0, 4, 2)),
            ([0.0, 0.25, 0.0], (20, 20, 30, 30)),
        ],
        n_classes=2,
    )
    keep = layer_cls(confidence_thresh=0.25, iou_threshold=0.5, top_k=4, normalize_coords=False)
    out = keras.ops.convert_to_numpy(keep(y))[0]
    np.testing.assert_allclose(out[:2, 1], [0.75, 0.625])  # IoU == threshold: not suppressed
    np.testing.assert_array_equal(out[2:, 1], 0.0)  # score == threshold: dropped
    suppress = layer_cls(
        confidence_thresh=0.24, iou_threshold=0.49, top_k=4, normalize_coords=False
    )
    out = keras.ops.convert_to_numpy(suppress(y))[0]
    np.testing.assert_allclose(out[:2, 1], [0.75, 0.25])  # box 1 suppressed, box 2 kept
    np.testing.assert_allclose(out[1, 2:], [20, 20, 30, 30])


def test_decoding_golden_with_normalized_coordinates():
    # Anchor (cx, cy, w, h) = (0.5, 0.5, 0.2, 0.4); offsets (1, -1, ln2 / 0.2, 0):
    # cx = 0.5 + 1 * 0.1 * 0.2 = 0.52, cy = 0.5 - 0.1 * 0.4 = 0.46, w = 0.4, h = 0.4.
    y = np.zeros((1, 1, n_channels(1)), dtype=np.float32)
    y[0, 0, :2] = [0.1, 0.9]
    y[0, 0, -12:] = [1.0, -1.0, math.log(2) / 0.2, 0.0, 0.5, 0.5, 0.2, 0.4, *VARIANCES]
    for layer_cls in LAYERS:
        layer = layer_cls(top_k=2, img_height=100, img_width=200)
        output = keras.ops.convert_to_numpy(layer(y))[0]
        np.testing.assert_allclose(output[0], [1, 0.9, 64, 26, 144, 66], rtol=1e-5)
        np.testing.assert_array_equal(output[1], 0.0)


def test_nms_max_output_size_caps_each_class():
    # Six disjoint class-1 boxes and one class-2 box; at most 2 per class survive.
    rows = [([0.0, 0.9 - 0.1 * i, 0.0], (i * 20, 0, i * 20 + 10, 10)) for i in range(6)]
    rows.append(([0.0, 0.0, 0.05], (0, 100, 10, 110)))
    y = boxes_to_predictions(rows, n_classes=2)
    layer = DecodeDetections(top_k=5, nms_max_output_size=2, normalize_coords=False)
    output = keras.ops.convert_to_numpy(layer(y))[0]
    np.testing.assert_allclose(output[:3, :2], [[1, 0.9], [1, 0.8], [2, 0.05]], rtol=1e-6)
    np.testing.assert_array_equal(output[3:], 0.0)
    fast = DecodeDetectionsFast(top_k=5, nms_max_output_size=2, normalize_coords=False)
    output = keras.ops.convert_to_numpy(fast(y))[0]
    np.testing.assert_allclose(output[:2, :2], [[1, 0.9], [1, 0.8]], rtol=1e-6)
    np.testing.assert_array_equal(output[2:], 0.0)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_images_with_fewer_candidates_get_no_extra_rows(layer_cls):
    # Image 0 has 5 candidates, image 1 only its first box: the batch is decoded with 5 slots
    # per image, and image 1's 4 spare slots must not become copies of its box (IoU 1 is not
    # above iou_threshold=1, so NMS alone would keep copies).
    rows = [([0.0, 0.9 - 0.1 * i], (i * 20, 0, i * 20 + 10, 10)) for i in range(5)]
    y0 = boxes_to_predictions(rows, n_classes=1)
    y1 = y0.copy()
    y1[0, 1:, :2] = [1.0, 0.0]
    y = np.concatenate([y0, y1])
    layer = layer_cls(iou_threshold=1.0, top_k=6, normalize_coords=False)
    output = keras.ops.convert_to_numpy(layer(y))
    np.testing.assert_allclose(output[0, :5, 1], [0.9, 0.8, 0.7, 0.6, 0.5], rtol=1e-6)
    np.testing.assert_allclose(output[1, 0], [1, 0.9, 0, 0, 10, 10], rtol=1e-6)
    np.testing.assert_array_equal(output[1, 1:], 0.0)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_no_detections_gives_zeros(layer_cls):
    y = random_predictions(np.random.default_rng(1), 2, 30, 3, background_logit=50.0)
    output = keras.ops.convert_to_numpy(layer_cls(top_k=5, img_height=10, img_width=10)(y))
    assert output.shape == (2, 5, 6)
    np.testing.assert_array_equal(output, 0.0)


# ---------------------------------------------------------------------------------------------
# Random comparisons against the plain reference and against the NumPy decoder
# ---------------------------------------------------------------------------------------------

RANDOM_CONFIGS = [
    # (confidence_thresh, iou_threshold, top_k, nms_max_output_size, normalize_coords)
    (0.01, 0.45, 200, 400, True),
    (0.2, 0.3, 8, 400, True),  # top_k cuts
    (0.05, 0.6, 7, 2, False),  # per-class cap < top_k; padding beyond n_classes * cap
    (0.1, 0.0, 50, 3, True),  # iou 0: any overlap suppresses
    (0.0, 1.0, 30, 400, True),  # iou 1: nothing suppressed
]


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize("config", RANDOM_CONFIGS)
def test_matches_plain_reference_on_random_inputs(layer_cls, config):
    confidence_thresh, iou_threshold, top_k, cap, normalize_coords = config
    kwargs = dict(
        confidence_thresh=confidence_thresh,
        iou_threshold=iou_threshold,
        top_k=top_k,
        nms_max_output_size=cap,
        normalize_coords=normalize_coords,
        img_height=300,
        img_width=200,
    )
    layer = layer_cls(**kwargs)
    decode = tf.function(layer)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        y = random_predictions(rng, batch=3, n_boxes=60, n_classes=int(rng.integers(1, 5)))
        reference = plain_decode(y, fast=layer_cls is DecodeDetectionsFast, **kwargs)
        assert_matches_reference(decode(y), reference)


def test_matches_numpy_decoders():
    from keras_ssd.encoding.output_decoder import decode_detections
    from keras_ssd.encoding.output_decoder import decode_detections_fast

    kwargs = dict(confidence_thresh=0.05, iou_threshold=0.45, top_k=20)
    size = dict(normalize_coords=True, img_height=300, img_width=200)
    layer = DecodeDetections(nms_max_output_size=400, **kwargs, **size)
    fast_layer = DecodeDetectionsFast(nms_max_output_size=400, **kwargs, **size)
    n_detections = 0
    inputs = [
        random_predictions(np.random.default_rng(seed), batch=2, n_boxes=80, n_classes=3)
        for seed in range(10)
    ]
    # SSD300-sized: 8732 boxes, 20 classes, about 1900 (box, class) scores above 0.05.
    inputs.append(random_predictions(np.random.default_rng(10), 2, 8732, 20, background_logit=9))
    for y in inputs:
        expected = decode_detections(y, input_coords="centroids", **kwargs, **size)
        assert_matches_reference(layer(y), [np.reshape(e, (-1, 6)) for e in expected])
        # Continuous scores: the NumPy fast decoder's `>=` and the layer's `>` agree.
        expected = decode_detections_fast(y, input_coords="centroids", **kwargs, **size)
        assert_matches_reference(fast_layer(y), [np.reshape(e, (-1, 6)) for e in expected])
        n_detections += sum(len(e) for e in expected)
    assert n_detections > 50


# ---------------------------------------------------------------------------------------------
# Batch sizes, graphs, saving, export
# ---------------------------------------------------------------------------------------------


def tiny_model(layer_cls, n_boxes=40, n_classes=3, **kwargs):
    inputs = keras.Input((n_boxes, n_channels(n_classes)))
    layer = layer_cls(top_k=10, img_height=300, img_width=200, **kwargs)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_none_batch_model_predict_and_batch_one(layer_cls):
    model = tiny_model(layer_cls)
    assert model.output_shape == (None, 10, 6)
    fast = layer_cls is DecodeDetectionsFast
    kwargs = dict(top_k=10, img_height=300, img_width=200)
    for batch in (1, 2, 17):
        y = random_predictions(np.random.default_rng(batch), batch, 40, 3)
        output = model.predict(y, verbose=0, batch_size=batch)
        assert output.shape == (batch, 10, 6)
        assert output.dtype == np.float32
        assert_matches_reference(output, plain_decode(y, fast=fast, **kwargs))
    # A batch of one image gives that image's rows of a larger batch.
    y = random_predictions(np.random.default_rng(5), 4, 40, 3)
    whole = model.predict_on_batch(y)
    for i in range(4):
        np.testing.assert_allclose(model.predict_on_batch(y[i : i + 1])[0], whole[i])


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_tf_function_with_unknown_batch(layer_cls):
    layer = layer_cls(top_k=10, img_height=300, img_width=200)
    decode = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 16), tf.float32)])
    for batch, n_boxes in ((1, 20), (5, 40)):
        y = random_predictions(np.random.default_rng(batch), batch, n_boxes, 3)
        np.testing.assert_allclose(decode(y).numpy(), layer(y).numpy())


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_saved_model_and_keras_file_round_trip(layer_cls, tmp_path):
    model = tiny_model(layer_cls, confidence_thresh=0.05, iou_threshold=0.3)
    y = random_predictions(np.random.default_rng(0), 3, 40, 3)
    expected = model.predict_on_batch(y)
    assert np.count_nonzero(expected[..., 1]) > 5

    model.export(str(tmp_path / "saved"), verbose=False)
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(restored.serve(tf.constant(y)).numpy(), expected)
    np.testing.assert_allclose(restored.serve(tf.constant(y[:1])).numpy(), expected[:1])

    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")  # no custom_objects
    layer = loaded.layers[-1]
    assert type(layer) is layer_cls
    assert (layer.confidence_thresh, layer.iou_threshold) == (0.05, 0.3)
    np.testing.assert_allclose(loaded.predict_on_batch(y), expected)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
@pytest.mark.parametrize("layer_cls", LAYERS)
def test_converts_to_tflite_with_builtin_ops_only(layer_cls):
    y = random_predictions(np.random.default_rng(0), 1, 40, 3)
    layer = layer_cls(top_k=10, img_height=300, img_width=200)
    decode = tf.function(layer, input_signature=[tf.TensorSpec((1, 40, 16), tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [decode.get_concrete_function()], layer
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flatbuffer = converter.convert()  # raises if any op needs Select TF ops
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], y)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(output, layer(y).numpy(), rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# Precision
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs_decode_in_float32(layer_cls, dtype):
    y = random_predictions(np.random.default_rng(0), 2, 40, 3)
    low = tf.cast(y, dtype)
    layer = layer_cls(top_k=10, img_height=300, img_width=200)
    output = layer(low)
    assert output.dtype == tf.float32
    # Same as decoding the rounded values in float32 (no float16 arithmetic inside).
    np.testing.assert_array_equal(output.numpy(), layer(tf.cast(low, tf.float32)).numpy())


def test_mixed_precision_policy():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((40, 16))
        scores = keras.layers.Activation("linear")(inputs)  # float16 under the policy
        layer = DecodeDetections(top_k=10, img_height=300, img_width=200)
        model = keras.Model(inputs, layer(scores))
        bf16 = DecodeDetections(top_k=10, img_height=300, img_width=200, dtype="mixed_bfloat16")
    finally:
        keras.config.set_dtype_policy("float32")
    assert layer.compute_dtype == "float32"  # the layer keeps float32 under a mixed policy
    assert model.output.dtype == "float32"
    y = random_predictions(np.random.default_rng(0), 2, 40, 3)
    output = model.predict_on_batch(y)
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, layer(y.astype(np.float16)).numpy())
    assert bf16(y).dtype == tf.bfloat16  # an explicit policy sets the output dtype


# ---------------------------------------------------------------------------------------------
# Keras contract and bad arguments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_layer_contract(layer_cls):
    y = random_predictions(np.random.default_rng(0), 2, 30, 4)
    init_kwargs = dict(
        confidence_thresh=0.1,
        iou_threshold=0.5,
        top_k=12,
        nms_max_output_size=50,
        coords="centroids",
        normalize_coords=True,
        img_height=300,
        img_width=400,
    )
    run_layer_test(layer_cls, init_kwargs, y, expected_output_shape=(2, 12, 6))
    layer = layer_cls(normalize_coords=False)
    assert_config_has_all_init_args(layer)
    config = layer.get_config()
    assert (config["top_k"], config["nms_max_output_size"]) == (200, 400)
    assert (config["confidence_thresh"], config["iou_threshold"]) == (0.01, 0.45)
    assert layer.compute_output_shape((None, 30, 17)) == (None, 200, 6)


BAD_ARGS = [
    (dict(normalize_coords=True), r"normalize_coords=True.*img_height=None, img_width=None"),
    (dict(img_height=300), r"img_height=300, img_width=None"),
    (dict(coords="corners", normalize_coords=False), r"'centroids'.*coords='corners'"),
    (dict(coords="minmax", normalize_coords=False), r"ssd_keras.*coords='minmax'"),
    (dict(confidence_thresh=1.5, normalize_coords=False), r"confidence_thresh=1\.5"),
    (dict(confidence_thresh=-0.1, normalize_coords=False), r"confidence_thresh=-0\.1"),
    (dict(iou_threshold=2, normalize_coords=False), r"`iou_threshold`.*iou_threshold=2"),
    (dict(iou_threshold="0.5", normalize_coords=False), r"iou_threshold='0\.5'"),
    (dict(top_k=0, normalize_coords=False), r"`top_k` must be a positive integer.*top_k=0"),
    (dict(top_k="all", normalize_coords=False), r"top_k='all'"),
    (dict(top_k=2.0, normalize_coords=False), r"top_k=2\.0"),
    (dict(nms_max_output_size=0, normalize_coords=False), r"nms_max_output_size=0"),
    (dict(img_height=-1, img_width=10), r"`img_height`.*img_height=-1"),
    (dict(img_height=10, img_width=True), r"`img_width`.*img_width=True"),
]


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize(("kwargs", "match"), BAD_ARGS)
def test_bad_arguments(layer_cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        layer_cls(**kwargs)


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, 30), r"\(batch, n_boxes, n_classes \+ 1 \+ 12\).*input_shape=\(2, 30\)"),
        ((2, 30, None), r"known last axis.*input_shape=\(2, 30, None\)"),
        ((2, 30, 13), r"channels=13"),
    ],
)
def test_bad_input_shape(layer_cls, shape, match):
    layer = layer_cls(normalize_coords=False)
    with pytest.raises(ValueError, match=match):
        layer.compute_output_shape(shape)
    if None not in shape:
        with pytest.raises(ValueError, match=match):
            layer(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_other_backend_is_a_type_error(layer_cls, monkeypatch):
    # No other backend is installed here; report "jax" the way keras.backend.backend() would.
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(TypeError, match=r"needs the TensorFlow backend.*backend='jax'"):
        layer_cls(normalize_coords=False)
