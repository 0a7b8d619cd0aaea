"""The embedded "shapes" detection dataset: synthetic images written as a real Pascal VOC tree.

Each image shows up to `max_objects` flat-coloured shapes (`SHAPE_CLASSES`) on a textured
background (colour gradient, low-frequency blotches, pixel noise, faint lines); a fraction of
the images shows no object at all. Colours are random, so only the outline tells the class.
Shapes never touch each other (a 2-pixel gap) and their boxes overlap with IoU <= 0.2, so
every box is the tight box of a fully visible shape.

Box convention (VOC XML, COCO JSON and CSV alike): integer pixel-edge coordinates, 0-based,
max exclusive. A shape covering columns 10..29 and rows 5..14 has `xmin=10, xmax=30, ymin=5,
ymax=15`, so `xmax - xmin` is its width in pixels (the `border_pixels='half'` convention).

On-disk layout under `root` (VOC always has `JPEGImages/<id>.jpg`):

    JPEGImages/train_000000.jpg ...        images (JPEG quality 95), ids `<split>_<index:06d>`
    Annotations/train_000000.xml ...       VOC XML                    (format 'voc')
    ImageSets/Main/{train,val}.txt         image ids, one per line    (format 'voc')
    coco/instances_{train,val}.json        COCO detection JSON        (format 'coco')
    csv/labels_{train,val}.csv             Udacity CSV                (format 'csv')
    manifest.json                          the generation parameters (written last)

COCO category ids are the non-consecutive `1, 3, 5, ...` (class `k` of `SHAPE_CLASSES`, counting
from 1, has category id `2k - 1`) so that parsers must map them. The CSV has the ssd_keras
Udacity header `image_name,xmin,xmax,ymin,ymax,class_id` with `class_id` counting from 1;
images without objects have no row in it (the format cannot express them).

Generation is deterministic: the same parameters give identical annotations and identical
image bytes. `generate_shapes_dataset` reuses an existing tree made with the same parameters.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "DATASET_VERSION",
    "FORMATS",
    "SHAPE_CLASSES",
    "ShapesDataset",
    "ShapesImage",
    "coco_category_id",
    "default_cache_dir",
    "ensure_shapes_dataset",
    "generate_shapes_dataset",
    "render_shapes_image",
]

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring")
FORMATS = ("voc", "coco", "csv")
# Bump whenever rendering or file layout changes: cached trees with an older version regenerate.
DATASET_VERSION = 1
MIN_IMAGE_SIDE = 32
SPLITS = ("train", "val")

_SIZE_RANGE = (0.15, 0.5)  # object side as a fraction of the shorter image side
_MAX_BOX_IOU = 0.2
_GAP = 2  # pixels kept free around every shape, so no shape occludes another
_PLACEMENT_TRIALS = 30
_MIN_COLOR_DISTANCE = 110.0  # RGB distance between an object and the background under it
_JPEG_QUALITY = 95
_OUR_ENTRIES = ("JPEGImages", "Annotations", "ImageSets", "coco", "csv", "manifest.json")


@dataclass(frozen=True)
class ShapesImage:
    """One rendered image.

    image: uint8 `(H, W, 3)` RGB. labels: int64 `(k, 5)` rows `[class_id, xmin, ymin, xmax,
    ymax]` (class ids count from 1; pixel-edge coordinates, max exclusive), `(0, 5)` when
    empty. masks: bool `(k, H, W)`, the pixels of each shape. colors: uint8 `(k, 3)` RGB.
    """

    image: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    colors: np.ndarray


@dataclass(frozen=True)
class ShapesDataset:
    """Paths of a generated shapes dataset.

    `classes` starts with `'background'`, ready for `DataGenerator.parse_xml(classes=...)`.
    `annotations_dir` is None and `image_set_files` empty without the 'voc' format;
    `coco_json` and `csv` map split -> path for the formats that were requested.
    """

    root: Path
    images_dir: Path
    annotations_dir: Path | None
    image_set_files: Mapping[str, Path]
    coco_json: Mapping[str, Path]
    csv: Mapping[str, Path]
    classes: tuple[str, ...]
    image_size: tuple[int, int]
    n_train: int
    n_val: int


def coco_category_id(class_id: int) -> int:
    """The COCO category id written for `class_id` (1-based): 1, 3, 5, ..."""
    return 2 * int(class_id) - 1


# --------------------------------------------------------------------------------------------
# Rendering


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float32 `(H, W, 3)` textured background in 0..255."""
    c1 = rng.uniform(0, 255, 3)
    c2 = np.clip(c1 + rng.uniform(-70, 70, 3), 0, 255)
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.arange(width, dtype=np.float32)[None, :] * np.float32(np.cos(angle))
    ys = np.arange(height, dtype=np.float32)[:, None] * np.float32(np.sin(angle))
    t = xs + ys  # broadcast to (H, W)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    image = c1.astype(np.float32) + t[..., None] * (c2 - c1).astype(np.float32)

    # Low-frequency blotches: a coarse random grid upsampled smoothly.
    grid = rng.uniform(-1, 1, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3))
    blotches = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    image += blotches * np.float32(rng.uniform(5, 20))

    # Faint lines close to the local background colour.
    mean = image.mean(axis=(0, 1))
    for _ in range(int(rng.integers(0, 6))):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        color = np.clip(mean + rng.uniform(-40, 40, 3), 0, 255)
        cv2.line(image, p1, p2, color.tolist(), int(rng.integers(1, 3)))

    image += rng.standard_normal((height, width, 3), dtype=np.float32) * np.float32(
        rng.uniform(2, 8)
    )
    return image


def _draw_mask(shape: str, mask: np.ndarray, x0: int, y0: int, size: int, flip: bool) -> None:
    """Rasterise one shape of side `size` with its box's top-left corner at (x0, y0)."""
    x1, y1 = x0 + size - 1, y0 + size - 1  # last covered column/row
    if shape == "square":
        cv2.rectangle(mask, (x0, y0), (x1, y1), 1, thickness=-1)
    elif shape == "circle" or shape == "ring":
        # An odd diameter keeps the disk centred on a pixel, so it spans exactly `size` pixels.
        radius = (size - 1) // 2
        center = (x0 + radius, y0 + radius)
        cv2.circle(mask, center, radius, 1, thickness=-1, lineType=cv2.LINE_8)
        if shape == "ring":
            cv2.circle(mask, center, int(round(radius * 0.55)), 0, thickness=-1)
    elif shape == "triangle":
        apex_y, base_y = (y1, y0) if flip else (y0, y1)
        points = np.array([[x0, base_y], [x1, base_y], [(x0 + x1) // 2, apex_y]], np.int32)
        cv2.fillPoly(mask, [points], 1)
    elif shape == "cross":
        arm = max(size // 3, 1)
        lo = (size - arm) // 2
        cv2.rectangle(mask, (x0 + lo, y0), (x0 + lo + arm - 1, y1), 1, thickness=-1)
        cv2.rectangle(mask, (x0, y0 + lo), (x1, y0 + lo + arm - 1), 1, thickness=-1)
    else:  # pragma: no cover - SHAPE_CLASSES is closed
        raise ValueError(f"Unknown shape {shape!r}")


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box against `(n, 4)` boxes, pixel-edge corners."""
    xy_min = np.maximum(box[:2], boxes[:, :2])
    xy_max = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(xy_max - xy_min, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / (area + areas - inter)


def _object_color(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour far from `under` (the mean background colour beneath the shape)."""
    best, best_distance = None, -1.0
    for _ in range(32):
        color = rng.integers(0, 256, 3)
        distance = float(np.linalg.norm(color - under))
        if distance >= _MIN_COLOR_DISTANCE:
            return color.astype(np.uint8)
        if distance > best_distance:
            best, best_distance = color, distance
    return best.astype(np.uint8)


def render_shapes_image(
    rng: np.random.Generator,
    image_size: tuple[int, int] = (160, 160),
    max_objects: int = 4,
    empty_fraction: float = 0.05,
) -> ShapesImage:
    """Render one shapes image with `rng`; see the module docstring for the conventions.

    A non-empty image gets between 1 and `max_objects` shapes; fewer when no free place is
    found. Sizes are 15% to 50% of the shorter image side.
    """
    height, width = (int(v) for v in image_size)
    image = _background(rng, height, width)
    n_objects = 0 if rng.uniform() < empty_fraction else int(rng.integers(1, max_objects + 1))
    short = min(height, width)
    min_size = max(int(round(_SIZE_RANGE[0] * short)), 3)
    max_size = max(int(round(_SIZE_RANGE[1] * short)), min_size)

    occupied = np.zeros((height, width), np.uint8)  # shapes dilated by the gap
    labels, masks, colors = [], [], []
    for _ in range(n_objects):
        class_id = int(rng.integers(1, len(SHAPE_CLASSES) + 1))
        for _ in range(_PLACEMENT_TRIALS):
            size = int(rng.integers(min_size, max_size + 1))
            x0 = int(rng.integers(0, width - size + 1))
            y0 = int(rng.integers(0, height - size + 1))
            flip = bool(rng.integers(0, 2))
            mask = np.zeros((height, width), np.uint8)
            _draw_mask(SHAPE_CLASSES[class_id - 1], mask, x0, y0, size, flip)
            ys, xs = np.nonzero(mask)
            box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            if labels and _box_iou(box, np.array(labels)[:, 1:]).max() > _MAX_BOX_IOU:
                continue
            if np.any(occupied[ys, xs]):
                continue
            break
        else:
            continue  # no free place for this object: the image gets fewer objects
        kernel = np.ones((2 * _GAP + 1, 2 * _GAP + 1), np.uint8)
        occupied |= cv2.dilate(mask, kernel)
        shape_pixels = mask.astype(bool)
        color = _object_color(rng, image[shape_pixels].mean(axis=0))
        image[shape_pixels] = color
        labels.append([class_id, *box.tolist()])
        masks.append(shape_pixels)
        colors.append(color)

    return ShapesImage(
        image=np.clip(np.rint(image), 0, 255).astype(np.uint8),
        labels=np.array(labels, np.int64).reshape(-1, 5),
        masks=np.array(masks, bool).reshape(-1, height, width),
        colors=np.array(colors, np.uint8).reshape(-1, 3),
    )


# --------------------------------------------------------------------------------------------
# Writing


def _voc_xml(filename: str, height: int, width: int, labels: np.ndarray) -> ET.ElementTree:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "shapes"
    ET.SubElement(root, "filename").text = filename
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "keras_ssd shapes"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for class_id, xmin, ymin, xmax, ymax in labels.tolist():
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = SHAPE_CLASSES[class_id - 1]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
            ET.SubElement(bndbox, tag).text = str(value)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def _check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        qualifier = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {qualifier}. Received: {name}={value!r}")
    return int(value)


def _normalize_params(
    n_train, n_val, image_size, seed, max_objects, empty_fraction, formats
) -> dict:
    """Validate the generation parameters and return them in canonical (JSON) form."""
    n_train = _check_positive_int("n_train", n_train)
    n_val = _check_positive_int("n_val", n_val)
    seed = _check_positive_int("seed", seed, minimum=0)
    max_objects = _check_positive_int("max_objects", max_objects)
    try:
        height, width = (int(v) for v in image_size)
        valid_size = all(int(v) == v for v in image_size)
    except (TypeError, ValueError):
        valid_size = False
    if not valid_size or min(height, width) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"`image_size` must be a (height, width) pair of integers >= {MIN_IMAGE_SIDE}. "
            f"Received: image_size={image_size!r}"
        )
    if isinstance(empty_fraction, bool) or not (
        isinstance(empty_fraction, (int, float)) and 0 <= empty_fraction <= 1
    ):
        raise ValueError(
            "`empty_fraction` must be a number in [0, 1]. "
            f"Received: empty_fraction={empty_fraction!r}"
        )
    if isinstance(formats, str):
        formats = (formats,)
    if not isinstance(formats, Iterable):
        raise ValueError(f"`formats` must be a subset of {FORMATS}. Received: formats={formats!r}")
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"`formats` must be a non-empty subset of {FORMATS}. Received: formats={formats!r}"
        )
    return {
        "version": DATASET_VERSION,
        "n_train": n_train,
        "n_val": n_val,
        "image_size": [height, width],
        "seed": seed,
        "max_objects": max_objects,
        "empty_fraction": float(empty_fraction),
        "formats": sorted(set(formats)),
        "classes": list(SHAPE_CLASSES),
    }


def _dataset_paths(root: Path, params: dict) -> ShapesDataset:
    formats = params["formats"]
    voc = "voc" in formats
    return ShapesDataset(
        root=root,
        images_dir=root / "JPEGImages",
        annotations_dir=root / "Annotations" if voc else None,
        image_set_files=(
            {s: root / "ImageSets" / "Main" / f"{s}.txt" for s in SPLITS} if voc else {}
        ),
        coco_json=(
            {s: root / "coco" / f"instances_{s}.json" for s in SPLITS} if "coco" in formats else {}
        ),
        csv={s: root / "csv" / f"labels_{s}.csv" for s in SPLITS} if "csv" in formats else {},
        classes=("background", *SHAPE_CLASSES),
        image_size=tuple(params["image_size"]),
        n_train=params["n_train"],
        n_val=params["n_val"],
    )


def _read_manifest(root: Path) -> dict | None:
    try:
        return json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _write_split(
    dataset: ShapesDataset, split: str, count: int, params: dict, first_annotation_id: int
) -> int:
    """Write one split; return the number of objects written."""
    height, width = params["image_size"]
    split_code = SPLITS.index(split)
    ids, coco_images, coco_annotations, csv_rows = [], [], [], []
    first_image_id = 1 if split == "train" else params["n_train"] + 1
    for index in range(count):
        image_id = f"{split}_{index:06d}"
        filename = f"{image_id}.jpg"
        # One independent stream per image: any image can be rendered on its own.
        rng = np.random.default_rng([params["seed"], split_code, index])
        shapes = render_shapes_image(
            rng, (height, width), params["max_objects"], params["empty_fraction"]
        )
        ok, encoded = cv2.imencode(
            ".jpg", shapes.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
        )
        if not ok:  # pragma: no cover - cv2 always encodes a uint8 BGR image
            raise RuntimeError(f"Could not encode {filename} as JPEG")
        (dataset.images_dir / filename).write_bytes(encoded.tobytes())
        ids.append(image_id)
        if dataset.annotations_dir is not None:
            _voc_xml(filename, height, width, shapes.labels).write(
                dataset.annotations_dir / f"{image_id}.xml", encoding="utf-8"
            )
        coco_id = first_image_id + index
        coco_images.append({"id": coco_id, "file_name": filename, "height": height, "width": width})
        for (class_id, xmin, ymin, xmax, ymax), mask in zip(shapes.labels.tolist(), shapes.masks):
            coco_annotations.append(
                {
                    "id": first_annotation_id + len(coco_annotations),
                    "image_id": coco_id,
                    "category_id": coco_category_id(class_id),
                    "bbox": [float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin)],
                    "area": float(mask.sum()),  # COCO's area is the object's, not the box's
                    "iscrowd": 0,
                }
            )
            csv_rows.append(f"{filename},{xmin},{xmax},{ymin},{ymax},{class_id}")

    if dataset.image_set_files:
        dataset.image_set_files[split].write_text("".join(f"{i}\n" for i in ids))
    if dataset.coco_json:
        categories = [
            {"id": coco_category_id(k), "name": name, "supercategory": "shape"}
            for k, name in enumerate(SHAPE_CLASSES, start=1)
        ]
        coco = {
            "info": {"description": f"keras_ssd shapes ({split})", "version": DATASET_VERSION},
            "images": coco_images,
            "annotations": coco_annotations,
            "categories": categories,
        }
        dataset.coco_json[split].write_text(json.dumps(coco))
    if dataset.csv:
        header = "image_name,xmin,xmax,ymin,ymax,class_id\n"
        dataset.csv[split].write_text(header + "".join(f"{row}\n" for row in csv_rows))
    return len(coco_annotations)


def generate_shapes_dataset(
    root,
    n_train: int = 1000,
    n_val: int = 200,
    image_size: tuple[int, int] = (160, 160),
    seed: int = 0,
    max_objects: int = 4,
    empty_fraction: float = 0.05,
    formats: Iterable[str] = ("voc",),
    overwrite: bool = False,
) -> ShapesDataset:
    """Write the shapes dataset under `root` and return its paths.

    Args:
        root: directory of the dataset (created if needed).
        n_train, n_val: number of images in the 'train' and 'val' splits (>= 1).
        image_size: `(height, width)` of every image, each >= 32.
        seed: non-negative integer; the same parameters give byte-identical files.
        max_objects: most objects in one image.
        empty_fraction: probability that an image has no object.
        formats: any of 'voc', 'coco', 'csv' (the images are always written).
        overwrite: regenerate even when `root` already holds a dataset.

    If `root` holds a dataset made with the same parameters it is reused as is. If it holds one
    made with other parameters (or anything else), a ValueError is raised unless `overwrite`,
    which deletes the dataset's own entries (never other files) and regenerates.
    """
    params = _normalize_params(
        n_train, n_val, image_size, seed, max_objects, empty_fraction, formats
    )
    root = Path(root)
    dataset = _dataset_paths(root, params)
    manifest = _read_manifest(root)
    if not overwrite and _is_complete(dataset, params):
        return dataset
    if not overwrite and root.exists() and any(root.iterdir()):
        if manifest is None:
            reason = "is not empty and holds no shapes dataset manifest"
        else:
            reason = f"holds a shapes dataset made with other parameters ({manifest})"
        raise ValueError(
            f"`root` {reason}. Pass overwrite=True to regenerate it, or choose another root. "
            f"Received: root={str(root)!r}"
        )

    for entry in _OUR_ENTRIES:
        path = root / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    dataset.images_dir.mkdir(parents=True)
    if dataset.annotations_dir is not None:
        dataset.annotations_dir.mkdir()
        (root / "ImageSets" / "Main").mkdir(parents=True)
    if dataset.coco_json:
        (root / "coco").mkdir()
    if dataset.csv:
        (root / "csv").mkdir()
    # COCO image and annotation ids are unique across the splits: train first, then val.
    n_objects = _write_split(dataset, "train", params["n_train"], params, 1)
    _write_split(dataset, "val", params["n_val"], params, 1 + n_objects)
    # The manifest goes last: its presence means the tree is complete.
    (root / "manifest.json").write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    return dataset


def _is_complete(dataset: ShapesDataset, params: dict) -> bool:
    """Whether `dataset.root` holds a finished dataset made with `params`."""
    files = [*dataset.image_set_files.values(), *dataset.coco_json.values(), *dataset.csv.values()]
    return (
        _read_manifest(dataset.root) == params
        and dataset.images_dir.is_dir()
        and all(path.is_file() for path in files)
    )


def default_cache_dir() -> Path:
    """`$KERAS_SSD_CACHE` if set, else `~/.cache/keras_ssd`."""
    return Path(os.environ.get("KERAS_SSD_CACHE") or Path.home() / ".cache" / "keras_ssd")


def ensure_shapes_dataset(cache_dir=None, **params) -> ShapesDataset:
    """The shapes dataset for `params` (those of `generate_shapes_dataset`) in the cache.

    Each parameter set gets its own directory `<cache_dir>/shapes-<H>x<W>-<digest>`, so
    different settings never clash; an incomplete or outdated directory is regenerated.
    """
    if "root" in params or "overwrite" in params:
        raise TypeError(
            "ensure_shapes_dataset() chooses `root` and `overwrite` itself. "
            f"Received: {sorted(k for k in params if k in ('root', 'overwrite'))}"
        )
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(generate_shapes_dataset).parameters.items()
        if name not in ("root", "overwrite")
    }
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise TypeError(f"ensure_shapes_dataset() got unknown parameters: {unknown}")
    params = {**defaults, **params}
    canonical = _normalize_params(**params)
    digest = hashlib.sha1(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:10]
    height, width = canonical["image_size"]
    root = Path(cache_dir or default_cache_dir()) / f"shapes-{height}x{width}-{digest}"
    complete = _is_complete(_dataset_paths(root, canonical), canonical)
    return generate_shapes_dataset(root, **params, overwrite=not complete)
