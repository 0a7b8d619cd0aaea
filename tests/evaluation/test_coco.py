"""Tests for keras_ssd.evaluation.coco: category maps, VOC->COCO conversion, COCOeval wrapper."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.evaluation.coco import COCO_METRICS
from keras_ssd.evaluation.coco import evaluate_coco
from keras_ssd.evaluation.coco import get_coco_category_maps
from keras_ssd.evaluation.coco import voc_to_coco

CATEGORIES = [
    {"id": 1, "name": "person"},
    {"id": 5, "name": "airplane"},
    {"id": 90, "name": "toothbrush"},
]


@pytest.fixture
def pycocotools():
    return pytest.importorskip("pycocotools", reason="COCO evaluation needs the coco extra")


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def _coco_gt(boxes_per_image):
    """{image_id: [(category_id, [x, y, w, h])]} -> COCO ground truth dict."""
    images, annotations = [], []
    for image_id, boxes in boxes_per_image.items():
        images.append({"id": image_id, "width": 640, "height": 480, "file_name": f"{image_id}.jpg"})
        for category_id, bbox in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": CATEGORIES}


def _results(boxes):
    return [
        {"image_id": i, "category_id": c, "score": s, "bbox": b} for i, c, s, b in boxes
    ]


def test_category_maps_are_consecutive_in_file_order(tmp_path):
    path = _write(tmp_path / "instances.json", _coco_gt({}))
    cats_to_classes, classes_to_cats, cats_to_names, classes_to_names = get_coco_category_maps(
        str(path)
    )
    assert cats_to_classes == {1: 1, 5: 2, 90: 3}
    assert classes_to_cats == {1: 1, 2: 5, 3: 90}
    assert cats_to_names == {1: "person", 5: "airplane", 90: "toothbrush"}
    assert classes_to_names == ["background", "person", "airplane", "toothbrush"]


def test_category_maps_need_categories(tmp_path):
    path = _write(tmp_path / "bad.json", {"images": []})
    with pytest.raises(ValueError, match=r"must be a COCO annotations JSON with a 'categories'"):
        get_coco_category_maps(path)


def test_perfect_detections_score_one(tmp_path, pycocotools):
    gt = _coco_gt(
        {
            1: [(1, [10, 10, 100, 80]), (5, [200, 100, 150, 150])],
            2: [(90, [5, 5, 20, 20]), (1, [300, 200, 60, 200])],
        }
    )
    results = _results(
        [(a["image_id"], a["category_id"], 0.9, a["bbox"]) for a in gt["annotations"]]
    )
    gt_path = _write(tmp_path / "gt.json", gt)
    results_path = _write(tmp_path / "results.json", results)
    metrics = evaluate_coco(str(gt_path), str(results_path))
    assert list(metrics) == list(COCO_METRICS)
    for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"):
        assert metrics[name] == pytest.approx(1.0), name


def test_half_recall_gives_the_101_point_area(pycocotools):
    # One of two boxes found: precision 1 up to recall 0.5 -> 51 of COCO's 101 levels.
    gt = _coco_gt({1: [(1, [0, 0, 100, 100]), (1, [300, 300, 100, 100])]})
    metrics = evaluate_coco(gt, _results([(1, 1, 0.8, [0, 0, 100, 100])]))
    assert_allclose(metrics["AP"], 51 / 101)
    assert_allclose(metrics["AP50"], 51 / 101)
    assert_allclose(metrics["AR100"], 0.5)
    assert metrics["APs"] == -1.0 and metrics["APm"] == -1.0  # no small/medium boxes


def test_iou_0_62_counts_for_three_of_ten_thresholds(pycocotools):
    gt = _coco_gt({1: [(5, [0, 0, 100, 100])]})
    metrics = evaluate_coco(gt, _results([(1, 5, 0.8, [0, 0, 100, 62])]))
    assert_allclose(metrics["AP"], 0.3)
    assert_allclose(metrics["AP50"], 1.0)
    assert_allclose(metrics["AP75"], 0.0)
    assert_allclose(metrics["APl"], 0.3)


def test_empty_results_score_zero(pycocotools):
    metrics = evaluate_coco(_coco_gt({1: [(1, [0, 0, 10, 10])]}), [])
    assert metrics["AP"] == 0.0 and metrics["AR100"] == 0.0


def test_results_for_unknown_images(pycocotools):
    with pytest.raises(ValueError, match=r"image of the ground truth. Received: image_id=7"):
        evaluate_coco(_coco_gt({1: []}), _results([(7, 1, 0.5, [0, 0, 5, 5])]))


def test_bad_ground_truth_and_results(pycocotools):
    with pytest.raises(ValueError, match=r"must be COCO ground truth with 'images'"):
        evaluate_coco({"images": []}, [])
    with pytest.raises(ValueError, match=r"`results` must be a list .* type dict"):
        evaluate_coco(_coco_gt({1: []}), {"image_id": 1})


def test_missing_pycocotools_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycocotools", None)
    monkeypatch.setitem(sys.modules, "pycocotools.coco", None)
    monkeypatch.setitem(sys.modules, "pycocotools.cocoeval", None)
    with pytest.raises(ImportError, match=r"pip install keras-ssd\[coco\]"):
        evaluate_coco(_coco_gt({}), [])


# ---------------------------------------------------------------- VOC-style input


def test_voc_to_coco_structures():
    ground_truth = {
        "000005": np.array([[1, 10, 20, 50, 80], [2, 0, 0, 9, 9]], float),
        "000007": np.zeros((0, 5)),
    }
    eval_neutral = {"000005": [False, True]}
    detections = [["000007", 2, 0.4, 1, 2, 11, 22]]
    coco_gt, results = voc_to_coco(
        detections, ground_truth, 2, eval_neutral=eval_neutral, classes=["bg", "cat", "dog"]
    )
    assert coco_gt["images"] == [
        {"id": 5, "file_name": "000005"},
        {"id": 7, "file_name": "000007"},
    ]
    assert coco_gt["categories"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    first, second = coco_gt["annotations"]
    assert first == {
        "id": 1, "image_id": 5, "category_id": 1, "bbox": [10.0, 20.0, 40.0, 60.0],
        "area": 2400.0, "iscrowd": 0,
    }
    assert second["iscrowd"] == 1 and second["category_id"] == 2
    assert results == [
        {"image_id": 7, "category_id": 2, "score": 0.4, "bbox": [1.0, 2.0, 10.0, 20.0]}
    ]
    json.dumps(coco_gt), json.dumps(results)  # plain JSON types


def test_voc_to_coco_keeps_integer_ids_and_checks_input():
    coco_gt, _ = voc_to_coco([], {3: np.zeros((0, 5)), 11: np.zeros((0, 5))}, 1)
    assert [image["id"] for image in coco_gt["images"]] == [3, 11]
    coco_gt, results = voc_to_coco(
        [["cat_2", 1, 0.5, 0, 0, 1, 1]], {"cat_1": np.zeros((0, 5)), "cat_2": np.zeros((0, 5))}, 1
    )
    assert [image["id"] for image in coco_gt["images"]] == [1, 2]
    assert results[0]["image_id"] == 2
    with pytest.raises(ValueError, match=r"`classes` must hold n_classes \+ 1 = 2 names"):
        voc_to_coco([], {}, 1, classes=["cat"])
    with pytest.raises(ValueError, match=r"`detections` class IDs"):
        voc_to_coco([[3, 2, 0.5, 0, 0, 1, 1]], {3: np.zeros((0, 5))}, 1)


def test_voc_style_dataset_scored_by_cocoeval(pycocotools):
    ground_truth = {
        "a": np.array([[1, 10, 10, 60, 60], [1, 100, 100, 150, 180]], float),
        "b": np.array([[2, 30, 40, 90, 70]], float),
    }
    perfect = [[i, *row] for i, labels in ground_truth.items() for row in labels.tolist()]
    perfect = [[r[0], r[1], 0.9, *r[2:]] for r in perfect]
    metrics = evaluate_coco(*voc_to_coco(perfect, ground_truth, 2))
    assert metrics["AP"] == pytest.approx(1.0)
    # A difficult box (iscrowd) is ignored: a detection on it is no false positive,
    # and missing it costs nothing.
    eval_neutral = {"a": [False, True], "b": [False]}
    on_difficult = [["a", 1, 0.95, 100, 100, 150, 180], *[perfect[0]], perfect[2]]
    metrics = evaluate_coco(
        *voc_to_coco(on_difficult, ground_truth, 2, eval_neutral=eval_neutral)
    )
    assert metrics["AP"] == pytest.approx(1.0)
    # Without the flag the missed box counts: class 1 reaches recall 0.5 (51 of 101
    # levels), class 2 is perfect.
    metrics = evaluate_coco(*voc_to_coco([perfect[0], perfect[2]], ground_truth, 2))
    assert_allclose(metrics["AP"], (51 / 101 + 1.0) / 2)
