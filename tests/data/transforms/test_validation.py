"""BoundGenerator, BoxFilter and ImageValidator on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.data.transforms import BoundGenerator
from keras_ssd.data.transforms import BoxFilter
from keras_ssd.data.transforms import ImageValidator

H, W = 40, 60  # image height and width used throughout


def labels(*boxes):
    """Rows [class_id=i+1, xmin, ymin, xmax, ymax]."""
    return np.array([[i + 1, *box] for i, box in enumerate(boxes)], dtype=float)


def overlap_filter(criterion, bounds=(0.3, 1.0), **kwargs):
    return BoxFilter(check_overlap=True, check_min_area=False, check_degenerate=False,
                     overlap_criterion=criterion, overlap_bounds=bounds, **kwargs)


class TestBoundGenerator:
    def test_none_maps_to_zero_and_one(self):
        gen = BoundGenerator(sample_space=((None, 0.4), (0.2, None), (None, None)), rng=0)
        assert gen.sample_space == [[0.0, 0.4], [0.2, 1.0], [0.0, 1.0]]

    def test_draws_only_weighted_pairs(self):
        gen = BoundGenerator(((0.1, None), (0.5, 0.6)), weights=(0, 3), rng=0)
        assert all(gen() == [0.5, 0.6] for _ in range(20))

    def test_uniform_draws_cover_the_sample_space(self):
        gen = BoundGenerator(rng=0)
        drawn = {tuple(gen()) for _ in range(200)}
        assert drawn == {tuple(pair) for pair in gen.sample_space}

    def test_seeded_draws_repeat(self):
        a, b = BoundGenerator(rng=5), BoundGenerator(rng=5)
        assert [a() for _ in range(10)] == [b() for _ in range(10)]

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"sample_space": ((0.5, 0.2),)}, "lower <= upper"),
            ({"sample_space": ((0.5,),)}, "pair"),
            ({"sample_space": ()}, "must not be empty"),
            ({"sample_space": ((0, 1), (0, 1)), "weights": (1,)}, "weights"),
            ({"sample_space": ((0, 1),), "weights": (-1,)}, "weights"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            BoundGenerator(**kwargs)


class TestBoxFilter:
    def test_degenerate(self):
        y = labels((0, 0, 10, 10), (5, 0, 5, 10), (0, 8, 10, 3), (9, 0, 2, 4))
        out = BoxFilter(check_overlap=False, check_min_area=False)(y)
        assert_allclose(out, y[:1])

    def test_min_area_is_inclusive(self):
        y = labels((0, 0, 4, 4), (0, 0, 3, 5), (0, 0, 20, 1), (0, 0, 5, 3.1))
        out = BoxFilter(check_overlap=False, check_degenerate=False, min_area=16)(y)
        assert out[:, 0].tolist() == [1, 3]

    def test_iou_criterion(self):
        # IoU with the 60x40 image: 1200/2400 = 0.5, 100/2700 = 0.037, 2400/2400 = 1.
        y = labels((0, 0, 30, 40), (50, 30, 70, 50), (0, 0, 60, 40))
        assert overlap_filter("iou", (0.3, 1.0))(y, H, W)[:, 0].tolist() == [1, 3]
        assert overlap_filter("iou", (0.5, 1.0))(y, H, W)[:, 0].tolist() == [3]  # lower strict
        assert overlap_filter("iou", (0.0, 0.5))(y, H, W)[:, 0].tolist() == [1, 2]

    def test_area_criterion(self):
        # Fraction inside the image: 0.25, 0.5, 0.0 (outside), 1.0.
        y = labels((50, 30, 70, 50), (-10, 0, 10, 10), (70, 0, 80, 10), (5, 5, 15, 15))
        assert overlap_filter("area", (0.5, 1.0))(y, H, W)[:, 0].tolist() == [2, 4]
        assert overlap_filter("area", (0.25, 0.5))(y, H, W)[:, 0].tolist() == [1, 2]
        # lower = 0 is strict: a box entirely outside is dropped.
        assert overlap_filter("area", (0.0, 0.3))(y, H, W)[:, 0].tolist() == [1]

    def test_center_point_criterion_uses_image_extent(self):
        # Centers: (60, 40) on the far corner (kept), (65, 5) outside, (-1, 5) outside.
        y = labels((50, 30, 70, 50), (55, 0, 75, 10), (-6, 0, 4, 10), (0, 0, 1, 1))
        assert overlap_filter("center_point")(y, H, W)[:, 0].tolist() == [1, 4]

    def test_bound_generator_bounds(self):
        y = labels((0, 0, 30, 40), (0, 0, 60, 40))
        gen = BoundGenerator(((0.6, None),), rng=0)
        assert overlap_filter("iou", gen)(y, H, W)[:, 0].tolist() == [2]

    def test_all_checks_combine(self):
        y = labels((0, 0, 30, 40), (0, 0, 2, 2), (10, 10, 5, 20), (70, 0, 90, 10))
        out = BoxFilter()(y, H, W)
        assert out[:, 0].tolist() == [1]

    def test_custom_labels_format(self):
        fmt = {"xmin": 0, "ymin": 1, "xmax": 2, "ymax": 3, "class_id": 4}
        y = np.array([[0, 0, 10, 10, 1], [5, 0, 5, 10, 2]], dtype=float)
        out = BoxFilter(check_overlap=False, labels_format=fmt)(y)
        assert_allclose(out, y[:1])

    @pytest.mark.parametrize("criterion", ["iou", "area", "center_point"])
    def test_no_boxes(self, criterion):
        out = overlap_filter(criterion)(np.zeros((0, 5)), H, W)
        assert out.shape == (0, 5)

    def test_returns_a_copy(self):
        y = labels((0, 0, 30, 40))
        out = BoxFilter()(y, H, W)
        out[0, 1] = 99
        assert y[0, 1] == 0

    def test_overlap_needs_image_size(self):
        with pytest.raises(ValueError, match="image_height"):
            BoxFilter()(labels((0, 0, 10, 10)))

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"overlap_criterion": "centre"}, "overlap_criterion"),
            ({"overlap_bounds": (0.8, 0.2)}, "overlap_bounds"),
            ({"overlap_bounds": 0.5}, "overlap_bounds"),
            ({"min_area": -1}, "min_area"),
            ({"border_pixels": "all"}, "border_pixels"),
            ({"labels_format": {"xmin": 0}}, "labels_format"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            BoxFilter(**kwargs)


class TestImageValidator:
    y = labels((0, 0, 30, 40), (50, 30, 70, 50), (0, 0, 60, 40))  # IoUs 0.5, 0.037, 1.0

    @pytest.mark.parametrize("n_boxes_min, expected", [(0, True), (2, True), (3, False)])
    def test_n_boxes_min(self, n_boxes_min, expected):
        validator = ImageValidator("iou", bounds=(0.3, 1.0), n_boxes_min=n_boxes_min)
        assert validator(self.y, H, W) is expected

    def test_all(self):
        assert not ImageValidator("iou", (0.3, 1.0), "all")(self.y, H, W)
        assert ImageValidator("iou", (0.0, 1.0), "all")(self.y, H, W)

    def test_no_boxes(self):
        empty = np.zeros((0, 5))
        assert not ImageValidator(n_boxes_min=1)(empty, H, W)
        assert ImageValidator(n_boxes_min="all")(empty, H, W)

    def test_reassigned_bounds_are_used(self):
        validator = ImageValidator("iou", bounds=(0.3, 1.0), n_boxes_min=2)
        assert validator(self.y, H, W)
        validator.bounds = (0.9, 1.0)
        assert not validator(self.y, H, W)

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"n_boxes_min": -1}, "n_boxes_min"),
            ({"n_boxes_min": "some"}, "n_boxes_min"),
            ({"overlap_criterion": "x"}, "overlap_criterion"),
            ({"bounds": (1.0, 0.0)}, "bounds"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            ImageValidator(**kwargs)
