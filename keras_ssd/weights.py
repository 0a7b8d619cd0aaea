"""Weight files: reporting loader for legacy `.h5` files, and classifier weight sampling.

The weights ssd_keras published are Keras-2 weights-only HDF5 files: a root
attribute `layer_names`, one group per layer whose attribute `weight_names`
lists datasets such as `conv1_1/kernel:0` (stored at `<layer>/<layer>/kernel:0`).
Keras-2 full-model files hold the same structure in a `model_weights` group.

- `load_weights` loads such a file by layer name (or in order) and returns a
  `WeightLoadReport` of what was loaded, skipped and missing, so a partial load
  is never silent. (`model.load_weights(path, by_name=True)` also works on
  these files, but reports nothing about layers that did not match.)
- `sample_tensors` sub-samples or up-samples weight tensors along chosen axes
  (ssd_keras' `misc_utils/tensor_sampling_utils.py`).
- `subsample_classifier_weights` rewrites the class predictors of a weight file
  for a chosen subset of its classes (ssd_keras' weight-sampling tutorial).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

import h5py
import numpy as np

__all__ = [
    "WeightLoadReport",
    "load_weights",
    "read_legacy_weights",
    "sample_tensors",
    "subsample_classifier_weights",
]


# ----------------------------------------------------------------------------------------------
# Reading legacy Keras-2 HDF5 files


def _decode(values) -> list[str]:
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _string_list_attr(group, name: str) -> list[str]:
    """A list-of-strings attribute; Keras splits large ones into `name0`, `name1`, ..."""
    if name in group.attrs:
        return _decode(group.attrs[name])
    values, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        values.extend(_decode(group.attrs[f"{name}{chunk}"]))
        chunk += 1
    return values


def _weights_root(f: h5py.File, path) -> h5py.Group:
    """The group that holds `layer_names`: the root, or `model_weights` of a full model."""
    if "layer_names" in f.attrs or "layer_names0" in f.attrs:
        return f
    if "model_weights" in f:
        return f["model_weights"]
    raise ValueError(
        "`filepath` is not a Keras-2 HDF5 weights file (no `layer_names` attribute at the "
        "root or in a `model_weights` group). Keras 3 files (`.weights.h5`, `.keras`) load "
        f"with `model.load_weights`. Received: filepath={str(path)!r}"
    )


def read_legacy_weights(filepath) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The weights of every layer of a Keras-2 HDF5 weights or full-model file.

    Returns:
        `{layer_name: [(weight_name, array), ...]}` in file order, layers without
        weights included (empty list).
    """
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No weight file at `filepath`. Received: filepath={filepath!r}")
    with h5py.File(filepath, "r") as f:
        root = _weights_root(f, filepath)
        layers = {}
        for name in _string_list_attr(root, "layer_names"):
            group = root[name]
            layers[name] = [
                (weight_name, np.asarray(group[weight_name]))
                for weight_name in _string_list_attr(group, "weight_names")
            ]
    return layers


# ----------------------------------------------------------------------------------------------
# Loading with a report


@dataclass
class WeightLoadReport:
    """What `load_weights` did.

    Attributes:
        loaded: model layers whose weights were all set from the file.
        skipped: model layer -> why it was left as it was (count or shape mismatch).
        missing_in_file: model layers with weights that the file does not have.
        missing_in_model: file layers with weights that the model does not have.
    """

    filepath: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    missing_in_file: list[str] = field(default_factory=list)
    missing_in_model: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every weight of the model and of the file was used."""
        return not (self.skipped or self.missing_in_file or self.missing_in_model)

    def __str__(self) -> str:
        lines = [f"Loaded the weights of {len(self.loaded)} layers from {self.filepath!r}."]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} layers (left as they were):")
            lines.extend(f"  {name}: {why}" for name, why in self.skipped.items())
        if self.missing_in_file:
            lines.append(
                f"{len(self.missing_in_file)} model layers are not in the file (left as they "
                f"were): {', '.join(self.missing_in_file)}"
            )
        if self.missing_in_model:
            lines.append(
                f"{len(self.missing_in_model)} file layers are not in the model (ignored): "
                f"{', '.join(self.missing_in_model)}"
            )
        return "\n".join(lines)


def _legacy_order(layer) -> list:
    """A layer's variables in Keras-2 file order: trainable, then non-trainable."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _mismatch(variables, values) -> str | None:
    if len(variables) != len(values):
        return f"the model has {len(variables)} weights, the file {len(values)}"
    for variable, (weight_name, value) in zip(variables, values):
        if tuple(variable.shape) != tuple(value.shape):
            return (
                f"{weight_name} has shape {tuple(value.shape)} in the file, "
                f"{tuple(variable.shape)} in the model"
            )
    return None


def load_weights(model, filepath, by_name=True, skip_mismatch=False, verbose=True):
    """Load a Keras-2 HDF5 weights (or full-model) file into `model`, with a report.

    With `by_name=True`, file layers are matched to model layers by name, and
    a layer's weights by their order (trainable then non-trainable, as Keras 2
    saved them): this is how the published SSD weights load into a model
    built with the same layer names, whatever its `mode`. With
    `by_name=False`, the layers that have weights are matched in order.

    Nothing is assigned when a mismatch raises, so an error never leaves a
    half-loaded model.

    Args:
        model: a built `keras.Model`.
        filepath: path of a Keras-2 `.h5` file (weights-only, or a full model
            with a `model_weights` group).
        by_name: match layers by name (True) or by order (False).
        skip_mismatch: leave layers whose weight count or shapes differ (e.g.
            the class predictors for another number of classes) and load the
            others, instead of raising.
        verbose: print the report.

    Returns:
        A `WeightLoadReport`.

    Raises:
        FileNotFoundError: no file at `filepath`.
        ValueError: the file is not a Keras-2 HDF5 file; a layer's weights do not
            match and `skip_mismatch` is False; with `by_name=False`, the file
            and the model have different numbers of layers with weights.
    """
    file_layers = {name: values for name, values in read_legacy_weights(filepath).items() if values}
    model_layers = {layer.name: layer for layer in model.layers if _legacy_order(layer)}
    report = WeightLoadReport(filepath=str(filepath))

    if by_name:
        pairs = [(name, name) for name in model_layers if name in file_layers]
        report.missing_in_file = [name for name in model_layers if name not in file_layers]
        report.missing_in_model = [name for name in file_layers if name not in model_layers]
    else:
        if len(file_layers) != len(model_layers):
            raise ValueError(
                f"With `by_name=False` the file and the model need the same number of layers "
                f"with weights; the file has {len(file_layers)}, the model "
                f"{len(model_layers)}. Received: filepath={str(filepath)!r}"
            )
        pairs = list(zip(model_layers, file_layers))

    assignments, mismatches = [], {}
    for model_name, file_name in pairs:
        variables = _legacy_order(model_layers[model_name])
        values = file_layers[file_name]
        problem = _mismatch(variables, values)
        if problem is None:
            assignments.append((model_name, variables, values))
        else:
            mismatches[model_name] = problem
    if mismatches and not skip_mismatch:
        details = "; ".join(f"{name}: {why}" for name, why in mismatches.items())
        raise ValueError(
            f"The weights of {len(mismatches)} layers in {str(filepath)!r} do not match the "
            f"model ({details}). Pass `skip_mismatch=True` to load the other layers and leave "
            "these as they are."
        )

    for name, variables, values in assignments:
        for variable, (_, value) in zip(variables, values):
            variable.assign(value.astype(variable.dtype))
        report.loaded.append(name)
    report.skipped = mismatches
    if verbose:
        print(report)
    return report


# ----------------------------------------------------------------------------------------------
# Sampling


def _as_rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _keep_zero_and_sample(rng, size: int, count: int) -> np.ndarray:
    """Index 0 (background) plus `count - 1` sorted random indices from `1..size-1`."""
    rest = rng.choice(np.arange(1, size), count - 1, replace=False)
    return np.concatenate([[0], np.sort(rest)]).astype(np.int64)


def _fill(init, shape, mean, stddev, rng, dtype):
    if init == "gaussian":
        return rng.normal(mean, stddev, size=shape).astype(dtype)
    return np.zeros(shape, dtype=dtype)


def sample_tensors(
    weights_list,
    sampling_instructions,
    axes=None,
    init=None,
    mean=0.0,
    stddev=0.005,
    rng=None,
):
    """Sub-sample and/or up-sample tensors along their axes (ssd_keras semantics).

    Used to turn a classifier trained for N classes into one for M classes.
    The first tensor (e.g. a kernel) drives the sampling; the others (e.g. its
    bias) follow along the axes given in `axes`.

    Per axis `i` of the first tensor, `sampling_instructions[i]` is:

    - a list of indices: keep exactly those, in that order;
    - an int equal to the axis length: keep the axis as it is;
    - a smaller int `k`: keep index 0 (background) and `k - 1` other indices
      picked at random, in increasing order;
    - a larger int `k`: the whole axis is scattered over `k` positions (index 0
      stays at 0, the others at random increasing positions), and the new
      positions are filled according to `init`.

    Args:
        weights_list: NumPy arrays; the first one has the highest rank.
        sampling_instructions: one entry per axis of `weights_list[0]`.
        axes: for each further tensor, the axes of the first tensor its own
            axes correspond to, e.g. `[[3]]` for a conv bias.
        init: per tensor, 'gaussian' (`normal(mean, stddev)`) or 'zeros' for
            up-sampled positions; None means 'gaussian' for all.
        mean, stddev: parameters of the 'gaussian' fill.
        rng: a `numpy.random.Generator` or a seed; None draws fresh entropy.

    Returns:
        The list of new arrays, with the dtypes of the inputs.

    Raises:
        ValueError: for instructions, axes or init that do not fit the tensors.
    """
    rng = _as_rng(rng)
    tensors = [np.asarray(w) for w in weights_list]
    if not tensors:
        raise ValueError("`weights_list` must hold at least one array. Received: []")
    first = tensors[0]
    if (
        not isinstance(sampling_instructions, (list, tuple))
        or len(sampling_instructions) != first.ndim
    ):
        raise ValueError(
            "`sampling_instructions` must be a list with one entry per axis of the first "
            f"tensor ({first.ndim}). Received: sampling_instructions={sampling_instructions!r}"
        )
    if init is None:
        init = ["gaussian"] * len(tensors)
    if len(init) != len(tensors) or any(i not in ("gaussian", "zeros") for i in init):
        raise ValueError(
            "`init` must be None or one of 'gaussian'/'zeros' per tensor in `weights_list`. "
            f"Received: init={init!r}"
        )
    axes = [] if axes is None else [list(a) for a in axes]
    if len(axes) != len(tensors) - 1:
        raise ValueError(
            "`axes` must hold one list of axes per tensor after the first "
            f"({len(tensors) - 1}). Received: axes={axes!r}"
        )
    for j, (tensor, tensor_axes) in enumerate(zip(tensors[1:], axes), start=1):
        if (
            len(tensor_axes) != tensor.ndim
            or any(not 0 <= a < first.ndim for a in tensor_axes)
            or tuple(first.shape[a] for a in tensor_axes) != tensor.shape
        ):
            raise ValueError(
                f"`axes[{j - 1}]` must name, for each axis of tensor {j} (shape "
                f"{tensor.shape}), the axis of the first tensor (shape {first.shape}) of the "
                f"same length. Received: axes={axes!r}"
            )

    keep = []  # per axis: indices of the input that are kept
    place = []  # per axis: where they go in the output (None: straight, no up-sampling)
    out_shape = []
    for i, (inst, size) in enumerate(zip(sampling_instructions, first.shape)):
        if isinstance(inst, (list, tuple, np.ndarray)):
            indices = np.asarray(inst, dtype=np.int64).ravel()
            if indices.size == 0 or indices.min() < 0 or indices.max() >= size:
                raise ValueError(
                    f"`sampling_instructions[{i}]` must hold indices in [0, {size}). "
                    f"Received: {list(inst)!r}"
                )
            keep.append(indices)
            place.append(None)
            out_shape.append(indices.size)
        elif isinstance(inst, (int, np.integer)) and not isinstance(inst, bool) and inst > 0:
            inst = int(inst)
            if inst <= size:
                keep.append(
                    np.arange(size) if inst == size else _keep_zero_and_sample(rng, size, inst)
                )
                place.append(None)
            else:
                keep.append(np.arange(size))
                place.append(_keep_zero_and_sample(rng, inst, size))
            out_shape.append(inst)
        else:
            raise ValueError(
                f"`sampling_instructions[{i}]` must be a positive integer or a list of "
                f"indices. Received: {inst!r}"
            )

    all_axes = [list(range(first.ndim)), *axes]
    results = []
    for tensor, tensor_axes, tensor_init in zip(tensors, all_axes, init):
        sampled = tensor[np.ix_(*[keep[a] for a in tensor_axes])]
        if all(place[a] is None for a in tensor_axes):
            results.append(np.array(sampled, copy=True))
            continue
        shape = tuple(out_shape[a] for a in tensor_axes)
        out = _fill(tensor_init, shape, mean, stddev, rng, tensor.dtype)
        positions = [
            np.arange(n) if place[a] is None else place[a]
            for a, n in zip(tensor_axes, sampled.shape)
        ]
        out[np.ix_(*positions)] = sampled
        results.append(out)
    return results


def _class_mapping(class_indices, n_classes_source: int, rng) -> list[int | None]:
    """For each new class, its source class (None: a new, freshly initialised class)."""
    if isinstance(class_indices, (int, np.integer)) and not isinstance(class_indices, bool):
        count = int(class_indices)
        if count < 1:
            raise ValueError(
                f"`class_indices` must be a positive integer or a list of source class indices. "
                f"Received: class_indices={class_indices!r}"
            )
        if count <= n_classes_source:
            return [int(i) for i in _keep_zero_and_sample(rng, n_classes_source, count)]
        mapping: list[int | None] = [None] * count
        for source, target in enumerate(_keep_zero_and_sample(rng, count, n_classes_source)):
            mapping[int(target)] = source
        return mapping
    if isinstance(class_indices, (str, bytes)) or not isinstance(
        class_indices, (Sequence, np.ndarray)
    ):
        raise ValueError(
            "`class_indices` must be a list of source class indices (None for a new class) or "
            f"a number of classes. Received: class_indices={class_indices!r}"
        )
    mapping = []
    for index in class_indices:
        if index is not None and (
            isinstance(index, bool)
            or not isinstance(index, (int, np.integer))
            or not 0 <= index < n_classes_source
        ):
            raise ValueError(
                f"`class_indices` must hold source class indices in [0, {n_classes_source}) or "
                f"None. Received: class_indices={list(class_indices)!r}"
            )
        mapping.append(None if index is None else int(index))
    if not mapping:
        raise ValueError("`class_indices` must not be empty. Received: class_indices=[]")
    return mapping


def _resample_classes(array, mapping, n_classes_source, init, mean, stddev, rng):
    """Pick, per box, the class channels of `mapping` along the last axis."""
    n_boxes = array.shape[-1] // n_classes_source
    source = np.array([-1 if s is None else s for s in mapping])
    channels = (np.arange(n_boxes)[:, None] * n_classes_source + source).ravel()
    known = np.tile(source >= 0, n_boxes)  # False where a new class is filled by `init`
    out = _fill(init, (*array.shape[:-1], channels.size), mean, stddev, rng, array.dtype)
    out[..., known] = array[..., channels[known]]
    return out


def subsample_classifier_weights(
    source_path,
    dest_path,
    class_indices,
    n_classes_source,
    conf_layer_names=None,
    mean=0.0,
    stddev=0.005,
    rng=None,
):
    """Write a copy of a weight file whose class predictors keep only some classes.

    The weight-sampling workflow of ssd_keras (`weight_sampling_tutorial.ipynb`):
    e.g. turn the COCO SSD300 weights (81 classes with background) into weights
    for 8 classes of your own, keeping what the classifiers learned for the
    matching COCO classes, then fine-tune. Every class predictor's kernel
    `(kh, kw, c_in, n_boxes * n_classes_source)` and bias are re-sampled per box:
    new channel `box * n_new + j` is source channel
    `box * n_classes_source + class_indices[j]`. All other layers are copied.

    Args:
        source_path: a Keras-2 HDF5 weights or full-model file.
        dest_path: the file to write (overwritten if it exists).
        class_indices: the source class of each new class, background first,
            e.g. `[0, 3, 8, 1, 2, 10, 4, 6, 12]` for the tutorial's 8 classes
            from COCO; None entries are new classes whose kernels are drawn
            from `normal(mean, stddev)` and biases set to 0. An int `k` picks
            the classes at random: background plus `k - 1` source classes (the
            same ones for every box), or with `k > n_classes_source` all source
            classes scattered among `k` with the rest new.
        n_classes_source: classes of the source model **including background**
            (81 for COCO, 21 for Pascal VOC).
        conf_layer_names: the class predictor layers. None means every layer of
            the file whose name ends in `_mbox_conf` (the 6 of SSD300 or 7 of
            SSD512); SSD7's are `['classes4', 'classes5', 'classes6', 'classes7']`.
        mean, stddev: the fill of new kernels.
        rng: a `numpy.random.Generator` or a seed for the random choices.

    Returns:
        The source class of every new class (None for new ones): the list to
        name your classes by, useful when `class_indices` is an int.

    Raises:
        ValueError: bad arguments, a missing layer, or a predictor whose
            channel count is not a multiple of `n_classes_source`.
    """
    rng = _as_rng(rng)
    if (
        isinstance(n_classes_source, bool)
        or not isinstance(n_classes_source, (int, np.integer))
        or n_classes_source < 2
    ):
        raise ValueError(
            "`n_classes_source` must be an integer >= 2 (classes including background). "
            f"Received: n_classes_source={n_classes_source!r}"
        )
    if not os.path.isfile(source_path):
        raise FileNotFoundError(
            f"No weight file at `source_path`. Received: source_path={source_path!r}"
        )
    if os.path.exists(dest_path) and os.path.samefile(source_path, dest_path):
        raise ValueError(
            "`dest_path` must differ from `source_path` (the source is kept). "
            f"Received: dest_path={dest_path!r}"
        )
    mapping = _class_mapping(class_indices, int(n_classes_source), rng)

    shutil.copyfile(source_path, dest_path)
    with h5py.File(dest_path, "r+") as f:
        root = _weights_root(f, source_path)
        layer_names = _string_list_attr(root, "layer_names")
        if conf_layer_names is None:
            conf_layer_names = [name for name in layer_names if name.endswith("_mbox_conf")]
            if not conf_layer_names:
                raise ValueError(
                    "The file has no `*_mbox_conf` layers; pass `conf_layer_names`. "
                    f"Received: source_path={source_path!r}"
                )
        for name in conf_layer_names:
            if name not in layer_names:
                raise ValueError(
                    f"Layer {name!r} is not in the file. Received: conf_layer_names="
                    f"{list(conf_layer_names)!r}"
                )
            group = root[name]
            weight_names = _string_list_attr(group, "weight_names")
            for k, weight_name in enumerate(weight_names):
                array = np.asarray(group[weight_name])
                if array.shape[-1] % n_classes_source:
                    raise ValueError(
                        f"{name}/{weight_name} has {array.shape[-1]} channels, not a multiple "
                        f"of n_classes_source={n_classes_source} (classes including "
                        "background, e.g. 81 for COCO)."
                    )
                # ssd_keras' tutorial: kernels new classes get gaussian values, biases zeros.
                init = "gaussian" if k == 0 else "zeros"
                new = _resample_classes(array, mapping, n_classes_source, init, mean, stddev, rng)
                del group[weight_name]
                group.create_dataset(weight_name, data=new)
    return mapping
