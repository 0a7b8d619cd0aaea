"""HDF5 data set files: real .h5 files written and read back with h5py 3."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.data.generator import DataGenerator
from keras_ssd.data.hdf5 import create_hdf5_dataset
from keras_ssd.data.hdf5 import load_hdf5_dataset
from keras_ssd.data.hdf5 import to_three_channels
from keras_ssd.data.image_io import DatasetError
from tests.data.test_parsers import make_coco
from tests.data.test_parsers import make_voc


def _images(rng, shapes):
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for shape in shapes]


def test_round_trip_preserves_everything(tmp_path, rng):
    images = _images(rng, [(4, 5, 3), (6, 3, 3), (2, 2, 3)])
    labels = [
        np.array([[1, 0.5, 1.25, 3.75, 3.5], [2, 0, 0, 1, 1]]),
        np.zeros((0, 5)),
        np.array([[3, 0.1, 0.2, 1.3, 1.4]]),
    ]
    neutral = [np.array([True, False]), np.zeros(0, bool), np.array([False])]
    path = tmp_path / "d.h5"
    create_hdf5_dataset(
        path, images.__getitem__, 3, labels=labels, image_ids=["a", "é", "000003"],
        eval_neutral=neutral, filenames=["/x/a.jpg", "/x/b.jpg", "/x/c.jpg"], verbose=False,
    )  # fmt: skip
    data = load_hdf5_dataset(path, load_images_into_memory=True, verbose=False)
    try:
        assert data["dataset_size"] == 3
        for got, want in zip(data["images"], images):
            np.testing.assert_array_equal(got, want)
        for got, want in zip(data["labels"], labels):
            assert got.dtype == np.float64 and got.shape == want.shape
            assert_allclose(got, want)  # floats survive (ssd_keras stored int32)
        assert data["image_ids"] == ["a", "é", "000003"]
        assert all(type(i) is str for i in data["image_ids"])  # not bytes
        assert [x.tolist() for x in data["eval_neutral"]] == [[True, False], [], [False]]
        assert data["filenames"] == ["/x/a.jpg", "/x/b.jpg", "/x/c.jpg"]
        assert data["hdf5_dataset"].mode == "r"
    finally:
        data["hdf5_dataset"].close()


def test_int_image_ids_come_back_as_ints_and_optional_parts(tmp_path, rng):
    images = _images(rng, [(3, 3, 3), (3, 3, 3)])
    create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 2, image_ids=[42, 7],
                        verbose=False)  # fmt: skip
    data = load_hdf5_dataset(tmp_path / "d.h5", verbose=False)
    data["hdf5_dataset"].close()
    assert data["image_ids"] == [42, 7]
    assert data["labels"] is None and data["eval_neutral"] is None
    assert data["filenames"] is None and data["images"] is None


def test_images_become_three_channels(tmp_path, rng):
    gray, rgba = _images(rng, [(4, 5), (4, 5, 4)])
    np.testing.assert_array_equal(to_three_channels(gray)[..., 2], gray)
    np.testing.assert_array_equal(to_three_channels(rgba), rgba[..., :3])
    np.testing.assert_array_equal(to_three_channels(gray[..., None])[..., 1], gray)
    images = [gray, rgba]
    create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 2, verbose=False)
    data = load_hdf5_dataset(tmp_path / "d.h5", load_images_into_memory=True, verbose=False)
    data["hdf5_dataset"].close()
    assert [x.shape for x in data["images"]] == [(4, 5, 3), (4, 5, 3)]


def test_resize_scales_the_boxes_too(tmp_path, rng):
    images = _images(rng, [(40, 50, 3)])
    labels = [np.array([[1, 10, 4, 20, 8]], dtype=float)]
    create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 1, labels=labels,
                        resize=(20, 100), verbose=False)  # fmt: skip
    data = load_hdf5_dataset(tmp_path / "d.h5", load_images_into_memory=True, verbose=False)
    data["hdf5_dataset"].close()
    assert data["images"][0].shape == (20, 100, 3)
    assert_allclose(data["labels"][0], [[1, 20, 2, 40, 4]])


def test_labels_are_reordered_to_the_reader_format(tmp_path, rng):
    images = _images(rng, [(3, 3, 3)])
    fmt = ("xmin", "ymin", "xmax", "ymax", "class_id")
    create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 1, labels=[[[0, 1, 2, 3, 9]]],
                        labels_output_format=fmt, verbose=False)  # fmt: skip
    data = load_hdf5_dataset(tmp_path / "d.h5", verbose=False)
    data["hdf5_dataset"].close()
    assert_allclose(data["labels"][0], [[9, 0, 1, 2, 3]])


def test_reads_a_file_in_the_ssd_keras_layout(tmp_path):
    # int32 labels, no filenames, no image_ids_type attribute: what ssd_keras wrote.
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.attrs.update(has_labels=True, has_image_ids=True, has_eval_neutral=False,
                       variable_image_size=True)  # fmt: skip
        images = f.create_dataset("images", shape=(1,), dtype=h5py.vlen_dtype(np.uint8))
        images[0] = np.arange(12, dtype=np.uint8)
        f.create_dataset("image_shapes", data=[[2, 2, 3]], dtype=np.int32)
        labels = f.create_dataset("labels", shape=(1,), dtype=h5py.vlen_dtype(np.int32))
        labels[0] = np.array([1, 2, 3, 4, 5], dtype=np.int32)
        f.create_dataset("label_shapes", data=[[1, 5]], dtype=np.int32)
        f.create_dataset("image_ids", data=["000001"], dtype=h5py.string_dtype())
    data = load_hdf5_dataset(path, load_images_into_memory=True, verbose=False)
    data["hdf5_dataset"].close()
    assert data["images"][0].shape == (2, 2, 3)
    assert_allclose(data["labels"][0], [[1, 2, 3, 4, 5]])
    assert data["image_ids"] == ["000001"] and data["filenames"] is None


def test_bad_files_and_arguments(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match=r"HDF5 dataset file.*missing\.h5"):
        load_hdf5_dataset(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match=r"junk\.h5' is not a readable HDF5 file"):
        load_hdf5_dataset(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(DatasetError, match=r"empty\.h5' has no 'images'"):
        load_hdf5_dataset(tmp_path / "empty.h5")
    images = _images(rng, [(3, 3, 3)])
    with pytest.raises(ValueError, match=r"resize=\(0, 5\)"):
        create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 1, resize=(0, 5))
    with pytest.raises(ValueError, match="`labels` must have one entry per image"):
        create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 1, labels=[])


# ---------------------------------------------------------------------------------------------
# Through DataGenerator
# ---------------------------------------------------------------------------------------------


def test_generator_create_and_load_hdf5_round_trip(tmp_path):
    voc = make_voc(tmp_path)
    gen = DataGenerator(verbose=False)
    gen.parse_xml(voc["images_dir"], voc["set_file"], voc["annotations_dir"], verbose=False)
    labels, neutral = gen.labels, gen.eval_neutral
    images = [gen.load_image(i) for i in range(4)]
    path = tmp_path / "voc.h5"
    gen.create_hdf5_dataset(path, verbose=False)
    assert gen.hdf5_dataset is not None and gen.hdf5_dataset.mode == "r"
    np.testing.assert_array_equal(gen.load_image(1), images[1])  # PNG: exact

    for in_memory in (False, True):
        other = DataGenerator(load_images_into_memory=in_memory, hdf5_dataset_path=path,
                              verbose=False)  # fmt: skip
        assert other.get_dataset_size() == 4
        assert other.image_ids == ["000001", "000002", "000003", "000004"]
        assert other.filenames == gen.filenames  # stored in the file
        for got, want in zip(other.labels, labels):
            assert_allclose(got, want)
        assert [x.tolist() for x in other.eval_neutral] == [x.tolist() for x in neutral]
        np.testing.assert_array_equal(other.load_image(1), images[1])
        assert (other.images is not None) == in_memory
        batch_X, batch_ids = next(other.generate(batch_size=4, shuffle=False,
                                                 returns=("processed_images", "image_ids"),
                                                 keep_images_without_gt=True))  # fmt: skip
        assert batch_X.shape == (4, 40, 50, 3) and batch_ids == other.image_ids
        other.hdf5_dataset.close()
    gen.hdf5_dataset.close()


def test_generator_hdf5_resize_keeps_labels_consistent(tmp_path):
    coco = make_coco(tmp_path)
    gen = DataGenerator(verbose=False)
    gen.parse_json(coco["images_dir"], coco["annotations"], ground_truth_available=True,
                   verbose=False)  # fmt: skip
    gen.create_hdf5_dataset(tmp_path / "c.h5", resize=(20, 25), verbose=False)
    assert gen.load_image(0).shape == (20, 25, 3)
    assert_allclose(gen.labels[0], [[3, 0.75, 1.125, 6.0, 11.125], [1, 0, 0, 2.5, 2.5]])
    assert gen.image_ids == [42, 7, 9]
    gen.hdf5_dataset.close()


def test_generator_hdf5_without_filenames_can_remove_items(tmp_path, rng):
    # ssd_keras crashed on batch_filenames.pop when the HDF5 file had no file names.
    images = _images(rng, [(3, 3, 3)] * 3)
    labels = [np.array([[1, 0, 0, 2, 2]]), np.zeros((0, 5)), np.array([[2, 1, 1, 2, 2]])]
    create_hdf5_dataset(tmp_path / "d.h5", images.__getitem__, 3, labels=labels, verbose=False)
    gen = DataGenerator(hdf5_dataset_path=tmp_path / "d.h5", verbose=False)
    assert gen.filenames is None
    with pytest.warns(UserWarning, match=r"\['filenames'\] cannot be produced"):
        batches = gen.generate(batch_size=3, shuffle=False,
                               returns=("processed_images", "processed_labels", "filenames"))
    batch_X, batch_y, batch_filenames = next(batches)
    assert batch_X.shape == (2, 3, 3, 3) and batch_filenames is None
    assert [y[:, 0].tolist() for y in batch_y] == [[1.0], [2.0]]
    gen.hdf5_dataset.close()
