"""Evaluation: Pascal VOC mAP (`Evaluator`, `evaluate_detections`) and MS COCO metrics.

The AP building blocks (`match_class`, `precision_recall`, `average_precision`)
live in `keras_ssd.evaluation.average_precision`. NumPy only at import: the
model loop imports the data pipeline when it runs, and `evaluate_coco` imports
pycocotools (the `coco` extra) when called.
"""

from __future__ import annotations

from keras_ssd.evaluation.coco import COCO_METRICS
from keras_ssd.evaluation.coco import evaluate_coco
from keras_ssd.evaluation.coco import get_coco_category_maps
from keras_ssd.evaluation.coco import predict_all_to_json
from keras_ssd.evaluation.coco import voc_to_coco
from keras_ssd.evaluation.voc import EvaluationResult
from keras_ssd.evaluation.voc import Evaluator
from keras_ssd.evaluation.voc import evaluate_detections

__all__ = [
    "COCO_METRICS",
    "EvaluationResult",
    "Evaluator",
    "evaluate_coco",
    "evaluate_detections",
    "get_coco_category_maps",
    "predict_all_to_json",
    "voc_to_coco",
]
