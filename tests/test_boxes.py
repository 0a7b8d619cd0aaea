"""Tests for keras_ssd.boxes: conversions, intersection, IoU, offset coding."""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.boxes import convert_coordinates
from keras_ssd.boxes import decode_offsets
from keras_ssd.boxes import encode_offsets
from keras_ssd.boxes import intersection_area
from keras_ssd.boxes import iou

# The same two physical boxes written in each format (border_pixels='half').
SAME_BOXES = {
    "corners": np.array([[10.0, 20.0, 50.0, 80.0], [0.0, 0.0, 4.0, 2.0]]),
    "centroids": np.array([[30.0, 50.0, 40.0, 60.0], [2.0, 1.0, 4.0, 2.0]]),
    "minmax": np.array([[10.0, 50.0, 20.0, 80.0], [0.0, 4.0, 0.0, 2.0]]),
}


@pytest.mark.parametrize("source,target", list(itertools.permutations(SAME_BOXES, 2)))
def test_every_conversion_is_exact(source, target):
    out = convert_coordinates(SAME_BOXES[source], 0, f"{source}2{target}")
    assert_allclose(out, SAME_BOXES[target])


@pytest.mark.parametrize("border_pixels,d", [("half", 0), ("include", 1), ("exclude", -1)])
def test_border_pixels_changes_size_and_round_trips(border_pixels, d):
    corners = np.array([[0.0, 0.0, 9.0, 19.0]])
    centroids = convert_coordinates(corners, 0, "corners2centroids", border_pixels)
    assert_allclose(centroids, [[4.5, 9.5, 9.0 + d, 19.0 + d]])
    back = convert_coordinates(centroids, 0, "centroids2corners", border_pixels)
    assert_allclose(back, corners)


def test_conversion_respects_start_index_and_leading_shape(rng):
    tensor = rng.uniform(0, 100, size=(2, 3, 7))
    out = convert_coordinates(tensor, -4, "centroids2corners")
    assert out.shape == tensor.shape
    assert_array_equal(out[..., :3], tensor[..., :3])  # other columns untouched
    assert_allclose(out[..., 3], tensor[..., 3] - tensor[..., 5] / 2)
    assert out is not tensor and not np.shares_memory(out, tensor)


def test_conversion_returns_float_copy_of_int_input():
    boxes = np.array([[1, 2, 3, 4]], dtype=np.int32)
    out = convert_coordinates(boxes, 0, "corners2centroids")
    assert out.dtype.kind == "f"
    assert_allclose(out, [[2.0, 3.0, 2.0, 2.0]])


def test_conversion_of_empty_input():
    out = convert_coordinates(np.zeros((0, 4)), 0, "corners2minmax")
    assert out.shape == (0, 4)


def test_bad_conversion_arguments():
    with pytest.raises(ValueError, match="Received: conversion='corners2polar'"):
        convert_coordinates(np.zeros((1, 4)), 0, "corners2polar")
    with pytest.raises(ValueError, match="Received: border_pixels='all'"):
        convert_coordinates(np.zeros((1, 4)), 0, "corners2centroids", "all")
    with pytest.raises(ValueError, match="Received: start_index=2"):
        convert_coordinates(np.zeros((1, 5)), 2, "corners2centroids")


def test_iou_matrix_golden():
    # Hand-computable: areas 1e4, 2500, 1e4, 625.
    boxes = np.array([[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300], [0, 0, 25, 25.0]])
    expected = [[1, 0.25, 0], [0.25, 1, 0], [0, 0, 1], [0.0625, 0.25, 0]]
    assert_allclose(iou(boxes, boxes[:3], coords="corners"), expected)


@pytest.mark.parametrize("border_pixels", ["half", "include", "exclude"])
def test_identical_boxes_have_iou_exactly_one(border_pixels):
    # ssd_keras gave 0.704 ('include') and 1.61 ('exclude') here: the
    # intersection ignored border_pixels.
    box = np.array([[0.0, 0.0, 9.0, 9.0]])
    assert iou(box, box, coords="corners", border_pixels=border_pixels)[0, 0] == 1.0


def test_include_border_pixels_golden():
    a = np.array([0.0, 0.0, 9.0, 9.0])  # 10x10 pixels under 'include'
    b = np.array([5.0, 0.0, 14.0, 9.0])  # overlaps columns 5..9 -> 5x10
    assert_allclose(intersection_area(a, b, "corners", border_pixels="include"), [[50.0]])
    assert_allclose(iou(a, b, "corners", border_pixels="include"), [[50.0 / 150.0]])


def _plain_iou(b1, b2):
    ix = max(0.0, min(b1[2], b2[2]) - max(b1[0], b2[0]))
    iy = max(0.0, min(b1[3], b2[3]) - max(b1[1], b2[1]))
    inter = ix * iy
    union = (b1[2] - b1[0]) * (b1[3] - b1[1]) + (b2[2] - b2[0]) * (b2[3] - b2[1]) - inter
    return inter / union


def _random_corners(rng, n):
    xy = rng.uniform(0, 50, size=(n, 2))
    wh = rng.uniform(1, 30, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_iou_matches_plain_double_loop(seed):
    rng = np.random.default_rng(seed)
    b1, b2 = _random_corners(rng, 7), _random_corners(rng, 5)
    expected = [[_plain_iou(x, y) for y in b2] for x in b1]
    assert_allclose(iou(b1, b2, coords="corners"), expected, rtol=1e-12)
    centroids1 = convert_coordinates(b1, 0, "corners2centroids")
    centroids2 = convert_coordinates(b2, 0, "corners2centroids")
    assert_allclose(iou(centroids1, centroids2), expected, rtol=1e-12)
    minmax1 = convert_coordinates(b1, 0, "corners2minmax")
    minmax2 = convert_coordinates(b2, 0, "corners2minmax")
    assert_allclose(iou(minmax1, minmax2, coords="minmax"), expected, rtol=1e-12)


def test_iou_element_wise_and_batched(rng):
    b1, b2 = _random_corners(rng, 6), _random_corners(rng, 6)
    full = iou(b1, b2, coords="corners")
    assert_allclose(iou(b1, b2, coords="corners", mode="element-wise"), np.diag(full))
    batched = iou(np.stack([b1, b2]), np.stack([b2, b1]), coords="corners")  # (2, 6, 6)
    assert batched.shape == (2, 6, 6)
    assert_allclose(batched[0], full)
    assert_allclose(batched[1], full.T)


def test_iou_empty_and_degenerate_inputs():
    assert iou(np.zeros((0, 4)), np.ones((3, 4)), coords="corners").shape == (0, 3)
    assert iou(np.ones((2, 4)), np.zeros((0, 4)), coords="corners").shape == (2, 0)
    point = np.array([[5.0, 5.0, 5.0, 5.0]])  # zero area: IoU 0, not NaN
    assert iou(point, point, coords="corners")[0, 0] == 0.0


def test_iou_bad_inputs():
    with pytest.raises(ValueError, match=r"boxes1.shape=\(3, 5\)"):
        iou(np.zeros((3, 5)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Received: mode='pairwise'"):
        iou(np.zeros((3, 4)), np.zeros((3, 4)), mode="pairwise")
    with pytest.raises(ValueError, match="Received: coords='xywh'"):
        iou(np.zeros((3, 4)), np.zeros((3, 4)), coords="xywh")


def test_offset_coding_golden_centroids():
    anchor = np.array([50.0, 50.0, 20.0, 40.0])
    box = np.array([54.0, 46.0, 40.0, 20.0])
    variances = np.array([0.1, 0.1, 0.2, 0.2])
    expected = [4 / 20 / 0.1, -4 / 40 / 0.1, np.log(2) / 0.2, np.log(0.5) / 0.2]
    assert_allclose(encode_offsets(box, anchor, variances), expected)
    assert_allclose(encode_offsets(anchor, anchor, variances), np.zeros(4), atol=1e-15)


@pytest.mark.parametrize("coords", ["centroids", "corners", "minmax"])
def test_offset_coding_round_trip(coords, rng):
    corners_a, corners_b = _random_corners(rng, 20), _random_corners(rng, 20)
    anchors = convert_coordinates(corners_a, 0, f"corners2{coords}") if coords != "corners" \
        else corners_a
    boxes = convert_coordinates(corners_b, 0, f"corners2{coords}") if coords != "corners" \
        else corners_b
    variances = [0.1, 0.1, 0.2, 0.2]
    offsets = encode_offsets(boxes, anchors, variances, coords)
    assert_allclose(decode_offsets(offsets, anchors, variances, coords), boxes, rtol=1e-10)


def test_corner_offsets_golden():
    anchor = np.array([0.0, 0.0, 10.0, 20.0])
    box = np.array([1.0, 2.0, 12.0, 18.0])
    assert_allclose(encode_offsets(box, anchor, [1, 1, 1, 1], "corners"), [0.1, 0.1, 0.2, -0.1])
