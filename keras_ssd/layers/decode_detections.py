"""`DecodeDetections`, `DecodeDetectionsFast`: in-graph decoding and NMS of SSD predictions.

Both layers turn the model's `(batch, n_boxes, n_classes + 1 + 12)` prediction tensor (layout in
`keras_ssd.layout`) into a fixed-size `(batch, top_k, 6)` detection tensor whose rows are
`[class_id, confidence, xmin, ymin, xmax, ymax]`, sorted by decreasing confidence and padded
with all-zero rows.

First the boxes that could pass the confidence threshold are gathered to the front (a few
hundred of SSD300's 8732 anchors), so decoding and NMS skip the rest. Non-maximum suppression
uses one TensorFlow op, `NonMaxSuppressionV4` (padded output), run by a single in-graph
`tf.map_fn` over the `(image, class)` slices of the whole batch. Unlike
`tf.image.combined_non_max_suppression`, these ops convert to TFLite with the builtin op set
only, so an exported model needs no Select TF ops. The op keeps scores strictly above the score
threshold and suppresses IoU strictly above the IoU threshold, as the NumPy decoder does.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from keras_ssd.layout import ANCHORS
from keras_ssd.layout import CLASSES
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES
from keras_ssd.layout import n_classes_from_channels

__all__ = ["DecodeDetections", "DecodeDetectionsFast"]


def _check_unit_interval(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}")
    return float(value)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _check_image_size(value, name: str):
    if value is None:
        return None
    return _check_positive_int(value, name)


def _decode_corners(y_pred, normalize_coords: bool, img_height, img_width):
    """float32 `(batch, n_boxes, 4)` corners `(xmin, ymin, xmax, ymax)` of the predicted boxes.

    Inverts the centroids offset encoding with the anchors and variances stored in `y_pred`:
    `cx = t_cx * v0 * w_a + cx_a`, `w = exp(t_w * v2) * w_a` (same for y, h). With
    `normalize_coords` the anchors are relative, so x is scaled by `img_width` and y by
    `img_height` to give pixels.
    """
    offsets = y_pred[..., OFFSETS]
    anchors = y_pred[..., ANCHORS]
    variances = y_pred[..., VARIANCES]
    centre = offsets[..., 0:2] * variances[..., 0:2] * anchors[..., 2:4] + anchors[..., 0:2]
    size = tf.exp(offsets[..., 2:4] * variances[..., 2:4]) * anchors[..., 2:4]
    corners = tf.concat([centre - 0.5 * size, centre + 0.5 * size], axis=-1)
    if normalize_coords:
        corners = corners * tf.constant([img_width, img_height] * 2, dtype=tf.float32)
    return corners


def _best_positive_score(y_pred):
    """`(batch, n_boxes)`: the highest score of the positive classes (not background, column 0)."""
    # One slice of the last axis (they cost a copy each, and this one reads every box).
    return tf.reduce_max(y_pred[..., 1 : CLASSES.stop], axis=-1)


def _compact(y_pred, candidate_scores, threshold):
    """The boxes that can pass `threshold`, gathered to the front in anchor order.

    `candidate_scores` `(batch, n_boxes)` is the best score each box could be kept with. Returns
    `(batch, k, channels)` predictions and a `(batch, k)` bool mask of the real slots, `k` the
    largest number of candidates in one image (at least 1). Decoding and NMS then touch a few
    hundred boxes instead of every anchor. (A scatter by rank: `tf.math.top_k` with a large
    `k` is slower.)
    """
    is_candidate = candidate_scores > threshold
    count = tf.reduce_sum(tf.cast(is_candidate, tf.int32), axis=1)
    k = tf.maximum(tf.reduce_max(count), 1)  # at least one (padding) slot: NMS needs a box
    where = tf.cast(tf.where(is_candidate), tf.int32)  # (n, 2) [image, anchor], row-major
    # Slot of each candidate in its image's row: its rank among that image's candidates
    # (a scan over the few candidates, not over every anchor).
    first = tf.cumsum(count, exclusive=True)
    slot = tf.range(tf.shape(where)[0]) - tf.gather(first, where[:, 0])
    scatter_at = tf.stack([where[:, 0], slot], axis=1)
    index = tf.scatter_nd(scatter_at, where[:, 1], tf.stack([tf.shape(y_pred)[0], k]))
    real = tf.range(k)[tf.newaxis, :] < count[:, tf.newaxis]
    return tf.gather(y_pred, index, batch_dims=1), real


def _nms_per_slice(boxes, scores, image_index, max_output_size, iou_threshold, score_threshold):
    """Greedy NMS on every row of `scores`, in one in-graph loop.

    Args:
        boxes: float32 `(batch, n_boxes, 4)` corners.
        scores: float32 `(n_slices, n_boxes)`: one row per NMS problem.
        image_index: int32 `(n_slices,)`: the image (row of `boxes`) of each slice.
        max_output_size: Python int, the most boxes kept per slice.

    Returns:
        `indices` int32 `(n_slices, max_output_size)`: kept box indices in decreasing score
        order (ties: lower index first), and `valid` bool of the same shape (False on padding).
    """

    def nms_one(args):
        slice_scores, image = args
        # NMS expects (y1, x1, y2, x2); IoU is symmetric in x and y, so corners work as they are.
        indices, n_valid = tf.raw_ops.NonMaxSuppressionV4(
            boxes=tf.gather(boxes, image),
            scores=slice_scores,
            max_output_size=max_output_size,
            iou_threshold=iou_threshold,
            score_threshold=score_threshold,
            pad_to_max_output_size=True,
        )
        return indices, n_valid

    indices, n_valid = tf.map_fn(
        nms_one,
        (scores, image_index),
        fn_output_signature=(
            tf.TensorSpec((max_output_size,), tf.int32),
            tf.TensorSpec((), tf.int32),
        ),
        parallel_iterations=32,
    )
    valid = tf.range(max_output_size)[tf.newaxis, :] < n_valid[:, tf.newaxis]
    return indices, valid


class _DecodeBase(keras.layers.Layer):
    """Argument checks, shapes and config shared by the two decoding layers."""

    def __init__(
        self,
        confidence_thresh=0.01,
        iou_threshold=0.45,
        top_k=200,
        nms_max_output_size=400,
        coords="centroids",
        normalize_coords=True,
        img_height=None,
        img_width=None,
        **kwargs,
    ):
        if keras.backend.backend() != "tensorflow":
            raise TypeError(
                f"`{type(self).__name__}` needs the TensorFlow backend (it uses TensorFlow's "
                f"NMS op). Received: backend={keras.backend.backend()!r}"
            )
        # Decoding runs in float32 whatever the global policy: pixel coordinates need it.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if coords != "centroids":
            raise ValueError(
                "`coords` must be 'centroids': the decoding layers only decode centroid offsets, "
                "as in ssd_keras (use `decode_detections` for 'corners'/'minmax' models). "
                f"Received: coords={coords!r}"
            )
        self.confidence_thresh = _check_unit_interval(confidence_thresh, "confidence_thresh")
        self.iou_threshold = _check_unit_interval(iou_threshold, "iou_threshold")
        self.top_k = _check_positive_int(top_k, "top_k")
        self.nms_max_output_size = _check_positive_int(nms_max_output_size, "nms_max_output_size")
        self.coords = coords
        self.normalize_coords = bool(normalize_coords)
        self.img_height = _check_image_size(img_height, "img_height")
        self.img_width = _check_image_size(img_width, "img_width")
        if self.normalize_coords and (self.img_height is None or self.img_width is None):
            raise ValueError(
                "`normalize_coords=True` needs the image size to convert the relative "
                "coordinates to pixels. Received: "
                f"img_height={img_height!r}, img_width={img_width!r}"
            )

    def _n_classes(self, input_shape) -> int:
        """Positive classes in the input, checking its `(batch, n_boxes, channels)` shape."""
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"`{type(self).__name__}` expects an input of shape "
                "(batch, n_boxes, n_classes + 1 + 12) with a known last axis. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        return n_classes_from_channels(input_shape[-1])

    def build(self, input_shape):
        self._n_classes(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._n_classes(input_shape)
        return (input_shape[0], self.top_k, 6)

    def call(self, inputs):
        y_pred = tf.cast(inputs, tf.float32)
        y_pred, real = _compact(y_pred, self._candidate_scores(y_pred), self.confidence_thresh)
        boxes = _decode_corners(y_pred, self.normalize_coords, self.img_height, self.img_width)
        # Padding slots repeat anchor 0: give them no score so that no threshold keeps them.
        # (`tf.expand_dims`, not `[..., None]`: TFLite has no builtin strided slice of bools.)
        scores = tf.where(tf.expand_dims(real, -1), y_pred[..., CLASSES], -math.inf)
        detections = self._detect(boxes, scores)
        return tf.cast(detections, self.compute_dtype)

    def _candidate_scores(self, y_pred):
        """float32 `(batch, n_boxes)`: the best score each box of `y_pred` could be kept with."""
        raise NotImplementedError

    def _detect(self, boxes, scores):
        """float32 `(batch, top_k, 6)` detections from corners and class scores."""
        raise NotImplementedError

    def _rows(self, class_id, confidence, boxes, box_index, valid):
        """`(batch, top_k, 6)` rows from `(batch, k)` classes, confidences, box indices, mask."""
        corners = tf.gather(boxes, box_index, batch_dims=1)
        rows = tf.concat(
            [tf.cast(class_id, tf.float32)[..., None], confidence[..., None], corners], axis=-1
        )
        rows = tf.where(tf.expand_dims(valid, -1), rows, tf.zeros_like(rows))
        n_pad = self.top_k - rows.shape[1]
        if n_pad > 0:
            rows = tf.pad(rows, [[0, 0], [0, n_pad], [0, 0]])
        return rows

    def get_config(self):
        config = super().get_config()
        config.update(
            confidence_thresh=self.confidence_thresh,
            iou_threshold=self.iou_threshold,
            top_k=self.top_k,
            nms_max_output_size=self.nms_max_output_size,
            coords=self.coords,
            normalize_coords=self.normalize_coords,
            img_height=self.img_height,
            img_width=self.img_width,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_ssd")
class DecodeDetections(_DecodeBase):
    """Decodes SSD predictions with per-class NMS (Caffe's `DetectionOutput`).

    For every image and every positive class 1..n_classes (background, class 0, excluded): keep
    the boxes whose class confidence is > `confidence_thresh`, run greedy NMS (suppress IoU >
    `iou_threshold`), keep at most `nms_max_output_size` of them; then keep the `top_k` most
    confident detections of all classes.

    Args:
        confidence_thresh: minimum confidence (exclusive), in [0, 1].
        iou_threshold: NMS suppresses boxes whose IoU with a kept box is above this, in [0, 1].
        top_k: detections returned per image (the output's second axis).
        nms_max_output_size: most boxes kept per class by NMS.
        coords: box format of the model; only 'centroids' (as in ssd_keras).
        normalize_coords: the anchors are relative to the image; multiply x by `img_width`
            and y by `img_height` to give pixels.
        img_height, img_width: image size in pixels (required with `normalize_coords`).
        **kwargs: `keras.layers.Layer` arguments. The dtype policy defaults to "float32"; the
            decoding always runs in float32 and the output has the layer's compute dtype.

    Input shape:
        `(batch, n_boxes, n_classes + 1 + 12)`: softmax scores, offsets, anchors, variances.

    Output shape:
        `(batch, top_k, 6)`: rows `[class_id, confidence, xmin, ymin, xmax, ymax]` (corners),
        sorted by decreasing confidence, padded with zero rows.
    """

    def _candidate_scores(self, y_pred):
        return _best_positive_score(y_pred)

    def _detect(self, boxes, scores):
        n_boxes = tf.shape(scores)[1]
        n_classes = scores.shape[-1] - 1
        # Only a class's first top_k survivors can reach the overall top_k, so NMS stops there:
        # n_classes * min(nms_max_output_size, top_k) candidate indices per image, not more.
        per_class = min(self.nms_max_output_size, self.top_k)
        class_scores = tf.reshape(tf.transpose(scores[..., 1:], (0, 2, 1)), (-1, n_boxes))
        image_index = tf.repeat(tf.range(tf.shape(scores)[0]), n_classes)
        indices, valid = _nms_per_slice(
            boxes,
            class_scores,
            image_index,
            per_class,
            self.iou_threshold,
            self.confidence_thresh,
        )
        kept = tf.gather(class_scores, indices, batch_dims=1)
        kept = tf.where(valid, kept, -math.inf)
        # Per image, the candidates are class-major: position p is class p // per_class + 1.
        kept = tf.reshape(kept, (-1, n_classes * per_class))
        indices = tf.reshape(indices, (-1, n_classes * per_class))
        valid = tf.reshape(valid, (-1, n_classes * per_class))
        k = min(self.top_k, n_classes * per_class)
        confidence, position = tf.math.top_k(kept, k=k, sorted=True)
        return self._rows(
            class_id=position // per_class + 1,
            confidence=confidence,
            boxes=boxes,
            box_index=tf.gather(indices, position, batch_dims=1),
            valid=tf.gather(valid, position, batch_dims=1),
        )


@keras.saving.register_keras_serializable(package="keras_ssd")
class DecodeDetectionsFast(_DecodeBase):
    """Decodes SSD predictions with one class-agnostic NMS per image.

    Each box takes the class with the highest score over all classes, background included,
    and that score as its confidence. Boxes whose class is background are dropped, then those
    with confidence <= `confidence_thresh`; one greedy NMS over the remaining boxes of all
    classes (suppress IoU > `iou_threshold`) keeps at most `min(top_k, nms_max_output_size)`.

    The threshold is exclusive (`>`), as in ssd_keras' `DecodeDetectionsFast`; its NumPy
    `decode_detections_fast` used `>=`.

    Args, input and output: as `DecodeDetections`.
    """

    @staticmethod
    def _best_class(scores):
        """The argmax class of each box and its score, `-inf` where it is background."""
        class_id = tf.argmax(scores, axis=-1, output_type=tf.int32)
        confidence = tf.where(class_id > 0, tf.reduce_max(scores, axis=-1), -math.inf)
        return class_id, confidence

    def _candidate_scores(self, y_pred):
        # "argmax is not background" without an argmax over every box: argmax takes the first
        # maximum, so a positive class wins only when strictly above the background score.
        positive = _best_positive_score(y_pred)
        return tf.where(positive > y_pred[..., 0], positive, -math.inf)

    def _detect(self, boxes, scores):
        class_id, candidates = self._best_class(scores)
        indices, valid = _nms_per_slice(
            boxes,
            candidates,
            tf.range(tf.shape(scores)[0]),
            min(self.top_k, self.nms_max_output_size),
            self.iou_threshold,
            self.confidence_thresh,
        )
        return self._rows(
            class_id=tf.gather(class_id, indices, batch_dims=1),
            confidence=tf.gather(candidates, indices, batch_dims=1),
            boxes=boxes,
            box_index=indices,
            valid=valid,
        )
