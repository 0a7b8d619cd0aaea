"""Parsers on real files: VOC XML, CSV and COCO JSON written to tmp_path."""

from __future__ import annotations

import json
import os
import warnings

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.data.image_io import DatasetError
from keras_ssd.data.image_io import load_image
from keras_ssd.data.parsers import LABEL_COLUMNS
from keras_ssd.data.parsers import VOC_CLASSES
from keras_ssd.data.parsers import as_label_array
from keras_ssd.data.parsers import check_labels_output_format
from keras_ssd.data.parsers import parse_coco
from keras_ssd.data.parsers import parse_csv
from keras_ssd.data.parsers import parse_voc

# ---------------------------------------------------------------------------------------------
# Helpers that write small real data sets (also used by test_generator.py and test_hdf5.py)
# ---------------------------------------------------------------------------------------------


def write_image(path, height=40, width=50, seed=0, channels=3) -> np.ndarray:
    """Write a random image with cv2 and return it as RGB (what `load_image` should give)."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(str(path), pixels):
        raise RuntimeError(f"could not write {path}")
    if channels == 3:
        return pixels[..., ::-1]  # written as BGR
    return pixels


def voc_object(name, box, difficult=None, truncated=None, pose="Unspecified") -> str:
    tags = f"<name>{name}</name>"
    if pose is not None:
        tags += f"<pose>{pose}</pose>"
    if truncated is not None:
        tags += f"<truncated>{truncated}</truncated>"
    if difficult is not None:
        tags += f"<difficult>{difficult}</difficult>"
    coords = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
    return f"<object>{tags}<bndbox>{coords}</bndbox></object>"


def write_xml(path, objects, filename=None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    filename_tag = f"<filename>{filename}</filename>" if filename else ""
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            f"<annotation><folder>VOC</folder>{filename_tag}"
            "<size><width>50</width><height>40</height><depth>3</depth></size>"
            f"{''.join(objects)}</annotation>"
        )


def make_voc(root) -> dict:
    """A 4-image VOC data set: a difficult object, a .png without optional tags and with float
    coordinates, an image without objects, and a .jpeg found through its <filename> tag."""
    images_dir = os.path.join(root, "JPEGImages")
    annotations_dir = os.path.join(root, "Annotations")
    set_file = os.path.join(root, "ImageSets", "Main", "trainval.txt")
    write_image(os.path.join(images_dir, "000001.jpg"), seed=1)
    write_xml(
        os.path.join(annotations_dir, "000001.xml"),
        [
            voc_object("dog", (1, 2, 30, 20), difficult=0, truncated=1),
            voc_object("person", (5, 6, 45, 38), difficult=1, truncated=0),
        ],
        filename="000001.jpg",
    )
    write_image(os.path.join(images_dir, "000002.png"), seed=2)
    write_xml(
        os.path.join(annotations_dir, "000002.xml"),
        [voc_object("cat", (10.5, 3, 20.25, 33), pose=None)],
    )
    write_image(os.path.join(images_dir, "000003.jpg"), seed=3)
    write_xml(os.path.join(annotations_dir, "000003.xml"), [], filename="000003.jpg")
    write_image(os.path.join(images_dir, "000004.jpeg"), seed=4)
    write_xml(
        os.path.join(annotations_dir, "000004.xml"),
        [voc_object("car", (0, 0, 10, 10), difficult=0, truncated=0)],
        filename="000004.jpeg",
    )
    os.makedirs(os.path.dirname(set_file), exist_ok=True)
    with open(set_file, "w", encoding="utf-8") as f:
        f.write("000001\n000002\n\n000003\n000004\n")
    return {"images_dir": images_dir, "annotations_dir": annotations_dir, "set_file": set_file}


def make_csv(root, rows, header="frame,xmin,xmax,ymin,ymax,class_id\n") -> str:
    path = os.path.join(root, "labels.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "".join(row + "\n" for row in rows))
    return path


def make_coco(root, with_bad=False) -> dict:
    """Two images with non-consecutive category ids (3, 7, 18), float boxes, one empty image."""
    images_dir = os.path.join(root, "images")
    write_image(os.path.join(images_dir, "a.jpg"), seed=5)
    write_image(os.path.join(images_dir, "b.jpg"), seed=6)
    write_image(os.path.join(images_dir, "c.jpg"), seed=7)
    data = {
        "images": [
            {"id": 42, "file_name": "a.jpg", "height": 40, "width": 50},
            {"id": 7, "file_name": "b.jpg", "height": 40, "width": 50},
            {"id": 9, "file_name": "c.jpg", "height": 40, "width": 50},
        ],
        "categories": [
            {"id": 3, "name": "car"},
            {"id": 7, "name": "bus"},
            {"id": 18, "name": "dog"},
        ],
        "annotations": [
            {"id": 1, "image_id": 42, "category_id": 18, "bbox": [1.5, 2.25, 10.5, 20.0]},
            {"id": 2, "image_id": 42, "category_id": 3, "bbox": [0, 0, 5, 5]},
            {"id": 3, "image_id": 7, "category_id": 7, "bbox": [3.0, 4.0, 6.5, 7.5]},
        ],
    }
    if with_bad:
        bad = {"id": 4, "image_id": 7, "category_id": 99, "bbox": [0, 0, 1, 1]}
        data["annotations"].append(bad)
    path = os.path.join(root, "instances.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return {"images_dir": images_dir, "annotations": path}


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def test_as_label_array_gives_float64_k_by_5_and_0_by_5_for_empty():
    assert as_label_array([]).shape == (0, 5)
    assert as_label_array(np.zeros((0,))).shape == (0, 5)
    out = as_label_array([[1, 2, 3, 4, 5]])
    assert out.dtype == np.float64 and out.shape == (1, 5)
    with pytest.raises(ValueError, match=r"`labels\[3\]` must have shape \(k, 5\)"):
        as_label_array([[1, 2, 3]], name="labels[3]")


def test_check_labels_output_format_rejects_bad_orders():
    assert check_labels_output_format(list(LABEL_COLUMNS)) == LABEL_COLUMNS
    with pytest.raises(ValueError, match="labels_output_format=.*xmin"):
        check_labels_output_format(("class_id", "xmin", "ymin", "xmax", "xmin"))
    with pytest.raises(ValueError, match="labels_output_format='class_id'"):
        check_labels_output_format("class_id")


# ---------------------------------------------------------------------------------------------
# Image loading
# ---------------------------------------------------------------------------------------------


def test_load_image_png_is_exact_rgb(tmp_path):
    expected = write_image(tmp_path / "a.png", seed=3)
    image = load_image(tmp_path / "a.png")
    assert image.dtype == np.uint8 and image.shape == (40, 50, 3)
    np.testing.assert_array_equal(image, expected)


def test_load_image_grayscale_and_rgba(tmp_path):
    gray = write_image(tmp_path / "g.png", channels=1)
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), gray)
    bgra = write_image(tmp_path / "a.png", channels=4)
    rgba = load_image(tmp_path / "a.png")
    assert rgba.shape == (40, 50, 4)
    np.testing.assert_array_equal(rgba, bgra[..., [2, 1, 0, 3]])


def test_load_image_16_bit_png_is_scaled_to_uint8(tmp_path):
    pixels = np.full((4, 5, 3), 65535, dtype=np.uint16)
    pixels[0, 0] = 257 * 10
    cv2.imwrite(str(tmp_path / "deep.png"), pixels)
    image = load_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8
    assert image[0, 0].tolist() == [10, 10, 10] and image[1, 1].tolist() == [255, 255, 255]


def test_load_image_jpeg_is_rgb(tmp_path):
    bgr = np.zeros((16, 16, 3), dtype=np.uint8)
    bgr[..., 2] = 250  # pure red, written in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.jpg"), bgr)
    image = load_image(tmp_path / "red.jpg")
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    assert_allclose(image.reshape(-1, 3).mean(axis=0), [250, 0, 0], atol=3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"this is not an image at all", "could not be decoded"),
    ],
)
def test_load_image_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DatasetError, match=rf"bad\.jpg.*{message}"):
        load_image(path)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_load_image_truncated_file_is_reported(tmp_path, ext):
    # cv2.imread decodes a truncated JPEG into a partly grey image with only a stderr warning.
    write_image(tmp_path / f"full{ext}", height=64, width=64)
    data = (tmp_path / f"full{ext}").read_bytes()
    (tmp_path / f"cut{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=rf"cut\{ext}.*truncated"):
        load_image(tmp_path / f"cut{ext}")


# ---------------------------------------------------------------------------------------------
# Pascal VOC
# ---------------------------------------------------------------------------------------------


def test_parse_voc_golden(tmp_path):
    voc = make_voc(tmp_path)
    filenames, labels, image_ids, eval_neutral = parse_voc(
        voc["images_dir"], voc["set_file"], voc["annotations_dir"], verbose=False
    )
    assert image_ids == ["000001", "000002", "000003", "000004"]
    assert [os.path.basename(f) for f in filenames] == [
        "000001.jpg",
        "000002.png",  # not .jpg (the original hard-coded .jpg)
        "000003.jpg",
        "000004.jpeg",
    ]
    assert all(os.path.isfile(f) for f in filenames)
    dog, person, cat = (VOC_CLASSES.index(name) for name in ("dog", "person", "cat"))
    assert_allclose(labels[0], [[dog, 1, 2, 30, 20], [person, 5, 6, 45, 38]])
    assert_allclose(labels[1], [[cat, 10.5, 3, 20.25, 33]])  # float coords, no optional tags
    assert labels[2].shape == (0, 5)  # no objects: (0, 5), not []
    assert all(x.dtype == np.float64 for x in labels)
    assert [x.tolist() for x in eval_neutral] == [[False, True], [False], [], [False]]
    assert all(x.dtype == bool for x in eval_neutral)


def test_parse_voc_exclude_and_include(tmp_path):
    voc = make_voc(tmp_path)
    args = (voc["images_dir"], voc["set_file"], voc["annotations_dir"])
    _, labels, _, neutral = parse_voc(*args, exclude_difficult=True, verbose=False)
    assert labels[0][:, 0].tolist() == [VOC_CLASSES.index("dog")]
    assert neutral[0].tolist() == [False]
    _, labels, _, _ = parse_voc(*args, exclude_truncated=True, verbose=False)
    assert labels[0][:, 0].tolist() == [VOC_CLASSES.index("person")]
    _, labels, _, _ = parse_voc(*args, include_classes=[VOC_CLASSES.index("cat")], verbose=False)
    assert [len(x) for x in labels] == [0, 1, 0, 0]


def test_parse_voc_labels_output_format(tmp_path):
    voc = make_voc(tmp_path)
    fmt = ("xmin", "ymin", "xmax", "ymax", "class_id")
    _, labels, _, _ = parse_voc(
        voc["images_dir"], voc["set_file"], voc["annotations_dir"],
        labels_output_format=fmt, verbose=False,
    )  # fmt: skip
    assert_allclose(labels[1], [[10.5, 3, 20.25, 33, VOC_CLASSES.index("cat")]])


def test_parse_voc_without_annotations_and_several_dirs(tmp_path):
    a, b = make_voc(tmp_path / "a"), make_voc(tmp_path / "b")
    filenames, labels, image_ids, eval_neutral = parse_voc(
        [a["images_dir"], b["images_dir"]], [a["set_file"], b["set_file"]], verbose=False
    )
    assert labels is None and eval_neutral is None
    assert len(filenames) == 8 and image_ids[:4] == image_ids[4:]
    assert filenames[4].startswith(str(tmp_path / "b"))


def test_parse_voc_class_specific_image_set_file(tmp_path):
    voc = make_voc(tmp_path)
    with open(voc["set_file"], "w", encoding="utf-8") as f:
        f.write("000004  1\n000002 -1\n")  # only the first token is the id
    _, labels, image_ids, _ = parse_voc(
        voc["images_dir"], voc["set_file"], voc["annotations_dir"], verbose=False
    )
    assert image_ids == ["000004", "000002"] and len(labels) == 2


def test_parse_voc_degenerate_box_is_kept_with_a_warning(tmp_path):
    voc = make_voc(tmp_path)
    write_xml(
        os.path.join(voc["annotations_dir"], "000004.xml"),
        [voc_object("car", (10, 5, 10, 9))],
    )
    message = r"000004\.xml.*degenerate.*\[7\.0, 10\.0, 5\.0, 10\.0, 9\.0\]"
    with pytest.warns(UserWarning, match=message):
        _, labels, _, _ = parse_voc(
            voc["images_dir"], voc["set_file"], voc["annotations_dir"], verbose=False
        )
    assert_allclose(labels[3], [[7, 10, 5, 10, 9]])  # unchanged


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<annotation><object>", r"000002\.xml.*not valid XML"),
        (
            "<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
            "<xmax>5</xmax></bndbox></object></annotation>",
            r"000002\.xml.*'cat'.*<ymax>",
        ),
        (
            "<annotation><object><name>cat</name></object></annotation>",
            r"000002\.xml.*no <bndbox>",
        ),
        (
            "<annotation><object><name>unicorn</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
            "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
            r"000002\.xml.*unknown class name 'unicorn'",
        ),
        (
            "<annotation><object><name>cat</name><difficult>yes</difficult></object></annotation>",
            r"000002\.xml.*<difficult> must be 0 or 1",
        ),
    ],
)
def test_parse_voc_malformed_annotation_on_error(tmp_path, xml, message):
    voc = make_voc(tmp_path)
    with open(os.path.join(voc["annotations_dir"], "000002.xml"), "w", encoding="utf-8") as f:
        f.write(xml)
    args = (voc["images_dir"], voc["set_file"], voc["annotations_dir"])
    with pytest.raises(DatasetError, match=message):
        parse_voc(*args, verbose=False)
    with pytest.warns(UserWarning, match=message + r".*'000002' is dropped"):
        _, _, image_ids, _ = parse_voc(*args, on_error="warn", verbose=False)
    assert image_ids == ["000001", "000003", "000004"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filenames, labels, image_ids, neutral = parse_voc(*args, on_error="skip", verbose=False)
    assert image_ids == ["000001", "000003", "000004"]
    assert len(filenames) == len(labels) == len(neutral) == 3


def test_parse_voc_unknown_class_is_ignored_when_include_classes_given(tmp_path):
    voc = make_voc(tmp_path)
    write_xml(
        os.path.join(voc["annotations_dir"], "000004.xml"),
        [voc_object("unicorn", (0, 0, 5, 5)), voc_object("car", (1, 1, 5, 5))],
    )
    _, labels, _, _ = parse_voc(
        voc["images_dir"], voc["set_file"], voc["annotations_dir"],
        include_classes=[VOC_CLASSES.index("car")], verbose=False,
    )  # fmt: skip
    assert_allclose(labels[3], [[VOC_CLASSES.index("car"), 1, 1, 5, 5]])


def test_parse_voc_missing_image_and_annotation_files(tmp_path):
    voc = make_voc(tmp_path)
    os.remove(os.path.join(voc["images_dir"], "000003.jpg"))
    os.remove(os.path.join(voc["annotations_dir"], "000004.xml"))
    args = (voc["images_dir"], voc["set_file"], voc["annotations_dir"])
    with pytest.raises(DatasetError, match=r"No image file for image id '000003'"):
        parse_voc(*args, verbose=False)
    with pytest.warns(UserWarning) as record:
        _, _, image_ids, _ = parse_voc(*args, on_error="warn", verbose=False)
    messages = " ".join(str(w.message) for w in record)
    assert "000003" in messages and "000004.xml' does not exist" in messages
    assert image_ids == ["000001", "000002"]


def test_parse_voc_bad_arguments(tmp_path):
    voc = make_voc(tmp_path)
    with pytest.raises(ValueError, match="same length"):
        parse_voc([voc["images_dir"]] * 2, [voc["set_file"]], verbose=False)
    with pytest.raises(FileNotFoundError, match="image set file.*nope.txt"):
        parse_voc(voc["images_dir"], tmp_path / "nope.txt", verbose=False)
    with pytest.raises(FileNotFoundError, match="images directory.*nodir"):
        parse_voc(tmp_path / "nodir", voc["set_file"], verbose=False)
    with pytest.raises(ValueError, match="on_error=.*'ignore'"):
        parse_voc(voc["images_dir"], voc["set_file"], on_error="ignore", verbose=False)
    with pytest.raises(ValueError, match="include_classes='some'"):
        parse_voc(voc["images_dir"], voc["set_file"], include_classes="some", verbose=False)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

CSV_FORMAT = ["image_name", "xmin", "xmax", "ymin", "ymax", "class_id"]


def test_parse_csv_golden_with_float_coordinates(tmp_path):
    write_image(tmp_path / "b.jpg")
    write_image(tmp_path / "a.png")
    path = make_csv(
        tmp_path,
        ["b.jpg,1.5,10.25,2,20,3", "a.png,0,5,0,6,1", "b.jpg,4,8,5,9,2", "a.png,1,2,1,2,1"],
    )
    filenames, labels, image_ids = parse_csv(tmp_path, path, CSV_FORMAT, verbose=False)
    assert image_ids == ["a", "b"]  # sorted by name
    assert filenames == [str(tmp_path / "a.png"), str(tmp_path / "b.jpg")]
    assert_allclose(labels[0], [[1, 0, 0, 5, 6], [1, 1, 1, 2, 2]])
    assert_allclose(labels[1], [[3, 1.5, 2, 10.25, 20], [2, 4, 5, 8, 9]])
    _, labels, _ = parse_csv(tmp_path, path, CSV_FORMAT, include_classes=[2], verbose=False)
    assert_allclose(labels[0], [[2, 4, 5, 8, 9]])


def test_parse_csv_column_order_and_random_sample(tmp_path):
    for name in "abcdefgh":
        write_image(tmp_path / f"{name}.jpg", height=8, width=8)
    path = make_csv(tmp_path, [f"3,{n}.jpg,1,2,3,4" for n in "abcdefgh"])
    fmt = ["class_id", "image_name", "xmin", "ymin", "xmax", "ymax"]
    _, labels, image_ids = parse_csv(tmp_path, path, fmt, verbose=False)
    assert_allclose(labels[0], [[3, 1, 2, 3, 4]])
    _, _, first = parse_csv(tmp_path, path, fmt, random_sample=0.5, seed=1, verbose=False)
    _, _, second = parse_csv(tmp_path, path, fmt, random_sample=0.5, seed=1, verbose=False)
    assert first == second and 0 < len(first) < 8
    assert parse_csv(tmp_path, path, fmt, random_sample=0.0, verbose=False)[2] == []


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a.jpg,1,x,2,3,1", r"labels\.csv', line 3: malformed line"),
        ("a.jpg,1,2", r"line 3: malformed line.*expected 6 columns"),
        ("a.jpg,1,2,3,4,1.5", r"line 3: malformed line.*class_id must be an integer"),
    ],
)
def test_parse_csv_malformed_line_on_error(tmp_path, row, message):
    write_image(tmp_path / "a.jpg")
    write_image(tmp_path / "b.jpg")
    path = make_csv(tmp_path, ["b.jpg,1,5,1,5,1", row, "a.jpg,0,4,0,4,2"])
    with pytest.raises(DatasetError, match=message):
        parse_csv(tmp_path, path, CSV_FORMAT, verbose=False)
    with pytest.warns(UserWarning, match=r"'a\.jpg' is dropped"):
        _, labels, image_ids = parse_csv(tmp_path, path, CSV_FORMAT, on_error="warn", verbose=False)
    assert image_ids == ["b"]  # every box of a.jpg is dropped, not just the bad line
    assert len(labels) == 1


def test_parse_csv_missing_image_and_degenerate_box(tmp_path):
    write_image(tmp_path / "a.jpg")
    path = make_csv(tmp_path, ["a.jpg,5,5,1,8,1", "gone.jpg,1,5,1,5,1"])
    with pytest.raises(DatasetError, match=r"gone\.jpg' does not exist"):
        with pytest.warns(UserWarning, match="degenerate"):  # a.jpg comes first
            parse_csv(tmp_path, path, CSV_FORMAT, verbose=False)
    with pytest.warns(UserWarning, match=r"'a\.jpg'.*degenerate.*\[1\.0, 5\.0, 1\.0, 5\.0, 8\.0\]"):
        _, labels, ids = parse_csv(tmp_path, path, CSV_FORMAT, on_error="skip", verbose=False)
    assert ids == ["a"]
    assert_allclose(labels[0], [[1, 5, 1, 5, 8]])


def test_parse_csv_bad_arguments(tmp_path):
    path = make_csv(tmp_path, [])
    with pytest.raises(ValueError, match="input_format"):
        parse_csv(tmp_path, path, ["image_name", "xmin"], verbose=False)
    with pytest.raises(ValueError, match="random_sample=2"):
        parse_csv(tmp_path, path, CSV_FORMAT, random_sample=2, verbose=False)
    with pytest.raises(FileNotFoundError, match="labels file.*missing.csv"):
        parse_csv(tmp_path, tmp_path / "missing.csv", CSV_FORMAT, verbose=False)


# ---------------------------------------------------------------------------------------------
# COCO JSON
# ---------------------------------------------------------------------------------------------


def test_parse_coco_golden(tmp_path):
    coco = make_coco(tmp_path)
    filenames, labels, image_ids, maps = parse_coco(
        coco["images_dir"], coco["annotations"], ground_truth_available=True, verbose=False
    )
    assert image_ids == [42, 7, 9]  # ints
    assert [os.path.basename(f) for f in filenames] == ["a.jpg", "b.jpg", "c.jpg"]
    assert maps["cats_to_classes"] == {3: 1, 7: 2, 18: 3}
    assert maps["classes_to_cats"] == {1: 3, 2: 7, 3: 18}
    assert maps["cats_to_names"] == {3: "car", 7: "bus", 18: "dog"}
    assert maps["classes_to_names"] == ["background", "car", "bus", "dog"]
    # [x, y, w, h] -> corners, floats kept
    assert_allclose(labels[0], [[3, 1.5, 2.25, 12.0, 22.25], [1, 0, 0, 5, 5]])
    assert_allclose(labels[1], [[2, 3.0, 4.0, 9.5, 11.5]])
    assert labels[2].shape == (0, 5)


def test_parse_coco_include_classes_uses_coco_ids_and_no_gt(tmp_path):
    coco = make_coco(tmp_path)
    _, labels, _, _ = parse_coco(
        coco["images_dir"], coco["annotations"], ground_truth_available=True,
        include_classes=[18], verbose=False,
    )  # fmt: skip
    assert [x[:, 0].tolist() for x in labels] == [[3.0], [], []]
    filenames, labels, image_ids, _ = parse_coco(
        [coco["images_dir"]], [coco["annotations"]], verbose=False
    )
    assert labels is None and len(filenames) == 3


def test_parse_coco_malformed_annotation_on_error(tmp_path):
    coco = make_coco(tmp_path, with_bad=True)
    args = (coco["images_dir"], coco["annotations"])
    with pytest.raises(DatasetError, match=r"instances\.json', image id 7: unknown category_id 99"):
        parse_coco(*args, ground_truth_available=True, verbose=False)
    with pytest.warns(UserWarning, match="unknown category_id 99.*dropped"):
        _, labels, image_ids, _ = parse_coco(
            *args, ground_truth_available=True, on_error="warn", verbose=False
        )
    assert image_ids == [42, 9] and len(labels) == 2


def test_parse_coco_bad_files(tmp_path):
    coco = make_coco(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match=r"bad\.json' is not valid JSON"):
        parse_coco(coco["images_dir"], bad, verbose=False)
    bad.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(DatasetError, match="no 'categories'"):
        parse_coco(coco["images_dir"], bad, verbose=False)
    os.remove(os.path.join(coco["images_dir"], "b.jpg"))
    with pytest.raises(DatasetError, match=r"image id 7: the image file .*b\.jpg' does not exist"):
        parse_coco(coco["images_dir"], coco["annotations"], verbose=False)
    with pytest.raises(ValueError, match="same length"):
        parse_coco([coco["images_dir"]] * 2, [coco["annotations"]], verbose=False)
