"""SSDLoss: values against an independent NumPy implementation, hand cases, edge cases, API."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.losses import SSDLoss
from tests.helpers import assert_config_has_all_init_args
from tests.losses.ssd_loss_reference import make_batch
from tests.losses.ssd_loss_reference import reference_loss


def _loss(y_true, y_pred, **kwargs):
    return SSDLoss(**kwargs).compute_loss(y_true, y_pred).numpy()


def _row(probs, true_class=None, true_offsets=(0, 0, 0, 0), pred_offsets=(0, 0, 0, 0)):
    """One anchor of a 1-class (2 class columns) layout: (y_true row, y_pred row)."""
    one_hot = [0.0, 0.0]
    if true_class is not None:
        one_hot[true_class] = 1.0
    tail = [0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.2, 0.2]  # anchors and variances: ignored
    return [*one_hot, *true_offsets, *tail], [*probs, *pred_offsets, *tail]


def _batch(*images):
    """Stack images given as lists of `_row` pairs into (y_true, y_pred) arrays."""
    y_true = np.array([[row[0] for row in image] for image in images], dtype=np.float32)
    y_pred = np.array([[row[1] for row in image] for image in images], dtype=np.float32)
    return y_true, y_pred


# -- hand-computed cases ----------------------------------------------------------


def test_hand_computed_single_image():
    y_true, y_pred = _batch(
        [
            _row([0.2, 0.8], true_class=1, pred_offsets=(0.5, -2.0, 0.0, 0.0)),  # positive
            _row([0.9, 0.1], true_class=0),  # easy negative
            _row([0.5, 0.5], true_class=0),  # hardest negative
            _row([0.6, 0.4], true_class=0),  # second hardest
            _row([0.01, 0.99]),  # neutral: ignored although its loss would be huge
        ]
    )
    # smooth L1 of (0.5, -2, 0, 0): 0.5 * 0.25 + (2 - 0.5) = 1.625
    positive = -math.log(0.8) + 0.5 * 1.625
    two_hardest = -math.log(0.5) - math.log(0.6)
    got = _loss(y_true, y_pred, neg_pos_ratio=2, alpha=0.5)
    assert_allclose(got, [positive + two_hardest], rtol=1e-6)
    # ratio 3 keeps all three negatives; ratio 0 keeps none.
    all_three = two_hardest - math.log(0.9)
    assert_allclose(_loss(y_true, y_pred, alpha=0.5), [positive + all_three], rtol=1e-6)
    assert_allclose(_loss(y_true, y_pred, neg_pos_ratio=0, alpha=0.5), [positive], rtol=1e-6)


def test_hand_computed_batch_vs_per_image_mining():
    # Image 0: one positive, a mild negative. Image 1: no positive, a hard negative.
    y_true, y_pred = _batch(
        [
            _row([0.25, 0.75], true_class=1),
            _row([0.7, 0.3], true_class=0),
        ],
        [
            _row([0.9, 0.1], true_class=0),
            _row([0.2, 0.8], true_class=0),
        ],
    )
    pos = -math.log(0.75)
    # batch: k = 1 over the whole batch -> image 1's hard negative; N_pos = 1, x batch 2.
    assert_allclose(
        _loss(y_true, y_pred, neg_pos_ratio=1),
        [2 * pos, 2 * -math.log(0.2)],
        rtol=1e-6,
    )
    # per image: image 0 keeps its own negative, image 1 (no positive) keeps none.
    assert_allclose(
        _loss(y_true, y_pred, neg_pos_ratio=1, mining="per_image"),
        [2 * (pos - math.log(0.7)), 0.0],
        rtol=1e-6,
    )
    # per image with n_neg_min=1: image 1 also keeps its hardest negative.
    assert_allclose(
        _loss(y_true, y_pred, neg_pos_ratio=1, n_neg_min=1, mining="per_image"),
        [2 * (pos - math.log(0.7)), 2 * -math.log(0.2)],
        rtol=1e-6,
    )


def test_normalised_by_batch_positives_and_multiplied_by_batch_size():
    # Three positives in the batch, neg_pos_ratio=0: each image's positive loss / 3 * 2.
    y_true, y_pred = _batch(
        [_row([0.5, 0.5], true_class=1), _row([0.2, 0.8], true_class=1)],
        [_row([0.1, 0.9], true_class=1), _row([0.3, 0.7], true_class=0)],
    )
    got = _loss(y_true, y_pred, neg_pos_ratio=0)
    expected = [
        (-math.log(0.5) - math.log(0.8)) / 3 * 2,
        -math.log(0.9) / 3 * 2,
    ]
    assert_allclose(got, expected, rtol=1e-6)
    # Keras's mean over the batch then gives total / N_pos.
    assert_allclose(got.mean(), (-math.log(0.5) - math.log(0.8) - math.log(0.9)) / 3, rtol=1e-6)


def test_huge_ratio_keeps_every_negative(rng):
    y_true, y_pred = make_batch(rng, 2, 100, 3, pos_frac=0.05)
    expected, kept = reference_loss(y_true, y_pred, neg_pos_ratio=1e12)
    assert kept.sum() == (y_true[..., 0] == 1).sum()
    assert_allclose(_loss(y_true, y_pred, neg_pos_ratio=1e12), expected, rtol=1e-5)


def test_probabilities_are_clipped_before_the_log():
    y_true, y_pred = _batch([_row([1.0, 0.0], true_class=1)])
    assert_allclose(_loss(y_true, y_pred), [-math.log(1e-15)], rtol=1e-6)


# -- against the independent NumPy implementation --------------------------------------


@pytest.mark.parametrize("mining", ["batch", "per_image"])
@pytest.mark.parametrize("seed", range(12))
def test_matches_reference_on_random_batches(seed, mining):
    rng = np.random.default_rng(seed)
    batch_size = int(rng.integers(1, 7))
    n_boxes = int(rng.integers(1, 400))
    n_classes = int(rng.integers(1, 6))
    kwargs = {
        "neg_pos_ratio": [0, 1, 3, 2.5][seed % 4],
        "n_neg_min": int(rng.integers(0, 20)),
        "alpha": float(rng.uniform(0.0, 2.0)),
        "mining": mining,
        "negatives_for_hard": int(rng.integers(0, 10)),
    }
    y_true, y_pred = make_batch(
        rng,
        batch_size,
        n_boxes,
        n_classes,
        pos_frac=float(rng.uniform(0.0, 0.3)),
        neutral_frac=float(rng.uniform(0.0, 0.2)),
        quantize=0.5 if seed % 3 == 0 else None,
    )
    expected, _ = reference_loss(y_true, y_pred, **kwargs)
    assert_allclose(_loss(y_true, y_pred, **kwargs), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mining", ["batch", "per_image"])
def test_matches_reference_at_ssd300_size(mining):
    rng = np.random.default_rng(7)
    y_true, y_pred = make_batch(rng, 8, 8732, 20, pos_frac=0.004, neutral_frac=0.01)
    expected, _ = reference_loss(y_true, y_pred, mining=mining)
    assert_allclose(_loss(y_true, y_pred, mining=mining), expected, rtol=1e-5)


def test_mined_negative_count(rng):
    y_true, y_pred = make_batch(rng, 4, 500, 3, pos_frac=0.01, neutral_frac=0.1)
    n_positive = int(y_true[..., 1:4].max(-1).sum())
    assert 0 < 3 * n_positive < 4 * 500 * 0.85  # fewer mined than available negatives

    loss = SSDLoss()
    with tf.GradientTape() as tape:
        y_pred_t = tf.constant(y_pred)
        tape.watch(y_pred_t)
        value = tf.reduce_sum(loss.compute_loss(y_true, y_pred_t))
    grad = tape.gradient(value, y_pred_t).numpy()
    # A negative anchor has a gradient exactly when it is mined.
    is_negative = y_true[..., 0] == 1
    mined = is_negative & np.any(grad[..., :4] != 0, axis=-1)
    assert mined.sum() == 3 * n_positive
    _, expected_kept = reference_loss(y_true, y_pred)
    assert_array_equal(mined, expected_kept)


def test_neutral_anchors_contribute_nothing(rng):
    y_true, y_pred = make_batch(rng, 3, 200, 4, pos_frac=0.1, neutral_frac=0.2)
    neutral = y_true[..., :5].sum(-1) == 0
    assert neutral.any()
    before = _loss(y_true, y_pred)
    # Whatever a neutral anchor predicts (class scores and offsets), the loss is unchanged.
    y_pred_changed = y_pred.copy()
    y_pred_changed[neutral, :9] = rng.random((int(neutral.sum()), 9))
    y_true_changed = y_true.copy()
    y_true_changed[neutral, 5:9] = 100.0
    assert_array_equal(_loss(y_true_changed, y_pred_changed), before)


def test_anchor_and_variance_channels_are_ignored(rng):
    y_true, y_pred = make_batch(rng, 2, 100, 2)
    changed = y_pred.copy()
    changed[..., -8:] = rng.normal(size=changed[..., -8:].shape)
    assert_array_equal(_loss(y_true, changed), _loss(y_true, y_pred))


# -- edge cases -----------------------------------------------------------------------


def test_batch_of_one(rng):
    y_true, y_pred = make_batch(rng, 1, 300, 3, pos_frac=0.05)
    expected, _ = reference_loss(y_true, y_pred)
    got = _loss(y_true, y_pred)
    assert got.shape == (1,)
    assert_allclose(got, expected, rtol=1e-5)


def test_no_positives_is_zero_without_minimum(rng):
    y_true, y_pred = make_batch(rng, 3, 100, 3, pos_frac=0.0)
    got = _loss(y_true, y_pred)
    assert_array_equal(got, np.zeros(3, np.float32))


@pytest.mark.parametrize("option", ["n_neg_min", "negatives_for_hard"])
def test_no_positives_is_exactly_the_negative_term(rng, option):
    y_true, y_pred = make_batch(rng, 3, 100, 3, pos_frac=0.0)
    neg_losses = np.where(y_true[..., 0] == 1, -np.log(y_pred[..., 0].astype(np.float64)), 0)
    hardest = np.sort(neg_losses.ravel())[::-1][:5]
    got = _loss(y_true, y_pred, **{option: 5})
    assert np.all(np.isfinite(got))
    # N_pos = 0 -> divided by 1, times the batch size; summed over images: 3 * the 5 hardest.
    assert_allclose(got.sum(), 3 * hardest.sum(), rtol=1e-5)


def test_negatives_for_hard_only_acts_without_positives(rng):
    y_true, y_pred = make_batch(rng, 2, 200, 3, pos_frac=0.02)
    assert y_true[..., 1:4].max() == 1
    assert_array_equal(_loss(y_true, y_pred, negatives_for_hard=50), _loss(y_true, y_pred))


def test_negatives_for_hard_per_image(rng):
    y_true, y_pred = make_batch(rng, 3, 100, 3, pos_frac=0.0)
    kwargs = {"mining": "per_image", "negatives_for_hard": 4}
    expected, kept = reference_loss(y_true, y_pred, **kwargs)
    assert_array_equal(kept.sum(-1), [4, 4, 4])
    assert_allclose(_loss(y_true, y_pred, **kwargs), expected, rtol=1e-5)


def test_no_negatives(rng):
    y_true, y_pred = make_batch(rng, 2, 50, 3, pos_frac=0.6)
    y_true[y_true[..., 0] == 1, :4] = 0.0  # every background anchor becomes neutral
    expected, kept = reference_loss(y_true, y_pred, n_neg_min=10)
    assert not kept.any()
    got = _loss(y_true, y_pred, n_neg_min=10)
    assert np.all(np.isfinite(got))
    assert_allclose(got, expected, rtol=1e-5)


def test_all_neutral_is_zero():
    y_true = np.zeros((2, 10, 16), np.float32)
    y_pred = np.full((2, 10, 16), 0.25, np.float32)
    assert_array_equal(_loss(y_true, y_pred, n_neg_min=3, negatives_for_hard=3), [0.0, 0.0])


@pytest.mark.parametrize("mining", ["batch", "per_image"])
def test_gradients_are_finite(rng, mining):
    y_true, y_pred = make_batch(rng, 2, 200, 3, pos_frac=0.05)
    y_pred[0, :20, :4] = [1.0, 0.0, 0.0, 0.0]  # zero probabilities hit the 1e-15 clip
    y_pred[1, :20, 4:8] = 1e4  # far in the linear branch of smooth L1
    y_pred_t = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(y_pred_t)
        value = tf.reduce_sum(SSDLoss(mining=mining, n_neg_min=5).compute_loss(y_true, y_pred_t))
    grad = tape.gradient(value, y_pred_t).numpy()
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(grad))
    assert np.any(grad != 0)
    assert_array_equal(grad[..., -8:], 0.0)  # anchors and variances get no gradient


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_y_pred_is_computed_in_float32(rng, dtype):
    y_true, y_pred = make_batch(rng, 2, 300, 3, pos_frac=0.05)
    low = tf.cast(tf.constant(y_pred), dtype)
    expected, _ = reference_loss(y_true, tf.cast(low, "float32").numpy())
    loss = SSDLoss()
    for fn in (loss.compute_loss, tf.function(loss.compute_loss)):
        got = fn(y_true, low)
        assert got.dtype == tf.float32
        assert_allclose(got.numpy(), expected, rtol=1e-5)
    # The Loss object (Keras casts to its float32 dtype first) agrees.
    assert_allclose(float(loss(y_true, low)), expected.mean(), rtol=1e-5)


def test_integer_y_true_is_accepted(rng):
    y_true, y_pred = make_batch(rng, 2, 50, 3, pos_frac=0.1)
    y_true[..., 4:] = np.round(y_true[..., 4:])
    assert_allclose(_loss(y_true.astype(np.int32), y_pred), _loss(y_true, y_pred), rtol=1e-7)


# -- the Keras Loss object and its configuration ------------------------------------


def test_loss_object_gives_the_batch_mean_of_compute_loss(rng):
    y_true, y_pred = make_batch(rng, 4, 300, 3, pos_frac=0.03)
    loss = SSDLoss(neg_pos_ratio=2, n_neg_min=3, alpha=0.7)
    per_image = loss.compute_loss(y_true, y_pred).numpy()
    assert_allclose(float(loss(y_true, y_pred)), per_image.mean(), rtol=1e-6)
    expected, _ = reference_loss(y_true, y_pred, neg_pos_ratio=2, n_neg_min=3, alpha=0.7)
    assert_allclose(float(loss(y_true, y_pred)), expected.mean(), rtol=1e-5)


def test_config_round_trip_and_serialization():
    loss = SSDLoss(
        neg_pos_ratio=2.5, n_neg_min=4, alpha=0.3, mining="per_image", negatives_for_hard=7
    )
    assert_config_has_all_init_args(loss)
    config = loss.get_config()
    assert config["neg_pos_ratio"] == 2.5
    assert config["mining"] == "per_image"
    assert SSDLoss.from_config(config).get_config() == config

    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(loss)))
    assert serialized["registered_name"] == "keras_ssd>SSDLoss"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is SSDLoss
    assert restored.get_config() == config


def test_defaults_are_those_of_ssd_keras():
    config = SSDLoss().get_config()
    assert config["neg_pos_ratio"] == 3
    assert config["n_neg_min"] == 0
    assert config["alpha"] == 1.0
    assert config["mining"] == "batch"
    assert config["negatives_for_hard"] == 0
    assert config["reduction"] == "sum_over_batch_size"


def test_compute_loss_does_not_mutate_the_loss(rng):
    y_true, y_pred = make_batch(rng, 2, 50, 3, pos_frac=0.1)
    loss = SSDLoss(neg_pos_ratio=2, n_neg_min=1, alpha=0.5)
    before = dict(vars(loss))
    loss.compute_loss(y_true, y_pred)
    tf.function(loss.compute_loss)(y_true, y_pred)
    tf.function(loss.compute_loss, jit_compile=True)(y_true, y_pred)
    assert vars(loss) == before
    assert type(loss.neg_pos_ratio) is int
    assert type(loss.alpha) is float


def test_lazy_top_level_export():
    import keras_ssd

    assert keras_ssd.SSDLoss is SSDLoss


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"neg_pos_ratio": -1}, ValueError, r"`neg_pos_ratio`.*Received: neg_pos_ratio=-1"),
        ({"neg_pos_ratio": float("nan")}, ValueError, r"neg_pos_ratio=nan"),
        ({"neg_pos_ratio": "3"}, TypeError, r"`neg_pos_ratio`.*Received: neg_pos_ratio='3'"),
        ({"n_neg_min": -2}, ValueError, r"`n_neg_min`.*Received: n_neg_min=-2"),
        ({"n_neg_min": 1.5}, TypeError, r"`n_neg_min` must be a non-negative integer"),
        ({"alpha": -0.1}, ValueError, r"`alpha`.*Received: alpha=-0.1"),
        ({"alpha": float("inf")}, ValueError, r"alpha=inf"),
        ({"alpha": None}, TypeError, r"`alpha`.*Received: alpha=None"),
        ({"mining": "global"}, ValueError, r"`mining` must be one of.*Received: mining='global'"),
        ({"negatives_for_hard": -1}, ValueError, r"negatives_for_hard=-1"),
        ({"negatives_for_hard": True}, TypeError, r"negatives_for_hard=True"),
        ({"reduction": "average"}, ValueError, r"reduction"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SSDLoss(**kwargs)


def test_last_dimension_mismatch():
    with pytest.raises(ValueError, match=r"same shape.*y_true.shape=\(2, 5, 16\).*\(2, 5, 17\)"):
        SSDLoss().compute_loss(np.zeros((2, 5, 16), np.float32), np.zeros((2, 5, 17), np.float32))


def test_mismatch_is_caught_when_tracing_with_unknown_batch():
    fn = tf.function(
        SSDLoss().compute_loss,
        input_signature=[
            tf.TensorSpec([None, None, 16], tf.float32),
            tf.TensorSpec([None, None, 18], tf.float32),
        ],
    )
    with pytest.raises(ValueError, match=r"y_true.shape=\(None, None, 16\)"):
        fn.get_concrete_function()


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"`y_true` must have shape \(batch, n_boxes"):
        SSDLoss().compute_loss(np.zeros((5, 16), np.float32), np.zeros((5, 16), np.float32))


def test_too_few_channels():
    with pytest.raises(ValueError, match=r"at least 14 channels.*y_true.shape=\(1, 5, 13\)"):
        SSDLoss().compute_loss(np.zeros((1, 5, 13), np.float32), np.zeros((1, 5, 13), np.float32))
