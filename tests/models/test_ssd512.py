"""SSD512: layer names, weight shapes, anchor count, predictor sizes and modes."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

from keras_ssd.models import ssd_512

VOC_SCALES = [0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05]
SOURCES = ["conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2", "conv10_2"]
N_BOXES = [4, 6, 6, 6, 6, 4, 4]
SIZES = [64, 32, 16, 8, 4, 2, 1]
SOURCE_CHANNELS = [512, 1024, 512, 256, 256, 256, 256]

# The extra layers that differ from SSD300 (kh, kw, in, out), and the base's totals.
EXTRA_KERNELS = {
    "conv6_1": (1, 1, 1024, 256), "conv6_2": (3, 3, 256, 512),
    "conv7_1": (1, 1, 512, 128), "conv7_2": (3, 3, 128, 256),
    "conv8_1": (1, 1, 256, 128), "conv8_2": (3, 3, 128, 256),
    "conv9_1": (1, 1, 256, 128), "conv9_2": (3, 3, 128, 256),
    "conv10_1": (1, 1, 256, 128), "conv10_2": (4, 4, 128, 256),
}  # fmt: skip
VGG_PARAMS = 14_714_688  # VGG-16 conv1_1..conv5_3 (Keras VGG16(include_top=False))
FC_PARAMS = (3 * 3 * 512 * 1024 + 1024) + (1024 * 1024 + 1024)


@pytest.fixture(scope="module")
def voc():
    return ssd_512((512, 512, 3), 20, scales=VOC_SCALES, return_predictor_sizes=True)


def test_parameter_count_and_anchor_count(voc):
    model, _ = voc
    assert model.count_params() == 27_188_676
    assert model.output_shape == (None, 24564, 21 + 12)
    assert sum(s * s * n for s, n in zip(SIZES, N_BOXES)) == 24564


def test_parameter_count_from_shapes(voc):
    """The independent shape table adds up to the count, and matches the layers."""
    model, _ = voc
    expected = dict(EXTRA_KERNELS)
    for source, n, c_in in zip(SOURCES, N_BOXES, SOURCE_CHANNELS):
        expected[f"{source}_mbox_conf"] = (3, 3, c_in, n * 21)
        expected[f"{source}_mbox_loc"] = (3, 3, c_in, n * 4)
    total = VGG_PARAMS + FC_PARAMS + 512 + sum(int(np.prod(k)) + k[-1] for k in expected.values())
    assert total == 27_188_676
    for name, kernel in expected.items():
        layer = model.get_layer(name)
        assert [tuple(w.shape) for w in layer.weights] == [kernel, (kernel[-1],)], name


def test_parameter_count_coco():
    model = ssd_512((512, 512, 3), 80, scales=VOC_SCALES)
    assert model.count_params() == 36_038_196


def test_predictor_sizes(voc):
    _, sizes = voc
    assert sizes.shape == (7, 2)
    assert sizes.tolist() == [[s, s] for s in SIZES]


def test_layer_names(voc):
    model, _ = voc
    names = {layer.name for layer in model.layers}
    heads = {f"{s}_mbox_{k}" for s in SOURCES for k in ("conf", "loc", "priorbox")}
    assert heads <= names
    assert {f"{h}_reshape" for h in heads} <= names
    for block in (6, 7, 8, 9, 10):
        assert {f"conv{block}_1", f"conv{block}_padding", f"conv{block}_2"} <= names
    assert {"mbox_conf", "mbox_loc", "mbox_priorbox", "mbox_conf_softmax", "predictions"} <= names
    assert len([layer for layer in model.layers if layer.weights]) == 13 + 2 + 10 + 1 + 14


def test_extra_layer_configs(voc):
    model, _ = voc
    for block in (6, 7, 8, 9):
        conv = model.get_layer(f"conv{block}_2")
        assert (conv.kernel_size, conv.strides, conv.padding) == ((3, 3), (2, 2), "valid")
    conv10 = model.get_layer("conv10_2")
    assert (conv10.kernel_size, conv10.strides, conv10.padding) == ((4, 4), (1, 1), "valid")
    assert model.get_layer("conv10_padding").padding == ((1, 1), (1, 1))
    steps = [model.get_layer(f"{s}_mbox_priorbox").this_steps for s in SOURCES]
    assert steps == [8, 16, 32, 64, 128, 256, 512]
    assert isinstance(model.get_layer("conv10_2").kernel_regularizer, keras.regularizers.L2)


def test_inference_fast_and_small_non_square_input():
    model, sizes = ssd_512(
        (264, 300, 3), 3, mode="inference_fast", scales=VOC_SCALES, return_predictor_sizes=True
    )
    assert sizes.tolist() == [[33, 38], [17, 19], [9, 10], [5, 5], [3, 3], [2, 2], [1, 1]]
    assert model.output_shape == (None, 200, 6)


def test_signature_differs_from_ssd300_only_in_layer_lists():
    params = inspect.signature(ssd_512).parameters
    ar3, ar5 = (1.0, 2.0, 0.5), (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    assert params["aspect_ratios_per_layer"].default == (ar3, ar5, ar5, ar5, ar5, ar3, ar3)
    assert params["steps"].default == (8, 16, 32, 64, 128, 256, 512)
    assert params["subtract_mean"].default == (123, 117, 104)
    assert params["swap_channels"].default == (2, 1, 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scales": VOC_SCALES[:7]}, "`scales` must hold n_predictor_layers \\+ 1 = 8"),
        ({"image_size": (512, 256, 3)}, "at least 257x257 pixels"),
        ({"mode": None}, "`mode` must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"image_size": (512, 512, 3), "n_classes": 20, "scales": VOC_SCALES, **kwargs}
    with pytest.raises(ValueError, match=match):
        ssd_512(**args)
