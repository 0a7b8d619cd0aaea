"""MS COCO evaluation: the ssd_keras `coco_utils` functions and a pycocotools wrapper.

pycocotools is an optional extra (`pip install keras-ssd[coco]`), imported
only by `evaluate_coco`.

Formats:

- COCO results: a list of `{'image_id', 'category_id', 'score', 'bbox': [x, y,
  w, h]}` dicts (the JSON that `predict_all_to_json` writes).
- COCO ground truth: the `instances_*.json` structure, `{'images',
  'annotations', 'categories'}`, as a path or a dict.
- `voc_to_coco` takes the VOC-style formats of `keras_ssd.evaluation.voc`
  (detection rows `[image_id, class_id, conf, xmin, ymin, xmax, ymax]`,
  ground truth `{image_id: (k, 5) array}`) and returns both COCO structures.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os

import numpy as np

from keras_ssd.evaluation.prediction import predict_on_generator
from keras_ssd.evaluation.tables import check_class_ids
from keras_ssd.evaluation.tables import check_n_classes
from keras_ssd.evaluation.tables import detection_table
from keras_ssd.evaluation.tables import ground_truth_table
from keras_ssd.evaluation.tables import image_positions

__all__ = [
    "COCO_METRICS",
    "evaluate_coco",
    "get_coco_category_maps",
    "predict_all_to_json",
    "voc_to_coco",
]

# The 12 numbers of COCOeval.summarize() for boxes, in its order.
COCO_METRICS = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)


def _load_json(source):
    if isinstance(source, (str, os.PathLike)):
        with open(source) as f:
            return json.load(f)
    return source


def get_coco_category_maps(annotations_file):
    """Map COCO's category IDs to consecutive class IDs 1..n (in the file's order).

    Args:
        annotations_file: path of a COCO annotations JSON (or its parsed dict).

    Returns:
        `(cats_to_classes, classes_to_cats, cats_to_names, classes_to_names)`:
        three dicts and a list of names indexed by class ID, 'background' at 0.
    """
    annotations = _load_json(annotations_file)
    if not isinstance(annotations, dict) or "categories" not in annotations:
        raise ValueError(
            "`annotations_file` must be a COCO annotations JSON with a 'categories' list. "
            f"Received: annotations_file={annotations_file!r}"
        )
    cats_to_classes, classes_to_cats, cats_to_names = {}, {}, {}
    classes_to_names = ["background"]
    for class_id, category in enumerate(annotations["categories"], start=1):
        cats_to_classes[category["id"]] = class_id
        classes_to_cats[class_id] = category["id"]
        cats_to_names[category["id"]] = category["name"]
        classes_to_names.append(category["name"])
    return cats_to_classes, classes_to_cats, cats_to_names, classes_to_names


def _json_id(image_id):
    """COCO image IDs are ints; keep other IDs (e.g. str) as they are."""
    if isinstance(image_id, (int, np.integer)):
        return int(image_id)
    if isinstance(image_id, str) and image_id.isdigit():
        return int(image_id)
    return image_id


def _coco_box(xmin, ymin, xmax, ymax, decimals=None) -> list:
    box = [float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin)]
    return [round(v, decimals) for v in box] if decimals is not None else box


def predict_all_to_json(
    out_file,
    model,
    img_height,
    img_width,
    classes_to_cats,
    data_generator,
    batch_size,
    data_generator_mode="resize",
    model_mode="training",
    confidence_thresh=0.01,
    iou_threshold=0.45,
    top_k=200,
    pred_coords="centroids",
    normalize_coords=True,
    verbose=True,
):
    """Predict on a whole dataset and write the detections as a COCO results JSON.

    Each detection becomes `{'image_id', 'category_id': classes_to_cats[class_id],
    'score': conf rounded to 3 decimals, 'bbox': [x, y, w, h] rounded to 0.1}`,
    in the original images' pixels.

    Args:
        out_file: path of the JSON file to write.
        model: a Keras SSD model; `model_mode` says whether its output is raw
            ('training', decoded here) or decoded ('inference', 'inference_fast').
        img_height, img_width: the model's input size.
        classes_to_cats: class ID -> COCO category ID (from `get_coco_category_maps`).
        data_generator: a `DataGenerator` (ground truth not needed).
        batch_size: images per forward pass.
        data_generator_mode: 'resize' or 'pad' (pad to the input aspect ratio first).
        confidence_thresh, iou_threshold, top_k, pred_coords, normalize_coords:
            decoding settings for 'training' mode.
        verbose: show a progress bar.

    Returns:
        The list of result dicts that was written.
    """
    results = []
    for image_id, detections in predict_on_generator(
        model, data_generator, img_height, img_width, batch_size,
        data_generator_mode=data_generator_mode,
        model_mode=model_mode,
        confidence_thresh=confidence_thresh,
        iou_threshold=iou_threshold,
        top_k=top_k,
        pred_coords=pred_coords,
        normalize_coords=normalize_coords,
        verbose=verbose,
    ):
        for class_id, conf, xmin, ymin, xmax, ymax in detections.tolist():
            try:
                category_id = classes_to_cats[int(class_id)]
            except KeyError:
                raise ValueError(
                    f"`classes_to_cats` has no entry for a predicted class. "
                    f"Received: class_id={int(class_id)}"
                ) from None
            results.append(
                {
                    "image_id": _json_id(image_id),
                    "category_id": category_id,
                    "score": round(conf, 3),
                    "bbox": _coco_box(xmin, ymin, xmax, ymax, decimals=1),
                }
            )
    with open(out_file, "w") as f:
        json.dump(results, f)
    return results


def voc_to_coco(detections, ground_truth, n_classes, eval_neutral=None, classes=None):
    """Convert VOC-style detections and ground truth to COCO structures.

    Image IDs that are all ints or digit strings become those ints (as in
    `predict_all_to_json`, so VOC IDs such as '000005' agree); otherwise images
    are numbered 1..N in `ground_truth` order. The original ID is kept as `'file_name'`.
    Evaluation-neutral ("difficult") boxes become `iscrowd=1`, which COCOeval
    ignores (a detection on them is neither TP nor FP).

    Args:
        detections: rows `[image_id, class_id, conf, xmin, ymin, xmax, ymax]`.
        ground_truth: `{image_id: (k, 5) array [class_id, xmin, ymin, xmax, ymax]}`.
        n_classes: number of object classes; categories are 1..n_classes.
        eval_neutral: `{image_id: (k,) bool}` or None.
        classes: category names indexed by class ID ('background' at 0), or None.

    Returns:
        `(coco_ground_truth, coco_results)`: a dict for `evaluate_coco`'s
        `annotations_file` and a list for its `results`.
    """
    n_classes = check_n_classes(n_classes)
    if classes is not None and len(classes) != n_classes + 1:
        raise ValueError(
            f"`classes` must hold n_classes + 1 = {n_classes + 1} names, background first. "
            f"Received: {len(classes)} names"
        )
    image_ids = list(ground_truth)
    gt = ground_truth_table(
        [ground_truth[i] for i in image_ids],
        image_ids,
        None if eval_neutral is None else [eval_neutral.get(i) for i in image_ids],
        n_classes,
    )
    coco_ids = [_json_id(i) for i in image_ids]
    if not all(isinstance(i, int) for i in coco_ids) or len(set(coco_ids)) != len(coco_ids):
        coco_ids = list(range(1, len(image_ids) + 1))
    images = [{"id": coco_id, "file_name": str(i)} for coco_id, i in zip(coco_ids, image_ids)]
    categories = [
        {"id": c, "name": classes[c] if classes is not None else str(c)}
        for c in range(1, n_classes + 1)
    ]
    annotations = []
    for k in range(len(gt.class_id)):
        bbox = _coco_box(*gt.boxes[k])
        annotations.append(
            {
                "id": k + 1,
                "image_id": coco_ids[gt.image[k]],
                "category_id": int(gt.class_id[k]),
                "bbox": bbox,
                "area": bbox[2] * bbox[3],
                "iscrowd": int(gt.neutral[k]),
            }
        )
    ids, values = detection_table(detections)
    positions = image_positions(ids, gt.index)
    class_ids = check_class_ids(values[:, 0], n_classes, "detections")
    results = [
        {
            "image_id": coco_ids[positions[k]],
            "category_id": int(class_ids[k]),
            "score": float(values[k, 1]),
            "bbox": _coco_box(*values[k, 2:6]),
        }
        for k in range(len(ids))
    ]
    coco_gt = {"images": images, "annotations": annotations, "categories": categories}
    return coco_gt, results


def _import_pycocotools():
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as error:
        raise ImportError(
            "COCO evaluation needs pycocotools, an optional extra: "
            "`pip install keras-ssd[coco]` (or `pip install pycocotools`)."
        ) from error
    return COCO, COCOeval


def evaluate_coco(annotations_file, results, image_ids=None, verbose=False) -> dict:
    """Score box detections with pycocotools' COCOeval (`iouType='bbox'`).

    Args:
        annotations_file: COCO ground truth, a JSON path or the parsed dict
            (e.g. from `voc_to_coco`).
        results: COCO results, a JSON path (as written by `predict_all_to_json`)
            or a list of dicts. Empty results score 0.
        image_ids: the images to evaluate; default all images of the ground truth.
        verbose: print pycocotools' logs and summary table.

    Returns:
        The 12 COCO numbers as a dict with the keys of `COCO_METRICS`:
        'AP' (IoU .50:.95), 'AP50', 'AP75', 'APs'/'APm'/'APl' (small, medium,
        large), 'AR1'/'AR10'/'AR100' (max detections), 'ARs'/'ARm'/'ARl'.
        COCOeval reports -1 where an area range has no ground truth.
    """
    COCO, COCOeval = _import_pycocotools()
    dataset = _load_json(annotations_file)
    if not isinstance(dataset, dict) or not {"images", "annotations", "categories"} <= set(
        dataset
    ):
        raise ValueError(
            "`annotations_file` must be COCO ground truth with 'images', 'annotations' and "
            f"'categories'. Received: annotations_file={annotations_file!r:.200}"
        )
    results = _load_json(results)
    if not isinstance(results, list):
        raise ValueError(
            "`results` must be a list of COCO result dicts or the path of one. "
            f"Received: results of type {type(results).__name__}"
        )
    known = {image["id"] for image in dataset["images"]}
    unknown = {r["image_id"] for r in results} - known
    if unknown:
        raise ValueError(
            "Every result's image_id must be an image of the ground truth. "
            f"Received: image_id={sorted(unknown, key=str)[0]!r}"
        )
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(dataset)
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        else:  # loadRes cannot take an empty list
            coco_dt = COCO()
            coco_dt.dataset = {
                "images": list(dataset["images"]),
                "categories": copy.deepcopy(dataset["categories"]),
                "annotations": [],
            }
            coco_dt.createIndex()
        evaluation = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluation.params.imgIds = sorted(known) if image_ids is None else list(image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return dict(zip(COCO_METRICS, (float(v) for v in evaluation.stats)))
