"""`tf.distribute` strategies and dtype policies for training, by name.

- `get_strategy(name)`: 'default' (the current strategy: one device, or the one
  whose scope we are in), 'mirrored' (`MirroredStrategy`: every local GPU, or
  the given devices) or 'multiworker' (`MultiWorkerMirroredStrategy`: without
  `TF_CONFIG` a single-worker cluster; with it, this process joins the cluster
  that `TF_CONFIG` describes).
- `synchronize_batch_norm(model)`: the model with cross-replica BatchNormalization
  (SSD7 has BatchNormalization; SSD300/512 have none).
- `set_precision(name)`: the global Keras dtype policy ('float32',
  'mixed_float16', 'mixed_bfloat16').

Build and compile the model inside `strategy.scope()`; `model.fit` then splits
each global batch of a `tf.data` pipeline over the replicas. `SSDLoss` all-reduces
its positive count, so the loss is that of the global batch (see `SSDLoss`).
"""

from __future__ import annotations

import tensorflow as tf

from keras_ssd.config import PRECISIONS
from keras_ssd.config import STRATEGIES

__all__ = [
    "PRECISIONS",
    "STRATEGIES",
    "get_strategy",
    "is_chief",
    "set_precision",
    "synchronize_batch_norm",
]

def get_strategy(name: str = "default", devices=None) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy called `name`.

    Args:
        name: 'default', 'mirrored' or 'multiworker'.
        devices: for 'mirrored' only, the devices to mirror over (e.g.
            `['/cpu:0', '/cpu:1']`); by default every local GPU, or the CPU.

    Create a 'multiworker' strategy at program start-up, before other
    TensorFlow ops run: it configures the collective ops of the runtime.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")
    if devices is not None and name != "mirrored":
        raise ValueError(
            f"`devices` applies to the 'mirrored' strategy only. Received: strategy={name!r}, "
            f"devices={devices!r}"
        )
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def set_precision(name: str = "float32") -> None:
    """Set the global Keras dtype policy to `name` (before building the model).

    Under 'mixed_float16' `model.compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer`; 'mixed_bfloat16' needs no loss scaling.
    """
    import keras

    if name not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}. Received: precision={name!r}")
    keras.config.set_dtype_policy(name)


def synchronize_batch_norm(model):
    """A copy of `model` whose BatchNormalization layers use the statistics of the global batch.

    By default a BatchNormalization layer normalises each replica's batch with that
    batch's own mean and variance, so a distributed step is not the single-device
    step on the global batch. With `synchronized=True` the statistics are
    all-reduced over the replicas. Call it inside `strategy.scope()`; the weights
    are copied. A model without BatchNormalization is returned unchanged.

    Args:
        model: a functional Keras model (e.g. from `keras_ssd.presets.build_detector`).

    Returns:
        The model with synchronized BatchNormalization and the same weights.
    """
    import keras

    config = model.get_config()
    found = False
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["synchronized"] = True
            found = True
    if not found:
        return model
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def is_chief(strategy) -> bool:
    """Whether this process writes the run's files (always, except non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
