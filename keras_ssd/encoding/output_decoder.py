"""Decode raw SSD predictions into boxes, in NumPy (ssd_keras's `ssd_output_decoder`).

`y_pred` has the "classes + 12" layout of `keras_ssd.layout`: class scores,
predicted offsets, anchors, variances (`(batch, n_boxes, n_classes + 1 + 12)`).
The decoders return one `(k, 6)` float64 array per image, rows
`[class_id, confidence, xmin, ymin, xmax, ymax]` (corners, in pixels when the
predictions are normalised and the image size is given), sorted by confidence,
highest first (ties keep their order). An image with no detection gives a
`(0, 6)` array.

The in-graph versions are the `DecodeDetections`/`DecodeDetectionsFast` layers.
"""

from __future__ import annotations

import numpy as np

from keras_ssd.boxes import border_offset
from keras_ssd.boxes import check_coords
from keras_ssd.boxes import convert_coordinates
from keras_ssd.boxes import decode_offsets
from keras_ssd.boxes import iou
from keras_ssd.layout import ANCHORS
from keras_ssd.layout import CLASSES
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES

__all__ = ["decode_detections", "decode_detections_fast", "greedy_nms"]


def _nms_keep(scores, boxes, iou_threshold, coords, border_pixels) -> np.ndarray:
    """Indices kept by greedy NMS, highest score first (ties: input order).

    Repeatedly keeps the best remaining box and drops the others whose IoU
    with it is > `iou_threshold`.
    """
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        if order.size:
            overlap = iou(boxes[best], boxes[order], coords, "outer_product", border_pixels)[0]
            order = order[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def greedy_nms(y_pred_decoded, iou_threshold=0.45, coords="corners", border_pixels="half"):
    """Class-agnostic greedy non-maximum suppression of decoded detections.

    Args:
        y_pred_decoded: one `(k, 6)` array per image, rows `[class_id,
            confidence, 4 coordinates in coords format]`.
        iou_threshold: boxes whose IoU with a better box is > this are removed.
        coords: 'corners', 'centroids' or 'minmax'.
        border_pixels: 'half', 'include' or 'exclude'.

    Returns:
        A list of `(k_i, 6)` arrays, highest confidence first.
    """
    check_coords(coords)
    border_offset(border_pixels)
    result = []
    for detections in y_pred_decoded:
        detections = np.asarray(detections, dtype=np.float64).reshape(-1, 6)
        keep = _nms_keep(detections[:, 1], detections[:, 2:], iou_threshold, coords, border_pixels)
        result.append(detections[keep].reshape(-1, 6))
    return result


def _check_args(y_pred, top_k, input_coords, normalize_coords, img_height, img_width,
                border_pixels) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    if y_pred.ndim != 3 or y_pred.shape[-1] < 14:
        raise ValueError(
            "`y_pred` must have shape (batch, n_boxes, n_classes + 1 + 12) with at least one "
            f"positive class. Received: y_pred.shape={y_pred.shape}"
        )
    if not (top_k == "all" or (isinstance(top_k, (int, np.integer)) and top_k > 0)):
        raise ValueError(f"`top_k` must be 'all' or a positive integer. Received: top_k={top_k!r}")
    check_coords(input_coords, "input_coords")
    border_offset(border_pixels)
    if normalize_coords and (img_height is None or img_width is None):
        raise ValueError(
            "With `normalize_coords=True` the decoder needs the image size to convert relative "
            "coordinates to pixels. "
            f"Received: img_height={img_height}, img_width={img_width}"
        )
    return y_pred


def _decode_boxes(y_pred, input_coords, normalize_coords, img_height, img_width) -> np.ndarray:
    """`(batch, n_boxes, 4)` float64 corners, in pixels if `normalize_coords`."""
    boxes = decode_offsets(
        y_pred[..., OFFSETS], y_pred[..., ANCHORS], y_pred[..., VARIANCES], input_coords
    )
    if input_coords != "corners":
        boxes = convert_coordinates(boxes, 0, f"{input_coords}2corners")
    if normalize_coords:
        boxes *= np.array([img_width, img_height, img_width, img_height], dtype=np.float64)
    return boxes


def _sorted_top_k(detections: np.ndarray, top_k) -> np.ndarray:
    """Rows sorted by confidence (stable), truncated to `top_k` unless 'all'."""
    detections = detections[np.argsort(-detections[:, 1], kind="stable")]
    return detections if top_k == "all" else detections[:top_k]


def decode_detections(
    y_pred,
    confidence_thresh=0.01,
    iou_threshold=0.45,
    top_k=200,
    input_coords="centroids",
    normalize_coords=True,
    img_height=None,
    img_width=None,
    border_pixels="half",
):
    """Caffe-style decoding: per-class confidence threshold and greedy NMS.

    For every positive class (columns 1..n_classes; column 0 is background),
    boxes with confidence > `confidence_thresh` go through greedy NMS (a box
    is dropped when its IoU with a better box of the same class is >
    `iou_threshold`); the survivors of all classes are sorted by confidence
    and the `top_k` best are kept.

    Args:
        y_pred: `(batch, n_boxes, n_classes + 1 + 12)` raw model output.
        confidence_thresh: minimum confidence, exclusive.
        iou_threshold: NMS overlap limit.
        top_k: detections kept per image, or 'all'.
        input_coords: box format of the model, 'centroids', 'corners' or 'minmax'.
        normalize_coords: whether the model's coordinates are relative; the
            output is then scaled by `img_width`/`img_height`.
        img_height, img_width: image size in pixels (needed if normalised).
        border_pixels: 'half', 'include' or 'exclude', for the NMS IoU.

    Returns:
        A list of `(k_i, 6)` float64 arrays `[class_id, confidence, xmin, ymin,
        xmax, ymax]`, highest confidence first; `(0, 6)` when nothing is found.
    """
    y_pred = _check_args(
        y_pred, top_k, input_coords, normalize_coords, img_height, img_width, border_pixels
    )
    boxes = _decode_boxes(y_pred, input_coords, normalize_coords, img_height, img_width)
    scores = y_pred[..., CLASSES]
    results = []
    for image_scores, image_boxes in zip(scores, boxes):
        above = image_scores[:, 1:] > confidence_thresh  # (n_boxes, n_classes)
        per_class = []
        for class_index in np.nonzero(above.any(axis=0))[0]:  # classes with candidates
            anchors = np.nonzero(above[:, class_index])[0]
            class_scores = image_scores[anchors, class_index + 1].astype(np.float64)
            keep = anchors[
                _nms_keep(class_scores, image_boxes[anchors], iou_threshold, "corners",
                          border_pixels)
            ]
            rows = np.empty((len(keep), 6))
            rows[:, 0] = class_index + 1
            rows[:, 1] = image_scores[keep, class_index + 1]
            rows[:, 2:] = image_boxes[keep]
            per_class.append(rows)
        detections = np.concatenate(per_class) if per_class else np.zeros((0, 6))
        results.append(_sorted_top_k(detections, top_k))
    return results


def decode_detections_fast(
    y_pred,
    confidence_thresh=0.5,
    iou_threshold=0.45,
    top_k="all",
    input_coords="centroids",
    normalize_coords=True,
    img_height=None,
    img_width=None,
    border_pixels="half",
):
    """Fast decoding: one class per box and class-agnostic greedy NMS.

    Each box takes the class with the highest score (background included);
    boxes whose best class is background (column 0) are dropped, then those
    with confidence < `confidence_thresh` (the threshold is inclusive here).
    Greedy NMS runs over all classes together unless `iou_threshold` is
    falsy (0 or None), then the result is sorted and cut to `top_k`.

    Args and Returns: as `decode_detections`.
    """
    y_pred = _check_args(
        y_pred, top_k, input_coords, normalize_coords, img_height, img_width, border_pixels
    )
    boxes = _decode_boxes(y_pred, input_coords, normalize_coords, img_height, img_width)
    scores = y_pred[..., CLASSES]
    class_ids = scores.argmax(axis=-1)
    confidences = np.take_along_axis(scores, class_ids[..., None], axis=-1)[..., 0]
    keep_mask = (class_ids != 0) & (confidences >= confidence_thresh)
    results = []
    for image in range(len(y_pred)):
        kept = np.nonzero(keep_mask[image])[0]
        detections = np.empty((len(kept), 6))
        detections[:, 0] = class_ids[image, kept]
        detections[:, 1] = confidences[image, kept]
        detections[:, 2:] = boxes[image, kept]
        if iou_threshold:
            detections = detections[
                _nms_keep(detections[:, 1], detections[:, 2:], iou_threshold, "corners",
                          border_pixels)
            ].reshape(-1, 6)
        results.append(_sorted_top_k(detections, top_k))
    return results
