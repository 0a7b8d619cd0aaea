"""Rebuild a run's model and load weights into it, with errors a user can act on."""

from __future__ import annotations

import json
import os

__all__ = ["load_run_config", "model_from_args", "restore_detector", "transfer_weights"]


def transfer_weights(model, path: str) -> None:
    """Load weights from a `.keras` model or an `.h5` file into `model`, by layer name.

    Every weighted layer of `model` must be filled with matching shapes; a file
    trained for another class count raises a ValueError that says so.
    """
    import keras

    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weights file not found: {path}")
    if path.endswith(".keras"):
        source = keras.models.load_model(path, compile=False)
        names = {layer.name for layer in source.layers}
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in names:
                raise ValueError(f"{path} has no layer '{layer.name}': is it the same model?")
            weights = source.get_layer(layer.name).get_weights()
            _check_shapes(layer, weights, path)
            layer.set_weights(weights)
        return
    if path.endswith(".weights.h5"):  # Keras 3 weights, e.g. final.weights.h5 of a run
        _load_keras3_weights(model, path)
        return
    from keras_ssd.weights import load_weights

    try:
        load_weights(model, path, by_name=True, skip_mismatch=False, verbose=False)
    except ValueError as error:
        raise ValueError(f"{path} does not fit this model: {error}") from None


def _shape_summary(error: Exception) -> str:
    """The layer and the two shapes from Keras's (multi-line) weight-loading error."""
    import re

    text = str(error)
    layer = re.search(r"name=([\w.-]+)", text)
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    if layer and shapes:
        hint = " (weights for another number of classes?)" if "conf" in layer.group(1) or (
            "classes" in layer.group(1)) else ""
        return (f"layer '{layer.group(1)}' expects {shapes.group(1)} but the file holds "
                f"{shapes.group(2)}{hint}")
    return text.splitlines()[0]


def _load_keras3_weights(model, path: str) -> None:
    """`model.load_weights`, but a layer Keras skips (shape mismatch) is an error.

    Keras 3 only warns when it skips a layer of a `.weights.h5` file, which would
    leave a silently half-loaded model.
    """
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except ValueError as error:
            raise ValueError(f"{path} does not fit this model: {_shape_summary(error)}") from None
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    if skipped:
        first = skipped[0].split("\n")[0][:160]
        raise ValueError(
            f"{path} does not fit this model (weights trained for another number of classes "
            f"or another architecture?): {first}"
        )
    for warning in caught:  # pass on anything else
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)


def _check_shapes(layer, weights, path) -> None:
    expected = [tuple(w.shape) for w in layer.weights]
    received = [tuple(w.shape) for w in weights]
    if expected != received:
        hint = ""
        if "conf" in layer.name or "classes" in layer.name:
            hint = " (weights trained for another number of classes?)"
        raise ValueError(
            f"Layer '{layer.name}' of {path} has weight shapes {received}, the model expects "
            f"{expected}{hint}"
        )


def load_run_config(run_dir: str) -> dict:
    """The resolved configuration recorded by `keras-ssd train` in a run directory."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Not a keras-ssd run directory (no config.json): {run_dir}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["config"]


def restore_detector(model_name: str, n_classes: int, image_size, weights: str,
                     mode: str = "inference", **decoding):
    """Build a preset model in `mode` and load `weights` into it; returns (model, encoder)."""
    from keras_ssd.presets import build_detector

    model, encoder = build_detector(model_name, n_classes, image_size, mode=mode, **decoding)
    transfer_weights(model, weights)
    return model, encoder


def model_from_args(args, mode: str = "inference", **decoding):
    """A model and its class names from `--run` or `--weights/--model/--classes`.

    Used by `evaluate`, `predict` and `export`: the run directory supplies what
    the flags leave out (model, classes, image size, `final.weights.h5`).

    Returns:
        `(model, class_names)` with 'background' first in `class_names`.
    """
    run = load_run_config(args.run) if args.run else {}
    model_name = args.model or run.get("model")
    if model_name is None:
        raise ValueError("Name the model with --model, or give a run directory with --run")
    weights = args.weights or (os.path.join(args.run, "final.weights.h5") if args.run else None)
    if weights is None:
        raise ValueError("Give the weights with --weights, or a run directory with --run")
    classes = args.classes or run.get("classes")  # a run records its resolved class names
    if classes is None:
        raise ValueError("Name the classes with --classes (comma-separated, background excluded)")
    image_size = args.image_size or run.get("image_size")
    model, _ = restore_detector(model_name, len(classes), image_size, weights, mode=mode,
                                **decoding)
    return model, ("background", *classes)
