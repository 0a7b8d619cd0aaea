"""SSDLoss across execution modes: eager, tf.function, XLA, and real model.fit/load_model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.losses import SSDLoss
from keras_ssd.losses.ssd_loss import SSDLossFunction
from keras_ssd.losses.ssd_loss import _in_xla_context
from keras_ssd.losses.ssd_loss import _ordered_keys
from keras_ssd.losses.ssd_loss import _threshold_mask
from keras_ssd.losses.ssd_loss import _top_k_mask
from tests.losses.ssd_loss_reference import make_batch
from tests.losses.ssd_loss_reference import reference_loss
from tests.losses.ssd_loss_reference import top_k_by_index

# -- the two negative-selection formulations -------------------------------------------


def _tied_rows(rng, n_rows, n):
    """Non-negative rows with many exact ties and zeros (like masked negative losses)."""
    values = rng.integers(0, 6, size=(n_rows, n)).astype(np.float32) * 0.25
    values[rng.random((n_rows, n)) < 0.3] = 0.0
    return values


@pytest.mark.parametrize("seed", range(6))
def test_threshold_mask_and_top_k_mask_agree_with_ties(seed):
    rng = np.random.default_rng(seed)
    n_rows, n = int(rng.integers(1, 5)), int(rng.integers(1, 200))
    values = _tied_rows(rng, n_rows, n)
    n_nonzero = np.count_nonzero(values, axis=-1)
    k = np.minimum(rng.integers(0, n + 1, size=n_rows), n_nonzero).astype(np.int32)
    k[0] = n_nonzero[0]  # the largest k the loss uses

    expected = np.zeros_like(values)
    for r in range(n_rows):
        expected[r, top_k_by_index(values[r], k[r])] = 1.0  # ties: lower index first

    top_k = _top_k_mask(tf.constant(values), tf.constant(k)).numpy()
    threshold = _threshold_mask(tf.constant(values), tf.constant(k)).numpy()
    threshold_xla = tf.function(_threshold_mask, jit_compile=True)(values, k).numpy()
    assert_array_equal(top_k, expected)
    assert_array_equal(threshold, expected)
    assert_array_equal(threshold_xla, expected)


def test_masks_break_a_tie_at_the_cut_by_index():
    values = tf.constant([[1.0, 3.0, 2.0, 3.0, 3.0, 0.0]])
    k = tf.constant([2])
    expected = [[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]]  # of the three 3.0s, the first two
    assert_array_equal(_top_k_mask(values, k), expected)
    assert_array_equal(_threshold_mask(values, k), expected)


def _special_floats(rng):
    specials = [0.0, -0.0, 1e-45, -1e-45, 1e-38, 1.0, -1.0, 3.4e38, -3.4e38, np.inf, -np.inf]
    return np.concatenate([specials, rng.normal(scale=10.0, size=40)]).astype(np.float32)


def test_ordered_keys_order_like_the_floats(rng):
    values = _special_floats(rng)
    keys = _ordered_keys(tf.constant(values)).numpy()
    values = np.where(np.abs(values) < np.finfo(np.float32).tiny, 0.0, values)  # as TF's CPU
    order = (values[:, None] > values[None, :]).astype(int) - (values[:, None] < values[None, :])
    assert_array_equal(np.sign(keys[:, None] - keys[None, :]), order)


def test_masks_agree_on_negative_values_and_signed_zeros(rng):
    # Real losses are >= 0, but the selection must not depend on it.
    values = rng.permutation(np.tile(_special_floats(rng), 2))[None, :]
    # TF's CPU kernels flush subnormals to zero: the reference ranks them as zeros.
    ranked = np.where(np.abs(values) < np.finfo(np.float32).tiny, 0.0, values)
    for k in (0, 1, 5, 11, 50, values.shape[1]):
        expected = np.zeros_like(values)
        expected[0, top_k_by_index(ranked[0], k)] = 1.0
        k_t = tf.constant([k])
        assert_array_equal(_top_k_mask(tf.constant(values), k_t), expected)
        assert_array_equal(_threshold_mask(tf.constant(values), k_t), expected)


def test_xla_context_is_detected():
    def probe():
        return tf.constant(_in_xla_context())

    assert not _in_xla_context()
    assert not bool(tf.function(probe)())
    assert bool(tf.function(probe, jit_compile=True)())


# -- eager, graph and XLA give the same loss ---------------------------------------------


@pytest.mark.parametrize("mining", ["batch", "per_image"])
def test_eager_graph_and_xla_agree(mining):
    rng = np.random.default_rng(3)
    # Quantized logits: many negative losses tie, also at the mining cut.
    y_true, y_pred = make_batch(rng, 4, 600, 3, pos_frac=0.02, quantize=1.0)
    loss = SSDLoss(mining=mining, n_neg_min=2)
    expected, _ = reference_loss(y_true, y_pred, mining=mining, n_neg_min=2)
    eager = loss.compute_loss(y_true, y_pred).numpy()
    graph = tf.function(loss.compute_loss)(y_true, y_pred).numpy()
    xla = tf.function(loss.compute_loss, jit_compile=True)(y_true, y_pred).numpy()
    assert_allclose(eager, expected, rtol=1e-5)
    assert_allclose(graph, eager, rtol=1e-6)
    assert_allclose(xla, eager, rtol=1e-6)


@pytest.mark.parametrize("mining", ["batch", "per_image"])
def test_eager_and_xla_gradients_agree_with_ties(mining):
    # Same value is not enough: with ties the same anchors must get the gradient.
    rng = np.random.default_rng(5)
    y_true, y_pred = make_batch(rng, 3, 400, 2, pos_frac=0.02, quantize=1.0)
    loss = SSDLoss(mining=mining)

    def grad(y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = tf.reduce_sum(loss.compute_loss(y_true, y_pred))
        return tape.gradient(value, y_pred)

    eager = grad(tf.constant(y_pred)).numpy()
    xla = tf.function(grad, jit_compile=True)(tf.constant(y_pred)).numpy()
    assert_array_equal(eager != 0, xla != 0)
    assert_allclose(xla, eager, rtol=1e-6)


def test_xla_compiles_once_for_different_positive_counts():
    rng = np.random.default_rng(11)
    loss = SSDLoss()
    traces = []

    @tf.function(jit_compile=True)
    def step(y_true, y_pred):
        traces.append(1)  # runs only while tracing
        return loss.compute_loss(y_true, y_pred)

    batches = [
        make_batch(rng, 2, 300, 3, pos_frac=frac, neutral_frac=0.05)
        for frac in (0.0, 0.01, 0.05, 0.2)
    ]
    for y_true, y_pred in batches:
        expected, _ = reference_loss(y_true, y_pred)
        assert_allclose(step(y_true, y_pred).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert len(traces) == 1
    assert step.experimental_get_tracing_count() == 1

    # XLA would also recompile (without retracing) if a value were baked in as a
    # compile-time constant, as a data-dependent top_k `k` is: the compiled program
    # must be the same for every batch.
    hlo = {step.experimental_get_compiler_ir(*b)(stage="hlo") for b in batches[1:]}
    assert len(hlo) == 1


def test_hlo_check_detects_a_data_dependent_top_k():
    # The check above has teeth: the top_k formulation compiles per value of k.
    @tf.function(jit_compile=True)
    def mask(values, threshold):
        k = tf.math.count_nonzero(values > threshold, axis=-1, dtype=tf.int32)
        return _top_k_mask(values, k)

    values = tf.constant(np.random.default_rng(0).random((1, 50)), tf.float32)
    low = mask.experimental_get_compiler_ir(values, tf.constant(0.2))(stage="hlo")
    high = mask.experimental_get_compiler_ir(values, tf.constant(0.8))(stage="hlo")
    assert low != high


# -- real training steps ---------------------------------------------------------------

N_BOXES, N_CLASSES, N_FEATURES, BATCH = 32, 3, 8, 4


def _tiny_model():
    """Features -> softmax class scores and offsets; anchors/variances pass through."""
    features = keras.Input((N_BOXES, N_FEATURES), name="features")
    priors = keras.Input((N_BOXES, 8), name="priors")
    scores = keras.layers.Dense(N_CLASSES + 1, activation="softmax", name="conf")(features)
    offsets = keras.layers.Dense(4, name="loc")(features)
    predictions = keras.layers.Concatenate(name="predictions")([scores, offsets, priors])
    return keras.Model([features, priors], predictions)


def _data():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(BATCH, N_BOXES, N_FEATURES)).astype(np.float32)
    y_true, y_pred = make_batch(rng, BATCH, N_BOXES, N_CLASSES, pos_frac=0.1)
    return [features, y_pred[..., -8:]], y_true


def test_model_fit_first_step_loss_is_the_same_in_every_mode():
    x, y_true = _data()
    reference_model = _tiny_model()
    weights = reference_model.get_weights()
    expected_per_image, _ = reference_loss(y_true, reference_model.predict(x, verbose=0))
    expected = expected_per_image.mean()

    modes = {
        "eager": {"run_eagerly": True},
        "graph": {"jit_compile": False},
        "xla": {"jit_compile": True},
    }
    for mode, compile_kwargs in modes.items():
        for loss in (SSDLoss(), SSDLoss().compute_loss):
            model = _tiny_model()
            model.set_weights(weights)
            model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, **compile_kwargs)
            history = model.fit(x, y_true, batch_size=BATCH, epochs=1, verbose=0)
            first = history.history["loss"][0]
            assert np.isfinite(first)
            assert_allclose(first, expected, rtol=1e-5, err_msg=f"{mode}, {loss}")
            # and the step did train
            assert not np.allclose(model.get_weights()[0], weights[0])


@pytest.mark.parametrize(("compile_kwargs", "xla"), [({"jit_compile": True}, True), ({}, False)])
def test_model_fit_with_jit_compile_builds_the_loss_for_xla(compile_kwargs, xla):
    # Keras's jit_compile=True (its GPU default) must reach the static-shape path.
    contexts = []

    class RecordingSSDLoss(SSDLoss):
        def per_image_loss(self, y_true, y_pred):
            contexts.append(_in_xla_context())
            return super().per_image_loss(y_true, y_pred)

    x, y_true = _data()
    model = _tiny_model()
    model.compile(optimizer="sgd", loss=RecordingSSDLoss(), **compile_kwargs)
    model.fit(x, y_true, batch_size=BATCH, epochs=1, verbose=0)
    assert contexts
    assert set(contexts) == {xla}


def test_load_model_restores_the_loss_without_custom_objects(tmp_path):
    x, y_true = _data()
    model = _tiny_model()
    loss = SSDLoss(neg_pos_ratio=2, n_neg_min=1, alpha=0.5, mining="per_image")
    model.compile(optimizer="sgd", loss=loss)
    path = tmp_path / "tiny.keras"
    model.save(path)

    restored = keras.models.load_model(path)
    assert isinstance(restored.loss, SSDLoss)
    assert restored.loss.get_config() == loss.get_config()
    assert_allclose(
        restored.evaluate(x, y_true, batch_size=BATCH, verbose=0),
        model.evaluate(x, y_true, batch_size=BATCH, verbose=0),
        rtol=1e-6,
    )


def test_load_model_restores_compute_loss_without_custom_objects(tmp_path):
    # The ssd_keras spelling `loss=SSDLoss().compute_loss` must save too: a bound
    # method cannot be serialized, so `compute_loss` is a registered function object.
    x, y_true = _data()
    model = _tiny_model()
    model.compile(optimizer="sgd", loss=SSDLoss(neg_pos_ratio=2, alpha=0.5).compute_loss)
    path = tmp_path / "tiny.keras"
    model.save(path)

    restored = keras.models.load_model(path)
    assert_allclose(
        restored.evaluate(x, y_true, batch_size=BATCH, verbose=0),
        model.evaluate(x, y_true, batch_size=BATCH, verbose=0),
        rtol=1e-6,
    )
    restored.fit(x, y_true, batch_size=BATCH, epochs=1, verbose=0)  # and it trains on


def test_compute_loss_is_the_per_image_loss(rng):
    loss = SSDLoss(n_neg_min=2)
    x, y_true = _data()
    y_pred = _tiny_model().predict(x, verbose=0)
    assert_allclose(loss.compute_loss(y_true, y_pred), loss.per_image_loss(y_true, y_pred))
    assert loss.compute_loss.__name__ == "compute_loss"
    with pytest.raises(TypeError, match="must be an SSDLoss"):
        SSDLossFunction("not a loss")
