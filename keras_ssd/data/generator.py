"""`DataGenerator`: holds a data set (file names, labels, image IDs) and yields batches.

The data set comes from the constructor (lists or pickle files), a parser (`parse_xml` for
Pascal VOC, `parse_csv`, `parse_json` for MS COCO) or an HDF5 file (`create_hdf5_dataset`,
`load_hdf5_dataset`). Per image `i`:

- `filenames[i]`: full path (`str`),
- `labels[i]`: `float64` array `(k, 5)`, columns in `labels_output_format` order, absolute
  pixel corners; `(0, 5)` for an image without ground truth,
- `image_ids[i]`: `str` (VOC, CSV) or `int` (COCO),
- `eval_neutral[i]`: `bool` array `(k,)` (VOC `difficult` flags).

`generate(...)` is the batch generator of ssd_keras (transformations, label encoding, the same
`returns` keys in the same order). It yields tuples, so `model.fit(generator.generate(...))`
unpacks `(x, y)`. `load_image(i)` serves the `tf.data` pipeline and the evaluator.
"""

from __future__ import annotations

import inspect
import os
import pickle
import warnings

import numpy as np
from tqdm import tqdm

from keras_ssd.data import hdf5
from keras_ssd.data import parsers
from keras_ssd.data.image_io import DatasetError
from keras_ssd.data.image_io import check_on_error
from keras_ssd.data.image_io import load_image as load_image_file
from keras_ssd.data.image_io import report_problem
from keras_ssd.data.parsers import LABEL_COLUMNS
from keras_ssd.data.parsers import VOC_CLASSES

__all__ = [
    "DEGENERATE_BOX_HANDLING",
    "RETURNS",
    "DataGenerator",
    "DatasetError",
    "DegenerateBatchError",
]

# The possible `returns` keys, in the (fixed) order of the yielded tuple.
RETURNS = (
    "processed_images",
    "encoded_labels",
    "matched_anchors",
    "processed_labels",
    "filenames",
    "image_ids",
    "evaluation-neutral",
    "inverse_transform",
    "original_images",
    "original_labels",
)
DEGENERATE_BOX_HANDLING = ("remove", "warn", "raise", "ignore")
_FILENAMES_TYPES = ("text", "pickle")


class DegenerateBatchError(Exception):
    """A batch cannot be stacked into one array (its images differ in size)."""


def _accepts(fn, parameter: str) -> bool:
    """Whether the callable `fn` takes a keyword argument named `parameter`."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return parameter in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _load_pickle(path, name: str):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The pickle file given as `{name}` does not exist: {path!r}")
    with open(path, "rb") as f:
        return pickle.load(f)  # the user's own data set file, as in ssd_keras


def _as_list_or_pickle(value, name: str):
    """`None`, a list (any sequence), or the path of a pickled list."""
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        value = _load_pickle(value, name)
    try:
        return list(value)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a list or the path of a pickled list. Received: {name}={value!r}"
        ) from None


class _Item:
    """One processed batch item."""

    __slots__ = ("index", "image", "labels", "inverters", "original_image", "original_labels")

    def __init__(self, index, image, labels, inverters, original_image, original_labels):
        self.index = index
        self.image = image
        self.labels = labels
        self.inverters = inverters
        self.original_image = original_image
        self.original_labels = original_labels


class DataGenerator:
    """A data set of images with box labels, and a batch generator over it.

    Args:
        load_images_into_memory: decode every image once and keep it in `images`.
        hdf5_dataset_path: an HDF5 file written by `create_hdf5_dataset` to read from.
        filenames: a list of image paths, or a file holding them (see `filenames_type`).
        filenames_type: `'text'` (one file name per line, joined to `images_dir`) or
            `'pickle'` (a pickled list).
        images_dir: directory of the names in a `'text'` filenames file.
        labels: a list of `(k, 5)` arrays (or nested lists), or the path of a pickled one.
        image_ids: a list of image IDs, or the path of a pickled one.
        eval_neutral: a list of per-box bool flags, or the path of a pickled one.
        labels_output_format: the order of the 5 label columns.
        verbose: progress bars.
        on_bad_image: `'raise'`, `'warn'` or `'skip'`: what to do with an image that cannot
            be loaded when `load_images_into_memory` (the item is dropped with 'warn'/'skip').
    """

    def __init__(
        self,
        load_images_into_memory=False,
        hdf5_dataset_path=None,
        filenames=None,
        filenames_type="text",
        images_dir=None,
        labels=None,
        image_ids=None,
        eval_neutral=None,
        labels_output_format=LABEL_COLUMNS,
        verbose=True,
        *,
        on_bad_image="raise",
    ):
        self.labels_output_format = parsers.check_labels_output_format(labels_output_format)
        self.labels_format = {name: i for i, name in enumerate(self.labels_output_format)}
        self.load_images_into_memory = bool(load_images_into_memory)
        self.hdf5_dataset_path = hdf5_dataset_path
        self.hdf5_dataset = None
        self.images = None
        self.verbose = verbose
        check_on_error(on_bad_image, "on_bad_image")
        if filenames_type not in _FILENAMES_TYPES:
            raise ValueError(
                f"`filenames_type` must be one of {_FILENAMES_TYPES}. "
                f"Received: filenames_type={filenames_type!r}"
            )

        if isinstance(filenames, (str, os.PathLike)) and filenames_type == "text":
            filenames = self._read_filenames_text(filenames, images_dir)
        filenames = _as_list_or_pickle(filenames, "filenames")
        if filenames is not None:
            filenames = [os.fspath(name) for name in filenames]
        labels = _as_list_or_pickle(labels, "labels")
        self._set_dataset(
            filenames=filenames,
            labels=labels,
            image_ids=_as_list_or_pickle(image_ids, "image_ids"),
            eval_neutral=_as_list_or_pickle(eval_neutral, "eval_neutral"),
        )
        if hdf5_dataset_path is not None:
            self.load_hdf5_dataset(verbose=verbose)
        elif self.load_images_into_memory and self.filenames is not None:
            self._load_images(on_bad_image, verbose)

    # ----------------------------------------------------------------------------------------
    # Data set state
    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _read_filenames_text(path, images_dir):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"The `filenames` text file does not exist: {path!r}")
        with open(path, encoding="utf-8") as f:  # text mode (ssd_keras opened it as bytes)
            names = [line.strip() for line in f if line.strip()]
        if images_dir is None:
            return names
        return [os.path.join(os.fspath(images_dir), name) for name in names]

    def _set_dataset(self, filenames, labels=None, image_ids=None, eval_neutral=None):
        """Replace the data set (validating lengths and converting labels)."""
        if labels is not None:
            labels = [parsers.as_label_array(x, name=f"labels[{i}]") for i, x in enumerate(labels)]
        if eval_neutral is not None:
            eval_neutral = [np.asarray(x, dtype=bool).reshape(-1) for x in eval_neutral]
        sizes = {
            name: len(values)
            for name, values in (
                ("filenames", filenames),
                ("labels", labels),
                ("image_ids", image_ids),
                ("eval_neutral", eval_neutral),
            )
            if values is not None
        }
        if len(set(sizes.values())) > 1:
            raise ValueError(
                f"`filenames`, `labels`, `image_ids` and `eval_neutral` must have one entry per "
                f"image. Received lengths {sizes}."
            )
        if self.hdf5_dataset is not None:  # its images would no longer match
            self.hdf5_dataset.close()
            self.hdf5_dataset = None
        self.filenames = filenames
        self.labels = labels
        self.image_ids = image_ids
        self.eval_neutral = eval_neutral
        self.images = None
        self.dataset_size = next(iter(sizes.values()), 0)
        self.dataset_indices = np.arange(self.dataset_size, dtype=np.int32)

    def _drop_items(self, indices) -> None:
        """Remove the data set items `indices` from every per-item list."""
        drop = set(indices)
        if not drop:
            return
        keep = [i for i in range(self.dataset_size) if i not in drop]
        for name in ("filenames", "labels", "image_ids", "eval_neutral", "images"):
            values = getattr(self, name)
            if values is not None:
                setattr(self, name, [values[i] for i in keep])
        self.dataset_size = len(keep)
        self.dataset_indices = np.arange(self.dataset_size, dtype=np.int32)

    def _load_images(self, on_bad_image, verbose) -> None:
        """Decode every image into `images`; bad ones raise or are dropped (`on_bad_image`)."""
        images, bad = [], []
        for i, filename in enumerate(
            tqdm(self.filenames, desc="Loading images into memory", disable=not verbose)
        ):
            try:
                images.append(load_image_file(filename))
            except DatasetError as e:
                report_problem(str(e), on_bad_image, "The image is dropped from the data set.")
                images.append(None)
                bad.append(i)
        self.images = images
        self._drop_items(bad)

    def _describe(self, i: int) -> str:
        """How error messages name data set item `i`."""
        if self.filenames is not None:
            return repr(self.filenames[i])
        if self.image_ids is not None:
            return f"dataset item {i} (image id {self.image_ids[i]!r})"
        return f"dataset item {i}"

    def load_image(self, i: int) -> np.ndarray:
        """The `uint8` image of data set item `i`, which the caller may modify.

        Taken from memory, else from the HDF5 file, else decoded from disk (the order of
        ssd_keras). RGB `(H, W, 3)`; from disk a grayscale file gives `(H, W)` and one with
        alpha `(H, W, 4)` (HDF5 images are always RGB). Raises `DatasetError` naming the file
        if it cannot be loaded.
        """
        if self.images is not None:
            return np.array(self.images[i], copy=True)
        if self.hdf5_dataset is not None:
            return hdf5.read_hdf5_image(self.hdf5_dataset, i)
        if self.filenames is None:
            raise ValueError("This DataGenerator holds no images: parse or load a data set first.")
        return load_image_file(self.filenames[i])

    def get_dataset(self):
        """Return `(filenames, labels, image_ids, eval_neutral)`."""
        return self.filenames, self.labels, self.image_ids, self.eval_neutral

    def get_dataset_size(self) -> int:
        """Return the number of images in the data set."""
        return self.dataset_size

    def as_dataset(self, batch_size, **kwargs):
        """This data set as a `tf.data.Dataset` of `(images, y_true)` training batches.

        The fast, parallel counterpart of `generate()`; the arguments are those of
        `keras_ssd.data.pipeline.build_dataset` (transformations, label_encoder,
        shuffle, seed, ...).
        """
        from keras_ssd.data.pipeline import build_dataset  # TensorFlow only when used

        return build_dataset(self, batch_size, **kwargs)

    def save_dataset(
        self,
        filenames_path="filenames.pkl",
        labels_path=None,
        image_ids_path=None,
        eval_neutral_path=None,
    ):
        """Pickle the file names (and, where a path is given, labels, image IDs, eval_neutral)."""
        for path, values in (
            (filenames_path, self.filenames),
            (labels_path, self.labels),
            (image_ids_path, self.image_ids),
            (eval_neutral_path, self.eval_neutral),
        ):
            if path is not None:
                with open(path, "wb") as f:
                    pickle.dump(values, f)

    # ----------------------------------------------------------------------------------------
    # Parsers
    # ----------------------------------------------------------------------------------------

    def _after_parse(self, on_error, verbose) -> None:
        if self.load_images_into_memory:
            self._load_images(on_error, verbose)

    def parse_xml(
        self,
        images_dirs,
        image_set_filenames,
        annotations_dirs=(),
        classes=VOC_CLASSES,
        include_classes="all",
        exclude_truncated=False,
        exclude_difficult=False,
        ret=False,
        verbose=True,
        *,
        on_error="raise",
    ):
        """Parse a Pascal VOC style data set (see `keras_ssd.data.parsers.parse_voc`).

        `on_error` ('raise' | 'warn' | 'skip') handles malformed annotations, missing image
        files and, with `load_images_into_memory`, images that cannot be decoded.
        With `ret=True` returns `(images, filenames, labels, image_ids, eval_neutral)`.
        """
        filenames, labels, image_ids, eval_neutral = parsers.parse_voc(
            images_dirs,
            image_set_filenames,
            annotations_dirs=annotations_dirs,
            classes=classes,
            include_classes=include_classes,
            exclude_truncated=exclude_truncated,
            exclude_difficult=exclude_difficult,
            labels_output_format=self.labels_output_format,
            on_error=on_error,
            verbose=verbose,
        )
        self.images_dirs = images_dirs
        self.image_set_filenames = image_set_filenames
        self.annotations_dirs = annotations_dirs
        self.classes = list(classes)
        self.include_classes = include_classes
        self._set_dataset(filenames, labels, image_ids, eval_neutral)
        self._after_parse(on_error, verbose)
        if ret:
            return self.images, self.filenames, self.labels, self.image_ids, self.eval_neutral

    def parse_csv(
        self,
        images_dir,
        labels_filename,
        input_format,
        include_classes="all",
        random_sample=False,
        ret=False,
        verbose=True,
        *,
        on_error="raise",
        seed=None,
    ):
        """Parse a CSV file of boxes (see `keras_ssd.data.parsers.parse_csv`).

        Coordinates may be floats. `seed` makes `random_sample` reproducible.
        With `ret=True` returns `(images, filenames, labels, image_ids)`.
        """
        filenames, labels, image_ids = parsers.parse_csv(
            images_dir,
            labels_filename,
            input_format,
            include_classes=include_classes,
            random_sample=random_sample,
            labels_output_format=self.labels_output_format,
            on_error=on_error,
            seed=seed,
            verbose=verbose,
        )
        self.images_dir = images_dir
        self.labels_filename = labels_filename
        self.input_format = input_format
        self.include_classes = include_classes
        self._set_dataset(filenames, labels, image_ids)
        self._after_parse(on_error, verbose)
        if ret:
            return self.images, self.filenames, self.labels, self.image_ids

    def parse_json(
        self,
        images_dirs,
        annotations_filenames,
        ground_truth_available=False,
        include_classes="all",
        ret=False,
        verbose=True,
        *,
        on_error="raise",
    ):
        """Parse MS COCO style JSON annotations (see `keras_ssd.data.parsers.parse_coco`).

        Sets `cats_to_classes`, `classes_to_cats`, `cats_to_names` and `classes_to_names`
        (COCO category IDs mapped to classes 1..N). With `ret=True` returns
        `(images, filenames, labels, image_ids)`.
        """
        filenames, labels, image_ids, maps = parsers.parse_coco(
            images_dirs,
            annotations_filenames,
            ground_truth_available=ground_truth_available,
            include_classes=include_classes,
            labels_output_format=self.labels_output_format,
            on_error=on_error,
            verbose=verbose,
        )
        self.images_dirs = images_dirs
        self.annotations_filenames = annotations_filenames
        self.include_classes = include_classes
        self.cats_to_classes = maps["cats_to_classes"]
        self.classes_to_cats = maps["classes_to_cats"]
        self.cats_to_names = maps["cats_to_names"]
        self.classes_to_names = maps["classes_to_names"]
        self._set_dataset(filenames, labels, image_ids)
        self._after_parse(on_error, verbose)
        if ret:
            return self.images, self.filenames, self.labels, self.image_ids

    # ----------------------------------------------------------------------------------------
    # HDF5
    # ----------------------------------------------------------------------------------------

    def create_hdf5_dataset(
        self,
        file_path="dataset.h5",
        resize=False,
        variable_image_size=True,
        verbose=True,
    ):
        """Write the data set into an HDF5 file, then read from it (see `keras_ssd.data.hdf5`).

        Images are stored as RGB. With `resize=(height, width)` every image is resized and its
        boxes are scaled with it (the labels of this generator are reloaded from the file).
        """
        if self.dataset_size == 0:
            raise ValueError("The data set is empty: parse or load a data set first.")
        hdf5.create_hdf5_dataset(
            file_path,
            self.load_image,
            self.dataset_size,
            labels=self.labels,
            image_ids=self.image_ids,
            eval_neutral=self.eval_neutral,
            filenames=self.filenames,
            labels_output_format=self.labels_output_format,
            resize=resize,
            variable_image_size=variable_image_size,
            verbose=verbose,
        )
        self.hdf5_dataset_path = file_path
        self.load_hdf5_dataset(verbose=verbose)

    def load_hdf5_dataset(self, verbose=True):
        """Open `hdf5_dataset_path` read-only and take the data set from it.

        Labels, image IDs and eval_neutral come from the file; file names too, unless this
        generator already has them. With `load_images_into_memory` the images are read too.
        """
        if self.hdf5_dataset is not None:
            self.hdf5_dataset.close()
            self.hdf5_dataset = None
        data = hdf5.load_hdf5_dataset(
            self.hdf5_dataset_path,
            load_images_into_memory=self.load_images_into_memory,
            labels_output_format=self.labels_output_format,
            verbose=verbose,
        )
        filenames = self.filenames if self.filenames is not None else data["filenames"]
        if filenames is not None and len(filenames) != data["dataset_size"]:
            data["hdf5_dataset"].close()
            raise ValueError(
                f"The HDF5 file {self.hdf5_dataset_path!r} holds {data['dataset_size']} images "
                f"but `filenames` has {len(filenames)} entries."
            )
        # What the file lacks is kept from this generator (e.g. labels given to the constructor).
        self._set_dataset(
            filenames,
            data["labels"] if data["labels"] is not None else self.labels,
            data["image_ids"] if data["image_ids"] is not None else self.image_ids,
            data["eval_neutral"] if data["eval_neutral"] is not None else self.eval_neutral,
        )
        self.dataset_size = data["dataset_size"]
        self.dataset_indices = np.arange(self.dataset_size, dtype=np.int32)
        self.hdf5_dataset = data["hdf5_dataset"]
        self.images = data["images"]

    # ----------------------------------------------------------------------------------------
    # Batches
    # ----------------------------------------------------------------------------------------

    def generate(
        self,
        batch_size=32,
        shuffle=True,
        transformations=(),
        label_encoder=None,
        returns=("processed_images", "encoded_labels"),
        keep_images_without_gt=False,
        degenerate_box_handling="remove",
        *,
        seed=None,
        on_bad_image="raise",
    ):
        """An endless generator of batches (a new shuffle after every full pass).

        Args:
            batch_size: images per batch (the last batch of a pass may be smaller, and a
                batch shrinks by the items removed from it).
            shuffle: shuffle the data set before the first pass and after every pass.
            transformations: callables `t(image, labels=None, return_inverter=False)` applied
                in order; their `labels_format` is set to this generator's. One that returns
                `None` as the image removes the item from the batch.
            label_encoder: e.g. an `SSDInputEncoder`: `label_encoder(batch_labels)` gives
                `encoded_labels`; with `diagnostics=True` also `matched_anchors`.
            returns: the outputs wanted (set, list or tuple) out of `RETURNS`. They are yielded
                as a tuple in the order of `RETURNS`; `'processed_images'` always comes first.
                Outputs that cannot be produced (no labels, no encoder, ...) are `None`, with a
                warning.
            keep_images_without_gt: keep images without boxes (else they are removed).
            degenerate_box_handling: for boxes with `xmax <= xmin`, `ymax <= ymin` or non-finite
                coordinates after the transformations: `'remove'` them, `'warn'` (and keep
                them), `'raise'` a `DatasetError` naming the file and the boxes, or `'ignore'`.
            seed: seed of the shuffling, for reproducible batches.
            on_bad_image: `'raise'` a `DatasetError` naming an image that cannot be loaded;
                `'warn'` or `'skip'` remove it from the batch (with or without a warning).

        Yields:
            Tuples such as `(batch_X, batch_y_encoded)`; `batch_X` is an array `(B, H, W, C)`.

        Raises:
            DegenerateBatchError: the images of a batch differ in size.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or (
            batch_size < 1
        ):
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        returns = self._check_returns(returns)
        if degenerate_box_handling not in DEGENERATE_BOX_HANDLING:
            raise ValueError(
                f"`degenerate_box_handling` must be one of {DEGENERATE_BOX_HANDLING}. "
                f"Received: degenerate_box_handling={degenerate_box_handling!r}"
            )
        check_on_error(on_bad_image, "on_bad_image")
        transformations = list(transformations or ())
        for t in transformations:
            if not callable(t):
                raise TypeError(
                    f"Every element of `transformations` must be callable. Received: {t!r}"
                )
        if label_encoder is not None and not callable(label_encoder):
            raise TypeError(f"`label_encoder` must be callable. Received: {label_encoder!r}")
        if self.dataset_size == 0:
            raise ValueError("The data set is empty: parse or load a data set first.")
        self._warn_impossible_returns(returns, label_encoder)

        for t in transformations:
            if hasattr(t, "labels_format"):
                t.labels_format = self.labels_format
        box_filter = None
        if degenerate_box_handling == "remove" and self.labels is not None:
            from keras_ssd.data.transforms.validation import BoxFilter

            box_filter = BoxFilter(
                check_overlap=False,
                check_min_area=False,
                check_degenerate=True,
                labels_format=self.labels_format,
            )
        want_inverters = "inverse_transform" in returns
        steps = [(t, want_inverters and _accepts(t, "return_inverter")) for t in transformations]
        options = {
            "steps": steps,
            "keep_images_without_gt": keep_images_without_gt,
            "degenerate_box_handling": degenerate_box_handling,
            "box_filter": box_filter,
            "on_bad_image": on_bad_image,
            "keep_originals": bool({"original_images", "original_labels"} & returns),
        }
        diagnostics = (
            "matched_anchors" in returns
            and label_encoder is not None
            and _accepts(label_encoder, "diagnostics")
        )
        return self._batches(batch_size, shuffle, seed, returns, label_encoder, diagnostics,
                             options)  # fmt: skip

    @staticmethod
    def _check_returns(returns) -> set:
        if isinstance(returns, str):
            returns = {returns}
        try:
            returns = set(returns)
        except TypeError:
            raise TypeError(
                f"`returns` must be a set, list or tuple of keys. Received: returns={returns!r}"
            ) from None
        unknown = returns - set(RETURNS)
        if unknown:
            raise ValueError(
                f"Unknown `returns` keys {sorted(unknown)}; the possible keys are {RETURNS}. "
                f"Received: returns={sorted(returns)}"
            )
        return returns | {"processed_images"}

    def _warn_impossible_returns(self, returns, label_encoder) -> None:
        impossible = []
        if self.labels is None:
            impossible += ["encoded_labels", "matched_anchors", "processed_labels"]
            impossible += ["original_labels"]
        if label_encoder is None:
            impossible += ["encoded_labels", "matched_anchors"]
        elif not _accepts(label_encoder, "diagnostics"):
            impossible += ["matched_anchors"]
        for name, attribute in (
            ("filenames", self.filenames),
            ("image_ids", self.image_ids),
            ("evaluation-neutral", self.eval_neutral),
        ):
            if attribute is None:
                impossible.append(name)
        impossible = [key for key in RETURNS if key in returns and key in impossible]
        if impossible:
            warnings.warn(
                f"The returns {impossible} cannot be produced (no labels, no `label_encoder`, "
                "an encoder without `diagnostics`, or no file names / image IDs / "
                "eval_neutral in this data set); they will be `None`.",
                stacklevel=3,
            )

    def _batches(self, batch_size, shuffle, seed, returns, label_encoder, diagnostics, options):
        rng = np.random.default_rng(seed)
        n = self.dataset_size
        order = rng.permutation(n) if shuffle else np.arange(n)
        current, yielded_this_pass = 0, False
        while True:
            if current >= n:
                if not yielded_this_pass:
                    raise DatasetError(
                        "A whole pass over the data set produced no batch: every item was "
                        "removed (images without ground truth with "
                        "keep_images_without_gt=False, transformations returning None, or "
                        "bad images)."
                    )
                current, yielded_this_pass = 0, False
                if shuffle:
                    order = rng.permutation(n)
            batch_indices = order[current : current + batch_size]
            current += batch_size
            items = [self._process_item(int(i), **options) for i in batch_indices]
            items = [item for item in items if item is not None]
            if not items:
                continue  # every item of this batch was removed
            yielded_this_pass = True
            yield self._assemble(items, returns, label_encoder, diagnostics)

    def _process_item(
        self,
        i,
        steps,
        keep_images_without_gt,
        degenerate_box_handling,
        box_filter,
        on_bad_image,
        keep_originals,
    ):
        """Load, transform and check item `i`; `None` when it is removed from the batch.

        `keras_ssd.data.pipeline` calls this too, so `generate()` and the `tf.data` pipeline
        share one per-item code path: keep its signature and `_Item` stable.
        """
        try:
            image = self.load_image(i)
        except DatasetError as e:
            report_problem(str(e), on_bad_image, "The item is removed from the batch.")
            return None
        labels = None if self.labels is None else np.array(self.labels[i], copy=True)
        if labels is not None and len(labels) == 0 and not keep_images_without_gt:
            return None
        original_image = np.array(image, copy=True) if keep_originals else None
        original_labels = None if labels is None or not keep_originals else labels.copy()

        inverters = []
        for transform, with_inverter in steps:
            image, labels, inverter = self._apply(transform, image, labels, with_inverter)
            if image is None:
                return None  # the transform could not produce an image
            if with_inverter:
                inverters.append(inverter)

        if labels is not None and len(labels) and degenerate_box_handling != "ignore":
            bad = parsers.degenerate_box_mask(labels, self.labels_output_format)
            if bad.any():
                message = (
                    f"{self._describe(i)}: {int(bad.sum())} degenerate or non-finite box(es) "
                    f"after the transformations, in the format {self.labels_output_format}: "
                    f"{labels[bad].tolist()}"
                )
                if degenerate_box_handling == "raise":
                    raise DatasetError(message + ".")
                if degenerate_box_handling == "warn":
                    warnings.warn(message + ". They are kept.", stacklevel=3)
                else:  # 'remove'
                    labels = box_filter(labels)
                    labels = labels[np.isfinite(labels).all(axis=1)]
        return _Item(i, image, labels, inverters[::-1], original_image, original_labels)

    @staticmethod
    def _apply(transform, image, labels, with_inverter):
        """Call one transform; return `(image, labels, inverter)` (image `None`: removed)."""
        kwargs = {"return_inverter": True} if with_inverter else {}
        if labels is None:
            result = transform(image, **kwargs)
            if isinstance(result, tuple):
                inverter = result[-1] if with_inverter and len(result) > 1 else None
                return result[0], None, inverter
            return result, None, None
        result = transform(image, labels, **kwargs)
        if result is None:
            return None, None, None
        expected = 3 if with_inverter else 2
        if not isinstance(result, (tuple, list)) or len(result) != expected:
            what = "(image, labels, inverter)" if with_inverter else "(image, labels)"
            raise TypeError(
                f"The transformation {transform!r} must return {what} when called with labels. "
                f"It returned {type(result).__name__}."
            )
        if result[0] is None:
            return None, None, None
        labels = parsers.as_label_array(result[1], name=f"labels returned by {transform!r}")
        return result[0], labels, (result[2] if with_inverter else None)

    def _assemble(self, items, returns, label_encoder, diagnostics) -> tuple:
        shapes = [np.shape(item.image) for item in items]
        if len(set(shapes)) > 1:
            names = [self._describe(item.index) for item in items]
            raise DegenerateBatchError(
                "The images of a batch must all have the same shape to be stacked into one "
                f"array, but this batch has the shapes {shapes} (items {names}). Add a "
                "`Resize` transformation (and `ConvertTo3Channels` for grayscale/RGBA "
                "images) to `transformations`, or use batch_size=1."
            )
        batch_X = np.stack([item.image for item in items])
        batch_y = None if self.labels is None else [item.labels for item in items]

        encoded = matched = None
        if (
            label_encoder is not None
            and batch_y is not None
            and {"encoded_labels", "matched_anchors"} & returns
        ):
            if diagnostics:
                encoded, matched = label_encoder(batch_y, diagnostics=True)
            else:
                encoded = label_encoder(batch_y)

        def per_item(values):
            return None if values is None else [values[item.index] for item in items]

        outputs = {
            "processed_images": batch_X,
            "encoded_labels": encoded,
            "matched_anchors": matched,
            "processed_labels": batch_y,
            "filenames": per_item(self.filenames),
            "image_ids": per_item(self.image_ids),
            "evaluation-neutral": per_item(self.eval_neutral),
            "inverse_transform": [item.inverters for item in items],
            "original_images": [item.original_image for item in items],
            "original_labels": (
                None if self.labels is None else [item.original_labels for item in items]
            ),
        }
        return tuple(outputs[key] for key in RETURNS if key in returns)
