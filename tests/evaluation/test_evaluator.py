"""End-to-end tests of the `Evaluator` and `predict_all_to_json`: real images and VOC XML
on disk, the real `DataGenerator`, real Keras models."""

from __future__ import annotations

import json
import warnings

import cv2
import keras
import numpy as np
import pytest
from keras import ops
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data.generator import DataGenerator
from keras_ssd.encoding.output_decoder import decode_detections
from keras_ssd.evaluation.coco import evaluate_coco
from keras_ssd.evaluation.coco import predict_all_to_json
from keras_ssd.evaluation.coco import voc_to_coco
from keras_ssd.evaluation.voc import Evaluator
from keras_ssd.evaluation.voc import evaluate_detections
from keras_ssd.models.ssd7 import ssd_7

CLASSES = ["background", "cat", "dog"]
HEIGHT, WIDTH = 60, 80  # the oracle model's input size

# Images: id -> (height, width, gray level, [(class name, box, difficult)]).
# The oracle model predicts, in its 60x80 input, a cat at [8, 6, 40, 30] and a dog at
# [40, 30, 72, 54], with confidences gray/255 and gray/510; back in the original images
# those boxes scale by (width / 80, height / 60).
IMAGES = {
    "000001": (120, 160, 200, [("cat", [16, 12, 80, 60], 0), ("dog", [80, 60, 144, 108], 0)]),
    "000002": (30, 40, 100, [("cat", [4, 3, 20, 15], 1)]),
    "000003": (60, 80, 150, [("dog", [0, 0, 20, 20], 0)]),
}
# Cat: ranked 000001 (TP), 000003 (FP: no cat), 000002 (on a difficult box: ignored), 1 box.
# Dog: ranked 000001 (TP), 000003 (FP: wrong place), 000002 (FP), 2 boxes -> recall 0.5.
EXPECTED_SAMPLE = [0.0, 1.0, 6 / 11]
EXPECTED_INTEGRATE = [0.0, 1.0, 0.5]


def _write_voc(root, images, noise=False, seed=0, classes=CLASSES):
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for image_id, (height, width, gray, objects) in images.items():
        pixels = np.full((height, width, 3), gray, np.uint8)
        if noise:
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"{image_id}.png"), pixels)
        objects_xml = "".join(
            f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>"
            f"<xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax>"
            f"<ymax>{box[3]}</ymax></bndbox></object>"
            for name, box, difficult in objects
        )
        (root / "annotations" / f"{image_id}.xml").write_text(
            f"<annotation><filename>{image_id}.png</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{objects_xml}</annotation>"
        )
    (root / "test.txt").write_text("\n".join(images) + "\n")
    generator = DataGenerator()
    generator.parse_xml(
        images_dirs=[str(root / "images")],
        image_set_filenames=[str(root / "test.txt")],
        annotations_dirs=[str(root / "annotations")],
        classes=classes,
        verbose=False,
    )
    return generator


def _oracle_model():
    """'inference'-mode model: a cat and a dog at fixed places, one zero padding row."""

    def detections(x):
        conf = ops.mean(x, axis=(1, 2, 3)) / 255.0
        one, zero = ops.ones_like(conf), ops.zeros_like(conf)
        cat = ops.stack([one, conf, 8 * one, 6 * one, 40 * one, 30 * one], axis=-1)
        dog = ops.stack([2 * one, conf / 2, 40 * one, 30 * one, 72 * one, 54 * one], axis=-1)
        padding = ops.stack([zero] * 6, axis=-1)
        return ops.stack([cat, dog, padding], axis=1)

    inputs = keras.Input((HEIGHT, WIDTH, 3))
    return keras.Model(inputs, keras.layers.Lambda(detections, output_shape=(3, 6))(inputs))


@pytest.fixture(scope="module")
def oracle():
    return _oracle_model()


@pytest.fixture
def dataset(tmp_path):
    return _write_voc(tmp_path / "voc", IMAGES)


def test_evaluator_hand_case(oracle, dataset):
    evaluator = Evaluator(oracle, 2, dataset, model_mode="inference")
    mean_ap, aps, precisions, recalls = evaluator(
        HEIGHT, WIDTH, batch_size=2, return_precisions=True, return_recalls=True,
        return_average_precisions=True, verbose=False,
    )
    assert_allclose(aps, EXPECTED_SAMPLE)
    assert mean_ap == pytest.approx((1 + 6 / 11) / 2)
    assert_allclose(precisions[1], [1.0, 0.5, 0.5])
    assert_allclose(recalls[2], [0.5, 0.5, 0.5])
    assert_array_equal(evaluator.num_gt_per_class, [0, 1, 2])
    assert_array_equal(evaluator.cumulative_true_positives[2], [1, 1, 1])
    assert_array_equal(evaluator.cumulative_false_positives[2], [0, 1, 2])
    # Boxes are back in original-image pixels, grouped per class.
    cats = {p[0]: p[2:] for p in evaluator.prediction_results[1]}
    assert cats == {
        "000001": (16.0, 12.0, 80.0, 60.0),
        "000002": (4.0, 3.0, 20.0, 15.0),
        "000003": (8.0, 6.0, 40.0, 30.0),
    }
    assert evaluator.prediction_results[1][0][1] == pytest.approx(200 / 255, abs=1e-6)


def test_steps_reproduce_the_call_and_match_the_function_form(oracle, dataset):
    evaluator = Evaluator(oracle, 2, dataset)
    evaluator.predict_on_dataset(HEIGHT, WIDTH, 3, verbose=False)
    evaluator.get_num_gt_per_class(ignore_neutral_boxes=False, verbose=False)
    evaluator.match_predictions(ignore_neutral_boxes=False, verbose=False)
    evaluator.compute_precision_recall(verbose=False)
    evaluator.compute_average_precisions(mode="integrate", verbose=False)
    mean_ap = evaluator.compute_mean_average_precision()
    # Counted as an ordinary box, the difficult cat makes the ranking TP, FP, TP.
    assert_allclose(evaluator.average_precisions, [0.0, 0.5 + 0.5 * 2 / 3, 0.5])

    detections = [
        [p[0], class_id, *p[1:]]
        for class_id in (1, 2)
        for p in evaluator.prediction_results[class_id]
    ]
    result = evaluate_detections(
        detections,
        dict(zip(dataset.image_ids, dataset.labels)),
        2,
        average_precision_mode="integrate",
        ignore_neutral_boxes=False,
    )
    assert mean_ap == pytest.approx(result.mean_average_precision)


def test_verbose_and_integrate(oracle, dataset):
    evaluator = Evaluator(oracle, 2, dataset)
    quiet = evaluator(HEIGHT, WIDTH, 3, average_precision_mode="integrate", verbose=False)
    loud = evaluator(HEIGHT, WIDTH, 3, average_precision_mode="integrate", verbose=True)
    assert quiet == loud == pytest.approx(np.mean(EXPECTED_INTEGRATE[1:]))


def test_class_without_predictions_keeps_lists_aligned(oracle, tmp_path):
    images = dict(IMAGES)
    images["000004"] = (60, 80, 10, [("bird", [5, 5, 50, 50], 0)])
    generator = _write_voc(tmp_path / "voc", images, classes=[*CLASSES, "bird"])
    evaluator = Evaluator(oracle, 3, generator)
    aps = evaluator(HEIGHT, WIDTH, 2, return_average_precisions=True, verbose=False)[1]
    assert len(aps) == 4
    assert aps[3] == 0.0  # a bird, never predicted
    assert aps[1] == pytest.approx(1.0)
    assert len(evaluator.cumulative_precisions[3]) == 0


def test_round_confidences_and_txt_files(oracle, dataset, tmp_path):
    evaluator = Evaluator(oracle, 2, dataset)
    evaluator.predict_on_dataset(HEIGHT, WIDTH, 3, round_confidences=2, verbose=False)
    assert evaluator.prediction_results[1][0][1] == 0.78
    prefix = str(tmp_path / "comp3_det_test_")
    evaluator.write_predictions_to_txt(classes=CLASSES, out_file_prefix=prefix, verbose=False)
    lines = (tmp_path / "comp3_det_test_cat.txt").read_text().splitlines()
    assert lines[0] == "000001 0.78 16.0 12.0 80.0 60.0"
    assert len(lines) == 3
    assert (tmp_path / "comp3_det_test_dog.txt").exists()


def test_pad_mode_keeps_boxes_of_images_with_the_input_aspect_ratio(oracle, dataset):
    # All three images have the model's 4:3 aspect ratio: padding adds nothing.
    evaluator = Evaluator(oracle, 2, dataset)
    pad = evaluator(HEIGHT, WIDTH, 2, data_generator_mode="pad", verbose=False)
    assert pad == pytest.approx((1 + 6 / 11) / 2)


def test_training_mode_decodes_like_decode_detections(tmp_path):
    images = {
        "a": (64, 96, 0, [("cat", [10, 10, 50, 40], 0), ("dog", [40, 20, 90, 60], 0)]),
        "b": (80, 64, 0, [("dog", [5, 5, 60, 70], 1), ("cat", [30, 30, 50, 50], 0)]),
    }
    generator = _write_voc(tmp_path / "voc", images, noise=True)
    keras.utils.set_random_seed(1)
    model = ssd_7((64, 64, 3), n_classes=2, mode="training")
    # Small weights: near-uniform scores and boxes near their anchors, no exact ties.
    model.set_weights([w * 0.2 for w in model.get_weights()])
    decoding = dict(confidence_thresh=0.3, iou_threshold=0.45, top_k=20)
    evaluator = Evaluator(model, 2, generator, model_mode="training")
    mean_ap = evaluator(
        64, 64, 2, decoding_normalize_coords=False, verbose=False, sorting_algorithm="mergesort",
        decoding_confidence_thresh=decoding["confidence_thresh"],
        decoding_iou_threshold=decoding["iou_threshold"], decoding_top_k=decoding["top_k"],
    )

    # The same by hand: load, resize, predict, decode, scale back, round, evaluate.
    batch, sizes = [], []
    for image_id in images:
        pixels = cv2.cvtColor(
            cv2.imread(str(tmp_path / "voc" / "images" / f"{image_id}.png")), cv2.COLOR_BGR2RGB
        )
        sizes.append(pixels.shape[:2])
        batch.append(cv2.resize(pixels, (64, 64), interpolation=cv2.INTER_LINEAR))
    decoded = decode_detections(
        np.asarray(model.predict_on_batch(np.stack(batch))), **decoding, normalize_coords=False,
        img_height=64, img_width=64, border_pixels="include",
    )
    rows = []
    for image_id, (height, width), detections in zip(images, sizes, decoded):
        scale = np.array([width / 64, height / 64, width / 64, height / 64])
        for class_id, conf, *box in np.reshape(detections, (-1, 6)).tolist():
            rows.append([image_id, int(class_id), conf, *np.round(np.array(box) * scale, 1)])
    assert len(rows) > 10, "the model should produce detections"
    for class_id in (1, 2):
        got = sorted(evaluator.prediction_results[class_id])
        want = sorted((r[0], r[2], *r[3:]) for r in rows if r[1] == class_id)
        assert [g[0] for g in got] == [w[0] for w in want]
        assert_allclose([g[1:] for g in got], [w[1:] for w in want], rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = evaluate_detections(
            rows, dict(zip(generator.image_ids, generator.labels)), 2,
            eval_neutral=dict(zip(generator.image_ids, generator.eval_neutral)),
            sorting_algorithm="mergesort",
        )
    assert_allclose(mean_ap, expected.mean_average_precision, atol=1e-6)
    for class_id in (1, 2):
        assert_allclose(evaluator.cumulative_precisions[class_id], expected.precisions[class_id])


def test_predict_all_to_json_and_cocoeval(oracle, dataset, tmp_path):
    pytest.importorskip("pycocotools", reason="COCO evaluation needs the coco extra")
    out_file = tmp_path / "results.json"
    classes_to_cats = {1: 17, 2: 18}
    results = predict_all_to_json(
        str(out_file), oracle, HEIGHT, WIDTH, classes_to_cats, dataset, batch_size=2,
        model_mode="inference", verbose=False,
    )
    assert json.loads(out_file.read_text()) == results
    assert len(results) == 6
    first = results[0]
    assert first == {
        "image_id": 1, "category_id": 17, "score": round(200 / 255, 3),
        "bbox": [16.0, 12.0, 64.0, 48.0],
    }
    # Pad mode (a TypeError in ssd_keras) gives the same boxes for these 4:3 images.
    padded = predict_all_to_json(
        str(tmp_path / "padded.json"), oracle, HEIGHT, WIDTH, classes_to_cats, dataset, 3,
        data_generator_mode="pad", model_mode="inference", verbose=False,
    )
    assert padded == results

    # Score the VOC-style data set with COCOeval: back to class IDs 1, 2.
    ground_truth = dict(zip(dataset.image_ids, dataset.labels))
    eval_neutral = dict(zip(dataset.image_ids, dataset.eval_neutral))
    coco_gt, _ = voc_to_coco([], ground_truth, 2, eval_neutral=eval_neutral, classes=CLASSES)
    cats_to_classes = {17: 1, 18: 2}
    for r in results:
        r["category_id"] = cats_to_classes[r["category_id"]]
    metrics = evaluate_coco(coco_gt, results)
    # Cat: the only (non-crowd) box found first -> AP 1; dog: 1 of 2 boxes -> 51/101.
    assert metrics["AP50"] == pytest.approx((1.0 + 51 / 101) / 2)


# ---------------------------------------------------------------- bad input


def test_bad_constructor_arguments(oracle, dataset):
    with pytest.raises(ValueError, match=r"`model_mode` must be one of .* model_mode='eval'"):
        Evaluator(oracle, 2, dataset, model_mode="eval")
    with pytest.raises(ValueError, match=r"`n_classes` must be a positive integer. Received"):
        Evaluator(oracle, 0, dataset)
    with pytest.raises(TypeError, match=r"`data_generator` must be a `DataGenerator`.*list"):
        Evaluator(oracle, 2, [])
    with pytest.raises(ValueError, match=r"`pred_format` must be a dict with the keys"):
        Evaluator(oracle, 2, dataset, pred_format={"conf": 1})
    with pytest.raises(ValueError, match=r"`gt_format` must be a dict with the keys"):
        Evaluator(oracle, 2, dataset, gt_format={"class_id": 0})


def test_steps_out_of_order(oracle, dataset):
    evaluator = Evaluator(oracle, 2, dataset)
    with pytest.raises(ValueError, match=r"`prediction_results` is not set: call `predict_on"):
        evaluator.match_predictions()
    with pytest.raises(ValueError, match=r"call `match_predictions\(\)` first"):
        evaluator.compute_precision_recall()
    with pytest.raises(ValueError, match=r"call `compute_precision_recall\(\)` first"):
        evaluator.compute_average_precisions()
    with pytest.raises(ValueError, match=r"call `compute_average_precisions\(\)` first"):
        evaluator.compute_mean_average_precision()


def test_bad_call_arguments(oracle, dataset):
    evaluator = Evaluator(oracle, 2, dataset)
    with pytest.raises(ValueError, match=r"data_generator_mode='crop'"):
        evaluator(HEIGHT, WIDTH, 2, data_generator_mode="crop", verbose=False)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer"):
        evaluator(HEIGHT, WIDTH, 0, verbose=False)
    with pytest.raises(ValueError, match=r"`round_confidences` must be False or a non-negative"):
        evaluator(HEIGHT, WIDTH, 2, round_confidences=-1, verbose=False)
    with pytest.raises(ValueError, match=r"average_precision_mode='voc'"):
        evaluator(HEIGHT, WIDTH, 2, average_precision_mode="voc", verbose=False)
    with pytest.raises(ValueError, match=r"predictions` class IDs must be integers in \[1, n_cl"):
        Evaluator(oracle, 1, dataset)(HEIGHT, WIDTH, 2, verbose=False)
