"""`keras-ssd demo`: the main job, end to end on the generated shapes dataset.

Trains an SSD7, evaluates it on the held-out split (VOC mAP, and COCO numbers
when pycocotools is installed), and writes the weights, the metrics, the loss
curve and a picture of detections into the run directory.
"""

from __future__ import annotations

import json
import os
import time

__all__ = ["run_demo"]


def run_demo(config) -> dict:
    """Train, evaluate and draw; returns a summary (also written to summary.json)."""
    from keras_ssd.app.datasets import load_run_data
    from keras_ssd.app.evaluate import evaluate_model
    from keras_ssd.app.evaluate import format_table
    from keras_ssd.app.models import restore_detector
    from keras_ssd.app.predict import detection_grid
    from keras_ssd.app.train import resolve_image_size
    from keras_ssd.app.train import run_training
    from keras_ssd.cli import DEMO_IMAGE

    start = time.perf_counter()
    result = run_training(config)
    train_seconds = time.perf_counter() - start

    image_size = resolve_image_size(config)
    data = load_run_data(config, image_size)
    model, _ = restore_detector(config.model, data.n_classes, image_size, result.final_weights,
                                mode="inference")
    metrics = evaluate_model(model, data.val, data.class_names)
    print(format_table(metrics))
    run_dir = result.run_dir
    with open(os.path.join(run_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    picture = detection_grid(model, data.val, data.class_names, os.path.join(run_dir, DEMO_IMAGE))
    summary = {
        "run_dir": run_dir,
        "weights": result.final_weights,
        "picture": picture,
        "loss_curve": os.path.join(run_dir, "loss.png"),
        "mAP_11point": round(metrics["mAP_11point"], 4),
        "mAP_all_point": round(metrics["mAP_all_point"], 4),
        "coco_AP": None if metrics["coco"] is None else round(metrics["coco"]["AP"], 4),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    with open(os.path.join(run_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary
