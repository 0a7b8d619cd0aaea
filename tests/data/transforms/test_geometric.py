"""Geometric ops: boxes move exactly with the pixels, inverters invert, bad args fail."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data.transforms import BoxFilter
from keras_ssd.data.transforms import Flip
from keras_ssd.data.transforms import ImageValidator
from keras_ssd.data.transforms import RandomFlip
from keras_ssd.data.transforms import RandomRotate
from keras_ssd.data.transforms import RandomScale
from keras_ssd.data.transforms import RandomTranslate
from keras_ssd.data.transforms import Resize
from keras_ssd.data.transforms import ResizeRandomInterp
from keras_ssd.data.transforms import Rotate
from keras_ssd.data.transforms import Scale
from keras_ssd.data.transforms import Translate
from tests.data.transforms.drawing import draw
from tests.data.transforms.drawing import find
from tests.data.transforms.drawing import predictions

H, W = 40, 60
BOX = np.array([[1, 10, 6, 30, 16]], dtype=float)  # [class, xmin, ymin, xmax, ymax]

# Ops whose box must follow the drawn rectangle, with their expected box (by hand).
FOLLOW_CASES = [
    (Resize(80, 30, interpolation_mode=cv2.INTER_NEAREST), [5, 12, 15, 32]),
    (Flip("horizontal"), [30, 6, 50, 16]),
    (Flip("vertical"), [10, 24, 30, 34]),
    (Translate(dy=0.25, dx=-0.1), [4, 16, 24, 26]),
    (Scale(0.5), [20, 13, 30, 18]),
    (Scale(1.5), [0, 0, 30, 14]),  # x = 1.5 (x - 30) + 30, y = 1.5 (y - 20) + 20, clipped
    (Rotate(90), [6, 30, 16, 50]),
    (Rotate(180), [30, 24, 50, 34]),
    (Rotate(270), [24, 10, 34, 30]),
]
IDS = ["resize", "hflip", "vflip", "translate", "zoom_out", "zoom_in", "rot90", "rot180",
       "rot270"]


@pytest.mark.parametrize("op, expected", FOLLOW_CASES, ids=IDS)
def test_box_follows_the_pixels(op, expected):
    image = draw(H, W, BOX)
    out_image, out_labels = op(image, BOX)
    assert_allclose(out_labels[0, 1:], expected)
    assert_allclose(find(out_image), out_labels[0, 1:], atol=1.0)
    assert out_labels[0, 0] == 1


@pytest.mark.parametrize("op, expected", FOLLOW_CASES, ids=IDS)
def test_inverter_maps_back(op, expected):
    box = np.array([[1, 12, 9, 20, 14]], dtype=float)  # stays inside for every op
    _, out_labels, inverter = op(draw(H, W, box), box, return_inverter=True)
    restored = inverter(predictions(out_labels))
    assert_allclose(restored, predictions(box), atol=1e-9)


@pytest.mark.parametrize("op, expected", FOLLOW_CASES, ids=IDS)
def test_without_labels_and_without_boxes(op, expected):
    image = draw(H, W, BOX)
    out_image = op(image)
    assert isinstance(out_image, np.ndarray)
    assert_array_equal(op(image, BOX)[0], out_image)
    out_image2, empty = op(image, np.zeros((0, 5)))
    assert empty.shape == (0, 5)
    assert_array_equal(out_image2, out_image)
    image_only, inverter = op(image, return_inverter=True)
    assert_array_equal(image_only, out_image)
    assert callable(inverter)


@pytest.mark.parametrize("op, expected", FOLLOW_CASES, ids=IDS)
def test_inputs_are_not_modified(op, expected):
    image, box = draw(H, W, BOX), BOX.copy()
    op(image, box)
    assert_array_equal(image, draw(H, W, BOX))
    assert_array_equal(box, BOX)


def test_single_channel_image_keeps_its_channel_axis():
    image = draw(H, W, BOX, channels=1)
    for op in (Resize(20, 30), Translate(0.1, 0.1), Scale(0.8), Flip(), Rotate(90)):
        assert op(image).ndim == 3


@pytest.mark.parametrize("dim", ["horizontal", "vertical"])
def test_flip_twice_is_identity(rng, dim):
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    labels = np.array([[1, 3.5, 2, 20, 17.25], [2, 0, 0, 60, 40]])
    flip = Flip(dim)
    out_image, out_labels = flip(*flip(image, labels))
    assert_array_equal(out_image, image)
    assert_allclose(out_labels, labels)


def test_resize_keeps_float_coordinates():
    out = Resize(30, 45)(np.zeros((H, W, 3), np.uint8), np.array([[1, 10, 6, 31, 17]]))[1]
    assert_allclose(out, [[1, 7.5, 4.5, 23.25, 12.75]])  # ssd_keras rounded to ints


def test_resize_box_filter_drops_degenerate_boxes():
    box_filter = BoxFilter(check_overlap=False, check_min_area=True, min_area=4)
    labels = np.array([[1, 10, 6, 30, 16], [2, 0, 0, 2, 2]], dtype=float)
    out = Resize(20, 30, box_filter=box_filter)(np.zeros((H, W, 3), np.uint8), labels)[1]
    assert out[:, 0].tolist() == [1]


def test_translate_filters_then_clips():
    labels = np.array([[1, 40, 6, 55, 16], [2, 5, 6, 20, 16]], dtype=float)
    box_filter = BoxFilter(check_min_area=False, overlap_criterion="center_point")
    out = Translate(0, 0.25, box_filter=box_filter)(np.zeros((H, W, 3)), labels)[1]
    assert_allclose(out, [[2, 20, 6, 35, 16]])  # box 1's center (62.5) left the image
    out = Translate(0, 0.25, clip_boxes=True)(np.zeros((H, W, 3)), labels)[1]
    assert_allclose(out[0], [1, 55, 6, 60, 16])
    out = Translate(0, 0.25, clip_boxes=False)(np.zeros((H, W, 3)), labels)[1]
    assert_allclose(out[0], [1, 55, 6, 70, 16])


def test_translate_and_scale_fill_background():
    image = np.full((H, W, 3), 255, np.uint8)
    assert_array_equal(Translate(0, 0.5, background=(1, 2, 3))(image)[0, 0], [1, 2, 3])
    assert_array_equal(Scale(0.5, background=(1, 2, 3))(image)[0, 0], [1, 2, 3])


def test_resize_random_interp_uses_all_modes():
    op = ResizeRandomInterp(20, 30, rng=0)
    seen = set()
    for _ in range(50):
        assert op(np.zeros((H, W, 3), np.uint8)).shape == (20, 30, 3)
        seen.add(op.resize.interpolation_mode)
    assert seen == set(op.interpolation_modes)


RANDOM_OPS = [
    (lambda p, rng: RandomFlip("horizontal", prob=p, rng=rng)),
    (lambda p, rng: RandomRotate(prob=p, rng=rng)),
    (lambda p, rng: RandomTranslate(prob=p, rng=rng)),
    (lambda p, rng: RandomScale(prob=p, rng=rng)),
]


@pytest.mark.parametrize("make", RANDOM_OPS)
def test_random_ops_prob_zero_and_one(make):
    image = draw(H, W, BOX)
    out_image, out_labels = make(0.0, 0)(image, BOX)
    assert_array_equal(out_image, image)
    assert_array_equal(out_labels, BOX)
    for seed in range(5):
        out_image, out_labels = make(1.0, seed)(image, BOX)
        assert not np.array_equal(out_labels, BOX)
        assert_allclose(find(out_image), out_labels[0, 1:], atol=1.0)


@pytest.mark.parametrize("make", RANDOM_OPS)
def test_random_ops_are_reproducible_and_handle_missing_labels(make):
    image = draw(H, W, BOX)
    runs = [[make(0.5, 3)(image, BOX)[1] for _ in range(6)] for _ in range(2)]
    assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))
    op = make(1.0, 0)
    assert op(image).shape[2] == 3
    assert op(image, np.zeros((0, 5)))[1].shape == (0, 5)
    central = np.array([[1, 24, 16, 36, 24]], dtype=float)  # never clipped by these ops
    out_image, out_labels, inverter = make(1.0, 1)(image, central, return_inverter=True)
    assert_allclose(inverter(predictions(out_labels)), predictions(central), atol=1e-9)


def test_random_translate_returns_input_when_the_validator_never_passes():
    never = ImageValidator("iou", bounds=(0.99, 1.0))  # the box is far smaller than the image
    op = RandomTranslate(prob=1.0, image_validator=never, rng=0)
    out_image, out_labels = op(draw(H, W, BOX), BOX)
    assert_array_equal(out_image, draw(H, W, BOX))
    assert_array_equal(out_labels, BOX)


def test_random_scale_accepts_only_validated_draws():
    validator = ImageValidator("area", bounds=(1.0, 1.0), n_boxes_min="all")
    op = RandomScale(0.5, 3.0, prob=1.0, image_validator=validator, n_trials_max=50, rng=0)
    for _ in range(10):
        out = op(draw(H, W, BOX), BOX)[1]
        assert np.all(out[:, 1:] >= 0) and out[0, 3] <= W and out[0, 4] <= H


def test_random_rotate_draws_from_angles():
    op = RandomRotate(angles=(180,), prob=1.0, rng=0)
    assert_allclose(op(draw(H, W, BOX), BOX)[1], Rotate(180)(draw(H, W, BOX), BOX)[1])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Resize(0, 10), "height"),
        (lambda: Resize(10, 2.5), "width"),
        (lambda: Resize(10, 10, interpolation_mode=99), "interpolation_mode"),
        (lambda: Resize(10, 10, box_filter="x"), "box_filter"),
        (lambda: ResizeRandomInterp(10, 10, interpolation_modes=(1, 77)), "interpolation_modes"),
        (lambda: Flip("diagonal"), "dim"),
        (lambda: RandomFlip(prob=-0.1), "prob"),
        (lambda: RandomFlip(prob=1.5), "prob"),
        (lambda: Scale(0), "factor"),
        (lambda: Scale(-2), "factor"),
        (lambda: Rotate(45), "angle"),
        (lambda: RandomRotate(angles=(90, 30)), "angles"),
        (lambda: RandomTranslate(dy_minmax=(0.3, 0.1)), "dy_minmax"),
        (lambda: RandomTranslate(dx_minmax=(-0.1, 0.1)), "dx_minmax"),
        (lambda: RandomTranslate(n_trials_max=0), "n_trials_max"),
        (lambda: RandomScale(min_factor=2.0, max_factor=1.0), "min_factor"),
        (lambda: RandomScale(min_factor=0.0), "min_factor"),
        (lambda: Translate(0.1, 0.1, background=()), "background"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_rng():
    with pytest.raises(TypeError, match="rng"):
        RandomFlip(rng="seed")
