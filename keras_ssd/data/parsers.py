"""Annotation parsers: Pascal VOC XML, CSV and MS COCO JSON.

Pure functions that read annotation files and return plain lists; `DataGenerator.parse_xml`,
`parse_csv` and `parse_json` store them on the generator.

Every parser returns, per image:

- `filenames`: full paths of the image files (`str`),
- `labels`: `float64` arrays of shape `(k, 5)`, columns in `labels_output_format` order
  (absolute pixel corners); an image without ground truth has shape `(0, 5)`,
- `image_ids`: `str` for VOC and CSV, `int` for COCO,
- `eval_neutral` (VOC only): `bool` arrays of shape `(k,)`, the `difficult` flags.

Problems are never silently "fixed":

- a malformed annotation (unparseable file, missing box coordinates, unknown class name,
  missing image file) is handled as `on_error` says: `'raise'` raises `DatasetError` naming the
  file and the problem; `'warn'` drops that image with a warning naming it; `'skip'` drops it
  silently;
- a degenerate (`xmax <= xmin` or `ymax <= ymin`) or non-finite box is kept unchanged, with a
  warning naming the file and the box (`DataGenerator.generate(degenerate_box_handling=...)`
  decides what to do with it).
"""

from __future__ import annotations

import csv
import json
import os
import warnings
import xml.etree.ElementTree as ET

import numpy as np
from tqdm import tqdm

from keras_ssd.data.image_io import DatasetError
from keras_ssd.data.image_io import check_on_error
from keras_ssd.data.image_io import report_problem

__all__ = [
    "CSV_COLUMNS",
    "IMAGE_EXTENSIONS",
    "LABEL_COLUMNS",
    "VOC_CLASSES",
    "as_label_array",
    "check_labels_output_format",
    "degenerate_box_mask",
    "parse_coco",
    "parse_csv",
    "parse_voc",
]

LABEL_COLUMNS = ("class_id", "xmin", "ymin", "xmax", "ymax")
CSV_COLUMNS = ("image_name", "xmin", "xmax", "ymin", "ymax", "class_id")
VOC_CLASSES = (
    "background",
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
# Preference order when several files share an image id (`000001.jpg` and `000001.png`).
IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jpe", ".jp2",
    ".ppm", ".pgm", ".pbm", ".pnm",
)  # fmt: skip
_MAX_BOXES_IN_MESSAGE = 10


def check_labels_output_format(labels_output_format) -> tuple:
    """Validate `labels_output_format` (an ordering of the 5 label columns) and return it."""
    fmt = tuple(labels_output_format) if not isinstance(labels_output_format, str) else ()
    if len(fmt) != 5 or set(fmt) != set(LABEL_COLUMNS):
        raise ValueError(
            f"`labels_output_format` must be an ordering of {LABEL_COLUMNS}. "
            f"Received: labels_output_format={labels_output_format!r}"
        )
    return fmt


def as_label_array(labels, name: str = "labels") -> np.ndarray:
    """Return one image's labels as a `float64` array of shape `(k, 5)`; `[]` gives `(0, 5)`."""
    array = np.asarray(labels, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 5), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 5:
        raise ValueError(
            f"`{name}` must have shape (k, 5), one row per box. Received shape {array.shape}."
        )
    return array


def _as_list(value, name: str) -> list:
    """Accept one path or a sequence of paths."""
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    try:
        return [os.fspath(v) for v in value]
    except TypeError:
        raise TypeError(
            f"`{name}` must be a path or a list of paths. Received: {name}={value!r}"
        ) from None


def _check_include_classes(include_classes):
    if isinstance(include_classes, str):
        if include_classes != "all":
            raise ValueError(
                "`include_classes` must be 'all' or a list of class IDs. "
                f"Received: include_classes={include_classes!r}"
            )
        return include_classes
    return set(include_classes)


def degenerate_box_mask(boxes: np.ndarray, fmt: tuple) -> np.ndarray:
    """Rows that are degenerate (`xmax <= xmin` or `ymax <= ymin`) or not finite."""
    if boxes.size == 0:
        return np.zeros(len(boxes), dtype=bool)
    col = {name: i for i, name in enumerate(fmt)}
    finite = np.isfinite(boxes).all(axis=1)
    with np.errstate(invalid="ignore"):
        proper = (boxes[:, col["xmax"]] > boxes[:, col["xmin"]]) & (
            boxes[:, col["ymax"]] > boxes[:, col["ymin"]]
        )
    return ~(finite & proper)


def _warn_bad_boxes(boxes: np.ndarray, fmt: tuple, where: str) -> None:
    """Warn (without changing anything) about degenerate or non-finite boxes."""
    bad = degenerate_box_mask(boxes, fmt)
    if bad.any():
        rows = boxes[bad]
        shown = rows[:_MAX_BOXES_IN_MESSAGE].tolist()
        more = f" (and {len(rows) - len(shown)} more)" if len(rows) > len(shown) else ""
        warnings.warn(
            f"{where}: {len(rows)} degenerate or non-finite box(es) in the format {fmt}: "
            f"{shown}{more}. They are kept as they are; "
            "`generate(degenerate_box_handling=...)` decides what happens to them.",
            stacklevel=3,
        )


def _stack(boxes: list) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 5)


# --------------------------------------------------------------------------------------------
# Pascal VOC
# --------------------------------------------------------------------------------------------


class _Malformed(Exception):
    """An annotation problem for one image (its message names the file)."""


def _image_index(images_dir: str) -> dict:
    """Map each image id (file name without extension) in `images_dir` to its file name."""
    rank = {ext: i for i, ext in enumerate(IMAGE_EXTENSIONS)}
    index: dict = {}
    for name in os.listdir(images_dir):
        stem, ext = os.path.splitext(name)
        ext = ext.lower()
        if ext not in rank:
            continue
        if stem not in index or rank[ext] < rank[os.path.splitext(index[stem])[1].lower()]:
            index[stem] = name
    return index


def _text(element, tag: str):
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        return None
    return child.text.strip()


def _flag(obj, tag: str, xml_path: str) -> int:
    """An optional 0/1 flag (`truncated`, `difficult`); a missing tag counts as 0."""
    text = _text(obj, tag)
    if text is None:
        return 0
    try:
        return int(float(text))
    except ValueError:
        raise _Malformed(f"{xml_path!r}: <{tag}> must be 0 or 1, got {text!r}.") from None


def _parse_voc_xml(xml_path, classes, include_classes, exclude_truncated, exclude_difficult, fmt):
    """Parse one VOC annotation file. Returns (filename tag or None, boxes, difficult flags)."""
    if not os.path.isfile(xml_path):
        raise _Malformed(f"The annotation file {xml_path!r} does not exist.")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise _Malformed(f"The annotation file {xml_path!r} is not valid XML: {e}.") from None
    boxes, difficult_flags = [], []
    for n, obj in enumerate(root.iter("object")):
        name = _text(obj, "name")
        if name is None:
            raise _Malformed(f"{xml_path!r}: <object> number {n} has no <name>.")
        if name not in classes:
            if include_classes == "all":
                raise _Malformed(
                    f"{xml_path!r}: unknown class name {name!r} (object number {n}); it is not "
                    "in `classes`. Add it to `classes`, or pass `include_classes` to ignore it."
                )
            continue  # not a listed class, so not an included one
        class_id = classes.index(name)
        if include_classes != "all" and class_id not in include_classes:
            continue
        truncated = _flag(obj, "truncated", xml_path)
        difficult = _flag(obj, "difficult", xml_path)
        if (exclude_truncated and truncated == 1) or (exclude_difficult and difficult == 1):
            continue
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise _Malformed(f"{xml_path!r}: object {name!r} (number {n}) has no <bndbox>.")
        item = {"class_id": class_id}
        for coord in ("xmin", "ymin", "xmax", "ymax"):
            text = _text(bndbox, coord)
            try:
                item[coord] = float(text)
            except (TypeError, ValueError):
                raise _Malformed(
                    f"{xml_path!r}: object {name!r} (number {n}) has a missing or non-numeric "
                    f"<{coord}>: {text!r}."
                ) from None
        boxes.append([item[column] for column in fmt])
        difficult_flags.append(bool(difficult))
    return _text(root, "filename"), _stack(boxes), np.asarray(difficult_flags, dtype=bool)


def parse_voc(
    images_dirs,
    image_set_filenames,
    annotations_dirs=(),
    classes=VOC_CLASSES,
    include_classes="all",
    exclude_truncated=False,
    exclude_difficult=False,
    labels_output_format=LABEL_COLUMNS,
    on_error="raise",
    verbose=True,
):
    """Parse a Pascal VOC style data set.

    Args:
        images_dirs: one images directory, or a list of them.
        image_set_filenames: one image-set file per images directory (one image id per line;
            only the first token of a line is used, so class-specific set files work too).
        annotations_dirs: one directory of `<id>.xml` files per images directory, or `()` for
            a data set without annotations (then `labels` and `eval_neutral` are `None`).
        classes: class names; `class_id = classes.index(name)`, index 0 being background.
        include_classes: `'all'` or the class IDs to keep.
        exclude_truncated, exclude_difficult: drop objects flagged `truncated`/`difficult`.
            Missing `<truncated>`, `<difficult>` and `<pose>` tags count as 0 / unused.
        labels_output_format: column order of the label arrays.
        on_error: `'raise'`, `'warn'` or `'skip'`, for a malformed annotation or a missing
            image file.
        verbose: show a progress bar.

    The image file of id `X` is the XML `<filename>` when that file exists in the images
    directory, otherwise `X` with any image extension (`.jpg`, `.jpeg`, `.png`, ...).

    Returns:
        `(filenames, labels, image_ids, eval_neutral)`.
    """
    fmt = check_labels_output_format(labels_output_format)
    on_error = check_on_error(on_error)
    include_classes = _check_include_classes(include_classes)
    classes = list(classes)
    images_dirs = _as_list(images_dirs, "images_dirs")
    image_set_filenames = _as_list(image_set_filenames, "image_set_filenames")
    annotations_dirs = _as_list(annotations_dirs, "annotations_dirs")
    if len(image_set_filenames) != len(images_dirs) or (
        annotations_dirs and len(annotations_dirs) != len(images_dirs)
    ):
        raise ValueError(
            "`images_dirs`, `image_set_filenames` and (if given) `annotations_dirs` must have "
            f"the same length. Received lengths {len(images_dirs)}, "
            f"{len(image_set_filenames)} and {len(annotations_dirs)}."
        )
    for images_dir in images_dirs:
        if not os.path.isdir(images_dir):
            raise FileNotFoundError(f"The images directory {images_dir!r} does not exist.")

    filenames, image_ids = [], []
    labels = [] if annotations_dirs else None
    eval_neutral = [] if annotations_dirs else None
    for k, (images_dir, image_set_filename) in enumerate(zip(images_dirs, image_set_filenames)):
        annotations_dir = annotations_dirs[k] if annotations_dirs else None
        if not os.path.isfile(image_set_filename):
            raise FileNotFoundError(f"The image set file {image_set_filename!r} does not exist.")
        with open(image_set_filename, encoding="utf-8") as f:
            ids = [line.split()[0] for line in f if line.strip()]
        index = _image_index(images_dir)
        desc = f"Processing image set '{os.path.basename(image_set_filename)}'"
        for image_id in tqdm(ids, desc=desc, disable=not verbose):
            try:
                tag_filename = None
                if annotations_dir is not None:
                    xml_path = os.path.join(annotations_dir, image_id + ".xml")
                    tag_filename, boxes, difficult = _parse_voc_xml(
                        xml_path,
                        classes,
                        include_classes,
                        exclude_truncated,
                        exclude_difficult,
                        fmt,
                    )
                if tag_filename and os.path.isfile(os.path.join(images_dir, tag_filename)):
                    filename = os.path.join(images_dir, tag_filename)
                elif image_id in index:
                    filename = os.path.join(images_dir, index[image_id])
                else:
                    raise _Malformed(
                        f"No image file for image id {image_id!r} in {images_dir!r} "
                        f"(looked for <filename> {tag_filename!r} and {image_id!r} with any of "
                        f"the extensions {IMAGE_EXTENSIONS})."
                    )
            except _Malformed as e:
                report_problem(str(e), on_error, f"The image {image_id!r} is dropped.")
                continue
            filenames.append(filename)
            image_ids.append(image_id)
            if annotations_dir is not None:
                _warn_bad_boxes(boxes, fmt, f"{xml_path!r}")
                labels.append(boxes)
                eval_neutral.append(difficult)
    return filenames, labels, image_ids, eval_neutral


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def parse_csv(
    images_dir,
    labels_filename,
    input_format,
    include_classes="all",
    random_sample=False,
    labels_output_format=LABEL_COLUMNS,
    on_error="raise",
    seed=None,
    verbose=True,
):
    """Parse a CSV file with one box per line (the first line is a header and is skipped).

    Args:
        images_dir: directory the image names in the CSV are relative to.
        labels_filename: path of the CSV file.
        input_format: the order of the first six columns, an ordering of
            `('image_name', 'xmin', 'xmax', 'ymin', 'ymax', 'class_id')`.
        include_classes: `'all'` or the class IDs to keep.
        random_sample: `False`, or a fraction in [0, 1] of the images to keep at random.
        labels_output_format: column order of the label arrays.
        on_error: `'raise'`, `'warn'` or `'skip'`, for a malformed line (all the image's boxes
            are dropped with it) or a missing image file.
        seed: seed of the random sampling.
        verbose: show a progress bar.

    Coordinates may be floats. Images are sorted by name; `image_id` is the image name up to
    its first dot.

    Returns:
        `(filenames, labels, image_ids)`.
    """
    fmt = check_labels_output_format(labels_output_format)
    on_error = check_on_error(on_error)
    include_classes = _check_include_classes(include_classes)
    input_format = list(input_format)
    if len(input_format) < 6 or set(input_format[:6]) != set(CSV_COLUMNS):
        raise ValueError(
            f"`input_format` must start with an ordering of {CSV_COLUMNS}. "
            f"Received: input_format={input_format!r}"
        )
    if random_sample is not False and not (
        isinstance(random_sample, (int, float)) and 0 <= random_sample <= 1
    ):
        raise ValueError(
            "`random_sample` must be False or a fraction in [0, 1]. "
            f"Received: random_sample={random_sample!r}"
        )
    labels_filename = os.fspath(labels_filename)
    if not os.path.isfile(labels_filename):
        raise FileNotFoundError(f"The labels file {labels_filename!r} does not exist.")
    col = {name: input_format.index(name) for name in CSV_COLUMNS}

    boxes_per_image: dict = {}
    bad_images: set = set()
    with open(labels_filename, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader, None)  # header
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{labels_filename!r}, line {reader.line_num}"
            name = row[col["image_name"]].strip() if len(row) > col["image_name"] else ""
            try:
                if len(row) < 6 or not name:
                    raise ValueError(f"expected 6 columns {input_format[:6]}, got {row!r}")
                values = {c: float(row[col[c]]) for c in CSV_COLUMNS if c != "image_name"}
                if not values["class_id"].is_integer():
                    raise ValueError(f"class_id must be an integer, got {row[col['class_id']]!r}")
            except ValueError as e:
                if name:
                    bad_images.add(name)
                consequence = f"The image {name!r} is dropped." if name else "It is ignored."
                report_problem(f"{where}: malformed line ({e}).", on_error, consequence)
                continue
            values["class_id"] = int(values["class_id"])
            if include_classes != "all" and values["class_id"] not in include_classes:
                continue
            boxes_per_image.setdefault(name, []).append([values[c] for c in fmt])

    rng = np.random.default_rng(seed)
    filenames, labels, image_ids = [], [], []
    names = sorted(set(boxes_per_image) - bad_images)
    for name in tqdm(names, desc="Processing CSV labels", disable=not verbose):
        if random_sample is not False and rng.uniform(0, 1) >= random_sample:
            continue
        filename = os.path.join(os.fspath(images_dir), name)
        if not os.path.isfile(filename):
            report_problem(
                f"{labels_filename!r}: the image file {filename!r} does not exist.",
                on_error,
                "The image is dropped.",
            )
            continue
        boxes = _stack(boxes_per_image[name])
        _warn_bad_boxes(boxes, fmt, f"{labels_filename!r}, image {name!r}")
        filenames.append(filename)
        labels.append(boxes)
        image_ids.append(name.split(".")[0])
    return filenames, labels, image_ids


# --------------------------------------------------------------------------------------------
# MS COCO
# --------------------------------------------------------------------------------------------


def _load_json(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The annotations file {path!r} does not exist.")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"The annotations file {path!r} is not valid JSON: {e}.") from None
    if not isinstance(data, dict) or "images" not in data:
        raise DatasetError(f"The annotations file {path!r} has no 'images' list.")
    return data


def _category_maps(data: dict, path: str) -> dict:
    """Map the (non-consecutive) COCO category IDs to classes 1..N, in file order."""
    categories = data.get("categories")
    if not categories:
        raise DatasetError(f"The annotations file {path!r} has no 'categories' list.")
    cats_to_names = {cat["id"]: cat["name"] for cat in categories}
    cats_to_classes = {cat["id"]: i + 1 for i, cat in enumerate(categories)}
    return {
        "cats_to_classes": cats_to_classes,
        "classes_to_cats": {c: cat for cat, c in cats_to_classes.items()},
        "cats_to_names": cats_to_names,
        "classes_to_names": ["background"] + [cat["name"] for cat in categories],
    }


def _coco_box(annotation, cats_to_classes, fmt, where):
    category_id = annotation.get("category_id")
    if category_id not in cats_to_classes:
        raise _Malformed(f"{where}: unknown category_id {category_id!r}.")
    bbox = annotation.get("bbox")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise _Malformed(f"{where}: 'bbox' must be [x, y, width, height], got {bbox!r}.") from None
    item = {"class_id": cats_to_classes[category_id], "xmin": x, "ymin": y}
    item["xmax"] = x + w
    item["ymax"] = y + h
    return [item[column] for column in fmt]


def parse_coco(
    images_dirs,
    annotations_filenames,
    ground_truth_available=False,
    include_classes="all",
    labels_output_format=LABEL_COLUMNS,
    on_error="raise",
    verbose=True,
):
    """Parse MS COCO style JSON annotations.

    Args:
        images_dirs: one images directory, or a list of them.
        annotations_filenames: one COCO JSON file per images directory.
        ground_truth_available: read the boxes (`False` for test sets without them: then
            `labels` is `None`).
        include_classes: `'all'` or the *original COCO category IDs* to keep.
        labels_output_format: column order of the label arrays.
        on_error: `'raise'`, `'warn'` or `'skip'`, for a malformed annotation (unknown
            category, bad `bbox`) or a missing image file.
        verbose: show a progress bar.

    The category IDs of the *first* file are mapped to classes 1..N in file order. Boxes
    `[x, y, w, h]` become `xmax = x + w`, `ymax = y + h`, floats kept.

    Returns:
        `(filenames, labels, image_ids, category_maps)` where `category_maps` is a dict with
        `cats_to_classes`, `classes_to_cats`, `cats_to_names` and `classes_to_names`.
    """
    fmt = check_labels_output_format(labels_output_format)
    on_error = check_on_error(on_error)
    include_classes = _check_include_classes(include_classes)
    images_dirs = _as_list(images_dirs, "images_dirs")
    annotations_filenames = _as_list(annotations_filenames, "annotations_filenames")
    if len(images_dirs) != len(annotations_filenames):
        raise ValueError(
            "`images_dirs` and `annotations_filenames` must have the same length. "
            f"Received lengths {len(images_dirs)} and {len(annotations_filenames)}."
        )

    filenames, image_ids = [], []
    labels = [] if ground_truth_available else None
    maps = None
    for images_dir, path in zip(images_dirs, annotations_filenames):
        data = _load_json(path)
        if maps is None:
            maps = _category_maps(data, path)
        annotations_per_image: dict = {}
        if ground_truth_available:
            for annotation in data.get("annotations", []):
                annotations_per_image.setdefault(annotation.get("image_id"), []).append(annotation)
        desc = f"Processing '{os.path.basename(path)}'"
        for n, image in enumerate(tqdm(data["images"], desc=desc, disable=not verbose)):
            try:
                if "file_name" not in image or "id" not in image:
                    raise _Malformed(f"{path!r}: image entry {n} lacks 'file_name' or 'id'.")
                filename = os.path.join(images_dir, image["file_name"])
                where = f"{path!r}, image id {image['id']!r}"
                if not os.path.isfile(filename):
                    raise _Malformed(f"{where}: the image file {filename!r} does not exist.")
                boxes = []
                for annotation in annotations_per_image.get(image["id"], []):
                    if include_classes != "all" and (
                        annotation.get("category_id") not in include_classes
                    ):
                        continue
                    boxes.append(_coco_box(annotation, maps["cats_to_classes"], fmt, where))
            except _Malformed as e:
                report_problem(str(e), on_error, "The image is dropped.")
                continue
            filenames.append(filename)
            image_ids.append(image["id"])
            if ground_truth_available:
                boxes = _stack(boxes)
                _warn_bad_boxes(boxes, fmt, where)
                labels.append(boxes)
    return filenames, labels, image_ids, maps
