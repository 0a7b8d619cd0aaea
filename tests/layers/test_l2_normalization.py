"""Tests for the L2Normalization layer."""

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.layers import L2Normalization
from tests.helpers import run_layer_test


def test_contract_and_golden_values():
    x = np.array([[[[3.0, 4.0]]]], "float32")  # norm 5
    out = run_layer_test(L2Normalization, dict(gamma_init=20), x, (1, 1, 1, 2),
                         expected_num_trainable_weights=1)
    assert_allclose(out, [[[[12.0, 16.0]]]], rtol=1e-6)


def test_every_position_has_norm_gamma(rng):
    x = rng.normal(size=(2, 5, 7, 16)).astype("float32")
    out = keras.ops.convert_to_numpy(L2Normalization(gamma_init=20)(x))
    assert_allclose(np.linalg.norm(out, axis=-1), 20.0, rtol=1e-5)


def test_single_gamma_weight_of_channel_shape():
    layer = L2Normalization()
    layer.build((None, 38, 38, 512))
    assert [tuple(w.shape) for w in layer.weights] == [(512,)]
    assert layer.trainable_weights[0] is layer.gamma
    assert_allclose(keras.ops.convert_to_numpy(layer.gamma), 20.0)


def test_zero_input_stays_finite():
    out = keras.ops.convert_to_numpy(L2Normalization()(np.zeros((1, 2, 2, 3), "float32")))
    assert np.all(out == 0.0)


def test_gamma_is_learned():
    layer = L2Normalization(gamma_init=1.0)
    inputs = keras.Input((2, 2, 3))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((4, 2, 2, 3), "float32")
    model.fit(x, 2 * x / np.sqrt(3), epochs=3, verbose=0)
    assert np.all(keras.ops.convert_to_numpy(layer.gamma) > 1.0)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    layer = L2Normalization(dtype=policy)
    x = np.full((1, 1, 1, 4), 1e3, "float32")  # squares overflow float16 if summed there
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")), 10.0, rtol=1e-2)


def test_unknown_channels_is_an_error():
    with pytest.raises(ValueError, match="channel dimension"):
        L2Normalization().build((None, 4, 4, None))
