"""Image loading with clear errors, and the dataset error type shared by the data modules.

`load_image(path)` decodes an image file into a `uint8` NumPy array in RGB order:

- colour images: `(H, W, 3)` RGB,
- images with alpha: `(H, W, 4)` RGBA,
- grayscale images: `(H, W)` (as PIL decoded them in ssd_keras; `ConvertTo3Channels`
  turns them into RGB).

A missing, empty, undecodable or truncated file raises `DatasetError` naming the file.
OpenCV decodes a truncated JPEG into a partly grey image with only a warning on stderr, so
JPEG and PNG files are checked for their end marker before decoding.
"""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np

__all__ = [
    "ON_ERROR",
    "DatasetError",
    "check_on_error",
    "load_image",
    "report_problem",
]

ON_ERROR = ("raise", "warn", "skip")

_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
_PNG_START = b"\x89PNG\r\n\x1a\n"
# The JPEG end-of-image marker cannot occur in entropy-coded data (0xFF is byte-stuffed), so
# it must appear near the end of a complete file; some writers append a few padding bytes.
_JPEG_END_WINDOW = 4096
_PNG_END_WINDOW = 64


class DatasetError(Exception):
    """A problem with the data set itself: a bad image file, a malformed annotation, a bad box.

    The message always names the file (and the box, where there is one).
    """


def check_on_error(value, name: str = "on_error") -> str:
    """Validate an `on_error`-style option ('raise' | 'warn' | 'skip') and return it."""
    if value not in ON_ERROR:
        raise ValueError(f"`{name}` must be one of {ON_ERROR}. Received: {name}={value!r}")
    return value


def report_problem(message: str, on_error: str, consequence: str = "") -> None:
    """Handle a data problem as the user chose: raise `DatasetError`, warn, or stay silent.

    `consequence` (what happens instead, e.g. "The image is dropped.") ends the warning.
    """
    if on_error == "raise":
        raise DatasetError(message)
    if on_error == "warn":
        warnings.warn(f"{message} {consequence}".strip(), stacklevel=3)


def _check_complete(data: bytes, path: str) -> None:
    """Raise `DatasetError` if a JPEG or PNG file lacks its end marker (a truncated file)."""
    if data.startswith(_JPEG_START):
        if data.rfind(_JPEG_END) < max(2, len(data) - _JPEG_END_WINDOW):
            raise DatasetError(
                f"The image file {path!r} is a truncated or corrupt JPEG (no end-of-image marker)."
            )
    elif data.startswith(_PNG_START):
        if data.rfind(b"IEND") < max(8, len(data) - _PNG_END_WINDOW):
            raise DatasetError(
                f"The image file {path!r} is a truncated or corrupt PNG (no IEND chunk)."
            )


def load_image(path) -> np.ndarray:
    """Decode the image file at `path` into a `uint8` RGB(A) or grayscale array.

    Args:
        path: path of the image file (str or path-like).

    Returns:
        `uint8` array of shape `(H, W, 3)` (RGB), `(H, W, 4)` (RGBA) or `(H, W)` (grayscale).
        16-bit images are scaled down to 8 bits.

    Raises:
        DatasetError: the file is missing, empty, truncated or cannot be decoded.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetError(f"The image file {path!r} does not exist.")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise DatasetError(f"The image file {path!r} is empty.")
    _check_complete(data, path)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise DatasetError(f"The image file {path!r} could not be decoded (corrupt or unknown).")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise DatasetError(
            f"The image file {path!r} has pixel type {image.dtype}; only 8- and 16-bit "
            "images are supported."
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return np.ascontiguousarray(image)
