"""Photometric ops: colour space, data type, channels, hue, saturation, brightness,
contrast, gamma, histogram equalization, channel swap, and their random variants.

Every op: `__call__(image, labels=None)` returns `image`, or `(image, labels)` with
the labels unchanged (a float copy). Images are `(H, W, C)` arrays; which colour
space and dtype an op expects is stated in its docstring (OpenCV conventions: HSV
hue in [0, 180) for uint8). Inputs are never modified in place. Random variants
fire when `rng.random() < prob`.
"""

from __future__ import annotations

import cv2
import numpy as np

from keras_ssd.data.transforms._base import DEFAULT_LABELS_FORMAT
from keras_ssd.data.transforms._base import Transform
from keras_ssd.data.transforms._base import check_positive
from keras_ssd.data.transforms._base import check_prob
from keras_ssd.data.transforms._base import pack
from keras_ssd.data.transforms._base import prepare_labels

__all__ = [
    "Brightness",
    "ChannelSwap",
    "Contrast",
    "ConvertColor",
    "ConvertDataType",
    "ConvertTo3Channels",
    "Gamma",
    "HistogramEqualization",
    "Hue",
    "RandomBrightness",
    "RandomChannelSwap",
    "RandomContrast",
    "RandomGamma",
    "RandomHistogramEqualization",
    "RandomHue",
    "RandomSaturation",
    "Saturation",
]


class _Photometric(Transform):
    """Base: `_apply(image) -> image`; labels pass through."""

    def _apply(self, image):
        raise NotImplementedError

    def __call__(self, image, labels=None):
        return pack(self._apply(np.asarray(image)), prepare_labels(labels, self.labels_format))


class _RandomPhotometric(_Photometric):
    """Base: with probability `prob`, `self.op` with parameters from `_draw()`."""

    def _draw(self) -> None:
        pass

    def _apply(self, image):
        if self.rng.random() < self.prob:
            self._draw()
            return self.op._apply(image)
        return image.copy()


def _like(values, image):
    """`values` in the dtype of `image` (rounded first for integer images)."""
    if np.issubdtype(image.dtype, np.integer):
        values = np.round(values)
    return values.astype(image.dtype)


def _check_lower_upper(lower, upper):
    if not lower < upper:
        raise ValueError(
            f"`lower` must be smaller than `upper`. Received: lower={lower!r}, upper={upper!r}"
        )


class ConvertColor(_Photometric):
    """Convert between 'RGB' and 'HSV', or from either to 'GRAY' (stacked back to 3
    channels if `keep_3ch`). `current == to` returns a copy."""

    def __init__(self, current="RGB", to="HSV", keep_3ch=True):
        if current not in ("RGB", "HSV"):
            raise ValueError(f"`current` must be 'RGB' or 'HSV'. Received: current={current!r}")
        if to not in ("RGB", "HSV", "GRAY"):
            raise ValueError(f"`to` must be 'RGB', 'HSV' or 'GRAY'. Received: to={to!r}")
        self.current, self.to, self.keep_3ch = current, to, bool(keep_3ch)
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        if self.current == self.to:
            return image.copy()
        if self.current == "HSV":
            image = cv2.cvtColor(image, cv2.COLOR_HSV2RGB)
            if self.to == "RGB":
                return image
        elif self.to == "HSV":
            return cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return np.stack([gray] * 3, axis=-1) if self.keep_3ch else gray


class ConvertDataType(_Photometric):
    """Convert to 'uint8' (rounded and clipped to [0, 255]) or 'float32'."""

    def __init__(self, to="uint8"):
        if to not in ("uint8", "float32"):
            raise ValueError(f"`to` must be 'uint8' or 'float32'. Received: to={to!r}")
        self.to = to
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        if self.to == "uint8":
            return np.clip(np.round(image), 0, 255).astype(np.uint8)
        return image.astype(np.float32)


class ConvertTo3Channels(_Photometric):
    """Gray `(H, W)` or `(H, W, 1)` -> `(H, W, 3)`; RGBA -> RGB; 3 channels unchanged."""

    def __init__(self):
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        if image.ndim == 2:
            return np.stack([image] * 3, axis=-1)
        if image.shape[2] == 1:
            return np.concatenate([image] * 3, axis=-1)
        if image.shape[2] == 4:
            return image[:, :, :3].copy()
        return image.copy()


class Hue(_Photometric):
    """`H = (H + delta) mod 180` on an HSV image (OpenCV hue range), delta in [-180, 180]."""

    def __init__(self, delta):
        if not -180 <= delta <= 180:
            raise ValueError(f"`delta` must be in [-180, 180]. Received: delta={delta!r}")
        self.delta = delta
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        image = image.copy()
        hue = image[:, :, 0].astype(np.float64) + self.delta
        if np.issubdtype(image.dtype, np.integer):
            hue = np.round(hue)
        image[:, :, 0] = hue % 180.0
        return image


class RandomHue(_RandomPhotometric):
    """`Hue(delta)` with delta uniform in `[-max_delta, max_delta]`, max_delta in [0, 180]."""

    def __init__(self, max_delta=18, prob=0.5, *, rng=None):
        if not 0 <= max_delta <= 180:
            raise ValueError(
                f"`max_delta` must be in [0, 180]. Received: max_delta={max_delta!r}"
            )
        self.max_delta, self.prob = max_delta, check_prob(prob)
        self.op = Hue(0)
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _draw(self):
        self.op.delta = self.rng.uniform(-self.max_delta, self.max_delta)


class Saturation(_Photometric):
    """`S = clip(S * factor, 0, 255)` on an HSV image; `factor > 0`."""

    def __init__(self, factor):
        self.factor = check_positive(factor, "factor")
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        image = image.copy()
        image[:, :, 1] = _like(np.clip(image[:, :, 1] * self.factor, 0, 255), image)
        return image


class RandomSaturation(_RandomPhotometric):
    """`Saturation(factor)` with factor uniform in `[lower, upper]`."""

    def __init__(self, lower=0.3, upper=2.0, prob=0.5, *, rng=None):
        check_positive(lower, "lower")
        _check_lower_upper(lower, upper)
        self.lower, self.upper, self.prob = lower, upper, check_prob(prob)
        self.op = Saturation(1.0)
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _draw(self):
        self.op.factor = self.rng.uniform(self.lower, self.upper)


class Brightness(_Photometric):
    """`clip(image + delta, 0, 255)` on an RGB image (rounded back for integer images)."""

    def __init__(self, delta):
        self.delta = delta
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        return _like(np.clip(image + np.float64(self.delta), 0, 255), image)


class RandomBrightness(_RandomPhotometric):
    """`Brightness(delta)` with delta uniform in `[lower, upper]`."""

    def __init__(self, lower=-84, upper=84, prob=0.5, *, rng=None):
        _check_lower_upper(lower, upper)
        self.lower, self.upper, self.prob = lower, upper, check_prob(prob)
        self.op = Brightness(0)
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _draw(self):
        self.op.delta = self.rng.uniform(self.lower, self.upper)


class Contrast(_Photometric):
    """`clip(127.5 + factor * (image - 127.5), 0, 255)` on an RGB image; `factor > 0`."""

    def __init__(self, factor):
        self.factor = check_positive(factor, "factor")
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        return _like(np.clip(127.5 + self.factor * (image - 127.5), 0, 255), image)


class RandomContrast(_RandomPhotometric):
    """`Contrast(factor)` with factor uniform in `[lower, upper]`."""

    def __init__(self, lower=0.5, upper=1.5, prob=0.5, *, rng=None):
        check_positive(lower, "lower")
        _check_lower_upper(lower, upper)
        self.lower, self.upper, self.prob = lower, upper, check_prob(prob)
        self.op = Contrast(1.0)
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _draw(self):
        self.op.factor = self.rng.uniform(self.lower, self.upper)


class Gamma(_Photometric):
    """Gamma correction `255 * (x / 255) ** (1 / gamma)`, `gamma > 0`: a rounded lookup
    table (`self.table`, 256 uint8 values) for uint8 images, the formula for floats."""

    def __init__(self, gamma):
        self.gamma = check_positive(gamma, "gamma")
        self.labels_format = DEFAULT_LABELS_FORMAT

    @property
    def gamma(self):
        return self._gamma

    @gamma.setter
    def gamma(self, value):
        self._gamma = value
        self.gamma_inv = 1.0 / value
        self.table = np.round(255.0 * (np.arange(256) / 255.0) ** self.gamma_inv).astype(np.uint8)

    def _apply(self, image):
        if image.dtype == np.uint8:
            return cv2.LUT(image, self.table).reshape(image.shape)
        return _like(255.0 * (np.clip(image, 0, 255) / 255.0) ** self.gamma_inv, image)


class RandomGamma(_RandomPhotometric):
    """`Gamma(gamma)` with gamma uniform in `[lower, upper]`."""

    def __init__(self, lower=0.25, upper=2.0, prob=0.5, *, rng=None):
        check_positive(lower, "lower")
        _check_lower_upper(lower, upper)
        self.lower, self.upper, self.prob = lower, upper, check_prob(prob)
        self.op = Gamma(1.0)
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _draw(self):
        self.op.gamma = self.rng.uniform(self.lower, self.upper)


class HistogramEqualization(_Photometric):
    """`cv2.equalizeHist` on the V channel of a uint8 HSV image."""

    def __init__(self):
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        image = image.copy()
        image[:, :, 2] = cv2.equalizeHist(np.ascontiguousarray(image[:, :, 2]))
        return image


class RandomHistogramEqualization(_RandomPhotometric):
    """On a uint8 RGB image: RGB -> HSV, `HistogramEqualization`, HSV -> RGB."""

    def __init__(self, prob=0.5, *, rng=None):
        self.prob = check_prob(prob)
        self.op = HistogramEqualization()
        self.to_hsv = ConvertColor("RGB", "HSV")
        self.to_rgb = ConvertColor("HSV", "RGB")
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _apply(self, image):
        if self.rng.random() < self.prob:
            return self.to_rgb._apply(self.op._apply(self.to_hsv._apply(image)))
        return image.copy()


class ChannelSwap(_Photometric):
    """Reorder channels: `image[:, :, order]`; `order` is a permutation of `range(C)`."""

    def __init__(self, order):
        if sorted(order) != list(range(len(order))):
            raise ValueError(
                f"`order` must be a permutation of 0..C-1. Received: order={order!r}"
            )
        self.order = tuple(order)
        self.labels_format = DEFAULT_LABELS_FORMAT

    def _apply(self, image):
        return image[:, :, list(self.order)]


class RandomChannelSwap(_RandomPhotometric):
    """`ChannelSwap` with one of the 5 non-identity permutations of 3 channels (uniform)."""

    PERMUTATIONS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))

    def __init__(self, prob=0.5, *, rng=None):
        self.prob = check_prob(prob)
        self.op = ChannelSwap((0, 1, 2))
        self.labels_format = DEFAULT_LABELS_FORMAT
        self._seed(rng)

    def _draw(self):
        self.op.order = self.PERMUTATIONS[self.rng.integers(len(self.PERMUTATIONS))]
