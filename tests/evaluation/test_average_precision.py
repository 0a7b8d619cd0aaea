"""Tests for keras_ssd.evaluation.average_precision: VOC matching, precision/recall and AP."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.evaluation import average_precision as ap_module
from keras_ssd.evaluation.average_precision import average_precision
from keras_ssd.evaluation.average_precision import match_class
from keras_ssd.evaluation.average_precision import mean_average_precision
from keras_ssd.evaluation.average_precision import precision_recall
from tests.evaluation.devkit import devkit_ap_11point
from tests.evaluation.devkit import devkit_ap_integrate
from tests.evaluation.devkit import devkit_match
from tests.evaluation.devkit import devkit_precision_recall

BOX = [10.0, 10.0, 29.0, 29.0]


def _match(preds, gts, **kwargs):
    """preds: [(image, conf, box)], gts: [(image, box, difficult)] -> ClassMatch."""
    return match_class(
        [p[0] for p in preds],
        [p[1] for p in preds],
        np.array([p[2] for p in preds]).reshape(-1, 4),
        [g[0] for g in gts], np.array([g[1] for g in gts]).reshape(-1, 4),
        [g[2] for g in gts], **kwargs,
    )


# ---------------------------------------------------------------- hand-computed AP


def test_ranked_tp_fp_tp_with_two_boxes():
    # Precisions 1, 1/2, 2/3 at recalls 1/2, 1/2, 1.
    # 11-point: t = 0..0.5 -> 1 (6 levels), t = 0.6..1 -> 2/3 (5 levels): (6 + 10/3) / 11.
    # All-point: 0.5 * 1 + 0.5 * 2/3. (ssd_keras's 'integrate' gave 0.5 here.)
    precisions, recalls = precision_recall([1, 0, 1], [0, 1, 0], num_gt=2)
    assert_allclose(precisions, [1.0, 0.5, 2 / 3])
    assert_allclose(recalls, [0.5, 0.5, 1.0])
    assert_allclose(average_precision(precisions, recalls, "sample"), (6 + 10 / 3) / 11)
    assert average_precision(precisions, recalls, "sample") == pytest.approx(0.8485, abs=1e-4)
    assert average_precision(precisions, recalls, "integrate") == pytest.approx(0.8333, abs=1e-4)


def test_integrate_counts_the_segment_from_recall_zero():
    # One TP out of 4 boxes: area = 0.25 * 1. ssd_keras dropped [0, first recall] and gave 0.
    precisions, recalls = precision_recall([1, 0], [0, 1], num_gt=4)
    assert average_precision(precisions, recalls, "integrate") == pytest.approx(0.25)


def test_integrate_uses_the_envelope_at_the_right_end_of_each_step():
    # FP, TP, TP with 2 boxes: precisions 0, 1/2, 2/3 at recalls 0, 1/2, 1 -> the
    # envelope is 2/3 everywhere, so the area is 2/3 (left endpoints would give less).
    precisions, recalls = precision_recall([0, 1, 1], [1, 0, 0], num_gt=2)
    assert average_precision(precisions, recalls, "integrate") == pytest.approx(2 / 3)
    assert average_precision(precisions, recalls, "sample") == pytest.approx(2 / 3)


def test_sample_levels_are_exact_tenths():
    # 3 TPs out of 10 boxes: recall reaches exactly 0.3, so levels 0, .1, .2, .3 count.
    # np.linspace's 0.30000000000000004 (ssd_keras) would miss the 0.3 level: 3/11.
    precisions, recalls = precision_recall([1, 1, 1], [0, 0, 0], num_gt=10)
    assert average_precision(precisions, recalls, "sample") == pytest.approx(4 / 11)


def test_sample_with_other_numbers_of_recall_points():
    precisions, recalls = precision_recall([1, 0, 1], [0, 1, 0], num_gt=2)
    for n in (1, 2, 3, 101):
        levels = [k / (n - 1) if n > 1 else 0.0 for k in range(n)]
        expected = np.mean([1.0 if t <= 0.5 else 2 / 3 for t in levels])
        assert_allclose(average_precision(precisions, recalls, "sample", n), expected)


def test_empty_and_perfect_curves():
    for mode in ("sample", "integrate"):
        assert average_precision([], [], mode) == 0.0  # GT but no detections
        assert average_precision([1.0, 1.0], [0.5, 1.0], mode) == pytest.approx(1.0)
        assert np.isnan(average_precision([0.0], [np.nan], mode))  # no GT


def test_precision_is_zero_before_anything_counts_and_recall_nan_without_gt():
    precisions, recalls = precision_recall([0, 1], [0, 0], num_gt=1)
    assert_allclose(precisions, [0.0, 1.0])
    assert_allclose(recalls, [0.0, 1.0])
    _, recalls = precision_recall([0, 0], [1, 1], num_gt=0)
    assert np.isnan(recalls).all()


def test_mean_average_precision_skips_nan():
    assert mean_average_precision([0.5, np.nan, 1.0]) == pytest.approx(0.75)
    assert np.isnan(mean_average_precision([np.nan, np.nan]))
    assert mean_average_precision([0.0, 1.0]) == pytest.approx(0.5)


# ---------------------------------------------------------------- matching rules


def test_duplicates_are_false_positives():
    m = _match([(0, 0.9, BOX), (0, 0.8, BOX), (0, 0.7, BOX)], [(0, BOX, False)])
    assert_array_equal(m.true_positives, [True, False, False])
    assert_array_equal(m.false_positives, [False, True, True])


def test_highest_confidence_wins_regardless_of_input_order():
    m = _match([(0, 0.2, BOX), (0, 0.9, [10, 10, 28, 28])], [(0, BOX, False)])
    assert_array_equal(m.order, [1, 0])
    assert_array_equal(m.true_positives, [True, False])


def test_difficult_boxes_are_neither_tp_nor_fp():
    m = _match([(0, 0.9, BOX), (0, 0.8, BOX)], [(0, BOX, True)])
    assert not m.true_positives.any()
    assert not m.false_positives.any()


def test_best_box_is_taken_even_if_matched_or_difficult():
    # The devkit takes the highest-IoU box and never falls back to the second best.
    other = [10.0, 14.0, 29.0, 33.0]  # IoU with BOX about 0.68
    m = _match([(0, 0.9, BOX), (0, 0.8, BOX)], [(0, BOX, False), (0, other, False)])
    assert_array_equal(m.true_positives, [True, False])
    assert_array_equal(m.false_positives, [False, True])
    m = _match([(0, 0.9, BOX)], [(0, BOX, True), (0, other, False)])
    assert not m.true_positives.any() and not m.false_positives.any()


def test_boxes_only_match_in_their_own_image():
    m = _match([(1, 0.9, BOX), (2, 0.8, BOX)], [(0, BOX, False), (2, BOX, False)])
    assert_array_equal(m.true_positives, [False, True])
    assert_array_equal(m.matched_gt, [-1, 1])


def test_low_overlap_is_a_false_positive_and_threshold_is_inclusive():
    # 'include': gt 10x10 px, detection its top half, 10x5 px: IoU exactly 0.5.
    gt = [(0, [0.0, 0.0, 9.0, 9.0], False)]
    half = [(0, 0.9, [0.0, 0.0, 9.0, 4.0])]
    m = _match(half, gt)
    assert m.matched_iou[0] == pytest.approx(0.5)
    assert m.true_positives[0]
    m = _match(half, gt, matching_iou_threshold=0.51)
    assert m.false_positives[0]


def test_border_pixels_include_counts_the_intersection_too():
    # Under 'half' the same pair has IoU 36/81; ssd_keras's 'include' (no +1 in the
    # intersection) gave 36/114. Both would make this detection a false positive.
    gt = [(0, [0.0, 0.0, 9.0, 9.0], False)]
    half = [(0, 0.9, [0.0, 0.0, 9.0, 4.0])]
    assert _match(half, gt, border_pixels="include").true_positives[0]
    m = _match(half, gt, border_pixels="half")
    assert m.matched_iou[0] == pytest.approx(36 / 81)
    assert m.false_positives[0]
    assert _match([(0, 0.9, BOX)], [(0, BOX, False)], border_pixels="exclude").matched_iou[0] == 1


def test_no_detections_or_no_ground_truth():
    m = _match([], [(0, BOX, False)])
    assert m.true_positives.shape == (0,) and m.order.shape == (0,)
    m = _match([(0, 0.5, BOX), (3, 0.4, BOX)], [])
    assert_array_equal(m.false_positives, [True, True])
    assert_array_equal(m.matched_gt, [-1, -1])


def test_stable_sort_keeps_tied_detections_in_input_order():
    m = _match(
        [(0, 0.5, [0, 0, 5, 5]), (0, 0.5, BOX)], [(0, BOX, False)], sorting_algorithm="mergesort"
    )
    assert_array_equal(m.order, [0, 1])
    assert_array_equal(m.true_positives, [False, True])


# ---------------------------------------------------------------- against the devkit


def _random_class(rng, n_images=8, max_gt=5, max_pred=12, tie_decimals=None):
    """Random boxes clustered so that matches, duplicates and misses all happen."""
    preds, gts = [], []
    for image in range(n_images):
        for _ in range(rng.integers(0, max_gt + 1)):
            x, y = rng.uniform(0, 80, 2)
            w, h = rng.uniform(4, 30, 2)
            gts.append((image, [x, y, x + w, y + h], bool(rng.random() < 0.2)))
        image_gts = [g for g in gts if g[0] == image]
        for _ in range(rng.integers(0, max_pred + 1)):
            if image_gts and rng.random() < 0.7:
                box = np.array(image_gts[rng.integers(len(image_gts))][1])
                box = box + rng.normal(0, 3, 4)
            else:
                x, y = rng.uniform(0, 80, 2)
                box = np.array([x, y, x + rng.uniform(4, 30), y + rng.uniform(4, 30)])
            conf = rng.random()
            if tie_decimals is not None:
                conf = round(conf, tie_decimals)
            preds.append((image, conf, box.round(1).tolist()))
    return preds, gts


def _devkit(preds, gts, threshold):
    gt_dict = {}
    for image, box, difficult in gts:
        gt_dict.setdefault(image, []).append((box, difficult))
    tp, fp, npos = devkit_match(preds, gt_dict, threshold)
    return tp, fp, npos


@pytest.mark.parametrize("seed", range(150))
def test_matches_the_devkit_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    # Coarse confidences create ties; the devkit's sort is stable, hence mergesort.
    preds, gts = _random_class(rng, tie_decimals=1 if seed % 3 == 0 else None)
    threshold = [0.5, 0.3, 0.7][seed % 3]
    tp_ref, fp_ref, npos = _devkit(preds, gts, threshold)
    m = _match(preds, gts, matching_iou_threshold=threshold, sorting_algorithm="mergesort")
    assert_array_equal(m.true_positives.astype(int), tp_ref)
    assert_array_equal(m.false_positives.astype(int), fp_ref)
    assert npos == sum(not g[2] for g in gts)
    if npos == 0:
        return
    prec_ref, rec_ref = devkit_precision_recall(tp_ref, fp_ref, npos)
    precisions, recalls = precision_recall(m.true_positives, m.false_positives, npos)
    assert_allclose(recalls, rec_ref)
    counted = ~np.isnan(prec_ref)
    assert_allclose(precisions[counted], np.asarray(prec_ref)[counted])
    assert_allclose(precisions[~counted], 0.0)
    assert_allclose(
        average_precision(precisions, recalls, "sample"), devkit_ap_11point(prec_ref, rec_ref)
    )
    assert_allclose(
        average_precision(precisions, recalls, "integrate"), devkit_ap_integrate(prec_ref, rec_ref)
    )


def test_memory_blocks_give_the_same_result(monkeypatch, rng):
    preds, gts = _random_class(rng, n_images=20, max_gt=6, max_pred=20)
    full = _match(preds, gts, sorting_algorithm="mergesort")
    monkeypatch.setattr(ap_module, "_MAX_BLOCK", 7)  # a few detections per block
    blocked = _match(preds, gts, sorting_algorithm="mergesort")
    assert_array_equal(full.true_positives, blocked.true_positives)
    assert_array_equal(full.false_positives, blocked.false_positives)
    assert_array_equal(full.matched_gt, blocked.matched_gt)


# ---------------------------------------------------------------- bad input


def test_bad_mode():
    with pytest.raises(ValueError, match=r"`mode` must be one of .*Received: mode='area'"):
        average_precision([1.0], [1.0], mode="area")


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_bad_num_recall_points(value):
    with pytest.raises(ValueError, match=r"`num_recall_points` must be a positive integer"):
        average_precision([1.0], [1.0], num_recall_points=value)


def test_mismatched_curve_lengths():
    with pytest.raises(ValueError, match=r"same length. Received: 2 and 1"):
        average_precision([1.0, 0.5], [1.0])


@pytest.mark.parametrize("value", [0, 0.0, 1.5, -0.1, "0.5", None])
def test_bad_matching_iou_threshold(value):
    with pytest.raises(ValueError, match=r"`matching_iou_threshold` must be a number in \(0, 1\]"):
        _match([(0, 0.5, BOX)], [(0, BOX, False)], matching_iou_threshold=value)


def test_bad_sorting_algorithm():
    with pytest.raises(ValueError, match=r"Received: sorting_algorithm='bubble'"):
        _match([(0, 0.5, BOX)], [(0, BOX, False)], sorting_algorithm="bubble")


def test_bad_border_pixels():
    with pytest.raises(ValueError, match=r"Received: border_pixels='all'"):
        _match([(0, 0.5, BOX)], [(0, BOX, False)], border_pixels="all")


def test_bad_box_shapes_and_lengths():
    with pytest.raises(ValueError, match=r"`pred_boxes` must have shape \(n, 4\)"):
        match_class([0], [0.5], [[0, 0, 1]], [0], [BOX])
    with pytest.raises(ValueError, match=r"`gt_boxes` must have shape \(n, 4\)"):
        match_class([0], [0.5], [BOX], [0], [[0, 0, 1, 1, 1]])
    with pytest.raises(ValueError, match=r"must have the same length. Received: lengths 2, 1, 1"):
        match_class([0, 0], [0.5], [BOX], [0], [BOX])
    with pytest.raises(ValueError, match=r"`gt_image_index` and `gt_boxes`"):
        match_class([0], [0.5], [BOX], [0, 1], [BOX])
    with pytest.raises(ValueError, match=r"`gt_neutral` must have one flag per"):
        match_class([0], [0.5], [BOX], [0], [BOX], gt_neutral=[True, False])


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_num_gt(value):
    with pytest.raises(ValueError, match=r"`num_gt` must be a non-negative integer"):
        precision_recall([1], [0], num_gt=value)
