"""Pascal VOC mAP: the ssd_keras `Evaluator`, and `evaluate_detections` for detections you have.

Formats:

- A detection is a row `[image_id, class_id, conf, xmin, ymin, xmax, ymax]`
  (absolute pixels, corners); `image_id` may be an int or a str.
- Ground truth is `{image_id: (k, 5) array [class_id, xmin, ymin, xmax, ymax]}`
  with an entry (possibly empty) for every image; `eval_neutral` is
  `{image_id: (k,) bool}`, True for "difficult" boxes.
- Class 0 is the background; object classes are `1..n_classes`. Per-class
  results are indexed by class ID, with a dummy entry at index 0, as in ssd_keras.

A class without ground truth has no recall, so its AP is undefined: it is
reported as NaN, left out of the mean, and a warning names it. A class with
ground truth but no detections has AP 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from keras_ssd.boxes import border_offset
from keras_ssd.evaluation.average_precision import AVERAGE_PRECISION_MODES
from keras_ssd.evaluation.average_precision import average_precision
from keras_ssd.evaluation.average_precision import check_matching_iou_threshold
from keras_ssd.evaluation.average_precision import check_sorting_algorithm
from keras_ssd.evaluation.average_precision import match_class
from keras_ssd.evaluation.average_precision import mean_average_precision
from keras_ssd.evaluation.average_precision import precision_recall
from keras_ssd.evaluation.prediction import DEFAULT_PRED_FORMAT
from keras_ssd.evaluation.prediction import MODEL_MODES
from keras_ssd.evaluation.prediction import check_format
from keras_ssd.evaluation.prediction import predict_on_generator
from keras_ssd.evaluation.tables import GroundTruth
from keras_ssd.evaluation.tables import check_class_ids
from keras_ssd.evaluation.tables import check_n_classes
from keras_ssd.evaluation.tables import detection_table
from keras_ssd.evaluation.tables import ground_truth_table
from keras_ssd.evaluation.tables import image_positions

__all__ = ["EvaluationResult", "Evaluator", "evaluate_detections"]

DEFAULT_GT_FORMAT = {"class_id": 0, "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}
_GT_COLUMNS = ("class_id", "xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class EvaluationResult:
    """Pascal VOC evaluation of one set of detections.

    Attributes:
        mean_average_precision: mean AP over the classes that have ground truth.
        average_precisions: `(n_classes + 1,)` AP per class ID; index 0 is a
            0.0 dummy; NaN for a class without ground truth.
        precisions: per class ID, the `(n_c,)` cumulative precisions along the
            confidence ranking (index 0: empty).
        recalls: per class ID, the `(n_c,)` cumulative recalls (NaN without GT).
        num_gt_per_class: `(n_classes + 1,)` int, the ground-truth boxes that
            count (difficult ones excluded when they are ignored).
        true_positives: per class ID, `(n_c,)` int 0/1 along the ranking.
        false_positives: per class ID, `(n_c,)` int 0/1 along the ranking.
    """

    mean_average_precision: float
    average_precisions: np.ndarray
    precisions: list
    recalls: list
    num_gt_per_class: np.ndarray
    true_positives: list
    false_positives: list


def _check_options(
    matching_iou_threshold, border_pixels, sorting_algorithm, average_precision_mode,
    num_recall_points,
):
    check_matching_iou_threshold(matching_iou_threshold)
    border_offset(border_pixels)
    check_sorting_algorithm(sorting_algorithm)
    if average_precision_mode not in AVERAGE_PRECISION_MODES:
        raise ValueError(
            f"`average_precision_mode` must be one of {AVERAGE_PRECISION_MODES}. "
            f"Received: average_precision_mode={average_precision_mode!r}"
        )
    if (
        isinstance(num_recall_points, bool)
        or not isinstance(num_recall_points, (int, np.integer))
        or num_recall_points < 1
    ):
        raise ValueError(
            "`num_recall_points` must be a positive integer. "
            f"Received: num_recall_points={num_recall_points!r}"
        )


def _num_gt_per_class(gt: GroundTruth, n_classes: int, ignore_neutral_boxes: bool) -> np.ndarray:
    counted = ~gt.neutral if ignore_neutral_boxes else np.ones(len(gt.neutral), bool)
    return np.bincount(gt.class_id[counted], minlength=n_classes + 1).astype(np.int64)


def _match_all(
    gt: GroundTruth, det_image, det_class, det_values, n_classes, ignore_neutral_boxes,
    matching_iou_threshold, border_pixels, sorting_algorithm, verbose,
):
    """Per class ID (dummy at 0): ranked TP and FP arrays (int 0/1)."""
    true_positives, false_positives = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    neutral = gt.neutral if ignore_neutral_boxes else np.zeros_like(gt.neutral)
    # Group by class once (a stable sort keeps the input order within a class, which
    # decides confidence ties), then take each class as a slice.
    det_order = np.argsort(det_class, kind="stable")
    det_bounds = np.searchsorted(det_class[det_order], np.arange(1, n_classes + 2))
    det_image, det_values = det_image[det_order], det_values[det_order]
    gt_order = np.argsort(gt.class_id, kind="stable")
    gt_bounds = np.searchsorted(gt.class_id[gt_order], np.arange(1, n_classes + 2))
    gt_image, gt_boxes, neutral = gt.image[gt_order], gt.boxes[gt_order], neutral[gt_order]
    for class_id in tqdm(
        range(1, n_classes + 1), desc="Matching predictions to ground truth", disable=not verbose
    ):
        pred = slice(det_bounds[class_id - 1], det_bounds[class_id])
        truth = slice(gt_bounds[class_id - 1], gt_bounds[class_id])
        match = match_class(
            det_image[pred], det_values[pred, 0], det_values[pred, 1:5],
            gt_image[truth], gt_boxes[truth], neutral[truth],
            matching_iou_threshold=matching_iou_threshold,
            border_pixels=border_pixels,
            sorting_algorithm=sorting_algorithm,
        )
        true_positives.append(match.true_positives.astype(np.int64))
        false_positives.append(match.false_positives.astype(np.int64))
    return true_positives, false_positives


def _precisions_recalls(true_positives, false_positives, num_gt_per_class):
    precisions, recalls = [np.zeros(0)], [np.zeros(0)]
    for class_id in range(1, len(num_gt_per_class)):
        p, r = precision_recall(
            true_positives[class_id], false_positives[class_id], int(num_gt_per_class[class_id])
        )
        precisions.append(p)
        recalls.append(r)
    return precisions, recalls


def _average_precisions(precisions, recalls, num_gt_per_class, mode, num_recall_points):
    """AP per class ID (0.0 dummy at 0); NaN, with a warning, for classes without GT."""
    aps = np.zeros(len(precisions))
    for class_id in range(1, len(precisions)):
        aps[class_id] = (
            np.nan if num_gt_per_class[class_id] == 0
            else average_precision(
                precisions[class_id], recalls[class_id], mode=mode,
                num_recall_points=num_recall_points,
            )
        )
    missing = [c for c in range(1, len(aps)) if np.isnan(aps[c])]
    if missing:
        warnings.warn(
            f"Classes {missing} have no ground truth: their AP is NaN and they are left out of "
            "the mean average precision.",
            stacklevel=3,
        )
    return aps


def evaluate_detections(
    detections,
    ground_truth,
    n_classes,
    eval_neutral=None,
    matching_iou_threshold=0.5,
    border_pixels="include",
    average_precision_mode="sample",
    num_recall_points=11,
    ignore_neutral_boxes=True,
    sorting_algorithm="quicksort",
    verbose=False,
) -> EvaluationResult:
    """Pascal VOC mAP of detections you already have, from any model.

    Args:
        detections: rows `[image_id, class_id, conf, xmin, ymin, xmax, ymax]`
            (a list of sequences, or an `(n, 7)` numeric array).
        ground_truth: `{image_id: (k, 5) array [class_id, xmin, ymin, xmax, ymax]}`,
            one entry per image (empty for images without objects).
        n_classes: number of object classes (without the background).
        eval_neutral: `{image_id: (k,) bool}`, True for "difficult" boxes; a
            missing image means none.
        matching_iou_threshold: minimum IoU (inclusive) for a TP.
        border_pixels: 'include' (+1 pixel, the VOC devkit), 'half' or 'exclude'.
        average_precision_mode: 'sample' (VOC2007 with 11 points) or
            'integrate' (VOC2010+ area under the precision envelope).
        num_recall_points: recall levels for 'sample'.
        ignore_neutral_boxes: make difficult boxes neither TP nor FP and leave
            them out of the GT count; False treats them as ordinary boxes.
        sorting_algorithm: `np.argsort` kind for the confidence ranking
            ('mergesort' is stable, as the Matlab devkit's sort).
        verbose: show a progress bar over the classes.

    Returns:
        An `EvaluationResult`.
    """
    n_classes = check_n_classes(n_classes)
    _check_options(
        matching_iou_threshold, border_pixels, sorting_algorithm, average_precision_mode,
        num_recall_points,
    )
    if not isinstance(ground_truth, Mapping):
        raise TypeError(
            "`ground_truth` must be a dict {image_id: (k, 5) array}. "
            f"Received: ground_truth of type {type(ground_truth).__name__}"
        )
    if eval_neutral is not None and not isinstance(eval_neutral, Mapping):
        raise TypeError(
            "`eval_neutral` must be None or a dict {image_id: (k,) bool array}. "
            f"Received: eval_neutral of type {type(eval_neutral).__name__}"
        )
    image_ids = list(ground_truth)
    gt = ground_truth_table(
        [ground_truth[i] for i in image_ids],
        image_ids,
        None if eval_neutral is None else [eval_neutral.get(i) for i in image_ids],
        n_classes,
    )
    ids, values = detection_table(detections)
    det_image = image_positions(ids, gt.index)
    det_class = check_class_ids(values[:, 0], n_classes, "detections")
    num_gt = _num_gt_per_class(gt, n_classes, ignore_neutral_boxes)
    true_positives, false_positives = _match_all(
        gt, det_image, det_class, values[:, 1:], n_classes, ignore_neutral_boxes,
        matching_iou_threshold, border_pixels, sorting_algorithm, verbose,
    )
    precisions, recalls = _precisions_recalls(true_positives, false_positives, num_gt)
    aps = _average_precisions(
        precisions, recalls, num_gt, average_precision_mode, num_recall_points
    )
    return EvaluationResult(
        mean_average_precision=mean_average_precision(aps[1:]),
        average_precisions=aps,
        precisions=precisions,
        recalls=recalls,
        num_gt_per_class=num_gt,
        true_positives=true_positives,
        false_positives=false_positives,
    )


class Evaluator:
    """Pascal VOC mAP of a model on a dataset (the ssd_keras API).

    Call it for the whole evaluation, or run its steps in order:
    `predict_on_dataset`, `get_num_gt_per_class`, `match_predictions`,
    `compute_precision_recall`, `compute_average_precisions`,
    `compute_mean_average_precision`. Each step stores its result in an
    attribute (per-class lists with a dummy entry at index 0):
    `prediction_results` (per class, tuples `(image_id, conf, xmin, ymin, xmax,
    ymax)` in original image pixels), `num_gt_per_class`, `true_positives`,
    `false_positives`, `cumulative_true_positives`, `cumulative_false_positives`,
    `cumulative_precisions`, `cumulative_recalls`, `average_precisions`,
    `mean_average_precision`.

    Args:
        model: a Keras SSD model.
        n_classes: number of object classes (without the background).
        data_generator: a `DataGenerator` with `labels` (and optionally
            `image_ids`, `eval_neutral`).
        model_mode: 'training' (raw output, decoded here), 'inference' or
            'inference_fast' (decoded output).
        pred_format: column of each field in the decoded rows; default
            `{'class_id': 0, 'conf': 1, 'xmin': 2, 'ymin': 3, 'xmax': 4, 'ymax': 5}`.
        gt_format: column of each field in the labels; default
            `{'class_id': 0, 'xmin': 1, 'ymin': 2, 'xmax': 3, 'ymax': 4}`.
    """

    def __init__(
        self,
        model,
        n_classes,
        data_generator,
        model_mode="inference",
        pred_format=None,
        gt_format=None,
    ):
        if not hasattr(data_generator, "generate"):
            raise TypeError(
                "`data_generator` must be a `DataGenerator`. "
                f"Received: data_generator of type {type(data_generator).__name__}"
            )
        if model_mode not in MODEL_MODES:
            raise ValueError(
                f"`model_mode` must be one of {MODEL_MODES}. Received: model_mode={model_mode!r}"
            )
        self.model = model
        self.n_classes = check_n_classes(n_classes)
        self.data_generator = data_generator
        self.model_mode = model_mode
        self.pred_format = dict(DEFAULT_PRED_FORMAT if pred_format is None else pred_format)
        self.gt_format = dict(DEFAULT_GT_FORMAT if gt_format is None else gt_format)
        check_format(self.pred_format, tuple(DEFAULT_PRED_FORMAT), "pred_format")
        check_format(self.gt_format, _GT_COLUMNS, "gt_format")

        self.prediction_results = None
        self.num_gt_per_class = None
        self.true_positives = None
        self.false_positives = None
        self.cumulative_true_positives = None
        self.cumulative_false_positives = None
        self.cumulative_precisions = None
        self.cumulative_recalls = None
        self.average_precisions = None
        self.mean_average_precision = None

    def __call__(
        self,
        img_height,
        img_width,
        batch_size,
        data_generator_mode="resize",
        round_confidences=False,
        matching_iou_threshold=0.5,
        border_pixels="include",
        sorting_algorithm="quicksort",
        average_precision_mode="sample",
        num_recall_points=11,
        ignore_neutral_boxes=True,
        return_precisions=False,
        return_recalls=False,
        return_average_precisions=False,
        verbose=True,
        decoding_confidence_thresh=0.01,
        decoding_iou_threshold=0.45,
        decoding_top_k=200,
        decoding_pred_coords="centroids",
        decoding_normalize_coords=True,
    ):
        """Run every step; return the mAP, or `[mAP, APs?, precisions?, recalls?]`.

        The list is returned when any `return_*` flag is set and holds the
        requested items in that order. `border_pixels` is also used to decode
        in 'training' mode. See `evaluate_detections` for the matching options.
        """
        _check_options(
            matching_iou_threshold, border_pixels, sorting_algorithm, average_precision_mode,
            num_recall_points,
        )
        self.predict_on_dataset(
            img_height, img_width, batch_size,
            data_generator_mode=data_generator_mode,
            decoding_confidence_thresh=decoding_confidence_thresh,
            decoding_iou_threshold=decoding_iou_threshold,
            decoding_top_k=decoding_top_k,
            decoding_pred_coords=decoding_pred_coords,
            decoding_normalize_coords=decoding_normalize_coords,
            decoding_border_pixels=border_pixels,
            round_confidences=round_confidences,
            verbose=verbose,
        )
        self.get_num_gt_per_class(ignore_neutral_boxes=ignore_neutral_boxes, verbose=False)
        self.match_predictions(
            ignore_neutral_boxes=ignore_neutral_boxes,
            matching_iou_threshold=matching_iou_threshold,
            border_pixels=border_pixels,
            sorting_algorithm=sorting_algorithm,
            verbose=verbose,
        )
        self.compute_precision_recall(verbose=verbose)
        self.compute_average_precisions(
            mode=average_precision_mode, num_recall_points=num_recall_points, verbose=verbose
        )
        mean_ap = self.compute_mean_average_precision()
        if not (return_precisions or return_recalls or return_average_precisions):
            return mean_ap
        out = [mean_ap]
        if return_average_precisions:
            out.append(self.average_precisions)
        if return_precisions:
            out.append(self.cumulative_precisions)
        if return_recalls:
            out.append(self.cumulative_recalls)
        return out

    def predict_on_dataset(
        self,
        img_height,
        img_width,
        batch_size,
        data_generator_mode="resize",
        decoding_confidence_thresh=0.01,
        decoding_iou_threshold=0.45,
        decoding_top_k=200,
        decoding_pred_coords="centroids",
        decoding_normalize_coords=True,
        decoding_border_pixels="include",
        round_confidences=False,
        verbose=True,
        ret=False,
    ):
        """Predict on the whole dataset and store the detections per class.

        Boxes are mapped back to the original images and rounded to 0.1 pixel;
        confidences are rounded to `round_confidences` decimals when it is an int.
        """
        if round_confidences is not False and (
            isinstance(round_confidences, bool) or not isinstance(round_confidences, int)
            or round_confidences < 0
        ):
            raise ValueError(
                "`round_confidences` must be False or a non-negative integer. "
                f"Received: round_confidences={round_confidences!r}"
            )
        results = [[] for _ in range(self.n_classes + 1)]
        for image_id, detections in predict_on_generator(
            self.model, self.data_generator, img_height, img_width, batch_size,
            data_generator_mode=data_generator_mode,
            model_mode=self.model_mode,
            confidence_thresh=decoding_confidence_thresh,
            iou_threshold=decoding_iou_threshold,
            top_k=decoding_top_k,
            pred_coords=decoding_pred_coords,
            normalize_coords=decoding_normalize_coords,
            border_pixels=decoding_border_pixels,
            pred_format=self.pred_format,
            verbose=verbose,
        ):
            class_ids = check_class_ids(detections[:, 0], self.n_classes, "predictions")
            conf = detections[:, 1]
            if round_confidences is not False:
                conf = np.round(conf, round_confidences)
            boxes = np.round(detections[:, 2:6], 1)
            for class_id, c, box in zip(class_ids.tolist(), conf.tolist(), boxes.tolist()):
                results[class_id].append((image_id, c, *box))
        self.prediction_results = results
        return results if ret else None

    def write_predictions_to_txt(
        self, classes=None, out_file_prefix="comp3_det_test_", verbose=True
    ):
        """Write one Pascal VOC results file per class: `<prefix><class name>.txt`.

        Each line is `image_id conf xmin ymin xmax ymax`; integer image IDs
        (and digit strings) are written as 6 digits, as the devkit expects.

        Args:
            classes: class names indexed by class ID (index 0 the background);
                None uses the class IDs.
            out_file_prefix: path prefix of the files.
            verbose: show a progress bar.
        """
        self._require("prediction_results", "predict_on_dataset")
        if classes is not None and len(classes) != self.n_classes + 1:
            raise ValueError(
                f"`classes` must hold n_classes + 1 = {self.n_classes + 1} names, background "
                f"first. Received: {len(classes)} names"
            )
        for class_id in tqdm(
            range(1, self.n_classes + 1), desc="Writing predictions", disable=not verbose
        ):
            name = classes[class_id] if classes is not None else class_id
            with open(f"{out_file_prefix}{name}.txt", "w") as f:
                for image_id, conf, xmin, ymin, xmax, ymax in self.prediction_results[class_id]:
                    if isinstance(image_id, (int, np.integer)) or str(image_id).isdigit():
                        image_id = f"{int(image_id):06d}"
                    f.write(f"{image_id} {round(conf, 4)} {xmin} {ymin} {xmax} {ymax}\n")

    def _require(self, attribute: str, step: str):
        if getattr(self, attribute) is None:
            raise ValueError(f"`{attribute}` is not set: call `{step}()` first.")

    def _ground_truth(self) -> GroundTruth:
        labels = self.data_generator.labels
        if labels is None:
            raise ValueError("The data generator has no ground-truth labels to evaluate against.")
        image_ids = self.data_generator.image_ids
        if image_ids is None:  # predict_on_generator uses the dataset positions then
            image_ids = list(range(len(labels)))
        columns = check_format(self.gt_format, _GT_COLUMNS, "gt_format")
        return ground_truth_table(
            labels, list(image_ids), self.data_generator.eval_neutral, self.n_classes, columns
        )

    def get_num_gt_per_class(self, ignore_neutral_boxes=True, verbose=True, ret=False):
        """Count the ground-truth boxes per class, difficult ones left out when ignored."""
        gt = self._ground_truth()
        self.num_gt_per_class = _num_gt_per_class(gt, self.n_classes, ignore_neutral_boxes)
        return self.num_gt_per_class if ret else None

    def match_predictions(
        self,
        ignore_neutral_boxes=True,
        matching_iou_threshold=0.5,
        border_pixels="include",
        sorting_algorithm="quicksort",
        verbose=True,
        ret=False,
    ):
        """Rank each class's predictions and mark them TP / FP (VOC devkit rules).

        Returns, when `ret`: `(true_positives, false_positives,
        cumulative_true_positives, cumulative_false_positives)`.
        """
        self._require("prediction_results", "predict_on_dataset")
        check_matching_iou_threshold(matching_iou_threshold)
        border_offset(border_pixels)
        check_sorting_algorithm(sorting_algorithm)
        gt = self._ground_truth()
        ids, rows, classes = [], [], []
        for class_id in range(1, self.n_classes + 1):
            predictions = self.prediction_results[class_id]
            ids.extend(p[0] for p in predictions)
            rows.append(np.asarray([p[1:] for p in predictions], np.float64).reshape(-1, 5))
            classes.append(np.full(len(predictions), class_id, np.int64))
        tp, fp = _match_all(
            gt, image_positions(ids, gt.index), np.concatenate(classes), np.concatenate(rows),
            self.n_classes, ignore_neutral_boxes, matching_iou_threshold, border_pixels,
            sorting_algorithm, verbose,
        )
        self.true_positives, self.false_positives = tp, fp
        self.cumulative_true_positives = [np.cumsum(t) for t in tp]
        self.cumulative_false_positives = [np.cumsum(f) for f in fp]
        if ret:
            return (
                self.true_positives, self.false_positives,
                self.cumulative_true_positives, self.cumulative_false_positives,
            )
        return None

    def compute_precision_recall(self, verbose=True, ret=False):
        """Cumulative precision TP/(TP+FP) and recall TP/num_gt per class."""
        self._require("true_positives", "match_predictions")
        self._require("num_gt_per_class", "get_num_gt_per_class")
        precisions, recalls = _precisions_recalls(
            self.true_positives, self.false_positives, self.num_gt_per_class
        )
        self.cumulative_precisions, self.cumulative_recalls = precisions, recalls
        return (precisions, recalls) if ret else None

    def compute_average_precisions(
        self, mode="sample", num_recall_points=11, verbose=True, ret=False
    ):
        """AP per class: 'sample' (VOC2007 11-point) or 'integrate' (VOC2010+)."""
        self._require("cumulative_precisions", "compute_precision_recall")
        aps = _average_precisions(
            self.cumulative_precisions, self.cumulative_recalls, self.num_gt_per_class, mode,
            num_recall_points,
        )
        self.average_precisions = aps
        return aps if ret else None

    def compute_mean_average_precision(self, ret=True):
        """Mean AP over the classes with ground truth (NaN APs left out)."""
        self._require("average_precisions", "compute_average_precisions")
        self.mean_average_precision = mean_average_precision(self.average_precisions[1:])
        return self.mean_average_precision if ret else None
