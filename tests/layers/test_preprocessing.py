"""Tests for the preprocessing layers that replace ssd_keras' Lambda layers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.layers import ChannelSwap
from keras_ssd.layers import DivideByStddev
from keras_ssd.layers import SubtractMean
from tests.helpers import run_layer_test


@pytest.fixture
def image(rng):
    return rng.uniform(0, 255, size=(2, 4, 5, 3)).astype("float32")


def test_subtract_mean_per_channel(image):
    out = run_layer_test(SubtractMean, {"mean": (123, 117, 104)}, image, image.shape)
    expected = np.stack([image[..., 0] - 123, image[..., 1] - 117, image[..., 2] - 104], -1)
    assert_allclose(out, expected, rtol=1e-6)


def test_subtract_mean_scalar(image):
    out = run_layer_test(SubtractMean, {"mean": 127.5}, image, image.shape)
    assert_allclose(out, image - 127.5, rtol=1e-6)


def test_divide_by_stddev_per_channel_and_scalar(image):
    out = run_layer_test(DivideByStddev, {"stddev": [2.0, 4.0, 8.0]}, image, image.shape)
    assert_allclose(out[..., 1], image[..., 1] / 4.0, rtol=1e-6)
    assert_allclose(out[..., 2], image[..., 2] / 8.0, rtol=1e-6)
    out = run_layer_test(DivideByStddev, {"stddev": 127.5}, image, image.shape)
    assert_allclose(out, image / 127.5, rtol=1e-6)


def test_channel_swap_rgb_to_bgr(image):
    out = run_layer_test(ChannelSwap, {"order": (2, 1, 0)}, image, image.shape)
    assert_allclose(out, image[..., ::-1])


def test_channel_swap_four_channels_and_subset(rng):
    x = rng.uniform(size=(1, 2, 2, 4)).astype("float32")
    out = run_layer_test(ChannelSwap, {"order": [3, 0, 1, 2]}, x, (1, 2, 2, 4))
    assert_allclose(out, x[..., [3, 0, 1, 2]])
    out = run_layer_test(ChannelSwap, {"order": [2, 1, 0]}, x, (1, 2, 2, 3))
    assert_allclose(out, x[..., [2, 1, 0]])


def test_config_values_are_plain_lists():
    # NumPy and tuple inputs must not leak into the saved config.
    assert SubtractMean(np.array([1, 2, 3])).get_config()["mean"] == [1.0, 2.0, 3.0]
    assert ChannelSwap(np.array([2, 1, 0])).get_config()["order"] == [2, 1, 0]


@pytest.mark.parametrize(
    "layer_cls, kwargs, match",
    [
        (SubtractMean, {"mean": "abc"}, "`mean` must be a number or a list"),
        (SubtractMean, {"mean": [[1, 2], [3, 4]]}, "`mean` must be a number or a list"),
        (SubtractMean, {"mean": [1.0, float("nan")]}, "Received: mean="),
        (DivideByStddev, {"stddev": [1.0, 0.0, 1.0]}, "`stddev` must not contain zeros"),
        (DivideByStddev, {"stddev": None}, "`stddev` must be a number or a list"),
        (ChannelSwap, {"order": True}, "`order` must be a non-empty list"),
        (ChannelSwap, {"order": []}, "`order` must be a non-empty list"),
        (ChannelSwap, {"order": [2, -1, 0]}, "Received: order=\\[2, -1, 0\\]"),
        (ChannelSwap, {"order": [2.0, 1.0, 0.0]}, "non-negative channel indices"),
    ],
)
def test_bad_arguments(layer_cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        layer_cls(**kwargs)


@pytest.mark.parametrize(
    "layer, match",
    [
        (SubtractMean([1.0, 2.0]), "has 2 `mean` values for an input with 3 channels"),
        (DivideByStddev([1.0, 2.0, 3.0, 4.0]), "has 4 `stddev` values"),
        (ChannelSwap([3, 1, 0]), "refers to channel 3 of an input with 3 channels"),
    ],
)
def test_channel_count_mismatch(layer, match):
    with pytest.raises(ValueError, match=match):
        layer(keras.KerasTensor((None, 4, 4, 3)))
