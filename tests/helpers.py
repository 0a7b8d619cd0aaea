"""Shared test helpers: the Keras layer contract, checked the same way for every layer."""

from __future__ import annotations

import inspect
import json

import keras
import numpy as np


def assert_config_has_all_init_args(obj) -> None:
    """Every `__init__` parameter (except `self`/`**kwargs`) is a key of `get_config()`."""
    config = obj.get_config()
    params = [
        name
        for name, p in inspect.signature(type(obj).__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    missing = [name for name in params if name not in config]
    assert not missing, f"{type(obj).__name__}.get_config() lacks {missing}"


def run_layer_test(
    layer_cls,
    init_kwargs: dict,
    input_data,
    expected_output_shape: tuple | None = None,
    expected_num_trainable_weights: int = 0,
):
    """Check a layer against the Keras contract and return its eager output.

    - config round trip (`from_config(get_config())` gives an equal config),
    - JSON serialisation round trip through `keras.saving`,
    - every `__init__` argument present in the config,
    - symbolic shape == `compute_output_shape` == eager shape,
    - the number of trainable weights.
    """
    layer = layer_cls(**init_kwargs)
    assert_config_has_all_init_args(layer)
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config

    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is layer_cls
    assert restored.get_config() == config

    input_data = np.asarray(input_data)
    symbolic = layer(keras.KerasTensor((None, *input_data.shape[1:]), dtype=input_data.dtype))
    computed = layer.compute_output_shape((None, *input_data.shape[1:]))
    assert tuple(symbolic.shape) == tuple(computed)
    assert all(d is None or type(d) is int for d in computed), computed

    output = keras.ops.convert_to_numpy(layer(input_data))
    assert tuple(output.shape[1:]) == tuple(computed[1:])
    if expected_output_shape is not None:
        assert tuple(output.shape) == tuple(expected_output_shape)
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    return output
