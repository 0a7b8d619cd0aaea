"""Plumbing shared by every transform: labels_format, random generators, outputs, inverters.

Conventions of the transforms package:

- Images are NumPy arrays `(H, W, C)` (or `(H, W)`), RGB, uint8 or float.
- Labels are float arrays `(k, n)` laid out by `labels_format` (by default
  `[class_id, xmin, ymin, xmax, ymax]`), in absolute pixel-edge coordinates: a box
  covering pixel columns `a .. b-1` has `xmin = a`, `xmax = b`, and the image
  spans `[0, W] x [0, H]`. An image without boxes has labels of shape `(0, n)`.
- Inverters map decoded prediction rows `[class_id, conf, xmin, ymin, xmax, ymax]`
  (shape `(k, 6)`, or `(..., 6)`) from the transformed image back to the input image.
- Random transforms draw only from their own `numpy.random.Generator` (`rng`);
  `set_rng` reseeds a transform and everything nested in it.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

import numpy as np

__all__ = [
    "DEFAULT_LABELS_FORMAT",
    "PREDICTION_BOX_COLUMNS",
    "BoxInverter",
    "ComposedInverter",
    "Component",
    "Transform",
    "as_generator",
    "box_columns",
    "check_positive",
    "check_prob",
    "clip_box_columns",
    "identity_inverter",
    "pack",
    "prepare_labels",
    "set_rng",
]

# Read-only, so it can serve as a default argument (the original used a mutable dict).
DEFAULT_LABELS_FORMAT = types.MappingProxyType(
    {"class_id": 0, "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}
)
_BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")
# Box columns of a decoded prediction row [class_id, conf, xmin, ymin, xmax, ymax].
PREDICTION_BOX_COLUMNS = [2, 3, 4, 5]


def as_generator(rng) -> np.random.Generator:
    """A `numpy.random.Generator` from a Generator (returned as is), an int seed or None."""
    if isinstance(rng, bool) or not (
        rng is None
        or isinstance(rng, (int, np.integer, np.random.Generator, np.random.SeedSequence))
    ):
        raise TypeError(
            "`rng` must be a numpy.random.Generator, an int seed or None. "
            f"Received: rng={rng!r}"
        )
    return np.random.default_rng(rng)


def check_prob(prob, name: str = "prob") -> float:
    """Validate a probability in [0, 1]."""
    if not isinstance(prob, (int, float, np.number)) or not 0.0 <= prob <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={prob!r}")
    return float(prob)


def check_positive(value, name: str) -> float:
    """Validate a number > 0."""
    if not isinstance(value, (int, float, np.number)) or not value > 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")
    return value


def check_labels_format(labels_format) -> dict:
    """Validate a labels_format mapping (needs int columns for xmin, ymin, xmax, ymax)."""
    if not isinstance(labels_format, Mapping) or any(
        not isinstance(labels_format.get(key), (int, np.integer)) for key in _BOX_KEYS
    ):
        raise ValueError(
            "`labels_format` must be a dict mapping 'xmin', 'ymin', 'xmax' and 'ymax' "
            f"to column indices. Received: labels_format={labels_format!r}"
        )
    return dict(labels_format)


def box_columns(labels_format) -> list[int]:
    """The label columns of `[xmin, ymin, xmax, ymax]` under `labels_format`."""
    return [labels_format[key] for key in _BOX_KEYS]


def prepare_labels(labels, labels_format):
    """A float copy of `labels` as `(k, n)`; None stays None; `[]` becomes `(0, n)`."""
    if labels is None:
        return None
    labels = np.array(labels, copy=True)
    if labels.size == 0:
        labels = labels.reshape(0, max(max(labels_format.values()) + 1, 5))
    if labels.ndim != 2:
        raise ValueError(
            f"`labels` must have shape (k, n). Received: labels.shape={labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.floating):
        labels = labels.astype(np.float64)
    return labels


def clip_box_columns(labels, labels_format, height, width) -> None:
    """Clip the boxes of `labels` in place to the image extent `[0, W] x [0, H]`."""
    xmin, ymin, xmax, ymax = box_columns(labels_format)
    labels[:, [xmin, xmax]] = np.clip(labels[:, [xmin, xmax]], 0, width)
    labels[:, [ymin, ymax]] = np.clip(labels[:, [ymin, ymax]], 0, height)


def pack(image, labels, inverter=None, return_inverter=False):
    """`image`, `(image, labels)`, or either with the inverter appended."""
    out = (image,) if labels is None else (image, labels)
    if return_inverter:
        out += (inverter,)
    return out[0] if len(out) == 1 else out


def identity_inverter(y_pred):
    """The inverter of a transform that left the geometry unchanged."""
    return np.array(y_pred, copy=True)


class BoxInverter:
    """Inverter mapping prediction boxes with `fn((k, 4) corners) -> (k, 4) corners`."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, y_pred):
        y_pred = np.array(y_pred, copy=True)
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float64)
        if y_pred.size:
            y_pred[..., PREDICTION_BOX_COLUMNS] = self.fn(y_pred[..., PREDICTION_BOX_COLUMNS])
        return y_pred


class ComposedInverter:
    """Applies `inverters` in the given order (last transform's first), skipping None."""

    def __init__(self, inverters):
        self.inverters = [inverter for inverter in inverters if inverter is not None]

    def __call__(self, y_pred):
        y_pred = np.array(y_pred, copy=True)
        for inverter in self.inverters:
            y_pred = inverter(y_pred)
        return y_pred


class Component:
    """Anything that may hold a `rng` or nested components (found in its attributes)."""

    def _seed(self, rng) -> None:
        """Give this component `rng` and its nested components spawned generators
        (call last in `__init__`, so `Op(..., rng=s)` equals `set_rng(Op(...), s)`)."""
        self.rng = None
        set_rng(self, rng)

    def _children(self) -> list[Component]:
        """Nested components in attribute order (lists/tuples searched), each once."""
        seen, children = set(), []
        for value in vars(self).values():
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, Component) and id(item) not in seen:
                    seen.add(id(item))
                    children.append(item)
        return children


class Transform(Component):
    """Base of every op: a `labels_format` that propagates to nested transforms."""

    _labels_format = dict(DEFAULT_LABELS_FORMAT)

    @property
    def labels_format(self) -> dict:
        """Column indices of `class_id`, `xmin`, `ymin`, `xmax`, `ymax` in the labels."""
        return self._labels_format

    @labels_format.setter
    def labels_format(self, value) -> None:
        self._labels_format = check_labels_format(value)
        for child in self._children():
            if isinstance(child, Transform):
                child.labels_format = self._labels_format


def set_rng(transform, rng):
    """Reseed `transform` and, recursively, every component nested in it.

    The transform's own `rng` (if it has one) becomes `as_generator(rng)`, and each
    nested component gets a generator spawned from it, in attribute order, so the
    same seed always reproduces the same draws. Returns `transform`.
    """
    if not isinstance(transform, Component):
        raise TypeError(
            "`transform` must be a keras_ssd transform. "
            f"Received: transform={type(transform).__name__}"
        )
    rng = as_generator(rng)
    if "rng" in vars(transform):
        transform.rng = rng
    children = transform._children()
    for child, child_rng in zip(children, rng.spawn(len(children))):
        set_rng(child, child_rng)
    return transform
