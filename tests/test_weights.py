"""Legacy weight files (Keras-2 HDF5 layout), the loading report, and weight sampling.

The weight files are written here with h5py in the layout ssd_keras published
(root attribute `layer_names`; per layer a group with attribute `weight_names`
and datasets `<layer>/<layer>/kernel:0`), filled with random values, so every
check can tell where each value went.
"""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from keras_ssd.layers import L2Normalization
from keras_ssd.models import ssd_7
from keras_ssd.models import ssd_300
from keras_ssd.weights import load_weights
from keras_ssd.weights import read_legacy_weights
from keras_ssd.weights import sample_tensors
from keras_ssd.weights import subsample_classifier_weights

VOC_SCALES = [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05]
SSD300_SOURCES = ["conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2"]
SSD300_CONF = [f"{s}_mbox_conf" for s in SSD300_SOURCES]
BASE = [
    "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
    "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7",
]  # fmt: skip
# The tutorial's 8 classes from COCO, background first (car, truck, person, bicycle, ...).
TUTORIAL_INDICES = [0, 3, 8, 1, 2, 10, 4, 6, 12]


# ----------------------------------------------------------------------------------------------
# Writing Keras-2 files, independently of keras_ssd.weights


def keras2_weight_names(layer):
    """The names Keras 2 gave a layer's weights (L2Normalization's was `<layer>_gamma`)."""
    if isinstance(layer, L2Normalization):
        return [f"{layer.name}/{layer.name}_gamma:0"]
    variables = layer.trainable_weights + layer.non_trainable_weights
    return [f"{layer.name}/{v.path.split('/')[-1]}:0" for v in variables]


def random_layers(model, rng, n_classes=None):
    """`[(layer_name, [(weight_name, array)])]` for every layer, in model order.

    With `n_classes`, the `*_mbox_conf` layers get the shapes of a model with that
    many classes (background included) instead of the model's own.
    """
    entries = []
    for layer in model.layers:
        weights = []
        variables = layer.trainable_weights + layer.non_trainable_weights
        for name, variable in zip(keras2_weight_names(layer), variables):
            shape = tuple(variable.shape)
            if n_classes and layer.name.endswith("_mbox_conf"):
                n_boxes = shape[-1] // (model.output_shape[-1] - 12)
                shape = (*shape[:-1], n_boxes * n_classes)
            weights.append((name, rng.standard_normal(shape).astype("float32")))
        entries.append((layer.name, weights))
    return entries


def write_keras2_file(path, entries, full_model=False):
    with h5py.File(path, "w") as f:
        root = f
        if full_model:
            f.attrs["keras_version"] = b"2.1.5"
            f.attrs["backend"] = b"tensorflow"
            f.attrs["model_config"] = b'{"class_name": "Model", "config": {}}'
            root = f.create_group("model_weights")
        root.attrs["layer_names"] = np.array([name.encode() for name, _ in entries])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.1.5"
        for name, weights in entries:
            group = root.create_group(name)
            group.attrs["weight_names"] = np.array([w.encode() for w, _ in weights], dtype="S")
            for weight_name, value in weights:
                group.create_dataset(weight_name, data=value)
    return path


def fill(model, value=-1.0):
    """Set every weight to `value`, so a check can see which ones a load changed."""
    for variable in model.weights:
        variable.assign(np.full(variable.shape, value, dtype="float32"))


def assert_layer_equals(model, name, weights):
    layer = model.get_layer(name)
    variables = layer.trainable_weights + layer.non_trainable_weights
    assert len(variables) == len(weights)
    for variable, (_, value) in zip(variables, weights):
        assert_array_equal(keras.ops.convert_to_numpy(variable), value, err_msg=name)


def assert_untouched(model, name, value=-1.0):
    for variable in model.get_layer(name).weights:
        assert (keras.ops.convert_to_numpy(variable) == value).all(), name


# ----------------------------------------------------------------------------------------------
# Fixtures: one SSD300 (VOC, 20 classes) and its weight files


@pytest.fixture(scope="module")
def model300():
    return ssd_300((300, 300, 3), 20, scales=VOC_SCALES)


@pytest.fixture(scope="module")
def voc_entries(model300):
    return random_layers(model300, np.random.default_rng(1))


@pytest.fixture(scope="module")
def voc_file(voc_entries, tmp_path_factory):
    return write_keras2_file(
        tmp_path_factory.mktemp("w") / "VGG_VOC0712_SSD_300x300.h5", voc_entries
    )


@pytest.fixture(scope="module")
def coco_entries(model300):
    return random_layers(model300, np.random.default_rng(2), n_classes=81)


@pytest.fixture(scope="module")
def coco_file(coco_entries, tmp_path_factory):
    return write_keras2_file(tmp_path_factory.mktemp("w") / "VGG_coco_SSD_300x300.h5", coco_entries)


# ----------------------------------------------------------------------------------------------
# Loading


def test_keras_load_weights_by_name(model300, voc_file, voc_entries):
    """`model.load_weights(path, by_name=True)` puts every published weight in place."""
    fill(model300)
    model300.load_weights(voc_file, by_name=True)
    for name, weights in voc_entries:
        if weights:
            assert_layer_equals(model300, name, weights)


def test_report_loader_full_file(model300, voc_file, voc_entries):
    fill(model300)
    report = load_weights(model300, voc_file, verbose=False)
    with_weights = [name for name, weights in voc_entries if weights]
    assert len(with_weights) == 36
    assert sorted(report.loaded) == sorted(with_weights)
    assert report.complete
    for name, weights in voc_entries:
        if weights:
            assert_layer_equals(model300, name, weights)
    # Weight names are not used: L2Normalization's Keras-2 name differs from Keras 3's.
    assert "conv4_3_norm" in report.loaded


def test_vgg16_fc_reduced_base_file(model300, voc_entries, tmp_path, capsys):
    """The base-network file fills conv1_1..fc7 and nothing else, and says so."""
    entries = [(n, w) for n, w in voc_entries if n in BASE or n in ("input_1", "pool1")]
    rng = np.random.default_rng(3)
    fc8 = [("fc8/kernel:0", rng.standard_normal((1, 1, 1024, 1000)).astype("float32"))]
    path = write_keras2_file(
        tmp_path / "VGG_ILSVRC_16_layers_fc_reduced.h5", [*entries, ("fc8", fc8)]
    )
    fill(model300)
    report = load_weights(model300, path)
    printed = capsys.readouterr().out
    assert sorted(report.loaded) == sorted(BASE)
    assert report.missing_in_model == ["fc8"]
    assert len(report.missing_in_file) == 36 - 15
    assert "conv4_3_norm" in report.missing_in_file and "conv9_2_mbox_loc" in report.missing_in_file
    assert not report.complete
    for name, weights in entries:
        if weights:
            assert_layer_equals(model300, name, weights)
    for name in ("conv6_1", "conv9_2", "conv4_3_norm", "fc7_mbox_conf"):
        assert_untouched(model300, name)
    assert "Loaded the weights of 15 layers" in printed
    assert "21 model layers are not in the file" in printed and "fc8" in printed

    # Keras' own by-name loader does the same with this file.
    fill(model300)
    model300.load_weights(path, by_name=True)
    assert_layer_equals(model300, "fc6", dict(entries)["fc6"])
    assert_untouched(model300, "conv6_1")


def test_other_class_count_mismatch_raises_and_loads_nothing(model300, coco_file):
    fill(model300)
    with pytest.raises(ValueError, match="6 layers.*conv4_3_norm_mbox_conf.*skip_mismatch=True"):
        load_weights(model300, coco_file, verbose=False)
    for name in ("conv1_1", "fc7_mbox_loc", "conv4_3_norm"):
        assert_untouched(model300, name)  # never a half-loaded model
    # Keras' own loader refuses too.
    with pytest.raises(ValueError, match="[Ss]hape mismatch"):
        model300.load_weights(coco_file, by_name=True)


def test_other_class_count_skip_mismatch(model300, coco_file, coco_entries):
    fill(model300)
    report = load_weights(model300, coco_file, skip_mismatch=True, verbose=False)
    assert sorted(report.skipped) == sorted(SSD300_CONF)
    assert (
        "(3, 3, 512, 324) in the file, (3, 3, 512, 84) in the model"
        in (report.skipped["conv4_3_norm_mbox_conf"])
    )
    assert len(report.loaded) == 30 and not report.missing_in_file
    entries = dict(coco_entries)
    assert_layer_equals(model300, "conv4_3_norm_mbox_loc", entries["conv4_3_norm_mbox_loc"])
    for name in SSD300_CONF:
        assert_untouched(model300, name)
    assert "Skipped 6 layers" in str(report)
    # Keras' loader with skip_mismatch=True leaves the conf heads and loads the rest.
    fill(model300)
    with pytest.warns(UserWarning):
        model300.load_weights(coco_file, by_name=True, skip_mismatch=True)
    assert_layer_equals(model300, "conv9_2_mbox_loc", entries["conv9_2_mbox_loc"])
    assert_untouched(model300, "fc7_mbox_conf")


def test_subsampled_coco_file_loads_into_voc_model(model300, coco_file, coco_entries, tmp_path):
    """The weight-sampling workflow: 81-class file -> 21-class file -> 20-class model."""
    indices = [0, *range(60, 80)]  # background plus 20 COCO classes, in a chosen order
    dest = tmp_path / "VGG_coco_SSD_300x300_subsampled_20_classes.h5"
    mapping = subsample_classifier_weights(coco_file, dest, indices, n_classes_source=81)
    assert mapping == indices
    fill(model300)
    report = load_weights(model300, dest, verbose=False)
    assert report.complete and len(report.loaded) == 36
    entries = dict(coco_entries)
    for name in SSD300_CONF:
        (_, kernel), (_, bias) = entries[name]
        n_boxes = kernel.shape[-1] // 81
        channels = [b * 81 + i for b in range(n_boxes) for i in indices]
        assert_layer_equals(model300, name, [("k", kernel[..., channels]), ("b", bias[channels])])
    assert_layer_equals(model300, "conv6_2_mbox_loc", entries["conv6_2_mbox_loc"])


def test_full_model_h5_and_batch_norm_order(tmp_path):
    """Keras-2 full-model files (`model_weights` group) load; BN weights keep their order."""
    model = ssd_7((64, 64, 3), 2)
    entries = random_layers(model, np.random.default_rng(4))
    path = write_keras2_file(tmp_path / "ssd7_epoch-10.h5", entries, full_model=True)
    report = load_weights(model, path, verbose=False)
    assert report.complete and len(report.loaded) == 7 + 7 + 8
    bn = model.get_layer("bn2")
    values = dict(entries)["bn2"]
    assert [n for n, _ in values] == [
        "bn2/gamma:0", "bn2/beta:0", "bn2/moving_mean:0", "bn2/moving_variance:0"
    ]  # fmt: skip
    assert_array_equal(bn.moving_variance.numpy(), values[3][1])
    assert_array_equal(bn.gamma.numpy(), values[0][1])
    # Keras' loader reads `model_weights` too.
    fill(model)
    model.load_weights(path, by_name=True)
    assert_array_equal(model.get_layer("bn2").moving_mean.numpy(), values[2][1])
    # In-order loading (by_name=False) matches layers with weights by position.
    renamed = [(f"layer_{i}", w) for i, (_, w) in enumerate(entries)]
    path2 = write_keras2_file(tmp_path / "renamed.h5", renamed)
    fill(model)
    report = load_weights(model, path2, by_name=False, verbose=False)
    assert len(report.loaded) == 22
    assert_array_equal(model.get_layer("classes7").bias.numpy(), dict(entries)["classes7"][1][1])


def test_read_legacy_weights(tmp_path):
    entries = [("pool1", []), ("conv", [("conv/kernel:0", np.ones((1, 1, 2, 3), "float32"))])]
    path = write_keras2_file(tmp_path / "w.h5", entries)
    layers = read_legacy_weights(path)
    assert list(layers) == ["pool1", "conv"]
    assert layers["pool1"] == []
    assert layers["conv"][0][0] == "conv/kernel:0"
    assert_array_equal(layers["conv"][0][1], np.ones((1, 1, 2, 3)))


def test_load_errors(tmp_path):
    model = ssd_7((64, 64, 3), 2)
    with pytest.raises(FileNotFoundError, match="No weight file at `filepath`"):
        load_weights(model, tmp_path / "missing.h5")
    keras3 = tmp_path / "model.weights.h5"
    model.save_weights(keras3)
    with pytest.raises(ValueError, match="not a Keras-2 HDF5 weights file"):
        load_weights(model, keras3)
    entries = random_layers(model, np.random.default_rng(5))[:10]
    path = write_keras2_file(tmp_path / "partial.h5", entries)
    with pytest.raises(ValueError, match="`by_name=False`.*the file has 4, the model 22"):
        load_weights(model, path, by_name=False)


# ----------------------------------------------------------------------------------------------
# sample_tensors


def test_sample_tensors_index_lists():
    kernel = np.arange(2 * 3 * 10, dtype="float32").reshape(2, 3, 10)
    bias = np.arange(10, dtype="float32") * 100
    new_kernel, new_bias = sample_tensors([kernel, bias], [2, [2, 0], [0, 7, 3]], axes=[[2]])
    assert_array_equal(new_kernel, kernel[:, [2, 0]][:, :, [0, 7, 3]])
    assert_array_equal(new_bias, [0.0, 700.0, 300.0])
    assert new_kernel.dtype == np.float32


def test_sample_tensors_random_subsample_keeps_background(rng):
    kernel = rng.standard_normal((3, 3, 4, 12)).astype("float32")
    bias = rng.standard_normal(12).astype("float32")
    new_kernel, new_bias = sample_tensors([kernel, bias], [3, 3, 4, 5], axes=[[3]], rng=1)
    # Find which source channel each new channel came from: index 0 first, then increasing.
    picked = [int(np.flatnonzero(bias == b)[0]) for b in new_bias]
    assert picked[0] == 0 and picked == sorted(picked) and len(set(picked)) == 5
    assert_array_equal(new_kernel, kernel[..., picked])
    again = sample_tensors([kernel, bias], [3, 3, 4, 5], axes=[[3]], rng=1)
    assert_array_equal(again[0], new_kernel)  # same seed, same choice


def test_sample_tensors_upsample(rng):
    kernel = rng.standard_normal((1, 1, 2, 4)).astype("float32") + 10.0
    bias = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32")
    new_kernel, new_bias = sample_tensors(
        [kernel, bias], [1, 1, 2, 9], axes=[[3]], init=["gaussian", "zeros"], stddev=0.01, rng=0
    )
    assert new_kernel.shape == (1, 1, 2, 9) and new_bias.shape == (9,)
    kept = np.flatnonzero(new_bias)
    assert kept[0] == 0 and len(kept) == 4  # originals at random positions, index 0 fixed
    assert_array_equal(new_bias[kept], bias)
    assert_array_equal(new_kernel[..., kept], kernel)
    fillers = np.delete(new_kernel, kept, axis=-1)
    assert np.abs(fillers).max() < 0.1  # gaussian(0, 0.01), far from the +10 originals
    assert np.abs(fillers).min() > 0


def test_sample_tensors_identity():
    kernel = np.arange(24.0).reshape(2, 3, 4)
    (same,) = sample_tensors([kernel], [2, 3, 4])
    assert_array_equal(same, kernel)
    assert same is not kernel


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([np.zeros((2, 3))], [2]), {}, "one entry per axis of the first tensor \\(2\\)"),
        (([np.zeros((2, 3))], [2, [0, 3]]), {}, "`sampling_instructions\\[1\\]` must hold ind"),
        (([np.zeros((2, 3))], [2, [-1]]), {}, "indices in \\[0, 3\\)"),
        (([np.zeros((2, 3))], [0, 3]), {}, "must be a positive integer or a list"),
        (([np.zeros((2, 3))], [2, 2.5]), {}, "Received: 2.5"),
        (([np.zeros((2, 3)), np.zeros(3)], [2, 3]), {}, "`axes` must hold one list"),
        (([np.zeros((2, 3)), np.zeros(3)], [2, 3]), {"axes": [[0]]}, "`axes\\[0\\]` must name"),
        (([np.zeros((2, 3))], [2, 3]), {"init": ["ones"]}, "`init` must be None or one of"),
        (([np.zeros((2, 3))], [2, 3]), {"init": ["zeros", "zeros"]}, "`init` must be"),
    ],
)
def test_sample_tensors_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_tensors(*args, **kwargs)


# ----------------------------------------------------------------------------------------------
# subsample_classifier_weights


def conf_file(path, sources, n_boxes, channels, n_classes, rng, extra=()):
    """A file with the class predictors (and `extra` layers) of an SSD300/SSD512."""
    entries = []
    for source, n, c_in in zip(sources, n_boxes, channels):
        name = f"{source}_mbox_conf"
        kernel = rng.standard_normal((3, 3, c_in, n * n_classes)).astype("float32")
        bias = rng.standard_normal(n * n_classes).astype("float32")
        entries.append((name, [(f"{name}/kernel:0", kernel), (f"{name}/bias:0", bias)]))
    return write_keras2_file(path, [*entries, *extra])


def check_subsampled(source, dest, indices, n_source):
    before, after = read_legacy_weights(source), read_legacy_weights(dest)
    for name, weights in before.items():
        if not name.endswith("_mbox_conf"):
            for (_, a), (_, b) in zip(weights, after[name]):
                assert_array_equal(a, b)
            continue
        (_, kernel), (_, bias) = weights
        (_, new_kernel), (_, new_bias) = after[name]
        n_boxes = kernel.shape[-1] // n_source
        assert new_kernel.shape == (*kernel.shape[:3], n_boxes * len(indices))
        for box in range(n_boxes):
            for j, i in enumerate(indices):
                new, old = box * len(indices) + j, box * n_source + i
                assert_array_equal(new_kernel[..., new], kernel[..., old])
                assert new_bias[new] == bias[old]


def test_subsample_ssd300_tutorial_classes(tmp_path, rng):
    """The tutorial: COCO SSD300 (81 classes) -> its 8 traffic classes plus background."""
    loc = [("fc7_mbox_loc/kernel:0", rng.standard_normal((3, 3, 8, 24)).astype("float32"))]
    source = conf_file(
        tmp_path / "coco.h5",
        SSD300_SOURCES,
        [4, 6, 6, 6, 4, 4],
        [8, 16, 8, 4, 4, 4],  # small input channels: the class axis is what matters
        81,
        rng,
        extra=[("fc7_mbox_loc", loc), ("pool5", [])],
    )
    dest = tmp_path / "coco_8_classes.h5"
    mapping = subsample_classifier_weights(source, dest, TUTORIAL_INDICES, 81)
    assert mapping == TUTORIAL_INDICES
    check_subsampled(source, dest, TUTORIAL_INDICES, 81)
    with h5py.File(dest, "r") as f:
        assert f["conv4_3_norm_mbox_conf"]["conv4_3_norm_mbox_conf"]["kernel:0"].shape == (
            3, 3, 8, 36
        )  # fmt: skip
    # The source is left as it was.
    assert read_legacy_weights(source)["fc7_mbox_conf"][0][1].shape[-1] == 6 * 81


def test_subsample_ssd512_all_seven_predictors(tmp_path, rng):
    sources = ["conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2", "conv10_2"]
    source = conf_file(
        tmp_path / "ssd512_coco.h5", sources, [4, 6, 6, 6, 6, 4, 4], [4] * 7, 81, rng
    )
    indices = [0, 1, 2, 3, 80]
    subsample_classifier_weights(source, tmp_path / "out.h5", indices, 81)
    after = read_legacy_weights(tmp_path / "out.h5")
    assert after["conv10_2_mbox_conf"][0][1].shape[-1] == 4 * 5
    check_subsampled(source, tmp_path / "out.h5", indices, 81)


def test_subsample_random_and_new_classes(tmp_path, rng):
    source = conf_file(tmp_path / "voc.h5", ["fc7", "conv9_2"], [6, 4], [4, 4], 21, rng)
    # An int picks the same random classes for every box, background first.
    mapping = subsample_classifier_weights(source, tmp_path / "a.h5", 5, 21, rng=0)
    assert mapping[0] == 0 and mapping == sorted(mapping) and len(set(mapping)) == 5
    check_subsampled(source, tmp_path / "a.h5", mapping, 21)
    # None makes a new class: gaussian kernel, zero bias; the others are copied.
    mapping = subsample_classifier_weights(source, tmp_path / "b.h5", [0, None, 7], 21, stddev=0.01)
    assert mapping == [0, None, 7]
    before, after = read_legacy_weights(source), read_legacy_weights(tmp_path / "b.h5")
    (_, kernel), (_, bias) = before["fc7_mbox_conf"]
    (_, new_kernel), (_, new_bias) = after["fc7_mbox_conf"]
    assert_array_equal(new_bias[1::3], 0.0)
    assert_array_equal(new_bias[2::3], bias[7::21])
    assert_array_equal(new_kernel[..., 0::3], kernel[..., 0::21])
    assert 0 < np.abs(new_kernel[..., 1::3]).max() < 0.1
    # More classes than the source: all 21 kept (background at 0), 4 new ones.
    mapping = subsample_classifier_weights(source, tmp_path / "c.h5", 25, 21, rng=0)
    assert mapping[0] == 0 and mapping.count(None) == 4
    assert [m for m in mapping if m is not None] == list(range(21))


def test_subsample_ssd7_layer_names_and_full_model_file(tmp_path):
    model = ssd_7((64, 64, 3), 4)
    entries = random_layers(model, np.random.default_rng(6))
    source = write_keras2_file(tmp_path / "ssd7.h5", entries, full_model=True)
    names = ["classes4", "classes5", "classes6", "classes7"]
    subsample_classifier_weights(
        source, tmp_path / "ssd7_2.h5", [0, 2, 4], 5, conf_layer_names=names
    )
    small = ssd_7((64, 64, 3), 2)
    report = load_weights(small, tmp_path / "ssd7_2.h5", verbose=False)
    assert report.complete
    kernel = dict(entries)["classes6"][0][1]
    assert_array_equal(
        small.get_layer("classes6").kernel.numpy()[..., 3:6], kernel[..., 5:10][..., [0, 2, 4]]
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"class_indices": [0, 21]}, ValueError, "source class indices in \\[0, 21\\)"),
        ({"class_indices": [0, 1.5]}, ValueError, "Received: class_indices=\\[0, 1.5\\]"),
        ({"class_indices": []}, ValueError, "`class_indices` must not be empty"),
        ({"class_indices": 0}, ValueError, "`class_indices` must be a positive integer"),
        ({"class_indices": "0,1"}, ValueError, "`class_indices` must be a list"),
        ({"n_classes_source": 1}, ValueError, "`n_classes_source` must be an integer >= 2"),
        ({"n_classes_source": 20}, ValueError, "not a multiple of n_classes_source=20"),
        ({"conf_layer_names": ["nope"]}, ValueError, "Layer 'nope' is not in the file"),
        ({"source_path": "missing.h5"}, FileNotFoundError, "No weight file at `source_path`"),
    ],
)
def test_subsample_bad_arguments(kwargs, error, match, tmp_path, rng):
    source = conf_file(tmp_path / "voc.h5", ["fc7"], [6], [2], 21, rng)
    args = {
        "source_path": source,
        "dest_path": tmp_path / "out.h5",
        "class_indices": [0, 1],
        "n_classes_source": 21,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        subsample_classifier_weights(**args)


def test_subsample_refuses_to_overwrite_source_and_needs_conf_layers(tmp_path, rng):
    source = conf_file(tmp_path / "voc.h5", ["fc7"], [6], [2], 21, rng)
    with pytest.raises(ValueError, match="`dest_path` must differ from `source_path`"):
        subsample_classifier_weights(source, source, [0, 1], 21)
    other = write_keras2_file(tmp_path / "no_conf.h5", [("conv", [])])
    with pytest.raises(ValueError, match="no `\\*_mbox_conf` layers; pass `conf_layer_names`"):
        subsample_classifier_weights(other, tmp_path / "x.h5", [0, 1], 21)
