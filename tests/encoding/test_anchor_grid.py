"""AnchorGrid: dense IoU equals a plain IoU; sparse pairs are exactly a superset of IoU >= t."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ssd.anchors import anchor_boxes_for_model
from keras_ssd.anchors import resolve_anchor_config
from keras_ssd.encoding.anchor_grid import AnchorGrid

D = {"half": 0.0, "include": 1.0, "exclude": -1.0}
SSD300 = dict(
    img_height=300, img_width=300,
    predictor_sizes=[(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
    scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
    aspect_ratios_per_layer=[[1.0, 2.0, 0.5]] + [[1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]] * 3
    + [[1.0, 2.0, 0.5]] * 2,
    steps=[8, 16, 32, 64, 100, 300], offsets=[0.5] * 6,
)
# Non-square, default steps (fractional), clipped anchors.
SSD7 = dict(
    img_height=300, img_width=480, predictor_sizes=[(37, 60), (18, 30), (9, 15), (4, 7)],
    scales=[0.08, 0.16, 0.32, 0.64, 0.96], aspect_ratios_global=[0.5, 1.0, 2.0],
)
CONFIGS = {"ssd300": (SSD300, False), "ssd7_clipped": (SSD7, True), "ssd7": (SSD7, False)}


def make_grid(name, border_pixels):
    config, clip = CONFIGS[name]
    anchor_config = resolve_anchor_config(
        len(config["predictor_sizes"]), scales=config["scales"],
        aspect_ratios_global=config.get("aspect_ratios_global"),
        aspect_ratios_per_layer=config.get("aspect_ratios_per_layer"),
        steps=config.get("steps"), offsets=config.get("offsets"),
    )

    def corners(clip_boxes):
        return anchor_boxes_for_model(
            config["img_height"], config["img_width"], config["predictor_sizes"],
            anchor_config, clip_boxes=clip_boxes, coords="corners",
        )

    layers = corners(clip)
    grid = AnchorGrid(layers, border_pixels, corners(False))
    return grid, np.concatenate([a.reshape(-1, 4) for a in layers]), config


def plain_iou(boxes, anchors, d):
    """(k, n) IoU, one box at a time, the textbook formula."""
    rows = []
    for x1, y1, x2, y2 in boxes:
        w = np.maximum(np.minimum(x2, anchors[:, 2]) - np.maximum(x1, anchors[:, 0]) + d, 0)
        h = np.maximum(np.minimum(y2, anchors[:, 3]) - np.maximum(y1, anchors[:, 1]) + d, 0)
        inter = w * h
        union = ((x2 - x1 + d) * (y2 - y1 + d) + (anchors[:, 2] - anchors[:, 0] + d)
                 * (anchors[:, 3] - anchors[:, 1] + d)) - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(np.where(union > 0, inter / union, 0.0))
    return np.array(rows).reshape(len(boxes), len(anchors))


def random_boxes(rng, config, k=60):
    height, width = config["img_height"], config["img_width"]
    x1 = rng.uniform(-20, width, k)
    y1 = rng.uniform(-20, height, k)
    boxes = np.stack([x1, y1, x1 + rng.uniform(1, width, k), y1 + rng.uniform(1, height, k)], 1)
    boxes[: k // 4] = np.floor(boxes[: k // 4])  # integer coordinates: exact ties
    special = [
        [10, 10, 11, 11],  # 1 pixel
        [5, 5, 8, 290],  # thin
        [-80, -80, -30, -30],  # off the image
        [-50, -50, width + 50, height + 50],  # larger than the image
        [0, 0, width, height],
    ]
    return np.concatenate([boxes, special])


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("border_pixels", list(D))
def test_dense_iou_equals_plain_iou_bit_for_bit(name, border_pixels):
    grid, anchors, config = make_grid(name, border_pixels)
    boxes = random_boxes(np.random.default_rng(0), config)
    assert grid.n_anchors == len(anchors)
    np.testing.assert_array_equal(grid.dense(boxes), plain_iou(boxes, anchors, D[border_pixels]))


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("border_pixels", list(D))
@pytest.mark.parametrize("threshold", [0.0, 0.02, 0.3, 0.5, 0.7, 1.0])
def test_pairs_hold_every_pair_reaching_the_threshold(name, border_pixels, threshold):
    grid, anchors, config = make_grid(name, border_pixels)
    boxes = random_boxes(np.random.default_rng(1), config)
    # Boxes equal to anchors reach IoU 1 exactly.
    boxes = np.concatenate([boxes, anchors[[0, 100, len(anchors) // 2, -1]]])
    dense = plain_iou(boxes, anchors, D[border_pixels])
    box, anchor, iou = grid.pairs(boxes, threshold)
    np.testing.assert_array_equal(iou, dense[box, anchor])  # the same numbers
    assert np.all(np.diff(box) >= 0)  # grouped by box, in box order
    assert len(np.unique(box * len(anchors) + anchor)) == len(box)  # no pair twice
    reached = iou >= threshold
    expected = np.argwhere(dense >= threshold)
    found = np.stack([box[reached], anchor[reached]], axis=1)
    found = found[np.lexsort((found[:, 1], found[:, 0]))]
    np.testing.assert_array_equal(found, expected)
    if threshold >= 0.3:  # the point: far fewer pairs than the dense matrix
        assert len(box) < dense.size / 20


def test_pairs_of_no_boxes():
    grid, _, _ = make_grid("ssd300", "half")
    for threshold in (0.0, 0.5):
        box, anchor, iou = grid.pairs(np.zeros((0, 4)), threshold)
        assert box.shape == anchor.shape == iou.shape == (0,)


def test_anchors_off_a_grid_are_refused():
    layer = np.zeros((2, 2, 1, 4))
    layer[..., 2:] = 10.0
    layer[1, 1, 0] = [1, 1, 9, 9]  # one cell's anchor moved: not separable
    with pytest.raises(ValueError, match="grid"):
        AnchorGrid([layer], "half")


def test_best_anchors_equal_the_dense_argmax_across_blocks():
    grid, anchors, config = make_grid("ssd7_clipped", "half")
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, config, k=150)  # more than one block of rows
    boxes[::3, 2:] = boxes[::3, :2] + 2  # many tiny boxes: the case the encoder uses it for
    dense = plain_iou(boxes, anchors, 0.0)
    anchor, iou = grid.best_anchors(boxes)
    np.testing.assert_array_equal(anchor, dense.argmax(axis=1))
    np.testing.assert_array_equal(iou, dense.max(axis=1))
    empty_anchor, empty_iou = grid.best_anchors(np.zeros((0, 4)))
    assert empty_anchor.shape == empty_iou.shape == (0,)
