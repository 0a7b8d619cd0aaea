"""The tf.data pipeline: output, equivalence with generate(), determinism, drops, training."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_allclose
from numpy.testing import assert_array_equal

from keras_ssd.data.generator import DataGenerator
from keras_ssd.data.pipeline import build_dataset
from keras_ssd.data.pipeline import steps_per_epoch
from keras_ssd.data.synthetic import generate_shapes_dataset
from keras_ssd.data.transforms.geometric import RandomFlip
from keras_ssd.data.transforms.geometric import RandomTranslate
from keras_ssd.data.transforms.geometric import Resize
from keras_ssd.data.transforms.photometric import RandomBrightness
from keras_ssd.encoding.input_encoder import SSDInputEncoder

SIZE = 64
N_TRAIN = 24
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return generate_shapes_dataset(
        root, n_train=N_TRAIN, n_val=4, image_size=(SIZE, SIZE), seed=5, empty_fraction=0.25
    )


def parse(root, classes):
    """The 'train' split of the VOC tree at `root`, parsed by the real parser."""
    generator = DataGenerator(verbose=False)
    generator.parse_xml(
        root / "JPEGImages",
        root / "ImageSets" / "Main" / "train.txt",
        root / "Annotations",
        classes=classes,
        verbose=False,
    )
    return generator


@pytest.fixture(scope="module")
def generator(shapes):
    return parse(shapes.root, shapes.classes)


@pytest.fixture(scope="module")
def encoder():
    return SSDInputEncoder(
        SIZE, SIZE, 5, predictor_sizes=[(8, 8), (4, 4)], variances=(1.0, 1.0, 1.0, 1.0),
        normalize_coords=False,
    )  # fmt: skip


def augmentation():
    return [
        RandomFlip(prob=0.5),
        RandomTranslate(dy_minmax=(0.05, 0.2), dx_minmax=(0.05, 0.2), prob=0.5),
        RandomBrightness(-40, 40, prob=0.8),
    ]


def one_pass(dataset):
    """All batches of a finite dataset, concatenated: (images, y) NumPy arrays."""
    images, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(images), np.concatenate(ys)


def first_batches(dataset, n):
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(n)]


def with_gt(generator):
    return [i for i, labels in enumerate(generator.labels) if len(labels)]


def image_index(generator):
    """Pixel sum -> data set index, to recognise untransformed images in batches."""
    sums = {float(generator.load_image(i).astype(np.float64).sum()): i for i in range(N_TRAIN)}
    assert len(sums) == N_TRAIN
    return sums


# --------------------------------------------------------------------------------------------
# Output


def test_batches_have_the_encoder_shapes_and_dtypes(generator, encoder):
    dataset = build_dataset(generator, 5, label_encoder=encoder, seed=0)
    assert dataset.element_spec[0].shape.as_list() == [None, SIZE, SIZE, 3]
    assert dataset.element_spec[1].shape.as_list() == [None, encoder.n_boxes, 5 + 1 + 12]
    for images, y_true in dataset.take(7):  # past the end of the first epoch
        assert images.dtype == tf.float32 and y_true.dtype == tf.float32
        assert images.shape == (5, SIZE, SIZE, 3)
        assert y_true.shape == (5, encoder.n_boxes, 18)
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0


@pytest.mark.parametrize("workers", [0, 2])
def test_without_augmentation_it_equals_generate(generator, encoder, workers):
    """Same images, same y_true as generate() followed by the encoder, item by item."""
    images, y_true = one_pass(
        build_dataset(
            generator, 4, label_encoder=encoder, shuffle=False, repeat=False, workers=workers
        )
    )
    batch = next(
        generator.generate(
            batch_size=N_TRAIN, shuffle=False, returns=("processed_images", "processed_labels")
        )
    )
    reference_images, reference_labels = batch
    assert len(images) == len(reference_images) == len(with_gt(generator)) < N_TRAIN
    assert_array_equal(images, reference_images.astype(np.float32))
    assert_allclose(y_true, encoder(reference_labels), rtol=1e-6, atol=1e-6)
    assert np.any(y_true[..., 1:6] == 1.0)  # objects really were matched


def test_labels_without_encoder_are_ragged(generator):
    images, labels = next(iter(build_dataset(generator, 6, shuffle=False, repeat=False)))
    assert isinstance(labels, tf.RaggedTensor)
    assert labels.shape.as_list() == [6, None, 5]
    for row, index in zip(labels, with_gt(generator)[:6]):
        assert_allclose(row.numpy(), generator.labels[index])
    assert_array_equal(images[0].numpy(), generator.load_image(with_gt(generator)[0]))


def test_epochs_visit_every_item_once_in_new_orders(generator):
    lookup = image_index(generator)
    n = len(with_gt(generator))
    dataset = build_dataset(generator, n, seed=3)  # one batch per epoch
    orders = [[lookup[float(x.sum())] for x in images] for images, _ in first_batches(dataset, 3)]
    for order in orders:
        assert sorted(order) == with_gt(generator)
    assert orders[0] != orders[1] != orders[2]
    unshuffled = build_dataset(generator, n, shuffle=False)
    orders = [
        [lookup[float(x.sum())] for x in images] for images, _ in first_batches(unshuffled, 2)
    ]
    assert orders == [with_gt(generator)] * 2
    assert steps_per_epoch(generator, 5) == -(-n // 5)
    assert steps_per_epoch(generator, 5, keep_images_without_gt=True) == -(-N_TRAIN // 5)


# --------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_same_batches_whatever_the_threads(generator, encoder):
    def batches(seed, threads):
        dataset = build_dataset(
            generator, 8, augmentation(), encoder, seed=seed, num_parallel_calls=threads
        )
        return first_batches(dataset, 5)  # crosses two epoch boundaries

    reference = batches(11, 1)
    for (x, y), (x_ref, y_ref) in zip(batches(11, 4), reference):
        assert_array_equal(x, x_ref)
        assert_array_equal(y, y_ref)
    other = batches(12, 4)
    assert not np.array_equal(other[0][0], reference[0][0])
    assert not np.array_equal(other[0][1], reference[0][1])


def test_worker_processes_give_the_same_batches_as_threads(generator, encoder):
    def batches(workers):
        dataset = build_dataset(generator, 8, augmentation(), encoder, seed=4, workers=workers)
        return first_batches(dataset, 4)

    for (x, y), (x_ref, y_ref) in zip(batches(2), batches(0)):
        assert_array_equal(x, x_ref)
        assert_array_equal(y, y_ref)


def test_float_images_keep_their_values(generator):
    def halve(image, labels):
        return image.astype(np.float32) / 2, labels

    for workers in (0, 2):
        images, _ = next(iter(build_dataset(generator, 3, [halve], shuffle=False,
                                            workers=workers)))  # fmt: skip
        first = generator.load_image(with_gt(generator)[0]).astype(np.float32) / 2
        assert_array_equal(images[0].numpy(), first)
        assert np.any(images.numpy() % 1 == 0.5)


def test_augmentation_changes_items_between_epochs(generator, encoder):
    """The same image gets different random transformations in different epochs."""
    chain = [RandomBrightness(-60, 60, prob=1.0)]
    n = len(with_gt(generator))
    dataset = build_dataset(generator, n, chain, shuffle=False, seed=0)
    (first, _), (second, _) = first_batches(dataset, 2)
    assert not np.array_equal(first, second)
    originals = np.stack([generator.load_image(i) for i in with_gt(generator)]).astype(np.float32)
    assert not np.array_equal(first, originals)


# --------------------------------------------------------------------------------------------
# Dropping items


class DropCircles:
    """Not random: returns None for images whose first box is a circle (class 1)."""

    labels_format = {"class_id": 0, "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}

    def __call__(self, image, labels=None):
        if labels is not None and len(labels) and labels[0, 0] == 1:
            return None, None
        return image, labels


class BreakFirstBox:
    """Makes the first box degenerate (xmax = xmin)."""

    def __call__(self, image, labels=None):
        labels = labels.copy()
        if len(labels):
            labels[0, 3] = labels[0, 1]
        return image, labels


def test_images_without_gt_are_kept_on_request(generator):
    _, labels = next(iter(build_dataset(generator, N_TRAIN, keep_images_without_gt=True,
                                        shuffle=False, repeat=False)))  # fmt: skip
    assert labels.shape[0] == N_TRAIN
    assert_array_equal(labels.row_lengths().numpy(), [len(x) for x in generator.labels])


def test_items_dropped_by_a_transformation_leave_full_batches(generator):
    kept = [i for i in with_gt(generator) if generator.labels[i][0, 0] != 1]
    assert 3 <= len(kept) < len(with_gt(generator))
    dataset = build_dataset(generator, 3, [DropCircles()], shuffle=False, repeat=False)
    batches = [labels for _, labels in dataset]
    assert [b.shape[0] for b in batches[:-1]] == [3] * (len(batches) - 1)
    rows = [row.numpy() for b in batches for row in b]
    assert len(rows) == len(kept)
    for row, index in zip(rows, kept):
        assert_allclose(row, generator.labels[index])


def test_degenerate_boxes_removed_or_raised(generator, shapes):
    index = with_gt(generator)[0]
    dataset = build_dataset(generator, 1, [BreakFirstBox()], shuffle=False, repeat=False)
    _, labels = next(iter(dataset))
    assert_allclose(labels[0].numpy(), generator.labels[index][1:])

    raising = build_dataset(generator, 1, [BreakFirstBox()], degenerate_box_handling="raise",
                            shuffle=False, repeat=False)  # fmt: skip
    with pytest.raises(tf.errors.OpError, match="train_.*jpg.*degenerate"):
        next(iter(raising))

    ignoring = build_dataset(generator, 1, [BreakFirstBox()], degenerate_box_handling="ignore",
                             shuffle=False, repeat=False)  # fmt: skip
    _, labels = next(iter(ignoring))
    assert labels[0].shape[0] == len(generator.labels[index])


def test_bad_images_raise_naming_the_file_or_are_skipped(shapes, tmp_path):
    copy = tmp_path / "shapes"
    shutil.copytree(shapes.root, copy)
    generator = parse(copy, shapes.classes)
    bad = with_gt(generator)[2]
    Path(generator.filenames[bad]).write_bytes(b"not a jpeg")
    name = Path(generator.filenames[bad]).name

    for workers in (0, 2):
        raising = build_dataset(generator, 2, shuffle=False, repeat=False, workers=workers)
        with pytest.raises(tf.errors.OpError, match=f"DatasetError.*{name}"):
            list(raising)

    skipping = build_dataset(generator, 2, shuffle=False, repeat=False, on_bad_image="skip")
    n_items = sum(int(labels.shape[0]) for _, labels in skipping)
    assert n_items == len(with_gt(generator)) - 1


# --------------------------------------------------------------------------------------------
# Image sizes


def test_mixed_image_sizes_need_a_resize(shapes, tmp_path):
    small = generate_shapes_dataset(tmp_path, n_train=3, n_val=1, image_size=(48, 40), seed=1,
                                    empty_fraction=0.0)  # fmt: skip
    big = parse(shapes.root, shapes.classes)
    small_files = [str(small.images_dir / f"train_{i:06d}.jpg") for i in range(3)]
    generator = DataGenerator(
        filenames=[big.filenames[i] for i in with_gt(big)[:3]] + small_files,
        labels=[big.labels[i] for i in with_gt(big)[:3]] + [np.array([[1, 2, 3, 20, 30.0]])] * 3,
        verbose=False,
    )
    for workers in (0, 2):
        dataset = build_dataset(generator, 6, shuffle=False, repeat=False, workers=workers)
        with pytest.raises(tf.errors.OpError, match=r"train_000000.jpg' has shape \(48, 40, 3\)"):
            list(dataset)
    resized = build_dataset(generator, 6, [Resize(32, 32)], shuffle=False, repeat=False)
    images, labels = next(iter(resized))
    assert images.shape == (6, 32, 32, 3)
    assert_allclose(labels[5].numpy(), [[1, 2 * 32 / 40, 3 * 32 / 48, 20 * 32 / 40, 30 * 32 / 48]])


def test_encoder_size_must_match_the_images(generator):
    encoder = SSDInputEncoder(32, 32, 5, predictor_sizes=[(4, 4)])
    with pytest.raises(
        ValueError, match=r"images of size \(height, width\) = \(64, 64\).*\(32, 32\)"
    ):
        build_dataset(generator, 2, label_encoder=encoder)
    dataset = build_dataset(generator, 2, [Resize(32, 32)], encoder, seed=0)
    assert next(iter(dataset))[1].shape == (2, encoder.n_boxes, 18)


# --------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, r"`batch_size` must be a positive integer. Received: "),
        ({"seed": -1}, ValueError, r"`seed` must be None or an integer in \[0, 2\*\*63\)"),
        ({"seed": 1.5}, ValueError, r"Received: seed=1.5"),
        ({"num_parallel_calls": 0}, ValueError, r"`num_parallel_calls` must be tf.data.AUTOTUNE"),
        ({"degenerate_box_handling": "fix"}, ValueError, r"`degenerate_box_handling` .*'fix'"),
        ({"on_bad_image": "ignore"}, ValueError, r"`on_bad_image` must be one of .*'ignore'"),
        ({"workers": -1}, ValueError, r"`workers` must be a non-negative integer. Received: "),
        ({"workers": True}, ValueError, r"Received: workers=True"),
        ({"transformations": [3]}, TypeError, r"must be callable. Received: 3"),
        ({"label_encoder": "ssd"}, TypeError, r"`label_encoder` must be callable. Received: 'ssd'"),
    ],
)  # fmt: skip
def test_bad_arguments(generator, kwargs, error, match):
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(error, match=match):
        build_dataset(generator, **kwargs)


def test_data_sets_that_cannot_train(shapes):
    unlabelled = DataGenerator(filenames=[str(shapes.images_dir / "train_000000.jpg")],
                               verbose=False)  # fmt: skip
    with pytest.raises(ValueError, match="needs a data set with labels"):
        build_dataset(unlabelled, 2)
    empty = DataGenerator(filenames=[str(shapes.images_dir / "train_000000.jpg")],
                          labels=[np.zeros((0, 5))], verbose=False)  # fmt: skip
    with pytest.raises(ValueError, match="No image of the data set has ground-truth boxes"):
        build_dataset(empty, 2)
    assert next(iter(build_dataset(empty, 2, keep_images_without_gt=True)))[0].shape[0] == 2


def test_all_items_dropped_is_reported(generator):
    with pytest.raises(ValueError, match="were all dropped"):
        build_dataset(generator, 2, [lambda image, labels: (None, None)])


# --------------------------------------------------------------------------------------------
# Training


def test_model_fit_trains_on_it(generator):
    import keras

    from keras_ssd.losses.ssd_loss import SSDLoss
    from keras_ssd.models.ssd7 import ssd_7

    keras.utils.set_random_seed(0)
    model, predictor_sizes = ssd_7((SIZE, SIZE, 3), 5, return_predictor_sizes=True)
    encoder = SSDInputEncoder(SIZE, SIZE, 5, predictor_sizes=predictor_sizes,
                              variances=(1.0, 1.0, 1.0, 1.0), normalize_coords=False)  # fmt: skip
    dataset = build_dataset(generator, 4, augmentation(), encoder, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SSDLoss().compute_loss)
    history = model.fit(dataset, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


DISTRIBUTED_SCRIPT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)
import keras
from keras_ssd.data.generator import DataGenerator
from keras_ssd.data.pipeline import build_dataset
from keras_ssd.encoding.input_encoder import SSDInputEncoder

root, classes = sys.argv[1], sys.argv[2].split(",")
generator = DataGenerator(verbose=False)
generator.parse_xml(root + "/JPEGImages", root + "/ImageSets/Main/train.txt",
                    root + "/Annotations", classes=classes, verbose=False)
# One predictor layer of 8x8 cells with 4 anchors each: y_true is (B, 256, 18).
encoder = SSDInputEncoder(64, 64, 5, predictor_sizes=[(8, 8)], scales=[0.3, 0.5])
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
with strategy.scope():  # a tiny stand-in for an SSD: the pipeline is what is tested
    model = keras.Sequential([
        keras.Input((64, 64, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4 * 18, 8, strides=8),
        keras.layers.Reshape((256, 18)),
    ])
    model.compile(optimizer="sgd", loss="mse")
dataset = build_dataset(generator, 4, label_encoder=encoder, seed=0)
history = model.fit(dataset, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0)
assert np.isfinite(history.history["loss"][0])

# One input pipeline per worker: per-replica batches from distribute_datasets_from_function.
distributed = strategy.distribute_datasets_from_function(
    lambda context: build_dataset(generator, 4, label_encoder=encoder, seed=0,
                                  input_context=context))
images, y_true = next(iter(distributed))
shapes = [tuple(x.shape) for x in strategy.experimental_local_results(images)]
assert shapes == [(2, 64, 64, 3), (2, 64, 64, 3)], shapes
print("DISTRIBUTED OK", history.history["loss"][0])
"""


def test_model_fit_under_mirrored_strategy(shapes, tmp_path):
    script = tmp_path / "distributed.py"
    script.write_text(textwrap.dedent(DISTRIBUTED_SCRIPT))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, str(script), str(shapes.root), ",".join(shapes.classes)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DISTRIBUTED OK" in result.stdout


EXIT_SCRIPT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from keras_ssd.data.generator import DataGenerator
from keras_ssd.data.pipeline import build_dataset

root, classes = sys.argv[1], sys.argv[2].split(",")
generator = DataGenerator(verbose=False)
generator.parse_xml(root + "/JPEGImages", root + "/ImageSets/Main/train.txt",
                    root + "/Annotations", classes=classes, verbose=False)
iterator = iter(build_dataset(generator, 2, seed=0, workers=2))
next(iterator)
print("EXITING")  # with the iterator alive and busy: the interpreter must still exit
"""


def test_exit_with_a_busy_iterator_does_not_hang(shapes, tmp_path):
    script = tmp_path / "exit.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, str(script), str(shapes.root), ",".join(shapes.classes)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "EXITING" in result.stdout


def test_data_generator_as_dataset_is_build_dataset(tmp_path):
    from keras_ssd.data.generator import DataGenerator
    from keras_ssd.data.pipeline import build_dataset
    from keras_ssd.data.synthetic import generate_shapes_dataset
    from keras_ssd.data.transforms import Resize

    shapes = generate_shapes_dataset(tmp_path / "s", n_train=6, n_val=1, image_size=(48, 48))
    data = DataGenerator(verbose=False)
    data.parse_xml([shapes.images_dir], [shapes.image_set_files["train"]],
                   [shapes.annotations_dir], classes=list(shapes.classes), verbose=False)
    kwargs = dict(transformations=[Resize(32, 32)], seed=4, repeat=False)
    via_method = [x.numpy() for x, _ in data.as_dataset(3, **kwargs)]
    via_function = [x.numpy() for x, _ in build_dataset(data, 3, **kwargs)]
    assert len(via_method) == len(via_function) > 0
    for a, b in zip(via_method, via_function):
        np.testing.assert_array_equal(a, b)
