"""Learning-rate schedules used to train SSD, as serializable Keras schedules.

All schedules are functions of the optimizer step (`optimizer.iterations`), so a
run resumed from a checkpoint that saved the optimizer continues exactly where
it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

__all__ = ["WarmupCosineDecay", "WarmupStepDecay", "ssd_keras_step_schedule"]


def _check_non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer. Received: {name}={value!r}")
    return int(value)


def _check_positive(value, name: str) -> float:
    if not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    return float(value)


def _warmup_factor(step, warmup_steps: int, warmup_factor: float):
    """Linear ramp from `warmup_factor` to 1 over `warmup_steps`, then 1."""
    if warmup_steps == 0:
        return ops.ones_like(step)
    progress = ops.minimum(step / warmup_steps, 1.0)
    return warmup_factor + (1.0 - warmup_factor) * progress


@keras.saving.register_keras_serializable(package="keras_ssd")
class WarmupStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise-constant decay with an optional linear warm-up.

    `lr(step) = base_learning_rate * gamma ** (number of boundaries <= step)`,
    multiplied during the first `warmup_steps` by a factor rising linearly from
    `warmup_factor` to 1 (the "WarmupMultiStepLR" of popular SSD training
    scripts). With `warmup_steps=0` it is the step schedule of the ssd_keras
    notebooks (see `ssd_keras_step_schedule`).

    Args:
        base_learning_rate: the learning rate before the first boundary.
        boundaries: increasing optimizer steps at which the rate is multiplied
            by `gamma`.
        gamma: the factor applied at each boundary. Defaults to 0.1.
        warmup_steps: length of the linear warm-up. Defaults to 0.
        warmup_factor: the warm-up's starting fraction of the rate. Defaults to 1/3.
    """

    def __init__(
        self,
        base_learning_rate: float,
        boundaries: Sequence[int] = (),
        gamma: float = 0.1,
        warmup_steps: int = 0,
        warmup_factor: float = 1.0 / 3.0,
    ):
        self.base_learning_rate = _check_positive(base_learning_rate, "base_learning_rate")
        self.boundaries = [_check_non_negative_int(b, "boundaries") for b in boundaries]
        if self.boundaries != sorted(set(self.boundaries)):
            raise ValueError(
                f"`boundaries` must be strictly increasing. Received: boundaries={boundaries!r}"
            )
        self.gamma = _check_positive(gamma, "gamma")
        self.warmup_steps = _check_non_negative_int(warmup_steps, "warmup_steps")
        if not 0.0 <= warmup_factor <= 1.0:
            raise ValueError(
                f"`warmup_factor` must be in [0, 1]. Received: warmup_factor={warmup_factor!r}"
            )
        self.warmup_factor = float(warmup_factor)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        passed = ops.zeros_like(step)
        for boundary in self.boundaries:
            passed = passed + ops.cast(step >= boundary, "float32")
        rate = self.base_learning_rate * ops.power(self.gamma, passed)
        return rate * _warmup_factor(step, self.warmup_steps, self.warmup_factor)

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "boundaries": list(self.boundaries),
            "gamma": self.gamma,
            "warmup_steps": self.warmup_steps,
            "warmup_factor": self.warmup_factor,
        }


@keras.saving.register_keras_serializable(package="keras_ssd")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then cosine decay to `alpha * base_learning_rate`.

    `lr(step) = base * (alpha + (1 - alpha) * 0.5 * (1 + cos(pi * t)))` with
    `t = (step - warmup_steps) / (total_steps - warmup_steps)` clipped to [0, 1];
    during warm-up the rate rises linearly from `warmup_factor * base` to `base`.

    Args:
        base_learning_rate: the peak learning rate.
        total_steps: the step at which the decay ends (> warmup_steps).
        warmup_steps: length of the linear warm-up. Defaults to 0.
        warmup_factor: the warm-up's starting fraction of the rate. Defaults to 0.
        alpha: the final fraction of the rate. Defaults to 0.
    """

    def __init__(
        self,
        base_learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        warmup_factor: float = 0.0,
        alpha: float = 0.0,
    ):
        self.base_learning_rate = _check_positive(base_learning_rate, "base_learning_rate")
        self.total_steps = _check_non_negative_int(total_steps, "total_steps")
        self.warmup_steps = _check_non_negative_int(warmup_steps, "warmup_steps")
        if self.total_steps <= self.warmup_steps:
            raise ValueError(
                "`total_steps` must exceed `warmup_steps`. "
                f"Received: total_steps={total_steps}, warmup_steps={warmup_steps}"
            )
        for name, value in (("warmup_factor", warmup_factor), ("alpha", alpha)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={value!r}")
        self.warmup_factor = float(warmup_factor)
        self.alpha = float(alpha)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay_steps = float(self.total_steps - self.warmup_steps)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        rate = self.base_learning_rate * (self.alpha + (1.0 - self.alpha) * cosine)
        return rate * _warmup_factor(step, self.warmup_steps, self.warmup_factor)

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_factor": self.warmup_factor,
            "alpha": self.alpha,
        }


def ssd_keras_step_schedule(steps_per_epoch: int = 1000) -> WarmupStepDecay:
    """The ssd300_training notebook's schedule, in optimizer steps.

    The notebook returned 1e-3 for epochs < 80, 1e-4 for epochs < 100, then 1e-5,
    with 1000 steps per epoch (Caffe's 80k/20k/20k schedule).
    """
    steps_per_epoch = _check_non_negative_int(steps_per_epoch, "steps_per_epoch")
    if steps_per_epoch == 0:
        raise ValueError("`steps_per_epoch` must be positive. Received: steps_per_epoch=0")
    return WarmupStepDecay(1e-3, boundaries=(80 * steps_per_epoch, 100 * steps_per_epoch))
