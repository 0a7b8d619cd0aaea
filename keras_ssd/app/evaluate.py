"""`keras-ssd evaluate`: Pascal VOC mAP per class (11-point and all-point), plus COCO."""

from __future__ import annotations

import json
import math
import os

__all__ = ["evaluate_command", "evaluate_model", "format_table"]


def _coco_metrics(detections, ground_truth, n_classes, eval_neutral, class_names):
    """The 12 COCO numbers, or None when pycocotools is not installed."""
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        return None
    from keras_ssd.evaluation.coco import evaluate_coco
    from keras_ssd.evaluation.coco import voc_to_coco

    coco_gt, coco_results = voc_to_coco(detections, ground_truth, n_classes, eval_neutral,
                                        classes=list(class_names))
    return evaluate_coco(coco_gt, coco_results)


def evaluate_model(model, data_generator, class_names, model_mode="inference",
                   batch_size: int = 16, coco: bool = True, verbose: bool = True) -> dict:
    """Score a model on a dataset with the VOC metrics (and COCO's, if available).

    Args:
        model: a keras_ssd model; `model_mode` says whether its output is raw
            ('training', decoded here) or decoded ('inference', 'inference_fast').
        data_generator: a parsed `DataGenerator` with labels.
        class_names: names by class id, 'background' first.

    Returns:
        A JSON-ready dict: `mAP_11point` (VOC2007), `mAP_all_point` (VOC2010+),
        `per_class` {name: {AP_11point, AP_all_point, num_gt}}, `coco` (12
        numbers or None) and `n_images`.
    """
    from keras_ssd.evaluation.prediction import predict_on_generator
    from keras_ssd.evaluation.voc import evaluate_detections

    height, width = model.input_shape[1:3]
    n_classes = len(class_names) - 1
    rows = []
    ground_truth, neutral = {}, {}
    ids = data_generator.image_ids or list(range(data_generator.get_dataset_size()))
    for i, image_id in enumerate(ids):
        ground_truth[image_id] = data_generator.labels[i]
        if data_generator.eval_neutral is not None:
            neutral[image_id] = data_generator.eval_neutral[i]
    for image_id, detections in predict_on_generator(
        model, data_generator, height, width, batch_size, model_mode=model_mode,
        verbose=verbose, desc="Predicting",
    ):
        rows += [[image_id, *row] for row in detections]
    results = {
        mode: evaluate_detections(rows, ground_truth, n_classes, neutral or None,
                                  average_precision_mode=mode)
        for mode in ("sample", "integrate")
    }
    eleven, area = results["sample"], results["integrate"]
    per_class = {
        class_names[c]: {
            "AP_11point": _finite(eleven.average_precisions[c]),
            "AP_all_point": _finite(area.average_precisions[c]),
            "num_gt": int(eleven.num_gt_per_class[c]),
        }
        for c in range(1, n_classes + 1)
    }
    return {
        "mAP_11point": float(eleven.mean_average_precision),
        "mAP_all_point": float(area.mean_average_precision),
        "per_class": per_class,
        "coco": _coco_metrics(rows, ground_truth, n_classes, neutral or None, class_names)
        if coco else None,
        "n_images": len(ids),
        "n_detections": len(rows),
    }


def _finite(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def format_table(metrics: dict) -> str:
    """A plain-text table of per-class AP and the means."""
    lines = [f"{'class':<16}{'AP (11-point)':>15}{'AP (all-point)':>16}{'GT boxes':>10}"]
    for name, row in metrics["per_class"].items():
        cells = [("-" if row[k] is None else f"{row[k]:.4f}") for k in ("AP_11point",
                                                                           "AP_all_point")]
        lines.append(f"{name:<16}{cells[0]:>15}{cells[1]:>16}{row['num_gt']:>10}")
    lines.append(f"{'mAP':<16}{metrics['mAP_11point']:>15.4f}{metrics['mAP_all_point']:>16.4f}")
    if metrics.get("coco"):
        coco = metrics["coco"]
        lines.append(f"COCO AP@[.5:.95] {coco['AP']:.4f}  AP50 {coco['AP50']:.4f}  "
                     f"AP75 {coco['AP75']:.4f}")
    return "\n".join(lines)


def _dataset_for(args, class_names, image_size):
    """The dataset to score: --dataset, or the run's validation set."""
    from keras_ssd.app.datasets import load_run_data
    from keras_ssd.app.models import load_run_config
    from keras_ssd.config import TrainConfig

    run = load_run_config(args.run) if args.run else {}
    values = {**run, "classes": list(class_names[1:])}
    if args.dataset is not None:
        values.update(dataset=args.dataset, val_dataset=None, images_dir=args.images_dir,
                      train_split=args.split, val_split=args.split)
    elif not run:
        raise ValueError("Give the dataset to score with --dataset, or a run with --run")
    values.pop("resume", None)
    config = TrainConfig.from_dict({k: v for k, v in values.items() if k != "output_dir"})
    data = load_run_data(config, image_size)
    if args.dataset is not None and not os.path.isdir(args.dataset):
        return data.train  # a COCO/CSV file is scored whole
    if data.val is None:
        raise ValueError(f"The dataset has no '{args.split}' split to score")
    return data.val


def evaluate_command(args):
    from keras_ssd.app.models import model_from_args

    model, class_names = model_from_args(args)
    generator = _dataset_for(args, class_names, model.input_shape[1:3])
    metrics = evaluate_model(model, generator, class_names, batch_size=args.batch_size)
    print(format_table(metrics))
    path = args.output or os.path.join(args.run or ".", "metrics.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    return metrics, path
