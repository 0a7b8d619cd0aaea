"""Training callbacks: NaN guard with advice, periodic mAP, checkpoints, run state.

Standard Keras callbacks are used where they already do the job
(`ModelCheckpoint`, `CSVLogger`); these add what SSD training needs on top.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable

import keras

__all__ = [
    "MeanAveragePrecisionCallback",
    "NaNLossError",
    "RunState",
    "TerminateOnNaN",
    "checkpoint_callbacks",
]

NAN_ADVICE = (
    "Likely causes: (1) the learning rate is too high for this model/batch size "
    "(try 10x lower, or a warm-up); (2) degenerate ground-truth boxes (xmax <= xmin "
    "or ymax <= ymin) or boxes outside the image: parse with warnings on and use "
    "degenerate_box_handling='remove'; (3) images not scaled as the model expects "
    "(RGB 0-255 floats for SSD300/512 with subtract_mean); (4) float16 without "
    "loss scaling (use the mixed_float16 policy, which adds it)."
)


class NaNLossError(RuntimeError):
    """Raised by `TerminateOnNaN(raise_error=True)` when the loss stops being finite."""


class TerminateOnNaN(keras.callbacks.Callback):
    """Stop training at the first non-finite loss, and say why that usually happens.

    Unlike `keras.callbacks.TerminateOnNaN`, the message names the likely causes,
    and with `raise_error=True` the run fails with `NaNLossError` instead of
    ending as if it had finished.

    Args:
        raise_error: raise `NaNLossError` (True) or only stop training and keep
            the message in `self.message` (False, the default).
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = bool(raise_error)
        self.message: str | None = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        self.message = f"The loss became {float(loss)} at batch {batch}; training stopped. "
        self.message += NAN_ADVICE
        self.model.stop_training = True
        if self.raise_error:
            raise NaNLossError(self.message)
        print(self.message)


class MeanAveragePrecisionCallback(keras.callbacks.Callback):
    """Run an evaluation every `every` epochs and log its mAP as `log_name`.

    Place it before any checkpoint that monitors `log_name`, so the value is in
    the epoch's logs when the checkpoint reads them.

    Args:
        evaluate_fn: `evaluate_fn(model) -> float`, the mean average precision.
        every: evaluate after every `every`-th epoch (and never in between).
        log_name: the key written into the epoch logs. Defaults to 'val_mAP'.
    """

    def __init__(self, evaluate_fn: Callable[[keras.Model], float], every: int = 1,
                 log_name: str = "val_mAP"):
        super().__init__()
        if isinstance(every, bool) or int(every) != every or every < 1:
            raise ValueError(f"`every` must be a positive integer. Received: every={every!r}")
        self.evaluate_fn = evaluate_fn
        self.every = int(every)
        self.log_name = log_name
        self.history: dict[int, float] = {}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        value = float(self.evaluate_fn(self.model))
        self.history[epoch + 1] = value
        if logs is not None:
            logs[self.log_name] = value
        print(f"Epoch {epoch + 1}: {self.log_name} = {value:.4f}")


class RunState(keras.callbacks.Callback):
    """Record the number of completed epochs in a JSON file after each epoch.

    Put it after the checkpoint callbacks: when the file says N epochs, the
    checkpoint of epoch N is on disk, so `--resume` restarts at epoch N with the
    saved optimizer (and therefore the same learning-rate schedule).
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        state = {"epochs_completed": epoch + 1}
        if logs:
            state["logs"] = {k: float(v) for k, v in logs.items() if _is_number(v)}
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.path)  # atomic: never a half-written state file

    @staticmethod
    def read(path: str | os.PathLike) -> int:
        """Epochs completed by an earlier run (0 if it never finished one)."""
        if not os.path.exists(path):
            return 0
        with open(path, encoding="utf-8") as f:
            return int(json.load(f)["epochs_completed"])


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def checkpoint_callbacks(directory: str | os.PathLike, monitor: str = "loss",
                         mode: str = "min") -> list[keras.callbacks.ModelCheckpoint]:
    """`last.keras` after every epoch and `best.keras` when `monitor` improves.

    Full `.keras` models, so the optimizer state (and the schedule's step) is
    saved with the weights and a resumed run continues the same schedule.
    """
    os.makedirs(directory, exist_ok=True)
    return [
        keras.callbacks.ModelCheckpoint(os.path.join(directory, "last.keras")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(directory, "best.keras"), monitor=monitor, mode=mode,
            save_best_only=True,
        ),
    ]
