"""apply_inverse_transforms and the shared plumbing (set_rng, labels_format, rng)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.data.transforms import CropPad
from keras_ssd.data.transforms import RandomFlip
from keras_ssd.data.transforms import Resize
from keras_ssd.data.transforms import apply_inverse_transforms
from keras_ssd.data.transforms import set_rng

PRED = np.array([[1, 0.9, 10, 20, 30, 40], [2, 0.5, 0, 0, 5, 5]], dtype=float)


def inverters():
    # Resize 100x100 -> 50x200, then crop from (5, 10); inverters in reverse order.
    resize = Resize(50, 200)(np.zeros((100, 100, 3), np.uint8), return_inverter=True)[1]
    crop = CropPad(5, 10, 20, 20)(np.zeros((50, 200, 3), np.uint8), return_inverter=True)[1]
    return [crop, None, resize]


def expected():
    # Undo the crop (+10 x, +5 y), then the resize (x / 2, y * 2).
    return np.array([[1, 0.9, 10, 50, 20, 90], [2, 0.5, 5, 10, 7.5, 20]])


def test_list_input():
    out = apply_inverse_transforms([PRED, np.zeros((0, 6))], [inverters(), inverters()])
    assert_allclose(out[0], expected())
    assert out[1].shape == (0, 6)
    assert_allclose(PRED[0, 2], 10)  # input untouched


def test_array_input():
    batch = np.stack([PRED, PRED])
    out = apply_inverse_transforms(batch, [inverters(), []])
    assert isinstance(out, np.ndarray) and out.shape == batch.shape
    assert_allclose(out[0], expected())
    assert_allclose(out[1], PRED)


def test_bad_input():
    with pytest.raises(ValueError, match="inverse_transforms"):
        apply_inverse_transforms([PRED], [])
    with pytest.raises(TypeError, match="y_pred_decoded"):
        apply_inverse_transforms("predictions", [])


def test_set_rng_rejects_non_transforms():
    with pytest.raises(TypeError, match="transform"):
        set_rng(object(), 0)


def test_set_rng_reseeds():
    image = np.zeros((4, 6, 3), np.uint8)
    labels = np.array([[1, 0, 0, 2, 2]], dtype=float)
    flip = RandomFlip(rng=0)
    draws = [flip(image, labels)[1][0, 1] for _ in range(20)]
    set_rng(flip, 0)
    assert [flip(image, labels)[1][0, 1] for _ in range(20)] == draws


def test_labels_format_is_validated_and_accepts_lists():
    with pytest.raises(ValueError, match="labels_format"):
        Resize(10, 10, labels_format={"xmin": 0, "ymin": 1})
    out = Resize(10, 10)(np.zeros((5, 5, 3), np.uint8), [])[1]
    assert out.shape == (0, 5)
    out = Resize(10, 10)(np.zeros((5, 5, 3), np.uint8), [[1, 0, 0, 1, 1]])[1]
    assert_allclose(out, [[1, 0, 0, 2, 2]])
    with pytest.raises(ValueError, match="labels"):
        Resize(10, 10)(np.zeros((5, 5, 3), np.uint8), [1, 0, 0, 1, 1])
