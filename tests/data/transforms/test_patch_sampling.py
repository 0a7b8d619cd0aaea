"""Patch sampling: crops and pads move boxes with the pixels; random patches obey
their generator, validator and probability; RandomPadFixedAR never crops."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data.transforms import BoundGenerator
from keras_ssd.data.transforms import BoxFilter
from keras_ssd.data.transforms import Crop
from keras_ssd.data.transforms import CropPad
from keras_ssd.data.transforms import ImageValidator
from keras_ssd.data.transforms import Pad
from keras_ssd.data.transforms import PatchCoordinateGenerator
from keras_ssd.data.transforms import RandomMaxCropFixedAR
from keras_ssd.data.transforms import RandomPadFixedAR
from keras_ssd.data.transforms import RandomPatch
from keras_ssd.data.transforms import RandomPatchInf
from tests.data.transforms.drawing import draw
from tests.data.transforms.drawing import find
from tests.data.transforms.drawing import predictions

H, W = 40, 60
BOX = np.array([[1, 10, 6, 30, 16]], dtype=float)
NEVER = dict(overlap_criterion="iou", bounds=(0.99, 1.0))  # the box is much smaller


def check_follows(out_image, out_labels, original=BOX, inverter=None):
    assert_allclose(find(out_image), out_labels[0, 1:], atol=1e-9)
    if inverter is not None:
        assert_allclose(inverter(predictions(out_labels)), predictions(original), atol=1e-9)


class TestPatchCoordinateGenerator:
    def test_h_w_sides_and_positions(self):
        gen = PatchCoordinateGenerator(H, W, "h_w", 0.3, 1.0, rng=0)
        for _ in range(50):
            ymin, xmin, h, w = gen()
            assert int(0.3 * H) <= h <= H and int(0.3 * W) <= w <= W
            assert 0 <= ymin <= H - h and 0 <= xmin <= W - w

    def test_larger_patches_contain_the_image(self):
        gen = PatchCoordinateGenerator(H, W, "h_w", 1.0, 4.0, scale_uniformly=True, rng=0)
        for _ in range(50):
            ymin, xmin, h, w = gen()
            assert abs(h / H - w / W) < 0.05
            assert ymin <= 0 <= H <= ymin + h and xmin <= 0 <= W <= xmin + w

    @pytest.mark.parametrize("must_match", ["h_ar", "w_ar"])
    def test_aspect_ratio_modes(self, must_match):
        gen = PatchCoordinateGenerator(H, W, must_match, 0.5, 0.9, patch_aspect_ratio=1.5, rng=0)
        for _ in range(20):
            _, _, h, w = gen()
            if must_match == "h_ar":
                assert w == int(h * 1.5)
            else:
                assert h == int(w / 1.5)

    def test_fixed_values(self):
        gen = PatchCoordinateGenerator(H, W, patch_ymin=3, patch_xmin=-2, patch_height=7,
                                       patch_width=70, rng=0)
        assert gen() == (3, -2, 7, 70)

    def test_needs_image_size(self):
        with pytest.raises(ValueError, match="img_height"):
            PatchCoordinateGenerator(rng=0)()

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"must_match": "w_h"}, "must_match"),
            ({"min_scale": 1.0, "max_scale": 1.0}, "min_scale"),
            ({"min_scale": 0.0}, "min_scale"),
            ({"min_aspect_ratio": 2.0, "max_aspect_ratio": 1.0}, "min_aspect_ratio"),
            ({"scale_uniformly": True, "patch_height": 10}, "scale_uniformly"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            PatchCoordinateGenerator(**kwargs)


# (ymin, xmin, height, width) in every sign combination, crop and pad mixed.
PATCHES = [(2, 5, 30, 40), (-5, -7, 50, 80), (3, -6, 30, 70), (-4, 4, 50, 40)]


@pytest.mark.parametrize("patch", PATCHES)
def test_crop_pad_moves_boxes_with_pixels(patch):
    ymin, xmin, height, width = patch
    crop = CropPad(*patch, background=(0, 0, 0))
    out_image, out_labels, inverter = crop(draw(H, W, BOX), BOX, return_inverter=True)
    assert out_image.shape == (height, width, 3)
    assert_allclose(out_labels[0, 1:], BOX[0, 1:] - [xmin, ymin, xmin, ymin])
    check_follows(out_image, out_labels, inverter=inverter)
    # The uncovered canvas is background, the covered part is the image.
    assert_array_equal(crop(np.full((H, W, 3), 9, np.uint8)).max(), 9)


@pytest.mark.parametrize("patch", PATCHES)
def test_crop_pad_without_labels(patch):
    crop = CropPad(*patch)
    image = draw(H, W, BOX)
    out = crop(image)
    assert_array_equal(out, crop(image, BOX)[0])
    assert crop(image, np.zeros((0, 5)))[1].shape == (0, 5)
    out, inverter = crop(image, return_inverter=True)
    assert out.shape[:2] == patch[2:]


def test_crop_pad_background_and_gray_images():
    out = CropPad(-2, -2, 10, 10, background=(7, 8, 9))(np.zeros((4, 4, 3), np.uint8))
    assert_array_equal(out[0, 0], [7, 8, 9])
    assert_array_equal(out[3, 3], [0, 0, 0])
    out = CropPad(-2, -2, 10, 10, background=(7, 8, 9))(np.zeros((4, 4), np.float32))
    assert out.shape == (10, 10) and out.dtype == np.float32 and out[0, 0] == 7


def test_crop_pad_clips_and_filters():
    labels = np.array([[1, 10, 6, 30, 16], [2, 40, 20, 58, 38]], dtype=float)
    out = CropPad(0, 0, 20, 35)(np.zeros((H, W, 3)), labels)[1]
    assert_allclose(out, [[1, 10, 6, 30, 16], [2, 35, 20, 35, 20]])
    box_filter = BoxFilter(check_min_area=False)  # center point
    out = CropPad(0, 0, 20, 35, box_filter=box_filter)(np.zeros((H, W, 3)), labels)[1]
    assert_allclose(out, [[1, 10, 6, 30, 16]])
    out = CropPad(0, 0, 20, 35, clip_boxes=False)(np.zeros((H, W, 3)), labels)[1]
    assert_allclose(out, labels)


def test_crop_pad_outside_the_image_raises():
    with pytest.raises(ValueError, match="does not overlap"):
        CropPad(50, 0, 10, 10)(np.zeros((H, W, 3)))
    with pytest.raises(ValueError, match="does not overlap"):
        CropPad(0, -20, 10, 20)(np.zeros((H, W, 3)))
    with pytest.raises(ValueError, match="patch_height"):
        CropPad(0, 0, 0, 10)


def test_crop_and_pad():
    image = draw(H, W, BOX)
    out_image, out_labels, inverter = Crop(2, 3, 4, 5)(image, BOX, return_inverter=True)
    assert out_image.shape == (35, 51, 3)
    check_follows(out_image, out_labels, inverter=inverter)
    out_image, out_labels, inverter = Pad(2, 3, 4, 5)(image, BOX, return_inverter=True)
    assert out_image.shape == (45, 69, 3)
    assert_allclose(out_labels, [[1, 14, 8, 34, 18]])
    check_follows(out_image, out_labels, inverter=inverter)
    assert Crop(1, 1, 1, 1)(image).shape == (38, 58, 3)
    with pytest.raises(ValueError, match="leaves no pixels"):
        Crop(20, 20, 0, 0)(image)
    with pytest.raises(ValueError, match="pad_left"):
        Pad(0, 0, -1, 0)
    with pytest.raises(ValueError, match="crop_top"):
        Crop(1.5, 0, 0, 0)


def make_random_patch(**kwargs):
    gen = PatchCoordinateGenerator(must_match="h_w", min_scale=0.5, max_scale=1.5)
    return RandomPatch(gen, **kwargs)


class TestRandomPatch:
    def test_patches_follow_and_invert(self):
        box = np.array([[1, 25, 15, 35, 25]], dtype=float)
        op = make_random_patch(image_validator=ImageValidator("area", (1.0, 1.0), "all"),
                               n_trials_max=100, rng=0)
        for _ in range(10):
            out_image, out_labels, inverter = op(draw(H, W, box), box, return_inverter=True)
            check_follows(out_image, out_labels, box, inverter)

    def test_failure_without_can_fail_returns_input(self):
        op = make_random_patch(image_validator=ImageValidator(**NEVER), rng=0)
        out_image, out_labels, inverter = op(draw(H, W, BOX), BOX, return_inverter=True)
        assert_array_equal(out_image, draw(H, W, BOX))
        assert_array_equal(out_labels, BOX)
        assert_array_equal(inverter(predictions(BOX)), predictions(BOX))

    def test_failure_with_can_fail_returns_none(self):
        op = make_random_patch(image_validator=ImageValidator(**NEVER), can_fail=True, rng=0)
        assert op(draw(H, W, BOX), BOX) == (None, None)
        assert op(draw(H, W, BOX), BOX, return_inverter=True) == (None, None, None)
        assert op(draw(H, W, BOX), np.zeros((0, 5))) == (None, None)

    def test_without_labels_the_validator_is_not_needed(self):
        op = make_random_patch(image_validator=ImageValidator(**NEVER), can_fail=True, rng=0)
        out = op(draw(H, W, BOX))
        assert isinstance(out, np.ndarray)

    def test_prob_zero_is_identity(self):
        op = make_random_patch(prob=0.0, rng=0)
        out_image, out_labels = op(draw(H, W, BOX), BOX)
        assert_array_equal(out_image, draw(H, W, BOX))
        assert_array_equal(out_labels, BOX)

    def test_seeded(self):
        a = make_random_patch(rng=4)
        b = make_random_patch(rng=4)
        for _ in range(5):
            assert_array_equal(a(draw(H, W, BOX), BOX)[1], b(draw(H, W, BOX), BOX)[1])

    def test_bad_arguments(self):
        with pytest.raises(TypeError, match="patch_coord_generator"):
            RandomPatch("gen")
        with pytest.raises(TypeError, match="image_validator"):
            make_random_patch(image_validator=BoxFilter())
        with pytest.raises(ValueError, match="prob"):
            make_random_patch(prob=-1)


class TestRandomPatchInf:
    def make(self, **kwargs):
        gen = PatchCoordinateGenerator(must_match="h_w", min_scale=0.3, max_scale=1.0,
                                       min_aspect_ratio=0.5, max_aspect_ratio=2.0)
        return RandomPatchInf(gen, **kwargs)

    def test_patches_respect_aspect_ratio_and_validator(self):
        validator = ImageValidator("iou", (0.3, 1.0), n_boxes_min=1)
        op = self.make(image_validator=validator, prob=1.0,
                       bound_generator=BoundGenerator(((0.3, None), (0.5, None))), rng=0)
        for _ in range(20):
            out_image, out_labels, inverter = op(draw(H, W, BOX), BOX, return_inverter=True)
            h, w = out_image.shape[:2]
            assert 0.5 <= w / h <= 2.0
            assert validator.bounds[0] in (0.3, 0.5)
            restored = inverter(predictions(out_labels))
            assert np.all(restored[:, 2:4] >= BOX[:, 1:3] - 1e-9)  # clipping only shrinks
            assert np.all(restored[:, 4:6] <= BOX[:, 3:5] + 1e-9)

    def test_is_bounded_when_no_patch_can_pass(self):
        op = self.make(image_validator=ImageValidator(**NEVER), prob=1.0, n_trials_max=5,
                       n_rounds_max=3, rng=0)
        out_image, out_labels = op(draw(H, W, BOX), BOX)
        assert_array_equal(out_image, draw(H, W, BOX))
        assert_array_equal(out_labels, BOX)

    def test_prob_zero_and_image_only(self):
        out_image, out_labels = self.make(prob=0.0, rng=0)(draw(H, W, BOX), BOX)
        assert_array_equal(out_labels, BOX)
        out = self.make(prob=1.0, rng=0)(draw(H, W, BOX))
        assert out.shape != (H, W, 3)
        assert self.make(prob=1.0, rng=0)(draw(H, W, BOX), np.zeros((0, 5)))[1].shape == (0, 5)

    def test_bad_arguments(self):
        with pytest.raises(TypeError, match="bound_generator"):
            self.make(bound_generator=(0.1, 1.0))
        with pytest.raises(ValueError, match="n_rounds_max"):
            self.make(n_rounds_max=0)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 1.5, 3.0])
def test_random_max_crop_fixed_ar(ratio):
    whole = ImageValidator("area", (1.0, 1.0), n_boxes_min="all")  # keep the box uncut
    op = RandomMaxCropFixedAR(ratio, image_validator=whole, n_trials_max=100, rng=0)
    box = np.array([[1, 25, 15, 35, 25]], dtype=float)
    out_image, out_labels, inverter = op(draw(H, W, box), box, return_inverter=True)
    h, w = out_image.shape[:2]
    assert (h == H or w == W) and h <= H and w <= W
    assert abs(w / h - ratio) < 0.05
    check_follows(out_image, out_labels, box, inverter)
    assert op(draw(H, W, box)).shape[2] == 3


def test_random_pad_fixed_ar_never_crops():
    # ssd_keras turned this 100x200 image into 67x200 (a crop).
    out = RandomPadFixedAR(3.0, rng=0)(np.zeros((100, 200, 3), np.uint8))
    assert out.shape == (100, 300, 3)
    for ratio in (0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 4.0):
        for shape in ((100, 200), (200, 100), (40, 60)):
            h, w = RandomPadFixedAR(ratio, rng=0)(np.zeros((*shape, 3), np.uint8)).shape[:2]
            assert h >= shape[0] and w >= shape[1] and (h == shape[0] or w == shape[1])
            assert abs(w - ratio * h) <= 1


def test_random_pad_fixed_ar_moves_and_inverts():
    op = RandomPadFixedAR(3.0, background=(0, 0, 0), rng=0)
    for _ in range(5):
        out_image, out_labels, inverter = op(draw(H, W, BOX), BOX, return_inverter=True)
        assert out_image.shape == (H, 120, 3)
        check_follows(out_image, out_labels, inverter=inverter)
    with pytest.raises(ValueError, match="patch_aspect_ratio"):
        RandomPadFixedAR(0)
