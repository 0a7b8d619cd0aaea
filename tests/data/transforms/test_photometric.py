"""Photometric ops: exact pixel arithmetic, labels never move, random variants."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data.transforms import Brightness
from keras_ssd.data.transforms import ChannelSwap
from keras_ssd.data.transforms import Contrast
from keras_ssd.data.transforms import ConvertColor
from keras_ssd.data.transforms import ConvertDataType
from keras_ssd.data.transforms import ConvertTo3Channels
from keras_ssd.data.transforms import Gamma
from keras_ssd.data.transforms import HistogramEqualization
from keras_ssd.data.transforms import Hue
from keras_ssd.data.transforms import RandomBrightness
from keras_ssd.data.transforms import RandomChannelSwap
from keras_ssd.data.transforms import RandomContrast
from keras_ssd.data.transforms import RandomGamma
from keras_ssd.data.transforms import RandomHistogramEqualization
from keras_ssd.data.transforms import RandomHue
from keras_ssd.data.transforms import RandomSaturation
from keras_ssd.data.transforms import Saturation

LABELS = np.array([[1, 10, 6, 30, 16], [2, 0.5, 1.5, 59, 39]])

ALL_OPS = [
    ConvertColor("RGB", "HSV"), ConvertColor("HSV", "RGB"), ConvertColor("RGB", "GRAY"),
    ConvertDataType("float32"), ConvertDataType("uint8"), ConvertTo3Channels(),
    Hue(30), Saturation(1.5), Brightness(20), Contrast(1.3), Gamma(2.0),
    HistogramEqualization(), ChannelSwap((2, 0, 1)),
    RandomHue(prob=1.0, rng=0), RandomSaturation(prob=1.0, rng=0),
    RandomBrightness(prob=1.0, rng=0), RandomContrast(prob=1.0, rng=0),
    RandomGamma(prob=1.0, rng=0), RandomHistogramEqualization(prob=1.0, rng=0),
    RandomChannelSwap(prob=1.0, rng=0),
]


@pytest.fixture
def image(rng):
    return rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: type(op).__name__)
def test_labels_never_move_and_inputs_are_kept(op, image):
    original = image.copy()
    out_image, out_labels = op(image, LABELS)
    assert_array_equal(out_labels, LABELS)
    assert op(image, np.zeros((0, 5)))[1].shape == (0, 5)
    assert isinstance(op(image), np.ndarray)
    assert out_image.shape[:2] == image.shape[:2]
    assert_array_equal(image, original)


def test_convert_color_round_trip_and_gray(image):
    hsv = ConvertColor("RGB", "HSV")(image)
    assert_array_equal(hsv, cv2.cvtColor(image, cv2.COLOR_RGB2HSV))
    back = ConvertColor("HSV", "RGB")(hsv)
    assert np.abs(back.astype(int) - image).max() <= 8  # uint8 HSV quantisation
    gray = ConvertColor("RGB", "GRAY")(image)
    assert gray.shape == (40, 60, 3) and np.all(gray[..., 0] == gray[..., 2])
    assert ConvertColor("RGB", "GRAY", keep_3ch=False)(image).shape == (40, 60)
    assert_array_equal(ConvertColor("HSV", "GRAY", keep_3ch=False)(hsv),
                       cv2.cvtColor(back, cv2.COLOR_RGB2GRAY))
    assert_array_equal(ConvertColor("RGB", "RGB")(image), image)


def test_convert_data_type_rounds_and_clips():
    x = np.array([[[0.4, 0.5, 1.6], [-3.0, 254.6, 300.0]]])
    assert_array_equal(ConvertDataType("uint8")(x), [[[0, 0, 2], [0, 255, 255]]])
    assert ConvertDataType("float32")(x.astype(np.uint8)).dtype == np.float32


def test_convert_to_3_channels():
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for x in (gray, gray[..., None]):
        out = ConvertTo3Channels()(x)
        assert out.shape == (2, 3, 3) and np.all(out == gray[..., None])
    rgba = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert_array_equal(ConvertTo3Channels()(rgba), rgba[..., :3])


def test_hue_wraps_around():
    hsv = np.array([[[170.0, 100, 100], [5, 0, 0]]])
    assert_allclose(Hue(20)(hsv)[..., 0], [[10, 25]])
    assert_allclose(Hue(-10)(hsv)[..., 0], [[160, 175]])


def test_saturation_brightness_contrast():
    x = np.array([[[100.0, 200, 50]]])
    assert_allclose(Saturation(1.5)(x), [[[100, 255, 50]]])
    assert_allclose(Brightness(60)(x), [[[160, 255, 110]]])
    assert_allclose(Brightness(-60)(x), [[[40, 140, 0]]])
    assert_allclose(Contrast(2.0)(x), [[[72.5, 255, 0]]])  # 127.5 + 2 (x - 127.5)
    assert_array_equal(Brightness(10.4)(x.astype(np.uint8)), [[[110, 210, 60]]])


def test_gamma_table_and_image():
    gamma = Gamma(2.0)
    assert gamma.table.dtype == np.uint8 and gamma.table.shape == (256,)
    # 255 * (i / 255) ** (1 / 2), rounded: 0 -> 0, 64 -> 127.75, 128 -> 180.67, 255 -> 255.
    assert gamma.table[[0, 64, 128, 255]].tolist() == [0, 128, 181, 255]
    x = np.array([[[0, 64, 128]]], np.uint8)
    assert_array_equal(gamma(x), [[[0, 128, 181]]])
    assert_allclose(gamma(x.astype(np.float32)), [[[0, 127.75, 180.67]]], atol=0.01)
    assert_array_equal(Gamma(1.0).table, np.arange(256))


def test_histogram_equalization_equalizes_v(image):
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    out = HistogramEqualization()(hsv)
    assert_array_equal(out[..., 2], cv2.equalizeHist(hsv[..., 2]))
    assert_array_equal(out[..., :2], hsv[..., :2])


def test_channel_swap(image):
    assert_array_equal(ChannelSwap((2, 1, 0))(image), image[..., ::-1])
    swap = RandomChannelSwap(prob=1.0, rng=0)
    orders = set()
    for _ in range(40):
        swap(image)
        orders.add(swap.op.order)
    assert orders == set(RandomChannelSwap.PERMUTATIONS)


RANDOM = [
    lambda p, s: RandomHue(prob=p, rng=s), lambda p, s: RandomSaturation(prob=p, rng=s),
    lambda p, s: RandomBrightness(prob=p, rng=s), lambda p, s: RandomContrast(prob=p, rng=s),
    lambda p, s: RandomGamma(prob=p, rng=s),
    lambda p, s: RandomHistogramEqualization(prob=p, rng=s),
    lambda p, s: RandomChannelSwap(prob=p, rng=s),
]


@pytest.mark.parametrize("make", RANDOM)
def test_random_variants(make, image):
    assert_array_equal(make(0.0, 0)(image), image)
    assert not np.array_equal(make(1.0, 0)(image), image)
    a = [make(0.5, 7)(image) for _ in range(3)]
    b = [make(0.5, 7)(image) for _ in range(3)]
    assert_array_equal(np.stack(a), np.stack(b))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ConvertColor("BGR", "HSV"), "current"),
        (lambda: ConvertColor("RGB", "LAB"), "to"),
        (lambda: ConvertDataType("int8"), "to"),
        (lambda: Hue(200), "delta"),
        (lambda: RandomHue(max_delta=181), "max_delta"),
        (lambda: Saturation(0), "factor"),
        (lambda: Contrast(-1), "factor"),
        (lambda: Gamma(0), "gamma"),
        (lambda: RandomBrightness(10, 5), "lower"),
        (lambda: RandomContrast(1.5, 1.5), "lower"),
        (lambda: RandomSaturation(0.0, 1.0), "lower"),
        (lambda: RandomGamma(2.0, 1.0), "lower"),
        (lambda: RandomGamma(prob=-0.5), "prob"),
        (lambda: RandomChannelSwap(prob=2), "prob"),
        (lambda: ChannelSwap((0, 0, 1)), "order"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
