"""DataGenerator on real image files: construction, parsers, every `returns` key, the fixed bugs."""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.data.generator import RETURNS
from keras_ssd.data.generator import DataGenerator
from keras_ssd.data.generator import DatasetError
from keras_ssd.data.generator import DegenerateBatchError
from keras_ssd.data.parsers import VOC_CLASSES
from keras_ssd.data.transforms.geometric import Resize
from keras_ssd.encoding.input_encoder import SSDInputEncoder
from tests.data.test_parsers import make_coco
from tests.data.test_parsers import make_csv
from tests.data.test_parsers import make_voc
from tests.data.test_parsers import write_image

H, W = 40, 50


def make_dataset(tmp_path, n=6, empty=(), sizes=None):
    """`n` PNG images with one or two boxes each (none for the indices in `empty`)."""
    filenames, labels, pixels = [], [], []
    for i in range(n):
        height, width = sizes[i] if sizes else (H, W)
        path = str(tmp_path / f"img{i}.png")
        pixels.append(write_image(path, height, width, seed=i))
        filenames.append(path)
        if i in empty:
            labels.append(np.zeros((0, 5)))
        else:
            boxes = np.array([[1 + i % 3, 2, 3, 20 + i, 30], [2, 5, 5, 15, 15.5]])
            labels.append(boxes[: 1 + i % 2])
    image_ids = [f"id{i}" for i in range(n)]
    eval_neutral = [np.zeros(len(x), bool) for x in labels]
    return {
        "filenames": filenames,
        "labels": labels,
        "image_ids": image_ids,
        "eval_neutral": eval_neutral,
        "pixels": pixels,
    }


def make_generator(data, **kwargs):
    kwargs.setdefault("verbose", False)
    return DataGenerator(
        filenames=data["filenames"],
        labels=data["labels"],
        image_ids=data["image_ids"],
        eval_neutral=data["eval_neutral"],
        **kwargs,
    )


def small_encoder(n_classes=3):
    return SSDInputEncoder(H, W, n_classes, predictor_sizes=[(5, 6), (3, 3)],
                           aspect_ratios_global=(1.0,), two_boxes_for_ar1=False)  # fmt: skip


class Recorder:
    """A transform that records what it saw; its image and labels pass through unchanged."""

    def __init__(self):
        self.labels_format = None
        self.calls = []

    def __call__(self, image, labels=None):
        self.calls.append((image.shape, None if labels is None else labels.copy()))
        return image if labels is None else (image, labels)


# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------


def test_construct_from_lists(tmp_path):
    data = make_dataset(tmp_path, n=3)
    gen = make_generator(data, labels_output_format=("class_id", "xmin", "ymin", "xmax", "ymax"))
    assert gen.get_dataset_size() == 3
    assert gen.dataset_indices.tolist() == [0, 1, 2]
    assert gen.labels_format == {"class_id": 0, "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}
    assert all(x.dtype == np.float64 and x.shape[1] == 5 for x in gen.labels)
    filenames, labels, image_ids, eval_neutral = gen.get_dataset()
    assert filenames == data["filenames"] and image_ids == data["image_ids"]
    np.testing.assert_array_equal(gen.load_image(2), data["pixels"][2])


def test_filenames_text_file_is_read_in_text_mode(tmp_path):
    # ssd_keras opened it with 'rb' and then failed joining str and bytes.
    data = make_dataset(tmp_path, n=2)
    (tmp_path / "names.txt").write_text("img0.png\n\nimg1.png\n")
    gen = DataGenerator(filenames=str(tmp_path / "names.txt"), images_dir=str(tmp_path),
                        labels=data["labels"], verbose=False)  # fmt: skip
    assert gen.filenames == data["filenames"]
    with pytest.raises(FileNotFoundError, match=r"`filenames` text file.*nope\.txt"):
        DataGenerator(filenames=str(tmp_path / "nope.txt"), verbose=False)


def test_pickles_round_trip_through_save_dataset(tmp_path):
    data = make_dataset(tmp_path, n=3, empty=(1,))
    gen = make_generator(data)
    paths = {k: str(tmp_path / f"{k}.pkl") for k in ("f", "l", "i", "e")}
    gen.save_dataset(paths["f"], paths["l"], paths["i"], paths["e"])
    with open(paths["f"], "rb") as f:
        assert pickle.load(f) == data["filenames"]
    again = DataGenerator(filenames=paths["f"], filenames_type="pickle", labels=paths["l"],
                          image_ids=paths["i"], eval_neutral=paths["e"], verbose=False)  # fmt: skip
    assert again.filenames == gen.filenames and again.image_ids == gen.image_ids
    for a, b in zip(again.labels, gen.labels):
        assert_allclose(a, b)
    assert again.labels[1].shape == (0, 5)


def test_labels_given_as_nested_lists_become_arrays(tmp_path):
    data = make_dataset(tmp_path, n=2)
    gen = DataGenerator(filenames=data["filenames"], labels=[[[1, 2, 3, 4, 5]], []],
                        verbose=False)  # fmt: skip
    assert gen.labels[0].dtype == np.float64 and gen.labels[1].shape == (0, 5)


def test_construction_errors(tmp_path):
    data = make_dataset(tmp_path, n=2)
    with pytest.raises(ValueError, match=r"one entry per image.*'labels': 1"):
        DataGenerator(filenames=data["filenames"], labels=data["labels"][:1], verbose=False)
    with pytest.raises(ValueError, match="filenames_type='csv'"):
        DataGenerator(filenames=data["filenames"], filenames_type="csv", verbose=False)
    with pytest.raises(ValueError, match=r"`labels\[0\]` must have shape \(k, 5\)"):
        DataGenerator(filenames=data["filenames"][:1], labels=[[[1, 2, 3]]], verbose=False)
    with pytest.raises(ValueError, match="labels_output_format="):
        DataGenerator(labels_output_format=("class_id", "x", "y", "w", "h"), verbose=False)
    with pytest.raises(ValueError, match="on_bad_image='ignore'"):
        DataGenerator(on_bad_image="ignore", verbose=False)
    with pytest.raises(FileNotFoundError, match=r"`labels` does not exist.*nope\.pkl"):
        DataGenerator(labels=str(tmp_path / "nope.pkl"), verbose=False)


def test_load_images_into_memory_and_bad_images(tmp_path):
    data = make_dataset(tmp_path, n=3)
    gen = make_generator(data, load_images_into_memory=True)
    assert len(gen.images) == 3
    image = gen.load_image(0)
    image[...] = 0  # the caller owns the returned copy
    np.testing.assert_array_equal(gen.load_image(0), data["pixels"][0])
    os.remove(data["filenames"][0])  # memory is preferred over disk
    np.testing.assert_array_equal(gen.load_image(0), data["pixels"][0])

    (tmp_path / "img1.png").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"img0\.png' does not exist\.$"):
        make_generator(data, load_images_into_memory=True)
    with pytest.warns(UserWarning) as record:
        gen = make_generator(data, load_images_into_memory=True, on_bad_image="warn")
    assert [str(w.message).split("/")[-1] for w in record] == [
        "img0.png' does not exist. The image is dropped from the data set.",
        "img1.png' could not be decoded (corrupt or unknown). The image is dropped from the "
        "data set.",
    ]
    assert gen.filenames == data["filenames"][2:] and gen.image_ids == ["id2"]
    assert len(gen.labels) == len(gen.eval_neutral) == len(gen.images) == gen.dataset_size == 1


# ---------------------------------------------------------------------------------------------
# Parsers on the generator
# ---------------------------------------------------------------------------------------------


def test_parse_xml_sets_the_dataset_and_ret(tmp_path):
    voc = make_voc(tmp_path)
    gen = DataGenerator(load_images_into_memory=True, verbose=False)
    images, filenames, labels, image_ids, eval_neutral = gen.parse_xml(
        [voc["images_dir"]], [voc["set_file"]], [voc["annotations_dir"]], ret=True, verbose=False
    )
    assert gen.get_dataset_size() == 4 and len(images) == 4
    assert image_ids == ["000001", "000002", "000003", "000004"]
    assert labels[2].shape == (0, 5) and eval_neutral[0].tolist() == [False, True]
    assert gen.classes == list(VOC_CLASSES)


def test_parse_xml_on_error_drops_items_everywhere(tmp_path):
    voc = make_voc(tmp_path)
    (tmp_path / "JPEGImages" / "000004.jpeg").write_bytes(b"\xff\xd8 broken")
    gen = DataGenerator(load_images_into_memory=True, verbose=False)
    with pytest.raises(DatasetError, match=r"000004\.jpeg"):
        gen.parse_xml(voc["images_dir"], voc["set_file"], voc["annotations_dir"], verbose=False)
    with pytest.warns(UserWarning, match=r"000004\.jpeg"):
        gen.parse_xml(voc["images_dir"], voc["set_file"], voc["annotations_dir"], verbose=False,
                      on_error="warn")  # fmt: skip
    assert gen.image_ids == ["000001", "000002", "000003"]
    assert len(gen.images) == len(gen.labels) == len(gen.eval_neutral) == 3


def test_parse_csv_and_parse_json_on_the_generator(tmp_path):
    write_image(tmp_path / "a.jpg")
    path = make_csv(tmp_path, ["a.jpg,1.5,9.5,2,8,1"])
    gen = DataGenerator(verbose=False)
    images, filenames, labels, image_ids = gen.parse_csv(
        str(tmp_path), path, ["image_name", "xmin", "xmax", "ymin", "ymax", "class_id"],
        ret=True, verbose=False,
    )  # fmt: skip
    assert images is None and image_ids == ["a"]
    assert_allclose(labels[0], [[1, 1.5, 2, 9.5, 8]])

    coco = make_coco(tmp_path / "coco")
    gen.parse_json([coco["images_dir"]], [coco["annotations"]], ground_truth_available=True,
                   verbose=False)  # fmt: skip
    assert gen.image_ids == [42, 7, 9] and gen.eval_neutral is None
    assert gen.cats_to_classes == {3: 1, 7: 2, 18: 3}
    assert gen.classes_to_cats == {1: 3, 2: 7, 3: 18}
    assert gen.cats_to_names[18] == "dog"
    assert gen.classes_to_names == ["background", "car", "bus", "dog"]
    assert_allclose(gen.labels[1], [[2, 3.0, 4.0, 9.5, 11.5]])


# ---------------------------------------------------------------------------------------------
# generate: outputs
# ---------------------------------------------------------------------------------------------


def test_default_yields_a_tuple_of_images_and_encoded_labels(tmp_path):
    data = make_dataset(tmp_path, n=4)
    gen = make_generator(data)
    encoder = small_encoder()
    batch = next(gen.generate(batch_size=4, shuffle=False, label_encoder=encoder))
    assert isinstance(batch, tuple) and len(batch) == 2  # model.fit unpacks (x, y)
    batch_X, batch_y = batch
    assert batch_X.shape == (4, H, W, 3) and batch_X.dtype == np.uint8
    np.testing.assert_array_equal(batch_X[1], data["pixels"][1])
    assert_allclose(batch_y, encoder(data["labels"]))


def test_every_returns_key_in_the_fixed_order(tmp_path):
    data = make_dataset(tmp_path, n=3)
    gen = make_generator(data)
    encoder = small_encoder()
    resize = Resize(20, 25)
    keys = list(reversed(RETURNS))  # the order asked for does not matter
    out = next(gen.generate(batch_size=3, shuffle=False, transformations=[resize],
                            label_encoder=encoder, returns=keys))  # fmt: skip
    assert len(out) == len(RETURNS)
    (images, encoded, matched, processed, filenames, image_ids, neutral, inverters,
     original_images, original_labels) = out  # fmt: skip
    assert images.shape == (3, 20, 25, 3)
    scaled = [x * [1, 0.5, 0.5, 0.5, 0.5] for x in data["labels"]]
    for got, want in zip(processed, scaled):
        assert_allclose(got, want)
    small = SSDInputEncoder(20, 25, 3, predictor_sizes=[(5, 6), (3, 3)],
                            aspect_ratios_global=(1.0,), two_boxes_for_ar1=False)  # fmt: skip
    assert encoded.shape == matched.shape == small(processed).shape
    assert_allclose(encoded, encoder(processed))
    want_encoded, want_matched = encoder(processed, diagnostics=True)
    assert_allclose(matched, want_matched)
    assert filenames == data["filenames"] and image_ids == data["image_ids"]
    assert [x.tolist() for x in neutral] == [x.tolist() for x in data["eval_neutral"]]
    assert len(inverters) == 3 and all(len(x) == 1 for x in inverters)
    pred = np.array([[1, 0.9, 2.0, 3.0, 10.0, 15.0]])
    assert_allclose(inverters[0][0](pred), [[1, 0.9, 4.0, 6.0, 20.0, 30.0]])
    for got, want in zip(original_images, data["pixels"]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(original_labels, data["labels"]):
        assert_allclose(got, want)


@pytest.mark.parametrize(
    "returns",
    [
        {"processed_labels", "image_ids"},
        ["image_ids", "processed_labels"],
        ("processed_images", "image_ids", "processed_labels"),
    ],
)
def test_returns_set_list_or_tuple_give_the_same_output(tmp_path, returns):
    data = make_dataset(tmp_path, n=2)
    out = next(make_generator(data).generate(batch_size=2, shuffle=False, returns=returns))
    assert len(out) == 3  # processed_images is always first
    assert out[0].shape == (2, H, W, 3)
    assert out[2] == ["id0", "id1"] and len(out[1]) == 2


def test_inverters_are_in_reverse_order_and_only_where_supported(tmp_path):
    data = make_dataset(tmp_path, n=1)
    recorder = Recorder()  # takes no return_inverter: called without it
    out = next(make_generator(data).generate(
        batch_size=1, shuffle=False, transformations=[Resize(20, 25), recorder, Resize(40, 100)],
        returns=("inverse_transform", "processed_labels"),
    ))  # fmt: skip
    processed, inverters = out[1], out[2]
    assert len(inverters[0]) == 2
    pred = np.array([[1, 0.9] + processed[0][0, 1:].tolist()])
    restored = pred
    for inverter in inverters[0]:  # last transform's inverter first
        restored = inverter(restored)
    assert_allclose(restored[0, 2:], data["labels"][0][0, 1:])
    assert len(recorder.calls) == 1


def test_impossible_returns_warn_and_are_none(tmp_path):
    data = make_dataset(tmp_path, n=2)
    gen = make_generator(data)
    with pytest.warns(UserWarning, match=r"\['encoded_labels', 'matched_anchors'\] cannot"):
        batches = gen.generate(batch_size=2, returns=("encoded_labels", "matched_anchors"))
    assert next(batches)[1:] == (None, None)

    def plain_encoder(labels):  # no `diagnostics`: no matched_anchors
        return np.zeros((len(labels), 1))

    with pytest.warns(UserWarning, match=r"\['matched_anchors'\] cannot"):
        batches = gen.generate(batch_size=2, label_encoder=plain_encoder,
                               returns=("encoded_labels", "matched_anchors"))  # fmt: skip
    _, encoded, matched = next(batches)
    assert encoded.shape == (2, 1) and matched is None


def test_dataset_without_labels(tmp_path):
    voc = make_voc(tmp_path)
    gen = DataGenerator(verbose=False)
    gen.parse_xml(voc["images_dir"], voc["set_file"], verbose=False)
    recorder = Recorder()
    with pytest.warns(UserWarning, match=r"\['processed_labels', 'evaluation-neutral'\]"):
        batches = gen.generate(
            batch_size=4, shuffle=False, transformations=[recorder],
            returns=("processed_labels", "filenames", "evaluation-neutral"),
        )  # fmt: skip
    images, labels, filenames, neutral = next(batches)
    assert images.shape == (4, 40, 50, 3) and labels is None and neutral is None
    assert len(filenames) == 4
    assert [labels for _, labels in recorder.calls] == [None] * 4  # called with the image only


def test_bad_generate_arguments(tmp_path):
    gen = make_generator(make_dataset(tmp_path, n=1))
    with pytest.raises(ValueError, match="batch_size=0"):
        gen.generate(batch_size=0)
    with pytest.raises(ValueError, match="batch_size=2.5"):
        gen.generate(batch_size=2.5)
    with pytest.raises(ValueError, match=r"Unknown `returns` keys \['labels'\]"):
        gen.generate(returns=("processed_images", "labels"))
    with pytest.raises(ValueError, match="degenerate_box_handling='drop'"):
        gen.generate(degenerate_box_handling="drop")
    with pytest.raises(ValueError, match="on_bad_image='retry'"):
        gen.generate(on_bad_image="retry")
    with pytest.raises(TypeError, match="transformations.*callable"):
        gen.generate(transformations=["resize"])
    with pytest.raises(ValueError, match="data set is empty"):
        DataGenerator(verbose=False).generate()


# ---------------------------------------------------------------------------------------------
# generate: batching, shuffling
# ---------------------------------------------------------------------------------------------


def _ids(batches, n_batches):
    return [next(batches)[1] for _ in range(n_batches)]


def test_no_shuffle_order_partial_last_batch_and_wrap(tmp_path):
    gen = make_generator(make_dataset(tmp_path, n=5))
    batches = gen.generate(batch_size=2, shuffle=False, returns=("image_ids",))
    assert _ids(batches, 4) == [["id0", "id1"], ["id2", "id3"], ["id4"], ["id0", "id1"]]


def test_shuffle_is_seeded_and_reshuffles_every_pass(tmp_path):
    data = make_dataset(tmp_path, n=6)
    gen = make_generator(data)
    labels_before = [x.copy() for x in gen.labels]

    def passes(seed):
        batches = gen.generate(batch_size=3, seed=seed, returns=("image_ids",))
        return [sum(_ids(batches, 2), []) for _ in range(4)]

    first, again = passes(1), passes(1)
    assert first == again  # deterministic
    assert all(sorted(p) == data["image_ids"] for p in first)  # each pass sees every item once
    assert len({tuple(p) for p in first}) > 1  # a new order after each pass
    assert passes(2) != first
    assert gen.filenames == data["filenames"] and gen.image_ids == data["image_ids"]
    for a, b in zip(gen.labels, labels_before):  # generate does not reorder the data set
        assert_allclose(a, b)


def test_mixed_image_sizes_raise_degenerate_batch_error(tmp_path):
    data = make_dataset(tmp_path, n=2, sizes=[(40, 50), (30, 20)])
    gen = make_generator(data)
    with pytest.raises(DegenerateBatchError, match=r"\(40, 50, 3\), \(30, 20, 3\).*Resize"):
        next(gen.generate(batch_size=2, shuffle=False, returns=("processed_labels",)))
    batch_X, _ = next(gen.generate(batch_size=2, shuffle=False, transformations=[Resize(8, 9)],
                                   returns=("processed_labels",)))  # fmt: skip
    assert batch_X.shape == (2, 8, 9, 3)


# ---------------------------------------------------------------------------------------------
# generate: the fixed bugs around removed items
# ---------------------------------------------------------------------------------------------


def test_images_without_gt_kept(tmp_path):
    # ssd_keras: IndexError in the degenerate-box check on an empty label list.
    data = make_dataset(tmp_path, n=3, empty=(1,))
    gen = make_generator(data)
    encoder = small_encoder()
    X, y, labels, ids = next(gen.generate(
        batch_size=3, shuffle=False, label_encoder=encoder, keep_images_without_gt=True,
        returns=("processed_images", "encoded_labels", "processed_labels", "image_ids"),
    ))  # fmt: skip
    assert X.shape[0] == 3 and ids == ["id0", "id1", "id2"]
    assert labels[1].shape == (0, 5)
    assert_allclose(y[1, :, 0], 1.0)  # all background


def test_images_without_gt_removed_consistently_without_transformations(tmp_path):
    # ssd_keras: IndexError (pop index out of range) with transformations=[].
    data = make_dataset(tmp_path, n=4, empty=(0, 2))
    gen = make_generator(data)
    X, labels, filenames, ids, neutral, inverters = next(gen.generate(
        batch_size=4, shuffle=False, transformations=(),
        returns=("processed_labels", "filenames", "image_ids", "evaluation-neutral",
                 "inverse_transform"),
    ))  # fmt: skip
    assert ids == ["id1", "id3"] and X.shape[0] == 2
    assert filenames == [data["filenames"][1], data["filenames"][3]]
    np.testing.assert_array_equal(X[1], data["pixels"][3])
    assert_allclose(labels[1], data["labels"][3])
    assert len(neutral) == len(inverters) == 2


def test_a_batch_emptied_by_removal_is_skipped_and_all_removed_is_an_error(tmp_path):
    data = make_dataset(tmp_path, n=4, empty=(0, 1))
    gen = make_generator(data)
    batches = gen.generate(batch_size=2, shuffle=False, returns=("image_ids",))
    assert _ids(batches, 2) == [["id2", "id3"], ["id2", "id3"]]
    empty = make_generator(make_dataset(tmp_path, n=2, empty=(0, 1)))
    with pytest.raises(DatasetError, match="whole pass over the data set produced no batch"):
        next(empty.generate(batch_size=1, returns=("processed_labels",)))


def test_transform_returning_none_removes_the_item_and_stops_its_chain(tmp_path):
    # ssd_keras passed the None image on to the next transform.
    data = make_dataset(tmp_path, n=3)
    recorder = Recorder()

    def fail_on_second(image, labels=None):
        if labels is not None and labels[0, 3] == 21:  # id1's first box
            return None, None
        return image, labels

    out = next(make_generator(data).generate(
        batch_size=3, shuffle=False, transformations=[fail_on_second, recorder],
        returns=("processed_labels", "image_ids", "filenames", "original_images"),
    ))  # fmt: skip
    # order: images, processed_labels, filenames, image_ids, original_images
    assert out[3] == ["id0", "id2"] and len(out[1]) == len(out[2]) == len(out[4]) == 2
    assert len(recorder.calls) == 2


def test_transform_labels_format_is_overwritten(tmp_path):
    data = make_dataset(tmp_path, n=1)
    fmt = ("xmin", "ymin", "xmax", "ymax", "class_id")
    gen = DataGenerator(filenames=data["filenames"], labels=[[[2, 3, 20, 30, 1]]],
                        labels_output_format=fmt, verbose=False)  # fmt: skip
    resize = Resize(20, 25)
    _, labels = next(gen.generate(batch_size=1, transformations=[resize],
                                  returns=("processed_labels",)))  # fmt: skip
    assert resize.labels_format == {"xmin": 0, "ymin": 1, "xmax": 2, "ymax": 3, "class_id": 4}
    assert_allclose(labels[0], [[1, 1.5, 10, 15, 1]])


def test_transform_with_a_wrong_return_value_is_reported(tmp_path):
    gen = make_generator(make_dataset(tmp_path, n=1))
    with pytest.raises(TypeError, match=r"must return \(image, labels\).*returned ndarray"):
        next(gen.generate(batch_size=1, transformations=[lambda image, labels=None: image],
                          returns=("processed_labels",)))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# generate: degenerate boxes and bad images
# ---------------------------------------------------------------------------------------------


def _degenerate_dataset(tmp_path):
    data = make_dataset(tmp_path, n=1)
    data["labels"] = [np.array([[1, 2, 3, 20, 30], [2, 10, 5, 10, 9], [3, 1, 1, np.nan, 4]])]
    data["eval_neutral"] = [np.zeros(3, bool)]
    return data


def test_degenerate_boxes_remove_warn_raise_ignore(tmp_path):
    data = _degenerate_dataset(tmp_path)
    gen = make_generator(data)

    def labels_with(handling):
        batches = gen.generate(batch_size=1, returns=("processed_labels",),
                               degenerate_box_handling=handling)  # fmt: skip
        return next(batches)[1][0]

    assert_allclose(labels_with("remove"), [[1, 2, 3, 20, 30]])
    with pytest.warns(UserWarning, match=r"img0\.png.*2 degenerate.*\[2\.0, 10\.0, 5\.0, 10\.0"):
        assert len(labels_with("warn")) == 3
    with pytest.raises(DatasetError, match=r"img0\.png.*\[2\.0, 10\.0, 5\.0, 10\.0, 9\.0\]"):
        labels_with("raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(labels_with("ignore")) == 3


@pytest.mark.parametrize("problem", ["truncated", "missing"])
def test_bad_images_raise_warn_or_skip(tmp_path, problem):
    data = make_dataset(tmp_path, n=3)
    bad = data["filenames"][1]
    if problem == "missing":
        os.remove(bad)
        message = r"img1\.png' does not exist"
    else:
        content = open(bad, "rb").read()
        with open(bad, "wb") as f:
            f.write(content[: len(content) // 2])
        message = r"img1\.png' is a truncated"
    gen = make_generator(data)
    returns = ("image_ids", "filenames")
    with pytest.raises(DatasetError, match=message):
        next(gen.generate(batch_size=3, shuffle=False, returns=returns))
    with pytest.warns(UserWarning, match=message + ".*removed from the batch"):
        X, names, ids = next(gen.generate(batch_size=3, shuffle=False, returns=returns,
                                          on_bad_image="warn"))  # fmt: skip
    assert ids == ["id0", "id2"] and X.shape[0] == 2 and bad not in names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = gen.generate(batch_size=3, shuffle=False, returns=returns, on_bad_image="skip")
        assert next(batches)[2] == ["id0", "id2"]
        assert next(batches)[2] == ["id0", "id2"]  # and it keeps going
