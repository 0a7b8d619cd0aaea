"""Tests for keras_ssd.anchors: anchor geometry and model-wide configuration."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.anchors import anchor_boxes_for_layer
from keras_ssd.anchors import anchor_boxes_for_model
from keras_ssd.anchors import n_boxes_per_cell
from keras_ssd.anchors import resolve_anchor_config

SSD300_AR = ([1.0, 2.0, 0.5], [1.0, 2.0, 0.5, 3.0, 1 / 3], [1.0, 2.0, 0.5, 3.0, 1 / 3],
             [1.0, 2.0, 0.5, 3.0, 1 / 3], [1.0, 2.0, 0.5], [1.0, 2.0, 0.5])
SSD300_SIZES = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
SSD300 = dict(scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05], aspect_ratios_per_layer=SSD300_AR,
              steps=[8, 16, 32, 64, 100, 300], offsets=[0.5] * 6)


def test_hand_computed_single_cell():
    # 15x15 image, one cell: centre 7.5; ar 1 side 0.15*15 = 2.25; extra square
    # sqrt(0.15*0.9)*15 = 5.5114; ar 2: 3.182 x 1.591.
    boxes = anchor_boxes_for_layer(15, 15, (1, 1), (1.0, 2.0, 0.5), 0.15, 0.9, coords="corners")
    expected = [[6.375, 6.375, 8.625, 8.625],
                [4.7443, 4.7443, 10.2557, 10.2557],
                [5.9090, 6.7045, 9.0910, 8.2955],
                [6.7045, 5.9090, 8.2955, 9.0910]]
    assert boxes.shape == (1, 1, 4, 4)
    assert_allclose(boxes[0, 0], expected, atol=1e-4)


# Reference §2.3: box sizes (w x h, px) and the first centre of each SSD300 layer.
SSD300_TABLE = [
    (4, [(30, 30), (42.4, 42.4), (42.4, 21.2), (21.2, 42.4)]),
    (8, [(60, 60), (81.6, 81.6), (84.9, 42.4), (42.4, 84.9), (103.9, 34.6), (34.6, 103.9)]),
    (16, [(111, 111), (134.1, 134.1), (157, 78.5), (78.5, 157), (192.3, 64.1), (64.1, 192.3)]),
    (32, [(162, 162), (185.8, 185.8), (229.1, 114.6), (114.6, 229.1), (280.6, 93.5),
          (93.5, 280.6)]),
    (50, [(213, 213), (237.1, 237.1), (301.2, 150.6), (150.6, 301.2)]),
    (150, [(264, 264), (288.4, 288.4), (373.4, 186.7), (186.7, 373.4)]),
]


def test_ssd300_voc_anchor_table():
    config = resolve_anchor_config(6, **SSD300)
    layers = anchor_boxes_for_model(300, 300, SSD300_SIZES, config)
    for boxes, (first_centre, sizes), step in zip(layers, SSD300_TABLE, SSD300["steps"]):
        assert_allclose(boxes[0, 0, :, :2], first_centre)
        assert_allclose(boxes[0, 0, :, 2:], sizes, atol=0.05)
        if boxes.shape[0] > 1:  # neighbouring centres are one step apart
            assert_allclose(boxes[1, 1, 0, :2] - boxes[0, 0, 0, :2], [step, step])
    assert sum(b.shape[0] * b.shape[1] * b.shape[2] for b in layers) == 8732


def test_ssd512_has_24564_anchors():
    ar = [[1, 2, 0.5]] + [[1, 2, 0.5, 3, 1 / 3]] * 4 + [[1, 2, 0.5]] * 2
    config = resolve_anchor_config(
        7, scales=[0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05], aspect_ratios_per_layer=ar,
        steps=[8, 16, 32, 64, 128, 256, 512])
    sizes = [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    layers = anchor_boxes_for_model(512, 512, sizes, config)
    assert [b.shape[2] for b in layers] == [4, 6, 6, 6, 6, 4, 4]
    assert sum(b[..., 0].size for b in layers) == 24564


def test_non_square_default_steps_and_pair_offsets():
    # SSD7-like: 300x480 image, 37x60 feature map -> steps 8.108 x 8.
    boxes = anchor_boxes_for_layer(300, 480, (37, 60), (1.0,), 0.1, 0.2, this_offsets=(0.25, 0.5))
    assert boxes.shape == (37, 60, 2, 4)
    assert_allclose(boxes[0, 0, 0, :2], [0.5 * 8, 0.25 * 300 / 37])
    assert_allclose(boxes[0, 1, 0, 0] - boxes[0, 0, 0, 0], 8.0)
    assert_allclose(boxes[1, 0, 0, 1] - boxes[0, 0, 0, 1], 300 / 37)
    assert_allclose(boxes[0, 0, 0, 2:], [30.0, 30.0])  # min(H, W) = 300 sets the size


def test_clip_and_normalize():
    boxes = anchor_boxes_for_layer(100, 200, (2, 2), (1.0, 2.0), 0.9, 1.0, clip_boxes=True,
                                   normalize_coords=True, coords="corners")
    assert boxes.min() >= 0.0
    assert boxes[..., [0, 2]].max() <= 199 / 200
    assert boxes[..., [1, 3]].max() <= 99 / 100


@pytest.mark.parametrize("coords", ["corners", "minmax"])
def test_output_formats_agree(coords):
    centroids = anchor_boxes_for_layer(64, 64, (4, 4), (1.0, 2.0), 0.2, 0.4)
    other = anchor_boxes_for_layer(64, 64, (4, 4), (1.0, 2.0), 0.2, 0.4, coords=coords)
    cx, cy = centroids[..., 0], centroids[..., 1]
    xmin = other[..., 0]
    xmax = other[..., 2] if coords == "corners" else other[..., 1]
    assert_allclose((xmin + xmax) / 2, cx)
    ymin = other[..., 1] if coords == "corners" else other[..., 2]
    assert_allclose(ymin, cy - centroids[..., 3] / 2)


def test_n_boxes_per_cell():
    assert n_boxes_per_cell([1.0, 2.0, 0.5]) == 4
    assert n_boxes_per_cell([1.0, 2.0, 0.5], two_boxes_for_ar1=False) == 3
    assert n_boxes_per_cell(np.array([2.0, 0.5])) == 2


def test_config_accepts_arrays_and_numpy_scalars():
    # ssd_keras tested `if scales:`, which raises on a NumPy array.
    config = resolve_anchor_config(
        2, scales=np.array([0.1, 0.5, 0.9]), aspect_ratios_global=np.array([1.0, 2.0]),
        steps=[np.int64(8), (16, 8)], variances=np.ones(4))
    assert config.scales == (0.1, 0.5, 0.9)
    assert config.aspect_ratios == ((1.0, 2.0), (1.0, 2.0))
    assert config.steps == (np.int64(8), (16.0, 8.0))
    assert config.n_boxes == (3, 3)
    linspace = resolve_anchor_config(4, min_scale=np.float32(0.1), max_scale=0.9,
                                     aspect_ratios_global=[1.0])
    assert_allclose(linspace.scales, np.linspace(0.1, 0.9, 5))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(aspect_ratios_global=[1.0]), "Either `min_scale` and `max_scale` or `scales`"),
        (dict(scales=[0.1, 0.2], aspect_ratios_global=[1.0]), "Received: scales=\\[0.1, 0.2\\]"),
        (dict(scales=[0.1, 0.0, 0.3, 0.4], aspect_ratios_global=[1.0]), "positive"),
        (dict(min_scale=0.9, max_scale=0.1, aspect_ratios_global=[1.0]), "min_scale=0.9"),
        (dict(scales=[0.1, 0.2, 0.3, 0.4], aspect_ratios_global=[1.0, -2.0]),
         "aspect_ratios_global"),
        (dict(scales=[0.1, 0.2, 0.3, 0.4], aspect_ratios_per_layer=[[1.0]]),
         "aspect_ratios_per_layer"),
        (dict(scales=[0.1, 0.2, 0.3, 0.4]), "aspect_ratios_global"),
        (dict(scales=[0.1, 0.2, 0.3, 0.4], aspect_ratios_global=[1.0], variances=[1, 1, 1]),
         "variances"),
        (dict(scales=[0.1, 0.2, 0.3, 0.4], aspect_ratios_global=[1.0], steps=[8, 16]),
         "Received: steps=\\[8, 16\\]"),
        (dict(scales=[0.1, 0.2, 0.3, 0.4], aspect_ratios_global=[1.0], offsets=[0.5]),
         "offsets"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_anchor_config(3, **kwargs)


def test_model_anchors_need_one_size_per_layer():
    config = resolve_anchor_config(2, scales=[0.1, 0.5, 0.9], aspect_ratios_global=[1.0])
    with pytest.raises(ValueError, match="predictor_sizes"):
        anchor_boxes_for_model(64, 64, [(8, 8)], config)
