"""`keras-ssd train`: train a detector and write everything a run promises.

A run directory holds:

    config.json            the resolved configuration, package version and seed
    checkpoints/last.keras the model (with optimizer state) after the last epoch
    checkpoints/best.keras the model at the best monitored value
    state.json             epochs completed (what `--resume` continues from)
    training_log.csv       one row per epoch (CSVLogger)
    loss.png               the loss curves
    final.weights.h5       the final weights (load with `model.load_weights`)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from keras_ssd.config import TrainConfig
from keras_ssd.version import __version__

__all__ = ["TrainResult", "build_augmentation", "resolve_image_size", "run_training"]


@dataclass
class TrainResult:
    """Where a run wrote its outputs, and its last logs."""

    run_dir: str
    final_weights: str
    epochs_completed: int
    history: dict


def resolve_image_size(config: TrainConfig) -> tuple[int, int]:
    """`(height, width)` of a run: `config.image_size`, else the model preset's."""
    from keras_ssd.presets import PRESETS

    return tuple(config.image_size or PRESETS[config.model]["image_size"])


def build_augmentation(config: TrainConfig, image_size, seed: int):
    """The training transformations for a run (the last one sets the input size).

    SSD300/512 use the original SSD chain (photometric distortions, zoom-out,
    min-IoU crop, flip, resize). SSD7 on small images uses photometric
    distortions, a mild random zoom and translation, and a flip, without the
    4x zoom-out that would shrink objects below its smallest anchors.
    """
    from keras_ssd.data import transforms as T

    height, width = image_size
    if not config.augment:
        return [T.ConvertTo3Channels(), T.Resize(height, width)]
    if config.model in ("ssd300", "ssd512"):
        return [T.ConvertTo3Channels(),
                T.SSDDataAugmentation(img_height=height, img_width=width, rng=seed)]
    return [
        T.ConvertTo3Channels(),
        T.DataAugmentationConstantInputSize(
            random_brightness=(-32, 32, 0.5), random_contrast=(0.7, 1.4, 0.5),
            random_saturation=(0.7, 1.4, 0.5), random_hue=(12, 0.5), random_flip=0.5,
            random_translate=((0.02, 0.15), (0.02, 0.15), 0.3),
            random_scale=(0.75, 1.25, 0.3), n_trials_max=3, clip_boxes=True,
            overlap_criterion="area", bounds_box_filter=(0.5, 1.0), bounds_validator=(0.5, 1.0),
            n_boxes_min=1, background=(127, 127, 127), rng=seed,
        ),
        T.Resize(height, width),
    ]


def _optimizer(config: TrainConfig, total_steps: int):
    import keras

    from keras_ssd.training import WarmupCosineDecay
    from keras_ssd.training import WarmupStepDecay

    warmup = min(config.warmup_steps, max(total_steps - 1, 0))
    if config.schedule == "cosine":
        rate = WarmupCosineDecay(config.learning_rate, total_steps=max(total_steps, warmup + 1),
                                 warmup_steps=warmup, warmup_factor=0.1, alpha=0.01)
    elif config.schedule == "step":
        # The notebooks' shape: x0.1 at 2/3 and 5/6 of the run.
        boundaries = sorted({max(1, int(total_steps * 2 / 3)), max(2, int(total_steps * 5 / 6))})
        rate = WarmupStepDecay(config.learning_rate, boundaries=boundaries, warmup_steps=warmup)
    else:
        rate = config.learning_rate
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=rate, momentum=0.9)
    return keras.optimizers.Adam(learning_rate=rate)


def _prepare_run_dir(config: TrainConfig) -> TrainConfig:
    """Create the run directory, or on `--resume` reload its configuration."""
    run_dir = config.output_dir
    config_path = os.path.join(run_dir, "config.json")
    if config.resume:
        if not os.path.isfile(config_path):
            raise FileNotFoundError(
                f"--resume needs an earlier run in {run_dir}, but {config_path} does not exist"
            )
        with open(config_path, encoding="utf-8") as f:
            saved = json.load(f)["config"]
        # The saved configuration, unchanged: the same data, model and schedule.
        return TrainConfig.from_dict({**saved, "resume": True, "output_dir": run_dir})
    if os.path.isfile(os.path.join(run_dir, "state.json")):
        raise FileExistsError(
            f"{run_dir} already holds a run. Use --resume to continue it, or another --output-dir"
        )
    os.makedirs(run_dir, exist_ok=True)
    _write_record(config)
    return config


def _write_record(config: TrainConfig) -> None:
    """`config.json`: the resolved configuration, the package version and the seed."""
    record = {"config": config.to_dict(), "keras_ssd_version": __version__, "seed": config.seed}
    with open(os.path.join(config.output_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)


def run_training(config: TrainConfig, verbose: int = 1, callbacks=()) -> TrainResult:
    """Train as `config` says; resumable; returns where everything went.

    `callbacks` are extra Keras callbacks, run after the run's own.
    """
    import keras

    from keras_ssd.app.datasets import load_run_data
    from keras_ssd.app.models import transfer_weights
    from keras_ssd.data.pipeline import build_dataset
    from keras_ssd.data.pipeline import steps_per_epoch as pipeline_steps
    from keras_ssd.distribute import get_strategy
    from keras_ssd.distribute import is_chief
    from keras_ssd.distribute import set_precision
    from keras_ssd.distribute import synchronize_batch_norm
    from keras_ssd.losses.ssd_loss import SSDLoss
    from keras_ssd.presets import build_detector
    from keras_ssd.training import MeanAveragePrecisionCallback
    from keras_ssd.training import RunState
    from keras_ssd.training import TerminateOnNaN
    from keras_ssd.training import checkpoint_callbacks
    from keras_ssd.visualization import plot_training_log

    # The strategy first: a multi-worker strategy must exist before other TF ops.
    strategy = get_strategy(config.strategy)
    set_precision(config.precision)
    if not is_chief(strategy):  # only the chief worker writes the run's files
        import tempfile

        config.output_dir = tempfile.mkdtemp(prefix="keras_ssd_worker_")
    config = _prepare_run_dir(config)
    run_dir = config.output_dir
    keras.utils.set_random_seed(config.seed)
    image_size = resolve_image_size(config)
    data = load_run_data(config, image_size)
    if config.classes is None:  # record the resolved names: evaluate/predict/export read them
        config.classes = list(data.class_names[1:])
        _write_record(config)

    state_path = os.path.join(run_dir, "state.json")
    last_checkpoint = os.path.join(run_dir, "checkpoints", "last.keras")
    initial_epoch = RunState.read(state_path) if config.resume else 0
    if config.resume and initial_epoch and not os.path.isfile(last_checkpoint):
        raise FileNotFoundError(f"--resume: the checkpoint {last_checkpoint} is missing")

    with strategy.scope():
        model, encoder = build_detector(config.model, data.n_classes, image_size,
                                        mode="training", l2_regularization=config.weight_decay)
    # Augmentation chains spend their time in Python (the GIL), so forked worker
    # processes feed training faster than threads (benchmarks/pipeline.py).
    workers = config.workers if config.workers is not None else min(os.cpu_count() or 1, 8)
    train_ds = build_dataset(
        data.train, config.batch_size,
        transformations=build_augmentation(config, image_size, config.seed),
        label_encoder=encoder, shuffle=True, seed=config.seed, workers=workers,
    )
    val_ds, validation_steps = None, None
    if data.val is not None:
        from keras_ssd.data import transforms as T

        val_ds = build_dataset(
            data.val, config.batch_size,
            transformations=[T.ConvertTo3Channels(), T.Resize(*image_size)],
            label_encoder=encoder, shuffle=False, seed=config.seed, repeat=True,
            keep_images_without_gt=True,
        )
        # A fixed number of steps over a repeated dataset: every epoch validates
        # on the same images, and Keras never sees the data run out.
        validation_steps = pipeline_steps(data.val, config.batch_size, True)
    steps_per_epoch = config.steps_per_epoch or pipeline_steps(data.train, config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    with strategy.scope():
        if initial_epoch:
            model = keras.models.load_model(last_checkpoint)  # weights + optimizer state
        else:
            if config.weights:
                transfer_weights(model, config.weights)  # .keras, or .h5 by layer name
            if strategy.num_replicas_in_sync > 1:  # BatchNorm over the global batch
                model = synchronize_batch_norm(model)
            model.compile(optimizer=_optimizer(config, total_steps), loss=SSDLoss())

    extra_callbacks = list(callbacks)
    callbacks = [TerminateOnNaN(raise_error=True)]
    monitor = "val_loss" if val_ds is not None else "loss"
    if config.eval_every and data.val is not None:
        from keras_ssd.app.evaluate import evaluate_model

        def evaluate(m):
            metrics = evaluate_model(m, data.val, data.class_names, model_mode="training",
                                     coco=False, verbose=False)
            return metrics["mAP_11point"]

        callbacks.append(MeanAveragePrecisionCallback(evaluate, every=config.eval_every))
        monitor = "val_mAP"
    callbacks += checkpoint_callbacks(os.path.join(run_dir, "checkpoints"), monitor=monitor,
                                      mode="max" if monitor == "val_mAP" else "min")
    log_path = os.path.join(run_dir, "training_log.csv")
    callbacks += [keras.callbacks.CSVLogger(log_path, append=initial_epoch > 0),
                  RunState(state_path), *extra_callbacks]

    history = {}
    if initial_epoch < config.epochs:
        fit = model.fit(train_ds, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                        initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose,
                        validation_data=val_ds, validation_steps=validation_steps,
                        shuffle=False)  # the dataset shuffles
        history = fit.history

    final_weights = os.path.join(run_dir, "final.weights.h5")
    model.save_weights(final_weights)
    plot_training_log(log_path, os.path.join(run_dir, "loss.png"),
                      title=f"{config.model} on {config.dataset or 'shapes'}")
    return TrainResult(run_dir, final_weights, RunState.read(state_path), history)
