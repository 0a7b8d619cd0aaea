"""Tests for keras_ssd.training.callbacks on real (tiny) training runs."""

import json

import keras
import numpy as np
import pytest

from keras_ssd.training import MeanAveragePrecisionCallback
from keras_ssd.training import NaNLossError
from keras_ssd.training import RunState
from keras_ssd.training import TerminateOnNaN
from keras_ssd.training import checkpoint_callbacks


def _tiny_model(learning_rate=0.01):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def _data(n=16):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_nan_loss_stops_with_advice():
    x, y = _data()
    y[5] = np.nan  # a corrupt target poisons the loss at the first batch that holds it
    callback = TerminateOnNaN()
    history = _tiny_model().fit(x, y, batch_size=4, epochs=3, callbacks=[callback], verbose=0)
    assert callback.message is not None
    assert "learning rate" in callback.message and "degenerate" in callback.message
    assert len(history.history["loss"]) == 1  # stopped in the first epoch


def test_nan_loss_can_raise():
    x, y = _data()
    y[:] = np.inf
    with pytest.raises(NaNLossError, match="Likely causes"):
        _tiny_model().fit(x, y, batch_size=4, epochs=1, verbose=0,
                          callbacks=[TerminateOnNaN(raise_error=True)])


def test_finite_loss_is_left_alone():
    callback = TerminateOnNaN()
    history = _tiny_model().fit(*_data(), batch_size=4, epochs=2, callbacks=[callback], verbose=0)
    assert callback.message is None and len(history.history["loss"]) == 2


def test_map_callback_logs_every_n_epochs(tmp_path):
    calls = []

    def evaluate(model):
        calls.append(model)
        return 0.25 * len(calls)

    callback = MeanAveragePrecisionCallback(evaluate, every=2)
    best = checkpoint_callbacks(tmp_path, monitor="val_mAP", mode="max")
    history = _tiny_model().fit(*_data(), epochs=4, verbose=0, callbacks=[callback, *best])
    assert callback.history == {2: 0.25, 4: 0.5}
    assert history.history["val_mAP"] == [0.25, 0.5]
    assert (tmp_path / "best.keras").exists() and (tmp_path / "last.keras").exists()


def test_map_callback_rejects_bad_every():
    with pytest.raises(ValueError, match="Received: every=0"):
        MeanAveragePrecisionCallback(lambda m: 0.0, every=0)


def test_run_state_and_checkpoints_support_resume(tmp_path):
    x, y = _data()
    state = tmp_path / "state.json"
    model = _tiny_model()
    callbacks = [*checkpoint_callbacks(tmp_path / "ckpt"), RunState(state)]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=callbacks)
    assert RunState.read(state) == 2
    assert "loss" in json.loads(state.read_text())["logs"]
    assert RunState.read(tmp_path / "missing.json") == 0

    restored = keras.models.load_model(tmp_path / "ckpt" / "last.keras")
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) == 8
    history = restored.fit(x, y, batch_size=4, epochs=3, initial_epoch=RunState.read(state),
                           verbose=0, callbacks=[RunState(state)])
    assert len(history.history["loss"]) == 1  # only the missing epoch ran
    assert int(restored.optimizer.iterations) == 12
    assert RunState.read(state) == 3
