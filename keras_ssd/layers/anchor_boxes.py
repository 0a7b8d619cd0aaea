"""`AnchorBoxes`: emits a predictor layer's anchors and variances as a tensor."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_ssd.anchors import anchor_boxes_for_layer
from keras_ssd.anchors import n_boxes_per_cell
from keras_ssd.boxes import check_coords

__all__ = ["AnchorBoxes"]


def _plain(value):
    """Config-friendly copy: tuples and NumPy values become lists and floats."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return float(value)


@keras.saving.register_keras_serializable(package="keras_ssd")
class AnchorBoxes(keras.layers.Layer):
    """The anchor boxes of one predictor layer, tiled over the batch.

    The anchors depend only on the static feature-map size of the input, not on
    its values; they are computed once with `keras_ssd.anchors` (the same
    function `SSDInputEncoder` uses) and returned as a constant, so the model's
    output carries the anchors its offsets refer to. There are no weights.

    Args:
        img_height, img_width: input image size in pixels.
        this_scale: this layer's anchor scale (> 0, fraction of the shorter side).
        next_scale: the next layer's scale (> 0), sizes the extra ar == 1 box.
        aspect_ratios: width/height ratios, in predictor channel order.
        two_boxes_for_ar1: add the `sqrt(this_scale * next_scale)` square box.
        this_steps: pixels between cell centres (None, a number, or a pair).
        this_offsets: first centre as a fraction of the step (None, number, pair).
        clip_boxes: clip anchors to the image.
        variances: 4 positive variances appended to every anchor.
        coords: 'centroids', 'corners' or 'minmax'.
        normalize_coords: coordinates relative to the image size.

    Input shape:
        `(batch, fh, fw, channels)`: the localisation predictor of the layer.

    Output shape:
        `(batch, fh, fw, n_boxes, 8)`: 4 anchor coordinates in `coords` format,
        then the 4 variances.
    """

    def __init__(
        self,
        img_height,
        img_width,
        this_scale,
        next_scale,
        aspect_ratios=(0.5, 1.0, 2.0),
        two_boxes_for_ar1=True,
        this_steps=None,
        this_offsets=None,
        clip_boxes=False,
        variances=(0.1, 0.1, 0.2, 0.2),
        coords="centroids",
        normalize_coords=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("this_scale", this_scale), ("next_scale", next_scale)):
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"`{name}` must be a positive number. Received: {name}={value}")
        ratios = np.asarray(aspect_ratios, dtype=float).ravel()
        if ratios.size == 0 or np.any(ratios <= 0):
            raise ValueError(
                "`aspect_ratios` must be positive numbers. "
                f"Received: aspect_ratios={aspect_ratios!r}"
            )
        variances_array = np.asarray(variances, dtype=float).ravel()
        if variances_array.size != 4 or np.any(variances_array <= 0):
            raise ValueError(
                f"`variances` must be 4 positive numbers. Received: variances={variances!r}"
            )
        self.img_height = int(img_height)
        self.img_width = int(img_width)
        self.this_scale = float(this_scale)
        self.next_scale = float(next_scale)
        self.aspect_ratios = _plain(ratios)
        self.two_boxes_for_ar1 = bool(two_boxes_for_ar1)
        self.this_steps = _plain(this_steps)
        self.this_offsets = _plain(this_offsets)
        self.clip_boxes = bool(clip_boxes)
        self.variances = _plain(variances_array)
        self.coords = check_coords(coords)
        self.normalize_coords = bool(normalize_coords)
        self.n_boxes = n_boxes_per_cell(self.aspect_ratios, self.two_boxes_for_ar1)
        self.built = True

    def anchors_for(self, feature_map_size) -> np.ndarray:
        """float32 `(fh, fw, n_boxes, 8)`: anchors and variances for a feature map."""
        boxes = anchor_boxes_for_layer(
            self.img_height,
            self.img_width,
            feature_map_size=feature_map_size,
            aspect_ratios=self.aspect_ratios,
            this_scale=self.this_scale,
            next_scale=self.next_scale,
            two_boxes_for_ar1=self.two_boxes_for_ar1,
            this_steps=self.this_steps,
            this_offsets=self.this_offsets,
            clip_boxes=self.clip_boxes,
            normalize_coords=self.normalize_coords,
            coords=self.coords,
        )
        variances = np.broadcast_to(self.variances, boxes.shape)
        return np.concatenate([boxes, variances], axis=-1).astype(np.float32)

    def _feature_map_size(self, input_shape):
        fh, fw = input_shape[1], input_shape[2]
        if fh is None or fw is None:
            raise ValueError(
                "`AnchorBoxes` needs a static feature-map size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        return int(fh), int(fw)

    def call(self, inputs):
        anchors = self.anchors_for(self._feature_map_size(inputs.shape))
        anchors = ops.cast(ops.convert_to_tensor(anchors), self.compute_dtype)
        batch = ops.shape(inputs)[0]
        return ops.broadcast_to(ops.expand_dims(anchors, 0), (batch, *anchors.shape))

    def compute_output_shape(self, input_shape):
        fh, fw = self._feature_map_size(input_shape)
        return (input_shape[0], fh, fw, self.n_boxes, 8)

    def get_config(self):
        config = super().get_config()
        config.update(
            img_height=self.img_height,
            img_width=self.img_width,
            this_scale=self.this_scale,
            next_scale=self.next_scale,
            aspect_ratios=self.aspect_ratios,
            two_boxes_for_ar1=self.two_boxes_for_ar1,
            this_steps=self.this_steps,
            this_offsets=self.this_offsets,
            clip_boxes=self.clip_boxes,
            variances=self.variances,
            coords=self.coords,
            normalize_coords=self.normalize_coords,
        )
        return config
