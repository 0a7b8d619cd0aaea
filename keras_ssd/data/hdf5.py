"""HDF5 data set files: write a whole data set once, then read images without decoding.

File layout (compatible with the files ssd_keras wrote; `N` = data set size):

- `images`: `(N,)` variable-length `uint8`, each image flattened; always 3 channels (RGB),
- `image_shapes`: `(N, 3)` `int32`, the `(H, W, 3)` shape of each image,
- `labels`: `(N,)` variable-length `float64` (ssd_keras used `int32`, which truncated COCO's
  float boxes), each `(k, 5)` array flattened, and `label_shapes`: `(N, 2)` `int32`,
- `image_ids`: `(N,)` variable-length `str`; `eval_neutral`: `(N,)` variable-length `bool`,
- `filenames`: `(N,)` variable-length `str` (new; older files have none),
- attributes `has_labels`, `has_image_ids`, `has_eval_neutral`, `variable_image_size`, and the
  new `has_filenames`, `image_ids_type` (`'int'` when the IDs were ints, e.g. COCO, so they come
  back as ints) and `labels_output_format`.

Image IDs are read back as `str` (h5py 3 returns `bytes` unless told otherwise).
"""

from __future__ import annotations

import os

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from keras_ssd.data.image_io import DatasetError
from keras_ssd.data.parsers import LABEL_COLUMNS
from keras_ssd.data.parsers import as_label_array
from keras_ssd.data.parsers import check_labels_output_format

__all__ = [
    "create_hdf5_dataset",
    "load_hdf5_dataset",
    "read_hdf5_image",
    "to_three_channels",
]


def to_three_channels(image: np.ndarray) -> np.ndarray:
    """Grayscale `(H, W)`/`(H, W, 1)` to RGB by repetition; RGBA to RGB by dropping alpha."""
    if image.ndim == 2:
        return np.stack([image] * 3, axis=-1)
    if image.shape[2] == 1:
        return np.concatenate([image] * 3, axis=-1)
    if image.shape[2] == 4:
        return image[:, :, :3]
    return image


def _check_resize(resize):
    if resize is False or resize is None:
        return None
    try:
        height, width = (int(v) for v in resize)
    except (TypeError, ValueError):
        height = width = 0
    if height <= 0 or width <= 0:
        raise ValueError(
            f"`resize` must be False or (height, width) with positive ints. Received: "
            f"resize={resize!r}"
        )
    return height, width


def create_hdf5_dataset(
    file_path,
    load_image,
    dataset_size,
    labels=None,
    image_ids=None,
    eval_neutral=None,
    filenames=None,
    labels_output_format=LABEL_COLUMNS,
    resize=False,
    variable_image_size=True,
    verbose=True,
):
    """Write a data set into an HDF5 file.

    Args:
        file_path: the `.h5` file to write (overwritten).
        load_image: callable `i -> uint8 image` for `i` in `range(dataset_size)`.
        dataset_size: number of images.
        labels: `None` or one `(k, 5)` array per image, columns in `labels_output_format`.
        image_ids, eval_neutral, filenames: `None` or one entry per image.
        labels_output_format: the label column order (stored as an attribute).
        resize: `False`, or `(height, width)` to resize every image to. The box coordinates
            are scaled with the image (ssd_keras left them unscaled).
        variable_image_size: stored as an attribute, as in ssd_keras.
        verbose: show a progress bar.
    """
    fmt = check_labels_output_format(labels_output_format)
    resize = _check_resize(resize)
    col = {name: i for i, name in enumerate(fmt)}
    for name, values in (
        ("labels", labels),
        ("image_ids", image_ids),
        ("eval_neutral", eval_neutral),
        ("filenames", filenames),
    ):
        if values is not None and len(values) != dataset_size:
            raise ValueError(
                f"`{name}` must have one entry per image ({dataset_size}). "
                f"Received {len(values)} entries."
            )
    ids_are_ints = image_ids is not None and all(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in image_ids
    )

    with h5py.File(os.fspath(file_path), "w") as f:
        f.attrs["has_labels"] = labels is not None
        f.attrs["has_image_ids"] = image_ids is not None
        f.attrs["has_eval_neutral"] = eval_neutral is not None
        f.attrs["has_filenames"] = filenames is not None
        f.attrs["variable_image_size"] = bool(variable_image_size)
        f.attrs["image_ids_type"] = "int" if ids_are_ints else "str"
        f.attrs["labels_output_format"] = ",".join(fmt)
        images_ds = f.create_dataset(
            "images", shape=(dataset_size,), dtype=h5py.vlen_dtype(np.uint8)
        )
        shapes_ds = f.create_dataset("image_shapes", shape=(dataset_size, 3), dtype=np.int32)
        if labels is not None:
            labels_ds = f.create_dataset(
                "labels", shape=(dataset_size,), dtype=h5py.vlen_dtype(np.float64)
            )
            label_shapes_ds = f.create_dataset(
                "label_shapes", shape=(dataset_size, 2), dtype=np.int32
            )
        if image_ids is not None:
            f.create_dataset(
                "image_ids", data=[str(i) for i in image_ids], dtype=h5py.string_dtype()
            )
        if filenames is not None:
            f.create_dataset(
                "filenames", data=[os.fspath(n) for n in filenames], dtype=h5py.string_dtype()
            )
        if eval_neutral is not None:
            neutral_ds = f.create_dataset(
                "eval_neutral", shape=(dataset_size,), dtype=h5py.vlen_dtype(np.bool_)
            )

        for i in tqdm(range(dataset_size), desc="Creating HDF5 dataset", disable=not verbose):
            image = to_three_channels(np.asarray(load_image(i), dtype=np.uint8))
            scale_y = scale_x = 1.0
            if resize is not None:
                scale_y, scale_x = resize[0] / image.shape[0], resize[1] / image.shape[1]
                image = cv2.resize(image, dsize=(resize[1], resize[0]))
            images_ds[i] = image.reshape(-1)
            shapes_ds[i] = image.shape
            if labels is not None:
                boxes = as_label_array(labels[i], name=f"labels[{i}]").copy()
                boxes[:, [col["xmin"], col["xmax"]]] *= scale_x
                boxes[:, [col["ymin"], col["ymax"]]] *= scale_y
                labels_ds[i] = boxes.reshape(-1)
                label_shapes_ds[i] = boxes.shape
            if eval_neutral is not None:
                neutral_ds[i] = np.asarray(eval_neutral[i], dtype=bool).reshape(-1)


def read_hdf5_image(hdf5_dataset: h5py.File, i: int) -> np.ndarray:
    """Image `i` of an open HDF5 data set, as a `uint8` `(H, W, 3)` array."""
    return hdf5_dataset["images"][i].reshape(hdf5_dataset["image_shapes"][i])


def _reorder_columns(stored_fmt: tuple, fmt: tuple) -> list:
    return [stored_fmt.index(name) for name in fmt]


def load_hdf5_dataset(
    file_path,
    load_images_into_memory=False,
    labels_output_format=LABEL_COLUMNS,
    verbose=True,
):
    """Open an HDF5 data set read-only and read its labels, image IDs, etc.

    Args:
        file_path: the `.h5` file.
        load_images_into_memory: also decode every image into a list.
        labels_output_format: the label column order wanted; a file written with another
            order has its columns reordered.
        verbose: show a progress bar while loading images.

    Returns:
        A dict with `hdf5_dataset` (the open `h5py.File`), `dataset_size`, `images` (list or
        `None`), `labels` (list of `float64` `(k, 5)` arrays, or `None`), `image_ids` (`str`,
        or `int` where they were ints, or `None`), `eval_neutral` (list of `bool` arrays, or
        `None`) and `filenames` (list of `str`, or `None`).
    """
    fmt = check_labels_output_format(labels_output_format)
    file_path = os.fspath(file_path)
    if not os.path.isfile(file_path):
        raise FileNotFoundError(f"The HDF5 dataset file {file_path!r} does not exist.")
    try:
        f = h5py.File(file_path, "r")
    except OSError as e:
        raise DatasetError(f"{file_path!r} is not a readable HDF5 file: {e}") from None
    if "images" not in f or "image_shapes" not in f:
        f.close()
        raise DatasetError(f"The HDF5 file {file_path!r} has no 'images'/'image_shapes' data.")
    attrs = f.attrs
    dataset_size = len(f["images"])

    images = None
    if load_images_into_memory:
        images = [
            read_hdf5_image(f, i)
            for i in tqdm(range(dataset_size), desc="Loading images into memory",
                          disable=not verbose)
        ]  # fmt: skip

    labels = None
    if attrs.get("has_labels", "labels" in f):
        stored_fmt = tuple(str(attrs.get("labels_output_format", ",".join(fmt))).split(","))
        order = _reorder_columns(check_labels_output_format(stored_fmt), fmt)
        shapes = f["label_shapes"][()]
        flat = f["labels"][()]
        labels = [
            np.asarray(flat[i], dtype=np.float64).reshape(shapes[i]).reshape(-1, 5)[:, order]
            for i in range(dataset_size)
        ]

    image_ids = None
    if attrs.get("has_image_ids", "image_ids" in f):
        image_ids = [str(i) for i in f["image_ids"].asstr()[()]]
        if attrs.get("image_ids_type", "str") == "int":
            image_ids = [int(i) for i in image_ids]

    eval_neutral = None
    if attrs.get("has_eval_neutral", "eval_neutral" in f):
        eval_neutral = [np.asarray(v, dtype=bool) for v in f["eval_neutral"][()]]

    filenames = None
    if attrs.get("has_filenames", False):
        filenames = [str(n) for n in f["filenames"].asstr()[()]]

    return {
        "hdf5_dataset": f,
        "dataset_size": dataset_size,
        "images": images,
        "labels": labels,
        "image_ids": image_ids,
        "eval_neutral": eval_neutral,
        "filenames": filenames,
    }
