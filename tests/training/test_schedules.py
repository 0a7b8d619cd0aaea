"""Tests for keras_ssd.training.schedules: values by hand, serialization, errors."""

import json
import math

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.training import WarmupCosineDecay
from keras_ssd.training import WarmupStepDecay
from keras_ssd.training import ssd_keras_step_schedule


def _values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_ssd_keras_notebook_schedule():
    schedule = ssd_keras_step_schedule(steps_per_epoch=1000)
    steps = [0, 79_999, 80_000, 99_999, 100_000, 150_000]
    assert_allclose(_values(schedule, steps), [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5], rtol=1e-5)


def test_warmup_step_decay_by_hand():
    schedule = WarmupStepDecay(0.3, boundaries=(10, 20), gamma=0.5, warmup_steps=4,
                               warmup_factor=0.25)
    # warm-up factor: 0.25 + 0.75 * step / 4 until step 4
    expected = [0.3 * 0.25, 0.3 * 0.4375, 0.3 * 0.625, 0.3, 0.3, 0.15, 0.15, 0.075]
    assert_allclose(_values(schedule, [0, 1, 2, 4, 9, 10, 19, 20]), expected, rtol=1e-6)


def test_warmup_cosine_decay_by_hand():
    schedule = WarmupCosineDecay(1.0, total_steps=110, warmup_steps=10, alpha=0.1)
    t = np.array([0, 5, 10, 35, 60, 110, 200])
    progress = np.clip((t - 10) / 100, 0, 1)
    expected = (0.1 + 0.9 * 0.5 * (1 + np.cos(math.pi * progress))) * np.minimum(t / 10, 1)
    assert_allclose(_values(schedule, t), expected, rtol=1e-6, atol=1e-7)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(110)) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "schedule",
    [WarmupStepDecay(1e-3, (5, 9), warmup_steps=2), WarmupCosineDecay(1e-3, 50, 5, 0.1, 0.01)],
)
def test_schedules_serialize_and_drive_an_optimizer(schedule):
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(schedule)))
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert_allclose(_values(restored, range(12)), _values(schedule, range(12)))
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    restored_optimizer = keras.optimizers.SGD.from_config(optimizer.get_config())
    assert float(restored_optimizer.learning_rate) == pytest.approx(float(schedule(0)))


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: WarmupStepDecay(0.0), "base_learning_rate"),
        (lambda: WarmupStepDecay(0.1, boundaries=(5, 3)), "strictly increasing"),
        (lambda: WarmupStepDecay(0.1, gamma=-1), "gamma"),
        (lambda: WarmupStepDecay(0.1, warmup_steps=-2), "warmup_steps=-2"),
        (lambda: WarmupStepDecay(0.1, warmup_factor=2.0), "warmup_factor"),
        (lambda: WarmupCosineDecay(0.1, total_steps=5, warmup_steps=5), "total_steps"),
        (lambda: WarmupCosineDecay(0.1, total_steps=5, alpha=1.5), "alpha"),
        (lambda: ssd_keras_step_schedule(0), "steps_per_epoch"),
    ],
)
def test_bad_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()
