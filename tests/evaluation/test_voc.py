"""Tests for keras_ssd.evaluation.voc.evaluate_detections (the function form of the Evaluator)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.evaluation.voc import EvaluationResult
from keras_ssd.evaluation.voc import evaluate_detections
from tests.evaluation.devkit import devkit_ap_11point
from tests.evaluation.devkit import devkit_ap_integrate
from tests.evaluation.devkit import devkit_match
from tests.evaluation.devkit import devkit_precision_recall

A = [0.0, 0.0, 19.0, 19.0]
B = [40.0, 40.0, 79.0, 59.0]


def _gt(*rows):
    return np.array(rows, dtype=float).reshape(-1, 5)


def _hand_case():
    """Class 1: two boxes, detections ranked TP, FP (duplicate), TP. Class 2: one miss."""
    ground_truth = {
        "img_a": _gt([1, *A], [2, *B]),
        "img_b": _gt([1, *B]),
    }
    detections = [
        ["img_a", 1, 0.9, *A],
        ["img_a", 1, 0.8, *A],  # duplicate
        ["img_b", 1, 0.7, *B],
        ["img_b", 2, 0.6, *B],  # no class-2 box in img_b: FP
    ]
    return detections, ground_truth


def test_hand_case():
    detections, ground_truth = _hand_case()
    result = evaluate_detections(detections, ground_truth, n_classes=2)
    assert isinstance(result, EvaluationResult)
    assert_array_equal(result.num_gt_per_class, [0, 2, 1])
    assert_array_equal(result.true_positives[1], [1, 0, 1])
    assert_array_equal(result.false_positives[1], [0, 1, 0])
    assert_array_equal(result.false_positives[2], [1])
    assert_allclose(result.precisions[1], [1.0, 0.5, 2 / 3])
    assert_allclose(result.recalls[1], [0.5, 0.5, 1.0])
    assert_allclose(result.average_precisions, [0.0, (6 + 10 / 3) / 11, 0.0])
    assert result.mean_average_precision == pytest.approx((6 + 10 / 3) / 22)
    assert len(result.precisions[0]) == 0 and len(result.recalls[0]) == 0

    result = evaluate_detections(detections, ground_truth, 2, average_precision_mode="integrate")
    assert_allclose(result.average_precisions, [0.0, 0.5 + 0.5 * 2 / 3, 0.0])


def test_array_input_with_integer_ids():
    detections, ground_truth = _hand_case()
    names = {"img_a": 7, "img_b": 9}
    array = np.array([[names[d[0]], *d[1:]] for d in detections])
    result = evaluate_detections(array, {names[k]: v for k, v in ground_truth.items()}, 2)
    assert_allclose(result.average_precisions, [0.0, (6 + 10 / 3) / 11, 0.0])


def test_class_with_gt_but_no_detections_has_ap_zero_and_keeps_the_others_aligned():
    # ssd_keras misaligned its per-class lists when a class had no predictions.
    ground_truth = {0: _gt([1, *A], [2, *B], [3, *A])}
    detections = [[0, 2, 0.9, *B], [0, 3, 0.8, *A]]
    result = evaluate_detections(detections, ground_truth, 3)
    assert_allclose(result.average_precisions, [0.0, 0.0, 1.0, 1.0])
    assert result.mean_average_precision == pytest.approx(2 / 3)
    assert len(result.precisions[1]) == 0


def test_class_without_gt_is_nan_excluded_and_warned():
    ground_truth = {0: _gt([1, *A])}
    detections = [[0, 1, 0.9, *A], [0, 2, 0.8, *B]]
    with pytest.warns(UserWarning, match=r"Classes \[2, 3\] have no ground truth"):
        result = evaluate_detections(detections, ground_truth, 3)
    assert np.isnan(result.average_precisions[2]) and np.isnan(result.average_precisions[3])
    assert np.isnan(result.recalls[2]).all()
    assert_array_equal(result.false_positives[2], [1])
    assert result.mean_average_precision == pytest.approx(1.0)


def test_no_warning_when_every_class_has_gt():
    detections, ground_truth = _hand_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_detections(detections, ground_truth, 2)


def test_no_detections_at_all():
    result = evaluate_detections([], {0: _gt([1, *A]), 1: _gt()}, 1)
    assert result.mean_average_precision == 0.0
    assert result.true_positives[1].shape == (0,)


def test_images_without_objects_make_false_positives():
    result = evaluate_detections(
        [[0, 1, 0.9, *A], [1, 1, 0.95, *A]], {0: _gt([1, *A]), 1: np.zeros((0, 5))}, 1
    )
    assert_array_equal(result.false_positives[1], [1, 0])
    assert_allclose(result.average_precisions[1], (0.5 * 11) / 11)


def test_difficult_boxes_ignored_or_counted():
    ground_truth = {0: _gt([1, *A], [1, *B])}
    eval_neutral = {0: np.array([False, True])}
    detections = [[0, 1, 0.9, *B], [0, 1, 0.8, *A]]
    result = evaluate_detections(detections, ground_truth, 1, eval_neutral=eval_neutral)
    assert_array_equal(result.num_gt_per_class, [0, 1])
    assert_array_equal(result.true_positives[1], [0, 1])
    assert_array_equal(result.false_positives[1], [0, 0])
    assert_allclose(result.precisions[1], [0.0, 1.0])
    assert result.mean_average_precision == pytest.approx(1.0)

    result = evaluate_detections(
        detections, ground_truth, 1, eval_neutral=eval_neutral, ignore_neutral_boxes=False
    )
    assert_array_equal(result.num_gt_per_class, [0, 2])
    assert_array_equal(result.true_positives[1], [1, 1])
    # An image missing from eval_neutral has no difficult boxes.
    result = evaluate_detections(detections, ground_truth, 1, eval_neutral={})
    assert_array_equal(result.num_gt_per_class, [0, 2])


def test_verbose_false_matches_every_prediction():
    # ssd_keras matched only the first prediction of each class with verbose=False.
    ground_truth = {i: _gt([1, *A]) for i in range(5)}
    detections = [[i, 1, 0.9 - 0.1 * i, *A] for i in range(5)]
    for verbose in (False, True):
        result = evaluate_detections(detections, ground_truth, 1, verbose=verbose)
        assert_array_equal(result.true_positives[1], [1, 1, 1, 1, 1])
        assert result.mean_average_precision == pytest.approx(1.0)


def test_border_pixels_include_is_the_devkit_iou():
    # 'include': a 20x20 px box against its upper half (20x10 px): IoU 0.5, a TP.
    # ssd_keras's 'include' IoU for it was 19*9 / (400 + 200 - 171) = 0.40, a FP.
    ground_truth = {0: _gt([1, *A])}
    detections = [[0, 1, 0.9, 0.0, 0.0, 19.0, 9.0]]
    assert evaluate_detections(detections, ground_truth, 1).mean_average_precision == 1.0
    result = evaluate_detections(detections, ground_truth, 1, border_pixels="half")
    assert result.mean_average_precision == 0.0


def _random_dataset(rng, n_images=12, n_classes=4):
    ground_truth, eval_neutral, detections = {}, {}, []
    for image in range(n_images):
        k = int(rng.integers(0, 6))
        xy = rng.uniform(0, 100, (k, 2))
        wh = rng.uniform(5, 40, (k, 2))
        labels = np.column_stack([rng.integers(1, n_classes + 1, k), xy, xy + wh])
        ground_truth[f"im{image}"] = labels
        eval_neutral[f"im{image}"] = rng.random(k) < 0.2
        for _ in range(int(rng.integers(0, 15))):
            if k and rng.random() < 0.7:
                row = labels[rng.integers(k)].copy()
                row[1:] += rng.normal(0, 4, 4)
                if rng.random() < 0.2:
                    row[0] = rng.integers(1, n_classes + 1)  # wrong class
            else:
                x, y = rng.uniform(0, 100, 2)
                row = np.array([rng.integers(1, n_classes + 1), x, y, x + 20, y + 20])
            detections.append([f"im{image}", int(row[0]), float(rng.random()), *row[1:].tolist()])
    return detections, ground_truth, eval_neutral


def _devkit_map(detections, ground_truth, eval_neutral, n_classes, mode):
    aps = []
    for c in range(1, n_classes + 1):
        gts = {
            image: [
                (row[1:].tolist(), bool(flag))
                for row, flag in zip(labels, eval_neutral[image])
                if row[0] == c
            ]
            for image, labels in ground_truth.items()
        }
        preds = [(d[0], d[2], d[3:]) for d in detections if d[1] == c]
        tp, fp, npos = devkit_match(preds, gts)
        if npos == 0:
            continue
        prec, rec = devkit_precision_recall(tp, fp, npos)
        if mode == "sample":
            aps.append(devkit_ap_11point(prec, rec))
        else:
            aps.append(devkit_ap_integrate(prec, rec))
    return np.mean(aps)


@pytest.mark.parametrize("seed", range(40))
def test_map_matches_the_devkit_on_random_datasets(seed):
    rng = np.random.default_rng(seed)
    detections, ground_truth, eval_neutral = _random_dataset(rng)
    for mode in ("sample", "integrate"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class may lack ground truth
            result = evaluate_detections(
                detections, ground_truth, 4, eval_neutral=eval_neutral,
                average_precision_mode=mode, sorting_algorithm="mergesort",
            )
        expected = _devkit_map(detections, ground_truth, eval_neutral, 4, mode)
        assert_allclose(result.mean_average_precision, expected)


# ---------------------------------------------------------------- bad input


def test_unknown_image_id():
    with pytest.raises(ValueError, match=r"key of the ground truth. Received: image_id='x'"):
        evaluate_detections([["x", 1, 0.5, *A]], {"y": _gt([1, *A])}, 1)


@pytest.mark.parametrize("class_id", [0, 3, 1.5])
def test_bad_detection_class(class_id):
    with pytest.raises(ValueError, match=r"`detections` class IDs must be integers in \[1, n_cl"):
        evaluate_detections([[0, class_id, 0.5, *A]], {0: _gt([1, *A])}, 2)


def test_bad_ground_truth_class():
    with pytest.raises(ValueError, match=r"`ground_truth` class IDs .* Received: class_id=5$"):
        evaluate_detections([], {0: _gt([5, *A])}, 2)


def test_bad_detection_rows():
    with pytest.raises(ValueError, match=r"`detections` must be rows \[image_id, class_id, conf"):
        evaluate_detections([[0, 1, 0.5, 1, 2, 3]], {0: _gt([1, *A])}, 1)
    with pytest.raises(ValueError, match=r"`detections` must be rows"):
        evaluate_detections(np.zeros((2, 6)), {0: _gt([1, *A])}, 1)


def test_bad_ground_truth_type_and_shape():
    with pytest.raises(TypeError, match=r"`ground_truth` must be a dict .* type list"):
        evaluate_detections([], [_gt([1, *A])], 1)
    with pytest.raises(ValueError, match=r"labels of shape \(1, 4\) for image_id=0"):
        evaluate_detections([], {0: np.zeros((1, 4))}, 1)


def test_bad_eval_neutral():
    with pytest.raises(TypeError, match=r"`eval_neutral` must be None or a dict"):
        evaluate_detections([], {0: _gt([1, *A])}, 1, eval_neutral=[[True]])
    with pytest.raises(ValueError, match=r"one flag per ground-truth box. Received: 2 flags"):
        evaluate_detections([], {0: _gt([1, *A])}, 1, eval_neutral={0: [True, False]})


@pytest.mark.parametrize("value", [0, -2, 1.0, "3", True])
def test_bad_n_classes(value):
    with pytest.raises(ValueError, match=r"`n_classes` must be a positive integer. Received"):
        evaluate_detections([], {}, value)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"average_precision_mode": "area"}, r"average_precision_mode='area'"),
        ({"num_recall_points": 0}, r"num_recall_points=0"),
        ({"matching_iou_threshold": 0}, r"matching_iou_threshold=0"),
        ({"border_pixels": "none"}, r"border_pixels='none'"),
        ({"sorting_algorithm": "bogo"}, r"sorting_algorithm='bogo'"),
    ],
)
def test_bad_options(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        evaluate_detections([], {0: _gt([1, *A])}, 1, **kwargs)
