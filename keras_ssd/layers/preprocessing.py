"""Input preprocessing layers of the SSD models.

ssd_keras did its preprocessing with `Lambda` layers that closed over Python
lists, which Keras 3 can neither save nor reload safely. These are real,
registered layers with plain configs. They have no weights, so the models keep
the original layer names (`input_mean_normalization`, `input_stddev_normalization`,
`input_channel_swap`; `identity_layer` is a `keras.layers.Identity`) and the
original weight files still load by name.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["ChannelSwap", "DivideByStddev", "SubtractMean"]


def _channel_values(value, name: str, nonzero: bool = False) -> float | list[float]:
    """A number or a per-channel list of finite numbers, as config-friendly floats."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim > 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(
            f"`{name}` must be a number or a list of one number per channel. "
            f"Received: {name}={value!r}"
        )
    if nonzero and np.any(array == 0):
        raise ValueError(f"`{name}` must not contain zeros. Received: {name}={value!r}")
    if array.ndim == 0:
        return float(array)
    return [float(v) for v in array]


def _check_channels(layer_name: str, name: str, values, input_shape) -> None:
    channels = input_shape[-1]
    if isinstance(values, list) and len(values) > 1 and channels is not None:
        if len(values) != channels:
            raise ValueError(
                f"`{layer_name}` has {len(values)} `{name}` values for an input with "
                f"{channels} channels. Received: input_shape={tuple(input_shape)}"
            )


@keras.saving.register_keras_serializable(package="keras_ssd")
class SubtractMean(keras.layers.Layer):
    """`y = x - mean`, with one mean for all channels or one per channel.

    Args:
        mean: a number, or a list with one number per channel (for SSD300/512
            the RGB means `(123, 117, 104)`).

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        Same as the input.
    """

    def __init__(self, mean, **kwargs):
        super().__init__(**kwargs)
        self.mean = _channel_values(mean, "mean")

    def build(self, input_shape):
        _check_channels("SubtractMean", "mean", self.mean, input_shape)

    def call(self, inputs):
        return inputs - ops.cast(ops.convert_to_tensor(self.mean), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["mean"] = self.mean
        return config


@keras.saving.register_keras_serializable(package="keras_ssd")
class DivideByStddev(keras.layers.Layer):
    """`y = x / stddev`, with one value for all channels or one per channel.

    Args:
        stddev: a non-zero number, or a list with one non-zero number per channel.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        Same as the input.
    """

    def __init__(self, stddev, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _channel_values(stddev, "stddev", nonzero=True)

    def build(self, input_shape):
        _check_channels("DivideByStddev", "stddev", self.stddev, input_shape)

    def call(self, inputs):
        return inputs / ops.cast(ops.convert_to_tensor(self.stddev), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["stddev"] = self.stddev
        return config


@keras.saving.register_keras_serializable(package="keras_ssd")
class ChannelSwap(keras.layers.Layer):
    """Reorders the channels: output channel `i` is input channel `order[i]`.

    `order=(2, 1, 0)` turns RGB into BGR, as the Caffe-trained weights expect.

    Args:
        order: input channel indices, one per output channel.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, height, width, len(order))`.
    """

    def __init__(self, order, **kwargs):
        super().__init__(**kwargs)
        valid = isinstance(order, (list, tuple, np.ndarray)) and len(order) > 0
        if valid:
            valid = all(
                isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i >= 0
                for i in order
            )
        if not valid:
            raise ValueError(
                "`order` must be a non-empty list of non-negative channel indices. "
                f"Received: order={order!r}"
            )
        self.order = [int(i) for i in order]

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and max(self.order) >= channels:
            raise ValueError(
                f"`order` refers to channel {max(self.order)} of an input with {channels} "
                f"channels. Received: order={self.order}"
            )

    def call(self, inputs):
        return ops.take(inputs, self.order, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.order))

    def get_config(self):
        config = super().get_config()
        config["order"] = self.order
        return config
