"""The synthetic shapes dataset: rendering, the VOC/COCO/CSV files, determinism, caching."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data import synthetic
from keras_ssd.data.synthetic import SHAPE_CLASSES
from keras_ssd.data.synthetic import coco_category_id
from keras_ssd.data.synthetic import default_cache_dir
from keras_ssd.data.synthetic import ensure_shapes_dataset
from keras_ssd.data.synthetic import generate_shapes_dataset
from keras_ssd.data.synthetic import render_shapes_image

SMALL = {"n_train": 12, "n_val": 4, "image_size": (64, 80)}
ALL_FORMATS = ("voc", "coco", "csv")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return generate_shapes_dataset(root, **SMALL, seed=3, empty_fraction=0.2, formats=ALL_FORMATS)


def read_voc(path):
    """A VOC XML file as (filename, (w, h, d), [(name, [xmin, ymin, xmax, ymax]), ...])."""
    root = ET.parse(path).getroot()
    size = tuple(int(root.find(f"size/{tag}").text) for tag in ("width", "height", "depth"))
    objects = []
    for obj in root.findall("object"):
        assert obj.find("pose").text == "Unspecified"
        assert obj.find("truncated").text == "0"
        assert obj.find("difficult").text == "0"
        box = [int(obj.find(f"bndbox/{tag}").text) for tag in ("xmin", "ymin", "xmax", "ymax")]
        objects.append((obj.find("name").text, box))
    return root.find("filename").text, size, objects


def voc_labels(dataset, split):
    """{image_id: (k, 5) [class_id, xmin, ymin, xmax, ymax]} from the VOC files."""
    ids = dataset.image_set_files[split].read_text().split()
    labels = {}
    for image_id in ids:
        _, _, objects = read_voc(dataset.annotations_dir / f"{image_id}.xml")
        rows = [[dataset.classes.index(name), *box] for name, box in objects]
        labels[image_id] = np.array(rows, np.float64).reshape(-1, 5)
    return labels


def tree_bytes(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --------------------------------------------------------------------------------------------
# Rendering


def test_boxes_are_the_tight_boxes_of_the_drawn_shapes():
    for index in range(40):
        shapes = render_shapes_image(np.random.default_rng(index), (96, 128), max_objects=5)
        assert shapes.image.shape == (96, 128, 3) and shapes.image.dtype == np.uint8
        for (class_id, xmin, ymin, xmax, ymax), mask, color in zip(
            shapes.labels, shapes.masks, shapes.colors
        ):
            assert 1 <= class_id <= len(SHAPE_CLASSES)
            ys, xs = np.nonzero(mask)
            # Pixel-edge convention: max is exclusive.
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (xmin, ymin, xmax, ymax)
            # The mask is what was painted: every shape pixel has the object colour.
            assert_array_equal(shapes.image[mask], np.broadcast_to(color, (mask.sum(), 3)))


def test_shapes_do_not_touch_and_boxes_overlap_little():
    for index in range(40):
        shapes = render_shapes_image(np.random.default_rng(index), (64, 64), max_objects=6)
        masks = shapes.masks.astype(np.uint8)
        for i in range(len(masks)):
            grown = cv2.dilate(masks[i], np.ones((3, 3), np.uint8))
            for j in range(len(masks)):
                if i != j:
                    assert not np.any(grown & masks[j])
        boxes = shapes.labels[:, 1:].astype(float)
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert synthetic._box_iou(boxes[i], boxes[j : j + 1])[0] <= 0.2


def test_object_sizes_follow_the_image_size():
    sides = []
    for index in range(60):
        shapes = render_shapes_image(np.random.default_rng(index), (100, 200))
        sides += np.maximum(
            shapes.labels[:, 3] - shapes.labels[:, 1], shapes.labels[:, 4] - shapes.labels[:, 2]
        ).tolist()
    # 15% .. 50% of the shorter side (100 px); a disk may lose one pixel to its odd diameter.
    assert 14 <= min(sides) and max(sides) <= 50
    assert max(sides) - min(sides) > 25  # the sizes really vary


def test_all_classes_and_empty_images_occur():
    counts = np.zeros(len(SHAPE_CLASSES) + 1, int)
    n_empty = 0
    for index in range(200):
        labels = render_shapes_image(np.random.default_rng(index), (48, 48)).labels
        n_empty += len(labels) == 0
        counts += np.bincount(labels[:, 0], minlength=len(counts))
    assert counts[0] == 0 and np.all(counts[1:] > 20)
    assert 2 <= n_empty <= 25  # empty_fraction=0.05 of 200


def test_empty_fraction_bounds():
    none_empty = [
        render_shapes_image(np.random.default_rng(i), empty_fraction=0.0) for i in range(30)
    ]
    all_empty = [
        render_shapes_image(np.random.default_rng(i), empty_fraction=1.0) for i in range(5)
    ]
    assert all(len(s.labels) >= 1 for s in none_empty)
    assert all(s.labels.shape == (0, 5) and s.masks.shape == (0, 160, 160) for s in all_empty)


def test_objects_contrast_with_the_background():
    for index in range(30):
        shapes = render_shapes_image(np.random.default_rng(index), (80, 80))
        for mask, color in zip(shapes.masks, shapes.colors):
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
            ring &= ~shapes.masks.any(axis=0)
            distance = np.linalg.norm(shapes.image[ring].mean(axis=0) - color)
            assert distance > 60


# --------------------------------------------------------------------------------------------
# Files on disk


def test_voc_tree(dataset):
    root = dataset.root
    assert dataset.images_dir == root / "JPEGImages"
    assert dataset.annotations_dir == root / "Annotations"
    assert dataset.classes == ("background", *SHAPE_CLASSES)
    assert dataset.image_size == (64, 80)
    for split, count in (("train", 12), ("val", 4)):
        ids = dataset.image_set_files[split].read_text().split()
        assert ids == [f"{split}_{i:06d}" for i in range(count)]
        for image_id in ids:
            image = cv2.imread(str(dataset.images_dir / f"{image_id}.jpg"))
            assert image.shape == (64, 80, 3)
            filename, size, objects = read_voc(dataset.annotations_dir / f"{image_id}.xml")
            assert filename == f"{image_id}.jpg"
            assert size == (80, 64, 3)
            for name, (xmin, ymin, xmax, ymax) in objects:
                assert name in SHAPE_CLASSES
                assert 0 <= xmin < xmax <= 80 and 0 <= ymin < ymax <= 64
    assert len(list(dataset.images_dir.glob("*.jpg"))) == 16
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["formats"] == sorted(ALL_FORMATS)


def test_voc_labels_match_the_rendered_images(dataset):
    labels = voc_labels(dataset, "train")
    for index in range(12):
        rng = np.random.default_rng([3, 0, index])
        expected = render_shapes_image(rng, (64, 80), 4, 0.2).labels
        assert_allclose(labels[f"train_{index:06d}"], expected)
    assert any(len(v) == 0 for v in labels.values())  # empty_fraction=0.2 gives empty images
    assert any(len(v) >= 2 for v in labels.values())


def test_jpeg_shows_the_shapes(dataset):
    """The saved JPEG is the rendered image up to compression noise."""
    image = cv2.imread(str(dataset.images_dir / "val_000001.jpg"))[..., ::-1]
    rendered = render_shapes_image(np.random.default_rng([3, 1, 1]), (64, 80), 4, 0.2).image
    assert np.abs(image.astype(int) - rendered).mean() < 4


def test_coco_json_loads_with_pycocotools(dataset):
    coco_module = pytest.importorskip("pycocotools.coco")
    coco = coco_module.COCO(str(dataset.coco_json["val"]))
    assert sorted(coco.getCatIds()) == [1, 3, 5, 7, 9]  # non-consecutive on purpose
    assert [coco.loadCats(coco_category_id(k))[0]["name"] for k in (1, 5)] == ["circle", "ring"]
    voc = voc_labels(dataset, "val")
    assert len(coco.getImgIds()) == 4
    for image in coco.loadImgs(coco.getImgIds()):
        assert (image["height"], image["width"]) == (64, 80)
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        rows = [
            [
                (a["category_id"] + 1) // 2,
                a["bbox"][0],
                a["bbox"][1],
                a["bbox"][0] + a["bbox"][2],
                a["bbox"][1] + a["bbox"][3],
            ]
            for a in annotations
        ]
        assert all(
            a["iscrowd"] == 0 and 0 < a["area"] <= a["bbox"][2] * a["bbox"][3] for a in annotations
        )
        expected = voc[image["file_name"][:-4]]
        assert_allclose(np.array(rows, float).reshape(-1, 5), expected)


def test_coco_ids_are_unique_across_splits(dataset):
    train = json.loads(dataset.coco_json["train"].read_text())
    val = json.loads(dataset.coco_json["val"].read_text())
    image_ids = [i["id"] for i in train["images"] + val["images"]]
    annotation_ids = [a["id"] for a in train["annotations"] + val["annotations"]]
    assert len(set(image_ids)) == len(image_ids) == 16
    assert len(set(annotation_ids)) == len(annotation_ids)


def test_csv_has_the_udacity_layout(dataset):
    with open(dataset.csv["train"], newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image_name", "xmin", "xmax", "ymin", "ymax", "class_id"]
    by_image = {}
    for name, xmin, xmax, ymin, ymax, class_id in rows[1:]:
        by_image.setdefault(name[:-4], []).append(
            [int(class_id), int(xmin), int(ymin), int(xmax), int(ymax)]
        )
    voc = voc_labels(dataset, "train")
    # Images without objects cannot appear in this format.
    assert set(by_image) == {k for k, v in voc.items() if len(v)}
    for image_id, rows_ in by_image.items():
        assert_allclose(np.array(rows_, float), voc[image_id])


def test_formats_subset(tmp_path):
    only_csv = generate_shapes_dataset(
        tmp_path, n_train=2, n_val=1, image_size=(32, 32), formats="csv"
    )
    assert only_csv.annotations_dir is None and not only_csv.image_set_files
    assert not only_csv.coco_json and set(only_csv.csv) == {"train", "val"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["JPEGImages", "csv", "manifest.json"]


# --------------------------------------------------------------------------------------------
# Determinism and idempotence


def test_same_seed_gives_identical_files(tmp_path):
    a = generate_shapes_dataset(tmp_path / "a", **SMALL, seed=7, formats=ALL_FORMATS)
    b = generate_shapes_dataset(tmp_path / "b", **SMALL, seed=7, formats=ALL_FORMATS)
    c = generate_shapes_dataset(tmp_path / "c", **SMALL, seed=8, formats=ALL_FORMATS)
    files_a, files_b, files_c = tree_bytes(a.root), tree_bytes(b.root), tree_bytes(c.root)
    assert len(files_a) == 16 + 16 + 2 + 2 + 2 + 1
    assert files_a == files_b
    assert files_a.keys() == files_c.keys()
    differing = [name for name in files_a if files_a[name] != files_c[name]]
    assert len(differing) > 30  # all images and nearly all annotations differ


def test_existing_dataset_is_reused(tmp_path):
    first = generate_shapes_dataset(tmp_path, **SMALL)
    image = first.images_dir / "train_000000.jpg"
    image.write_bytes(b"marker")  # a regeneration would overwrite it
    again = generate_shapes_dataset(tmp_path, **SMALL)
    assert again == first
    assert image.read_bytes() == b"marker"
    regenerated = generate_shapes_dataset(tmp_path, **SMALL, overwrite=True)
    assert regenerated == first
    assert image.read_bytes()[:2] == b"\xff\xd8"  # a JPEG again


def test_other_parameters_need_overwrite(tmp_path):
    generate_shapes_dataset(tmp_path, **SMALL, seed=1)
    with pytest.raises(ValueError, match="made with other parameters.*overwrite=True"):
        generate_shapes_dataset(tmp_path, **SMALL, seed=2)
    bigger = generate_shapes_dataset(tmp_path, **{**SMALL, "n_train": 14}, overwrite=True)
    assert len(bigger.image_set_files["train"].read_text().split()) == 14
    assert len(list(bigger.images_dir.glob("*.jpg"))) == 14 + 4  # stale files are gone


def test_foreign_directory_is_not_touched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no shapes dataset manifest"):
        generate_shapes_dataset(tmp_path, **SMALL)
    generate_shapes_dataset(tmp_path, **SMALL, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # overwrite removes only our entries


def test_ensure_shapes_dataset_uses_one_directory_per_parameter_set(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SSD_CACHE", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache"
    a = ensure_shapes_dataset(**SMALL)
    b = ensure_shapes_dataset(**SMALL)
    c = ensure_shapes_dataset(**SMALL, seed=1)
    assert a == b and a.root.parent == tmp_path / "cache"
    assert a.root.name.startswith("shapes-64x80-")
    assert c.root != a.root
    # An interrupted generation (no manifest) is completed on the next call.
    (a.root / "manifest.json").unlink()
    assert ensure_shapes_dataset(**SMALL) == a
    assert (a.root / "manifest.json").is_file()
    explicit = ensure_shapes_dataset(cache_dir=tmp_path / "other", **SMALL)
    assert explicit.root.parent == tmp_path / "other"


def test_default_cache_dir_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_SSD_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "keras_ssd"


# --------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_train": 0}, r"`n_train` must be a positive integer. Received: n_train=0"),
        ({"n_train": 2.5}, r"`n_train` must be a positive integer. Received: n_train=2.5"),
        ({"n_val": 0}, r"`n_val` must be a positive integer. Received: n_val=0"),
        ({"seed": -1}, r"`seed` must be an integer >= 0. Received: seed=-1"),
        ({"max_objects": 0}, r"`max_objects` must be a positive integer"),
        ({"image_size": (31, 64)}, r"`image_size` must be .* >= 32. Received: image_size=\(31"),
        ({"image_size": 64}, r"`image_size` must be a \(height, width\) pair"),
        ({"image_size": (64, 64, 3)}, r"`image_size` must be a \(height, width\) pair"),
        ({"empty_fraction": 1.5}, r"`empty_fraction` must be a number in \[0, 1\]"),
        ({"formats": ("voc", "yolo")}, r"`formats` must be a non-empty subset .*'yolo'"),
        ({"formats": ()}, r"`formats` must be a non-empty subset"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_shapes_dataset(tmp_path, **{**SMALL, **kwargs})
    assert not any(tmp_path.iterdir())  # validation happens before anything is written


def test_ensure_rejects_root_and_unknown_parameters(tmp_path):
    with pytest.raises(TypeError, match="chooses `root` and `overwrite` itself"):
        ensure_shapes_dataset(tmp_path, root=tmp_path)
    with pytest.raises(TypeError, match=r"unknown parameters: \['n_test'\]"):
        ensure_shapes_dataset(tmp_path, n_test=3)


# --------------------------------------------------------------------------------------------
# Through the real parsers


def test_parsers_read_the_same_boxes(dataset):
    from keras_ssd.data import parsers

    voc = voc_labels(dataset, "train")
    filenames, labels, image_ids, neutral = parsers.parse_voc(
        dataset.images_dir,
        dataset.image_set_files["train"],
        dataset.annotations_dir,
        classes=dataset.classes,
        verbose=False,
    )
    assert image_ids == list(voc)
    assert filenames == [str(dataset.images_dir / f"{i}.jpg") for i in image_ids]
    for image_id, parsed, flags in zip(image_ids, labels, neutral):
        assert_allclose(parsed, voc[image_id])
        assert not np.any(flags)

    _, csv_labels, csv_ids = parsers.parse_csv(
        dataset.images_dir,
        dataset.csv["train"],
        input_format=["image_name", "xmin", "xmax", "ymin", "ymax", "class_id"],
        verbose=False,
    )
    assert csv_ids == [k for k, v in voc.items() if len(v)]
    for image_id, parsed in zip(csv_ids, csv_labels):
        assert_allclose(parsed, voc[image_id])

    coco_files, coco_labels, coco_ids, maps = parsers.parse_coco(
        dataset.images_dir, dataset.coco_json["train"], ground_truth_available=True, verbose=False
    )
    assert maps["classes_to_names"] == list(dataset.classes)
    assert coco_ids == list(range(1, 13))
    for filename, parsed in zip(coco_files, coco_labels):
        assert_allclose(parsed, voc[filename.rsplit("/", 1)[1][:-4]])
