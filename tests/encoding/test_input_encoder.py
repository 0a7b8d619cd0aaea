"""SSDInputEncoder: anchors equal the model's, matching equals a plain per-image loop."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ssd.anchors import anchor_boxes_for_model
from keras_ssd.anchors import resolve_anchor_config
from keras_ssd.encoding.input_encoder import DegenerateBoxError
from keras_ssd.encoding.input_encoder import SSDInputEncoder
from keras_ssd.layout import ANCHORS
from keras_ssd.layout import CLASSES
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES

AR_300 = [[1.0, 2.0, 0.5]] + [[1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]] * 3 + [[1.0, 2.0, 0.5]] * 2
AR_512 = [[1.0, 2.0, 0.5]] + [[1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]] * 4 + [[1.0, 2.0, 0.5]] * 2
SSD300 = dict(
    img_height=300, img_width=300, n_classes=20,
    predictor_sizes=[(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
    scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05], aspect_ratios_per_layer=AR_300,
    steps=[8, 16, 32, 64, 100, 300], offsets=[0.5] * 6,
)
SSD512 = dict(
    img_height=512, img_width=512, n_classes=20,
    predictor_sizes=[(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)],
    scales=[0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05], aspect_ratios_per_layer=AR_512,
    steps=[8, 16, 32, 64, 128, 256, 512], offsets=[0.5] * 7,
)
SSD7 = dict(
    img_height=300, img_width=480, n_classes=5,
    predictor_sizes=[(37, 60), (18, 30), (9, 15), (4, 7)],
    scales=[0.08, 0.16, 0.32, 0.64, 0.96], aspect_ratios_global=[0.5, 1.0, 2.0],
    variances=[1.0, 1.0, 1.0, 1.0],
)
SSD300_WIDE = dict(SSD300, img_width=500, predictor_sizes=[
    (38, 63), (19, 32), (10, 16), (5, 8), (3, 4), (1, 2)])
SSD7_CLIPPED = dict(SSD7, clip_boxes=True, coords="corners", normalize_coords=False)
SMALL = dict(
    img_height=64, img_width=96, n_classes=3,
    predictor_sizes=[(8, 12), (4, 6), (2, 3)],
    scales=[0.1, 0.3, 0.6, 0.9], aspect_ratios_global=[0.5, 1.0, 2.0],
)


def model_anchors(config: dict) -> np.ndarray:
    """What a model emits: one AnchorBoxes layer per predictor, reshaped and concatenated."""
    from keras_ssd.layers.anchor_boxes import AnchorBoxes

    sizes = config["predictor_sizes"]
    n = len(sizes)
    per_layer = config.get("aspect_ratios_per_layer") or [config["aspect_ratios_global"]] * n
    outputs = []
    for i, (fh, fw) in enumerate(sizes):
        layer = AnchorBoxes(
            config["img_height"], config["img_width"],
            this_scale=config["scales"][i], next_scale=config["scales"][i + 1],
            aspect_ratios=per_layer[i],
            two_boxes_for_ar1=config.get("two_boxes_for_ar1", True),
            this_steps=(config.get("steps") or [None] * n)[i],
            this_offsets=(config.get("offsets") or [None] * n)[i],
            clip_boxes=config.get("clip_boxes", False),
            variances=config.get("variances", (0.1, 0.1, 0.2, 0.2)),
            coords=config.get("coords", "centroids"),
            normalize_coords=config.get("normalize_coords", True),
        )
        out = np.asarray(layer(np.zeros((1, fh, fw, 1), dtype=np.float32)))
        outputs.append(out.reshape(-1, 8))
    return np.concatenate(outputs)


@pytest.mark.parametrize(
    ("config", "n_boxes"),
    [(SSD300, 8732), (SSD512, 24564), (SSD7, 11692), (SSD300_WIDE, None), (SSD7_CLIPPED, 11692)],
    ids=["ssd300", "ssd512", "ssd7_300x480", "ssd300_300x500", "ssd7_clipped_corners"],
)
def test_anchors_in_y_true_equal_the_model_anchor_boxes_bit_for_bit(config, n_boxes):
    encoder = SSDInputEncoder(**config)
    y = encoder([np.zeros((0, 5))])
    expected = model_anchors(config)
    assert y.dtype == np.float32
    assert y.shape == (1, len(expected), config["n_classes"] + 1 + 12)
    if n_boxes is not None:
        assert encoder.n_boxes == n_boxes
    np.testing.assert_array_equal(y[0, :, ANCHORS], expected[:, :4])
    np.testing.assert_array_equal(y[0, :, VARIANCES], expected[:, 4:])
    np.testing.assert_array_equal(encoder.anchors, expected[:, :4])


# --- an independent, plain per-image encoder -------------------------------------------

D = {"half": 0.0, "include": 1.0, "exclude": -1.0}


def plain_iou(box, anchors, d):
    """IoU of one pixel-corner box with (n, 4) anchors (same arithmetic as the encoder)."""
    iw = np.maximum(np.minimum(box[2], anchors[:, 2]) - np.maximum(box[0], anchors[:, 0]) + d, 0)
    ih = np.maximum(np.minimum(box[3], anchors[:, 3]) - np.maximum(box[1], anchors[:, 1]) + d, 0)
    inter = iw * ih
    box_area = (box[2] - box[0] + d) * (box[3] - box[1] + d)
    anchor_area = (anchors[:, 2] - anchors[:, 0] + d) * (anchors[:, 3] - anchors[:, 1] + d)
    return inter / ((box_area + anchor_area) - inter)


def plain_in_coords(corners, coords, d, width, height, normalize):
    x1, y1, x2, y2 = corners
    if coords == "centroids":
        box, scale = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1 + d, y2 - y1 + d], [width, height] * 2
    elif coords == "corners":
        box, scale = [x1, y1, x2, y2], [width, height] * 2
    else:
        box, scale = [x1, x2, y1, y2], [width, width, height, height]
    box = np.array(box, dtype=float)
    return box / scale if normalize else box


def plain_offsets(box, anchor, variances, coords):
    if coords == "centroids":
        t = [(box[0] - anchor[0]) / anchor[2], (box[1] - anchor[1]) / anchor[3],
             np.log(box[2] / anchor[2]), np.log(box[3] / anchor[3])]
    elif coords == "corners":
        w, h = anchor[2] - anchor[0], anchor[3] - anchor[1]
        t = [(box[0] - anchor[0]) / w, (box[1] - anchor[1]) / h,
             (box[2] - anchor[2]) / w, (box[3] - anchor[3]) / h]
    else:
        w, h = anchor[1] - anchor[0], anchor[3] - anchor[2]
        t = [(box[0] - anchor[0]) / w, (box[1] - anchor[1]) / w,
             (box[2] - anchor[2]) / h, (box[3] - anchor[3]) / h]
    return np.array(t) / np.array(variances)


def plain_encode(labels_batch, config: dict):
    """ssd_keras's per-image algorithm, written plainly (with the bipartite fix)."""
    opts = dict(
        matching_type="multi", pos_iou_threshold=0.5, neg_iou_limit=0.3, border_pixels="half",
        coords="centroids", normalize_coords=True, background_id=0, clip_boxes=False,
        variances=(0.1, 0.1, 0.2, 0.2),
    )
    opts.update({k: v for k, v in config.items() if k in opts})
    height, width, n_classes = config["img_height"], config["img_width"], config["n_classes"]
    anchor_config = resolve_anchor_config(
        len(config["predictor_sizes"]), scales=config["scales"],
        aspect_ratios_global=config.get("aspect_ratios_global"),
        aspect_ratios_per_layer=config.get("aspect_ratios_per_layer"),
        two_boxes_for_ar1=config.get("two_boxes_for_ar1", True),
        steps=config.get("steps"), offsets=config.get("offsets"),
        variances=opts["variances"],
    )

    def anchors(coords, normalize):
        layers = anchor_boxes_for_model(
            height, width, config["predictor_sizes"], anchor_config, opts["clip_boxes"],
            normalize, coords,
        )
        return np.concatenate([a.reshape(-1, 4) for a in layers])

    pixel_corners = anchors("corners", False)
    coords_anchors = anchors(opts["coords"], opts["normalize_coords"])
    d = D[opts["border_pixels"]]
    n = len(pixel_corners)
    y = np.zeros((len(labels_batch), n, n_classes + 1 + 12))
    y[:, :, -8:-4] = coords_anchors.astype(np.float32)
    y[:, :, -4:] = np.float32(opts["variances"])
    for i, labels in enumerate(labels_batch):
        y[i, :, opts["background_id"]] = 1
        labels = np.asarray(labels, dtype=float).reshape(-1, 5)
        k = len(labels)
        if k == 0:
            continue
        weights = np.stack([plain_iou(labels[g, 1:], pixel_corners, d) for g in range(k)])
        assigned = {}
        remaining = weights.copy()
        for _ in range(k):  # greedy bipartite
            best_anchor = np.argmax(remaining, axis=1)
            best = remaining[np.arange(k), best_anchor]
            g = int(np.argmax(best))
            if best[g] <= 0:
                break
            assigned[int(best_anchor[g])] = g
            remaining[g, :] = 0
            remaining[:, best_anchor[g]] = 0
        for a in range(n):
            if a in assigned:
                continue
            g = int(np.argmax(weights[:, a]))
            if opts["matching_type"] == "multi" and weights[g, a] >= opts["pos_iou_threshold"]:
                assigned[a] = g
            elif weights[g, a] >= opts["neg_iou_limit"]:
                y[i, a, opts["background_id"]] = 0  # neutral
        for a, g in assigned.items():
            y[i, a, :-12] = 0
            y[i, a, int(labels[g, 0])] = 1
            box = plain_in_coords(labels[g, 1:], opts["coords"], d, width, height,
                                  opts["normalize_coords"])
            y[i, a, -12:-8] = plain_offsets(box, coords_anchors[a], opts["variances"],
                                            opts["coords"])
    return y


def random_labels(rng, batch, config, max_boxes=6, integer=False):
    height, width = config["img_height"], config["img_width"]
    labels = []
    for _ in range(batch):
        k = int(rng.integers(0, max_boxes + 1))
        x1 = rng.uniform(-5, width - 4, k)
        y1 = rng.uniform(-5, height - 4, k)
        x2 = x1 + rng.uniform(2, width / 1.5, k)
        y2 = y1 + rng.uniform(2, height / 1.5, k)
        boxes = np.stack([x1, y1, x2, y2], axis=1)
        if integer:
            boxes = np.floor(boxes)
            boxes[:, 2:] += 1
        background = config.get("background_id", 0)
        classes = rng.choice([c for c in range(config["n_classes"] + 1) if c != background], k)
        labels.append(np.column_stack([classes, boxes]))
    return labels


def assert_same_encoding(actual, expected):
    np.testing.assert_array_equal(actual[..., CLASSES], expected[..., CLASSES])
    np.testing.assert_allclose(actual[..., OFFSETS], expected[..., OFFSETS], rtol=2e-6,
                               atol=2e-6)
    np.testing.assert_array_equal(actual[..., ANCHORS], expected[..., ANCHORS])
    np.testing.assert_array_equal(actual[..., VARIANCES], expected[..., VARIANCES])


VARIANTS = [
    {},
    {"matching_type": "bipartite"},
    {"coords": "corners", "normalize_coords": False, "background_id": 2},
    {"coords": "minmax", "pos_iou_threshold": 0.4, "neg_iou_limit": 0.2},
    {"border_pixels": "include", "clip_boxes": True},
    {"border_pixels": "exclude", "pos_iou_threshold": 0.6, "neg_iou_limit": 0.45},
    {"pos_iou_threshold": 0.3, "neg_iou_limit": 0.5, "variances": (1.0, 1.0, 1.0, 1.0)},
]


def _variant_id(variant):
    return "-".join(map(str, variant.values())) or "default"


@pytest.mark.parametrize("variant", VARIANTS, ids=_variant_id)
def test_vectorised_encoder_equals_plain_per_image_encoder(variant):
    config = dict(SMALL, **variant)
    encoder = SSDInputEncoder(**config)
    n_boxes = n_positive = n_neutral = n_empty = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        labels = random_labels(rng, batch=5, config=config, integer=seed % 2 == 1)
        y = encoder(labels)
        assert y.dtype == np.float32
        assert_same_encoding(y, plain_encode(labels, config))
        n_boxes += sum(len(x) for x in labels)
        n_empty += sum(len(x) == 0 for x in labels)
        classes = y[..., CLASSES].sum(axis=-1)
        n_neutral += int((classes == 0).sum())
        n_positive += int((y[..., CLASSES].argmax(-1) != encoder.background_id)[classes == 1].sum())
    # The cases the comparison is about all occur: empty images, neutrals, multi matches.
    assert n_empty > 0
    assert n_neutral > 0 if encoder.neg_iou_limit < encoder.pos_iou_threshold else n_neutral == 0
    assert n_positive > n_boxes if config.get("matching_type") != "bipartite" else n_positive


def test_many_boxes_per_image_sharing_anchors():
    # More boxes than fit their best anchors: bipartite recomputes rows; tiny boxes in
    # one spot overlap no free anchor after the first few.
    config = dict(SMALL)
    rng = np.random.default_rng(7)
    labels = random_labels(rng, batch=3, config=config, max_boxes=40)
    labels.append(np.array([[1, 40, 30, 42, 32]] * 30, dtype=float))
    y = SSDInputEncoder(**config)(labels)
    assert_same_encoding(y, plain_encode(labels, config))


# The encoder visits only the anchors a box can reach the thresholds with (see
# `keras_ssd.encoding.anchor_grid`); on full-size grids that pruning matters most.
BIG_VARIANTS = [
    (SSD300, {}),
    (SSD300, {"matching_type": "bipartite", "neg_iou_limit": 0.5}),
    (SSD300, {"neg_iou_limit": 0.0}),  # every pair counts: no pruning possible
    (SSD300, {"pos_iou_threshold": 1.0, "neg_iou_limit": 1.0}),
    (SSD300, {"pos_iou_threshold": 0.05, "neg_iou_limit": 0.02}),
    (SSD300_WIDE, {"border_pixels": "include"}),
    (SSD7_CLIPPED, {"border_pixels": "exclude"}),
    (SSD512, {"clip_boxes": True}),
]


@pytest.mark.parametrize(("config", "variant"), BIG_VARIANTS,
                         ids=[f"{i}-{_variant_id(v)}" for i, (_, v) in enumerate(BIG_VARIANTS)])
def test_full_size_grids_equal_plain_per_image_encoder(config, variant):
    config = dict(config, **variant)
    encoder = SSDInputEncoder(**config)
    rng = np.random.default_rng(3)
    labels = random_labels(rng, batch=4, config=config, max_boxes=12, integer=True)
    # Boxes no anchor reaches the thresholds with: 1-pixel, thin, and off the image.
    labels[0] = np.concatenate([labels[0], [
        [1, 100, 100, 101, 101], [2, 10, 20, 13, 280], [1, -50, -40, -10, -5],
        [1, 0, 0, config["img_width"] + 100, config["img_height"] + 50],
    ]])
    labels.append(np.zeros((0, 5)))
    assert_same_encoding(encoder(labels), plain_encode(labels, config))


# --- golden cases by hand ---------------------------------------------------------------

# Four 50x50 anchors in a row at cx = 12.5, 37.5, 62.5, 87.5 (cy = 50) on a 100x100 image.
ROW = dict(
    img_height=100, img_width=100, n_classes=2, predictor_sizes=[(1, 4)], scales=[0.5, 0.5],
    aspect_ratios_global=[1.0], two_boxes_for_ar1=False, steps=[(100, 25)],
)
# Equal to anchor 1: IoU 1 with it, 1/3 with anchors 0 and 2, 0 with anchor 3.
BOX_ON_ANCHOR_1 = np.array([[2, 12.5, 25, 62.5, 75]])


@pytest.mark.parametrize("coords", ["centroids", "corners", "minmax"])
@pytest.mark.parametrize("normalize_coords", [True, False])
def test_box_equal_to_an_anchor_has_zero_offsets(coords, normalize_coords):
    encoder = SSDInputEncoder(**ROW, coords=coords, normalize_coords=normalize_coords)
    y = encoder([BOX_ON_ANCHOR_1])
    np.testing.assert_array_equal(y[0, 1, CLASSES], [0, 0, 1])
    np.testing.assert_array_equal(y[0, 1, OFFSETS], [0, 0, 0, 0])


def test_neutral_zone_between_neg_iou_limit_and_pos_iou_threshold():
    y = SSDInputEncoder(**ROW)([BOX_ON_ANCHOR_1])[0]
    np.testing.assert_array_equal(y[:, CLASSES], [[0, 0, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(y[[0, 2, 3], OFFSETS], np.zeros((3, 4)))


def test_multi_matching_at_an_inclusive_threshold_with_hand_offsets():
    y = SSDInputEncoder(**ROW, pos_iou_threshold=1 / 3)([BOX_ON_ANCHOR_1])[0]
    np.testing.assert_array_equal(y[:, CLASSES], [[0, 0, 1], [0, 0, 1], [0, 0, 1], [1, 0, 0]])
    # cx offset: (37.5 - 12.5) / 50 / 0.1 = 5 for anchor 0 and -5 for anchor 2.
    np.testing.assert_allclose(y[0, OFFSETS], [5, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(y[2, OFFSETS], [-5, 0, 0, 0], atol=1e-6)


def test_bipartite_matching_type_leaves_other_overlaps_neutral():
    encoder = SSDInputEncoder(**ROW, matching_type="bipartite", pos_iou_threshold=0.1)
    y = encoder([BOX_ON_ANCHOR_1])[0]
    np.testing.assert_array_equal(y[:, 2], [0, 1, 0, 0])
    np.testing.assert_array_equal(y[:, 0], [0, 0, 0, 1])


def test_bipartite_matches_a_box_below_every_threshold():
    # IoU with anchor 3 ([62.5, 112.5] x [25, 75]) is 25 * 50 / (1250 + 2500 - 1250) = 0.1.
    y = SSDInputEncoder(**ROW)([np.array([[1, 87.5, 25, 112.5, 50]])])[0]
    np.testing.assert_array_equal(y[:, 1], [0, 0, 0, 1])


def test_images_without_ground_truth_are_all_background():
    encoder = SSDInputEncoder(**SMALL, background_id=1)
    empties = [np.zeros((0, 5)), [], None, np.array([])]
    y = encoder(empties + [np.array([[2, 10, 10, 40, 40]])])
    assert y.shape == (5, encoder.n_boxes, 3 + 1 + 12)
    expected = np.zeros((encoder.n_boxes, 4))
    expected[:, 1] = 1
    for image in range(4):
        np.testing.assert_array_equal(y[image, :, CLASSES], expected)
        np.testing.assert_array_equal(y[image, :, OFFSETS], 0)
    assert y[4, :, 2].sum() >= 1  # the last image has a positive
    assert encoder([]).shape == (0, encoder.n_boxes, 16)


def test_diagnostics_returns_matched_anchors_with_zero_offsets():
    encoder = SSDInputEncoder(**ROW, pos_iou_threshold=0.3)
    y, matched = encoder([BOX_ON_ANCHOR_1], diagnostics=True)
    np.testing.assert_array_equal(matched[..., OFFSETS], 0)
    np.testing.assert_array_equal(matched[..., CLASSES], y[..., CLASSES])
    np.testing.assert_array_equal(matched[..., ANCHORS], y[..., ANCHORS])
    assert np.abs(y[..., OFFSETS]).max() > 0


def test_attributes():
    encoder = SSDInputEncoder(**SSD300)
    assert encoder.n_classes == 20  # positive classes, as given
    assert encoder.n_boxes == 8732
    assert encoder.anchors.shape == (8732, 4) and encoder.anchors.dtype == np.float32
    assert [b.shape[:3] for b in encoder.boxes_list][:2] == [(38, 38, 4), (19, 19, 6)]


def test_numpy_arrays_and_scalars_are_accepted_as_parameters():
    config = dict(
        SMALL,
        n_classes=np.int64(3),
        img_height=np.int32(64),
        predictor_sizes=np.array(SMALL["predictor_sizes"]),
        scales=np.array(SMALL["scales"]),
        aspect_ratios_per_layer=np.array([[0.5, 1.0, 2.0]] * 3),
        steps=np.array([8.0, 16.0, 32.0]),
        offsets=np.array([0.5, 0.5, 0.5]),
        variances=np.array([0.1, 0.1, 0.2, 0.2]),
        pos_iou_threshold=np.float32(0.5),
        background_id=np.int64(0),
    )
    labels = random_labels(np.random.default_rng(3), 4, SMALL)
    y = SSDInputEncoder(**config)(labels)
    expected = SSDInputEncoder(**dict(SMALL, steps=[8, 16, 32], offsets=[0.5] * 3))(labels)
    np.testing.assert_array_equal(y, expected)


def test_single_predictor_size_pair_means_one_layer():
    encoder = SSDInputEncoder(**dict(ROW, predictor_sizes=(1, 4)))
    assert encoder.n_boxes == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_classes": 0}, r"`n_classes` must be a positive integer. Received: n_classes=0"),
        ({"n_classes": 2.5}, r"n_classes=2.5"),
        ({"n_classes": True}, r"n_classes=True"),
        ({"img_height": -1}, r"`img_height` must be a positive integer"),
        ({"predictor_sizes": [(8, 12, 1)]}, r"`predictor_sizes` must be a list of \(height"),
        ({"predictor_sizes": [(8, 0)]}, r"predictor_sizes=\[\(8, 0\)\]"),
        ({"predictor_sizes": []}, r"`predictor_sizes`"),
        ({"matching_type": "greedy"}, r"`matching_type` must be one of .*'greedy'"),
        ({"pos_iou_threshold": 1.5}, r"`pos_iou_threshold` must be a number in \[0, 1\]"),
        ({"neg_iou_limit": -0.1}, r"neg_iou_limit=-0.1"),
        ({"background_id": 4}, r"`background_id` must be an integer in \[0, n_classes=3\]"),
        ({"background_id": -1}, r"background_id=-1"),
        ({"border_pixels": "all"}, r"`border_pixels` must be one of"),
        ({"coords": "xywh"}, r"`coords` must be one of"),
        ({"scales": [0.1, 0.2]}, r"`scales` must hold"),
        ({"variances": [0.1, 0.1, 0.2]}, r"`variances`"),
        ({"steps": [8, 16]}, r"`steps` must hold one entry per predictor layer"),
    ],
)
def test_bad_constructor_arguments_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SSDInputEncoder(**dict(SMALL, **kwargs))


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros((3, 4)), r"shape \(k, 5\).*ground_truth_labels\[1\]\.shape=\(3, 4\)"),
        (np.zeros(5) + 1, r"ground_truth_labels\[1\]\.shape=\(5,\)"),
        (np.array([[1, 0, 0, np.nan, 5]]), r"labels of image 1 contain NaN"),
        (np.array([[4, 0, 0, 5, 5]]), r"Class ids must be integers in \[0, n_classes=3\].*=4\.0"),
        (np.array([[1.5, 0, 0, 5, 5]]), r"class_id=1\.5 in ground_truth_labels\[1\]"),
    ],
)
def test_bad_labels_raise_value_errors_naming_the_image(labels, match):
    encoder = SSDInputEncoder(**SMALL)
    with pytest.raises(ValueError, match=match):
        encoder([np.array([[1, 0, 0, 10, 10]]), labels])


@pytest.mark.parametrize("box", [[1, 10, 10, 10, 20], [1, 10, 20, 30, 19]])
def test_degenerate_boxes_raise_naming_image_and_box(box):
    encoder = SSDInputEncoder(**SMALL)
    labels = [np.array([[1, 0, 0, 10, 10]]), np.array([[2, 0, 0, 5, 5], box])]
    with pytest.raises(DegenerateBoxError, match=r"Image 1 .*box 1 = \[1\.0, 10\.0"):
        encoder(labels)
    assert issubclass(DegenerateBoxError, ValueError)


def test_large_batch_of_small_boxes_equals_plain_per_image_encoder():
    # Many boxes that reach no threshold: their best anchors come from full IoU rows, in
    # blocks; a batch of 48 images.
    config = dict(SMALL)
    rng = np.random.default_rng(11)
    labels = []
    for _ in range(48):
        k = int(rng.integers(0, 9))
        xy = rng.uniform(0, 90, (k, 2))
        size = rng.uniform(0.5, 3.0, (k, 2))
        labels.append(np.column_stack([rng.integers(1, 4, k), xy, xy + size]))
    y = SSDInputEncoder(**config)(labels)
    assert y.shape[0] == 48
    assert_same_encoding(y, plain_encode(labels, config))
