"""Greedy bipartite and multi matching, against hand-made matrices and a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ssd.encoding.matching import match_bipartite_greedy
from keras_ssd.encoding.matching import match_multi


def plain_bipartite(weights):
    """ssd_keras's loop (fixed): per-row argmax, best row, zero its row and column."""
    weights = np.array(weights, dtype=float)
    m = weights.shape[0]
    matches = np.full(m, -1)
    for _ in range(m):
        anchors = np.argmax(weights, axis=1)
        overlaps = weights[np.arange(m), anchors]
        gt = int(np.argmax(overlaps))
        if overlaps[gt] <= 0:  # nothing left to match: the original took anchor 0 here
            break
        matches[gt] = anchors[gt]
        weights[gt, :] = 0
        weights[:, anchors[gt]] = 0
    return matches


def test_bipartite_gives_each_box_its_best_anchor_even_below_any_threshold():
    weights = np.array([[0.1, 0.2, 0.05], [0.3, 0.9, 0.0]])
    np.testing.assert_array_equal(match_bipartite_greedy(weights), [0, 1])


def test_bipartite_two_boxes_competing_for_one_anchor_get_distinct_anchors():
    weights = np.array([[0.8, 0.3, 0.0], [0.7, 0.1, 0.2]])
    np.testing.assert_array_equal(match_bipartite_greedy(weights), [0, 2])


def test_bipartite_ties_go_to_the_first_row_then_the_first_column():
    np.testing.assert_array_equal(match_bipartite_greedy(np.full((2, 2), 0.5)), [0, 1])
    np.testing.assert_array_equal(match_bipartite_greedy([[0.2, 0.7], [0.7, 0.7]]), [1, 0])


def test_bipartite_box_without_free_overlap_does_not_steal_a_matched_anchor():
    # ssd_keras gave box 1 anchor 0 as well (argmax of its zeroed row): a collision.
    weights = np.array([[0.9, 0.0, 0.0], [0.8, 0.0, 0.0]])
    np.testing.assert_array_equal(match_bipartite_greedy(weights), [0, -1])
    weights = np.array([[0.0, 0.0, 0.0], [0.0, 0.6, 0.0]])  # an all-zero row
    np.testing.assert_array_equal(match_bipartite_greedy(weights), [-1, 1])


def test_bipartite_more_boxes_than_anchors():
    np.testing.assert_array_equal(match_bipartite_greedy([[0.5], [0.7], [0.1]]), [-1, 0, -1])


def test_bipartite_empty_shapes():
    assert match_bipartite_greedy(np.zeros((0, 5))).shape == (0,)
    np.testing.assert_array_equal(match_bipartite_greedy(np.zeros((2, 0))), [-1, -1])
    assert match_bipartite_greedy(np.zeros((3, 0, 4))).shape == (3, 0)


def test_bipartite_does_not_modify_its_input(rng):
    weights = rng.random((4, 9))
    copy = weights.copy()
    match_bipartite_greedy(weights)
    np.testing.assert_array_equal(weights, copy)


@pytest.mark.parametrize("seed", range(40))
def test_bipartite_matches_plain_loop_on_random_matrices_with_ties_and_zeros(seed):
    rng = np.random.default_rng(seed)
    batch, m, n = 5, int(rng.integers(1, 9)), int(rng.integers(1, 15))
    # Few distinct values (ties) and many zeros (rows that run out of overlap).
    weights = rng.integers(0, 5, size=(batch, m, n)) / 4.0
    weights *= rng.random((batch, m, n)) < 0.5
    batched = match_bipartite_greedy(weights)
    for image in range(batch):
        expected = plain_bipartite(weights[image])
        np.testing.assert_array_equal(batched[image], expected)
        np.testing.assert_array_equal(match_bipartite_greedy(weights[image]), expected)
        matched = expected[expected >= 0]
        assert len(set(matched.tolist())) == len(matched)  # no anchor used twice


def test_match_multi_threshold_is_inclusive_and_takes_the_best_box():
    weights = np.array([[0.5, 0.49, 0.2, 0.0], [0.6, 0.1, 0.5, 0.0]])
    gt, anchors = match_multi(weights, threshold=0.5)
    np.testing.assert_array_equal(anchors, [0, 2])
    np.testing.assert_array_equal(gt, [1, 1])


def test_match_multi_ties_go_to_the_first_box():
    gt, anchors = match_multi(np.array([[0.7, 0.2], [0.7, 0.9]]), threshold=0.6)
    np.testing.assert_array_equal(gt, [0, 1])
    np.testing.assert_array_equal(anchors, [0, 1])


def test_match_multi_batched_returns_image_indices(rng):
    weights = rng.random((3, 4, 6))
    images, gt, anchors = match_multi(weights, threshold=0.6)
    pairs = set(zip(images.tolist(), gt.tolist(), anchors.tolist()))
    expected = set()
    for b in range(3):
        for a in range(6):
            g = int(np.argmax(weights[b, :, a]))
            if weights[b, g, a] >= 0.6:
                expected.add((b, g, a))
    assert pairs == expected


def test_match_multi_without_boxes_matches_nothing():
    gt, anchors = match_multi(np.zeros((0, 4)), threshold=0.5)
    assert gt.size == 0 and anchors.size == 0


@pytest.mark.parametrize("func", [match_bipartite_greedy, lambda w: match_multi(w, 0.5)])
def test_matching_rejects_a_weight_matrix_of_wrong_rank(func):
    with pytest.raises(ValueError, match=r"`weight_matrix` must have shape .*shape=\(4,\)"):
        func(np.zeros(4))
