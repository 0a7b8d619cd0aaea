"""`L2Normalization`: ParseNet channel normalisation with a learned scale."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["L2Normalization"]


@keras.saving.register_keras_serializable(package="keras_ssd")
class L2Normalization(keras.layers.Layer):
    """L2-normalise every spatial position over channels, then scale per channel.

    `y = x / ||x||_2 * gamma`, with the norm over the last (channel) axis and one
    trainable `gamma` of shape `(channels,)` initialised to `gamma_init`
    (ParseNet, Liu et al. 2015). SSD applies it to `conv4_3` with 20. Owning
    exactly that one weight is what lets the original weight files load into it.

    Args:
        gamma_init: initial value of every `gamma` entry. Defaults to 20.

    Input shape:
        `(batch, ..., channels)` (channels last).

    Output shape:
        Same as the input.
    """

    def __init__(self, gamma_init=20, **kwargs):
        super().__init__(**kwargs)
        self.gamma_init = float(gamma_init)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "`L2Normalization` needs a known channel dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.gamma = self.add_weight(
            name="gamma",
            shape=(int(channels),),
            initializer=keras.initializers.Constant(self.gamma_init),
            trainable=True,
        )

    def call(self, inputs):
        # The norm is taken in float32 so float16 inputs neither overflow nor
        # lose the epsilon (1e-12 underflows in float16).
        x = ops.cast(inputs, "float32")
        squared = ops.sum(ops.square(x), axis=-1, keepdims=True)
        normalized = x * ops.rsqrt(ops.maximum(squared, 1e-12))
        return ops.cast(normalized, self.compute_dtype) * ops.cast(self.gamma, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["gamma_init"] = self.gamma_init
        return config
