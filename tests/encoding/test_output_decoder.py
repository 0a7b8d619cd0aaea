"""NumPy decoders: hand cases, a plain reference loop, and the encode/decode round trip."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ssd.encoding.input_encoder import SSDInputEncoder
from keras_ssd.encoding.output_decoder import decode_detections
from keras_ssd.encoding.output_decoder import decode_detections_fast
from keras_ssd.encoding.output_decoder import greedy_nms

SMALL = dict(
    img_height=64, img_width=96, n_classes=3,
    predictor_sizes=[(8, 12), (4, 6), (2, 3)],
    scales=[0.1, 0.3, 0.6, 0.9], aspect_ratios_global=[0.5, 1.0, 2.0],
)


def make_y_pred(scores, corners):
    """`(1, n, C + 12)`: corner anchors, zero offsets, unit variances: boxes == anchors."""
    scores, corners = np.asarray(scores, np.float32), np.asarray(corners, np.float32)
    n = len(scores)
    return np.concatenate(
        [scores, np.zeros((n, 4)), corners, np.ones((n, 4))], axis=-1
    ).astype(np.float32)[None]


def decode_corners(y_pred, **kwargs):
    return decode_detections(y_pred, input_coords="corners", normalize_coords=False, **kwargs)


def decode_fast_corners(y_pred, **kwargs):
    return decode_detections_fast(y_pred, input_coords="corners", normalize_coords=False,
                                  **kwargs)


# Boxes 0 and 1 overlap with IoU 0.5 exactly (100 / 200); box 2 is apart.
BOXES = [[0, 0, 10, 10], [0, 0, 10, 20], [50, 50, 60, 60]]


def test_decode_detections_per_class_nms_and_sorting_by_hand():
    scores = [[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.05, 0.15, 0.8]]
    (out,) = decode_corners(make_y_pred(scores, BOXES), iou_threshold=0.45)
    expected = [[1, 0.9, 0, 0, 10, 10], [2, 0.8, 50, 50, 60, 60], [1, 0.15, 50, 50, 60, 60]]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float64
    # IoU == iou_threshold is kept (suppression needs IoU > threshold).
    (out,) = decode_corners(make_y_pred(scores, BOXES), iou_threshold=0.5)
    assert len(out) == 4


def test_decode_detections_threshold_is_exclusive_fast_is_inclusive():
    scores = [[0.5, 0.5, 0.0], [0.25, 0.75, 0.0], [0.75, 0.25, 0.0]]
    (out,) = decode_corners(make_y_pred(scores, BOXES), confidence_thresh=0.5)
    np.testing.assert_allclose(out[:, :2], [[1, 0.75]])
    (fast,) = decode_fast_corners(make_y_pred(scores, BOXES), confidence_thresh=0.5,
                                  iou_threshold=None)
    # Box 0's argmax is background (the first of a tie), so the fast decoder drops it.
    np.testing.assert_allclose(fast[:, :2], [[1, 0.75]])
    scores = [[0.25, 0.5, 0.25]]
    (fast,) = decode_fast_corners(make_y_pred(scores, BOXES[:1]), confidence_thresh=0.5)
    np.testing.assert_allclose(fast[:, :2], [[1, 0.5]])
    (out,) = decode_corners(make_y_pred(scores, BOXES[:1]), confidence_thresh=0.5)
    assert out.shape == (0, 6)


def test_decode_detections_fast_is_class_agnostic_and_drops_background():
    scores = [[0.1, 0.9, 0.0], [0.2, 0.0, 0.8], [0.9, 0.05, 0.05]]
    (out,) = decode_fast_corners(make_y_pred(scores, BOXES), iou_threshold=0.45)
    np.testing.assert_allclose(out, [[1, 0.9, 0, 0, 10, 10]], rtol=1e-6)
    (out,) = decode_fast_corners(make_y_pred(scores, BOXES), iou_threshold=0)
    np.testing.assert_allclose(out[:, :2], [[1, 0.9], [2, 0.8]], rtol=1e-6)


def test_top_k_keeps_the_best_sorted_and_all_disables_it():
    scores = [[0.0, 0.3, 0.0], [0.0, 0.0, 0.9], [0.0, 0.6, 0.0]]
    boxes = [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]
    for decode in (decode_corners, decode_fast_corners):
        (out,) = decode(make_y_pred(scores, boxes), confidence_thresh=0.1, top_k=2)
        np.testing.assert_allclose(out[:, :2], [[2, 0.9], [1, 0.6]], rtol=1e-6)
        (out,) = decode(make_y_pred(scores, boxes), confidence_thresh=0.1, top_k="all")
        np.testing.assert_allclose(out[:, 1], [0.9, 0.6, 0.3], rtol=1e-6)


def test_empty_images_give_0_by_6_arrays():
    y_pred = make_y_pred([[1.0, 0.0, 0.0]] * 3, BOXES)
    for decode in (decode_corners, decode_fast_corners):
        (out,) = decode(y_pred)
        assert out.shape == (0, 6)
    assert greedy_nms([np.zeros((0, 6))])[0].shape == (0, 6)


def test_normalised_coordinates_are_scaled_to_pixels():
    y_pred = make_y_pred([[0.0, 1.0]], [[0.1, 0.2, 0.5, 0.6]])
    (out,) = decode_detections(y_pred, input_coords="corners", img_height=100, img_width=200)
    np.testing.assert_allclose(out[0, 2:], [20, 20, 100, 60], rtol=1e-6)


def test_greedy_nms_keeps_best_first_and_drops_overlaps_above_threshold():
    detections = np.array([
        [1, 0.6, 0, 0, 10, 20],
        [2, 0.9, 0, 0, 10, 10],
        [1, 0.7, 50, 50, 60, 60],
        [1, 0.5, 0, 0, 10, 10.5],
    ])
    (out,) = greedy_nms([detections], iou_threshold=0.5)
    np.testing.assert_array_equal(out, detections[[1, 2, 0]])
    (out,) = greedy_nms([detections], iou_threshold=0.49)
    np.testing.assert_array_equal(out, detections[[1, 2]])
    centroids = detections.copy()
    centroids[:, 2:] = [[5, 10, 10, 20], [5, 5, 10, 10], [55, 55, 10, 10], [5, 5.25, 10, 10.5]]
    (out,) = greedy_nms([centroids], iou_threshold=0.49, coords="centroids")
    np.testing.assert_array_equal(out, centroids[[1, 2]])


# --- a plain reference -----------------------------------------------------------------

def plain_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def plain_nms(rows, iou_threshold):
    rows = sorted(rows, key=lambda r: -r[1])  # stable
    kept = []
    while rows:
        best = rows.pop(0)
        kept.append(best)
        rows = [r for r in rows if plain_iou(best[2:], r[2:]) <= iou_threshold]
    return kept


def plain_decode(y_pred, thresh, iou_threshold, top_k, height, width, fast):
    results = []
    for item in y_pred.astype(np.float64):
        boxes = []
        for row in item:
            t, a = row[-12:-8] * row[-4:], row[-8:-4]
            cx, cy = t[0] * a[2] + a[0], t[1] * a[3] + a[1]
            w, h = np.exp(t[2]) * a[2], np.exp(t[3]) * a[3]
            v = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                 (cy + h / 2) * height]
            boxes.append(v)
        rows = []
        if fast:
            for i, row in enumerate(item):
                c = int(np.argmax(row[:-12]))
                if c != 0 and row[c] >= thresh:
                    rows.append([c, row[c], *boxes[i]])
            rows = plain_nms(rows, iou_threshold)
        else:
            for c in range(1, item.shape[1] - 12):
                candidates = [[c, row[c], *boxes[i]] for i, row in enumerate(item)
                              if row[c] > thresh]
                rows += plain_nms(candidates, iou_threshold)
        rows = sorted(rows, key=lambda r: -r[1])
        if top_k != "all":
            rows = rows[:top_k]
        results.append(np.array(rows).reshape(-1, 6))
    return results


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_decoders_equal_a_plain_loop_on_random_predictions(seed, fast):
    rng = np.random.default_rng(seed)
    encoder = SSDInputEncoder(**SMALL)
    batch, n = 3, encoder.n_boxes
    logits = rng.normal(0, 2.0, (batch, n, 4))
    scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y_pred = np.zeros((batch, n, 16), np.float32)
    y_pred[..., :4] = scores
    y_pred[..., 4:8] = rng.normal(0, 0.5, (batch, n, 4))
    y_pred[..., 8:12] = encoder.anchors
    y_pred[..., 12:] = encoder.variances
    kwargs = dict(confidence_thresh=0.5 if fast else 0.3, iou_threshold=0.45, top_k=25,
                  img_height=64, img_width=96)
    decode = decode_detections_fast if fast else decode_detections
    actual = decode(y_pred, **kwargs)
    expected = plain_decode(y_pred, kwargs["confidence_thresh"], 0.45, 25, 64, 96, fast)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and len(a) > 0
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-4)


# --- round trip --------------------------------------------------------------------------

@pytest.mark.parametrize("coords", ["centroids", "corners", "minmax"])
def test_encoding_then_decoding_gives_the_ground_truth_back(coords):
    encoder = SSDInputEncoder(**SMALL, coords=coords)
    rng = np.random.default_rng(1)
    labels = []
    for k in (0, 1, 3, 5):
        xy = rng.uniform(0, 50, (k, 2))
        wh = rng.uniform(8, 40, (k, 2))
        labels.append(np.column_stack([rng.integers(1, 4, k), xy, xy + wh]))
    y = encoder(labels)
    for decode in (decode_detections, decode_detections_fast):
        decoded = decode(y, confidence_thresh=0.5, iou_threshold=0.99, top_k="all",
                         input_coords=coords, img_height=64, img_width=96)
        for out, gt in zip(decoded, labels):
            assert out.shape == (len(gt), 6)
            order = np.lexsort(gt[:, ::-1].T)
            found = np.lexsort(out[:, [0, 2, 3, 4, 5]][:, ::-1].T)
            np.testing.assert_allclose(out[found][:, [0, 2, 3, 4, 5]], gt[order], atol=1e-3)
            np.testing.assert_array_equal(out[:, 1], 1.0)


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("decode", [decode_detections, decode_detections_fast])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"img_height": None, "img_width": 10}, r"needs the image size.*img_height=None"),
        ({"top_k": 0}, r"`top_k` must be 'all' or a positive integer. Received: top_k=0"),
        ({"top_k": "some"}, r"top_k='some'"),
        ({"input_coords": "xywh"}, r"`input_coords` must be one of"),
        ({"border_pixels": "x"}, r"`border_pixels` must be one of"),
    ],
)
def test_decoders_reject_bad_arguments(decode, kwargs, match):
    y_pred = make_y_pred([[0.0, 1.0]], [[0.1, 0.2, 0.5, 0.6]])
    with pytest.raises(ValueError, match=match):
        decode(y_pred, **dict(dict(img_height=10, img_width=10), **kwargs))


@pytest.mark.parametrize("decode", [decode_detections, decode_detections_fast])
def test_decoders_reject_y_pred_of_wrong_shape(decode):
    with pytest.raises(ValueError, match=r"`y_pred` must have shape .*shape=\(5, 14\)"):
        decode(np.zeros((5, 14)), normalize_coords=False)
    with pytest.raises(ValueError, match=r"shape=\(1, 5, 13\)"):
        decode(np.zeros((1, 5, 13)), normalize_coords=False)
