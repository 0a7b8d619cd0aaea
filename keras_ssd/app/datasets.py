"""Open the datasets a run names: shapes (default), Pascal VOC, COCO JSON or CSV."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["VOC_CLASSES", "RunData", "load_run_data"]

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)
CSV_FORMAT = ("image_name", "xmin", "xmax", "ymin", "ymax", "class_id")


@dataclass
class RunData:
    """The training and validation `DataGenerator`s and the class names.

    `class_names[0]` is 'background'; `n_classes = len(class_names) - 1`.
    """

    train: object
    val: object | None
    class_names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.class_names) - 1


def _generator():
    from keras_ssd.data.generator import DataGenerator

    return DataGenerator(verbose=False)


def _voc(root: str, split: str, classes) -> object:
    image_set = os.path.join(root, "ImageSets", "Main", f"{split}.txt")
    if not os.path.isfile(image_set):
        raise FileNotFoundError(
            f"No image set '{split}' in the VOC tree {root}: expected {image_set}"
        )
    generator = _generator()
    generator.parse_xml(
        images_dirs=[os.path.join(root, "JPEGImages")],
        image_set_filenames=[image_set],
        annotations_dirs=[os.path.join(root, "Annotations")],
        classes=list(classes),
        verbose=False,
    )
    return generator


def _coco(path: str, images_dir: str | None):
    if images_dir is None:
        raise ValueError(f"A COCO dataset needs `images_dir`. Received: dataset={path!r}")
    generator = _generator()
    generator.parse_json(images_dirs=[images_dir], annotations_filenames=[path],
                         ground_truth_available=True, verbose=False)
    names = tuple(generator.classes_to_names)
    return generator, names


def _csv(path: str, images_dir: str | None):
    if images_dir is None:
        raise ValueError(f"A CSV dataset needs `images_dir`. Received: dataset={path!r}")
    generator = _generator()
    generator.parse_csv(images_dir=images_dir, labels_filename=path,
                        input_format=list(CSV_FORMAT), verbose=False)
    return generator


def _open(path: str, split: str, config, classes):
    """One DataGenerator for a dataset path (VOC dir, COCO .json or .csv)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Dataset not found: {path}")
    if os.path.isdir(path):
        return _voc(path, split, classes), classes
    if path.endswith(".json"):
        return _coco(path, config.images_dir)
    if path.endswith(".csv"):
        if config.classes is None:
            raise ValueError(
                "A CSV dataset needs the class names (`classes`, in class_id order "
                f"starting at 1). Received: dataset={path!r}, classes=None"
            )
        return _csv(path, config.images_dir), classes
    raise ValueError(
        "`dataset` must be a VOC directory, a COCO `.json` or a `.csv` file. "
        f"Received: dataset={path!r}"
    )


def load_run_data(config, image_size) -> RunData:
    """The datasets of a `TrainConfig`.

    With `config.dataset=None` the shapes dataset at `image_size` is generated
    (or reused) in the cache and opened through the real VOC parser.
    """
    if config.dataset is None:
        from keras_ssd.data.synthetic import SHAPE_CLASSES
        from keras_ssd.data.synthetic import ensure_shapes_dataset

        if config.classes is not None and tuple(config.classes) != SHAPE_CLASSES:
            raise ValueError(
                f"The shapes dataset has the classes {list(SHAPE_CLASSES)}. "
                f"Received: classes={config.classes!r}"
            )
        shapes = ensure_shapes_dataset(
            cache_dir=config.cache_dir, n_train=config.shapes_train, n_val=config.shapes_val,
            image_size=tuple(image_size), seed=config.seed,
        )
        names = ("background", *SHAPE_CLASSES)
        return RunData(_voc(str(shapes.root), "train", names),
                       _voc(str(shapes.root), "val", names), names)

    if config.classes is not None:
        names = ("background", *config.classes)
    elif os.path.isdir(config.dataset):
        names = VOC_CLASSES
    else:
        names = None
    train, names = _open(config.dataset, config.train_split, config, names)
    if config.val_dataset is not None:
        val, _ = _open(config.val_dataset, config.val_split, config, names)
    elif os.path.isdir(config.dataset) and os.path.isfile(
        os.path.join(config.dataset, "ImageSets", "Main", f"{config.val_split}.txt")
    ):
        val, _ = _open(config.dataset, config.val_split, config, names)
    else:
        val = None
    return RunData(train, val, tuple(names))
