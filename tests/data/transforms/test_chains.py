"""Augmentation chains: image-only and labelled input, seeding, output guarantees."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data.transforms import DataAugmentationConstantInputSize
from keras_ssd.data.transforms import DataAugmentationSatellite
from keras_ssd.data.transforms import DataAugmentationVariableInputSize
from keras_ssd.data.transforms import SSDDataAugmentation
from keras_ssd.data.transforms import SSDExpand
from keras_ssd.data.transforms import SSDPhotometricDistortions
from keras_ssd.data.transforms import SSDRandomCrop
from keras_ssd.data.transforms import set_rng
from tests.data.transforms.drawing import draw
from tests.data.transforms.drawing import predictions

H, W = 40, 60
LABELS = np.array([[1, 10, 6, 30, 16], [2, 35, 18, 55, 36]], dtype=float)

CHAINS = {
    "ssd": lambda rng: SSDDataAugmentation(48, 64, rng=rng),
    "constant": lambda rng: DataAugmentationConstantInputSize(rng=rng),
    "variable": lambda rng: DataAugmentationVariableInputSize(32, 48, rng=rng),
    "satellite": lambda rng: DataAugmentationSatellite(32, 32, rng=rng),
    "photometric": lambda rng: SSDPhotometricDistortions(rng=rng),
    "expand": lambda rng: SSDExpand(rng=rng),
    "crop": lambda rng: SSDRandomCrop(rng=rng),
}


@pytest.fixture(scope="module")
def image():
    img = draw(H, W, LABELS)
    img[img == 0] = 90
    return img


def run(chain, image, labels, n=6):
    return [chain(image, labels) for _ in range(n)]


@pytest.mark.parametrize("name", CHAINS)
def test_image_only_input(name, image):
    chain = CHAINS[name](0)
    for _ in range(6):
        out = chain(image)
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape[2] == 3
        out, inverter = chain(image, return_inverter=True)
        assert callable(inverter)


@pytest.mark.parametrize("name", CHAINS)
def test_labelled_and_empty_input(name, image):
    chain = CHAINS[name](1)
    for out_image, out_labels in run(chain, image, LABELS):
        h, w = out_image.shape[:2]
        assert out_labels.shape[1] == 5 and set(out_labels[:, 0]) <= {1, 2}
        assert np.all(out_labels[:, [1, 3]] >= 0) and np.all(out_labels[:, [1, 3]] <= w)
        assert np.all(out_labels[:, [2, 4]] >= 0) and np.all(out_labels[:, [2, 4]] <= h)
    for out_image, out_labels in run(chain, image, np.zeros((0, 5))):
        assert out_labels.shape == (0, 5) and out_image.ndim == 3


@pytest.mark.parametrize("name", CHAINS)
def test_same_seed_same_output(name, image):
    a = run(CHAINS[name](7), image, LABELS)
    b = run(CHAINS[name](7), image, LABELS)
    c = run(set_rng(copy.deepcopy(CHAINS[name](123)), 7), image, LABELS)
    for (ia, la), (ib, lb), (ic, lc) in zip(a, b, c):
        assert_array_equal(ia, ib)
        assert_array_equal(la, lb)
        assert_array_equal(ia, ic)
        assert_array_equal(la, lc)
    d = run(CHAINS[name](8), image, LABELS)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, d))


def test_ssd_output_size_and_boxes(image):
    chain = SSDDataAugmentation(rng=0)
    for seed in range(15):
        set_rng(chain, seed)
        out_image, out_labels = chain(image, LABELS)
        assert out_image.shape == (300, 300, 3) and out_image.dtype == np.uint8
        assert np.all(out_labels[:, 1:] >= 0) and np.all(out_labels[:, 1:] <= 300)
        assert np.all(out_labels[:, 3] > out_labels[:, 1])
        assert np.all(out_labels[:, 4] > out_labels[:, 2])


def test_ssd_inverter_maps_boxes_inside_the_originals(image):
    chain = SSDDataAugmentation(rng=0)
    for _ in range(15):
        _, out_labels, inverter = chain(image, LABELS, return_inverter=True)
        restored = inverter(predictions(out_labels))
        for row in restored:  # crops only clip boxes, so each lies within its original
            original = LABELS[LABELS[:, 0] == row[0]][0]
            assert np.all(row[2:4] >= original[1:3] - 1e-6)
            assert np.all(row[4:6] <= original[3:5] + 1e-6)


def test_expand_inverter_restores_boxes_exactly(image):
    chain = SSDExpand(rng=0)
    for _ in range(6):
        out_image, out_labels, inverter = chain(image, LABELS, return_inverter=True)
        assert_allclose(inverter(predictions(out_labels)), predictions(LABELS), atol=1e-9)


def test_variable_chain_inverter_restores_uncut_boxes(image):
    chain = DataAugmentationVariableInputSize(80, 120, min_scale=1.0, max_scale=1.5,
                                              bounds_validator=(1.0, 1.0), n_boxes_min="all",
                                              n_trials_max=50, rng=0)
    for _ in range(6):
        _, out_labels, inverter = chain(image, LABELS, return_inverter=True)
        assert_allclose(inverter(predictions(out_labels)), predictions(LABELS), atol=1e-6)


def test_photometric_distortions_never_move_boxes(image):
    chain = SSDPhotometricDistortions(rng=0)
    for _, out_labels in run(chain, image, LABELS):
        assert_array_equal(out_labels, LABELS)


def test_labels_format_propagates(image):
    fmt = {"xmin": 0, "ymin": 1, "xmax": 2, "ymax": 3, "class_id": 4}
    chain = SSDDataAugmentation(48, 64, rng=0)
    chain.labels_format = fmt
    assert chain.resize.resize.labels_format == fmt
    assert chain.random_crop.random_crop.image_validator.box_filter.labels_format == fmt
    reordered = LABELS[:, [1, 2, 3, 4, 0]]
    for _ in range(6):
        _, out = chain(image, reordered)
        assert set(out[:, 4]) <= {1, 2}
        assert np.all(out[:, 2] > out[:, 0]) and np.all(out[:, 2] <= 64)


def test_constant_chain_needs_zoom_in_and_out():
    with pytest.raises(ValueError, match="random_scale"):
        DataAugmentationConstantInputSize(random_scale=(1.0, 2.0, 0.5))


def test_constant_chain_keeps_size(image):
    for out_image, _ in run(DataAugmentationConstantInputSize(rng=0), image, LABELS):
        assert out_image.shape == (H, W, 3)
