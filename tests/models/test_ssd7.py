"""SSD7 (`ssd_7` / `build_model`): layers, shapes, head order, preprocessing, checks."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.anchors import anchor_boxes_for_model
from keras_ssd.anchors import resolve_anchor_config
from keras_ssd.layers import ChannelSwap
from keras_ssd.layers import DivideByStddev
from keras_ssd.layers import SubtractMean
from keras_ssd.layout import ANCHORS
from keras_ssd.layout import CLASSES
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES
from keras_ssd.models import build_model
from keras_ssd.models import ssd_7

FILTERS = [32, 48, 64, 64, 48, 48, 32]
SCALES = [0.08, 0.16, 0.32, 0.64, 0.96]


def expected_params(n_classes, channels=3, n_boxes=4):
    """Parameter count of SSD7 from its layer table, written out independently."""
    total, c_in = 0, channels
    for k, filters in enumerate(FILTERS):
        kernel = 5 if k == 0 else 3
        total += kernel * kernel * c_in * filters + filters  # conv
        total += 4 * filters  # batch norm: gamma, beta, moving mean, moving variance
        c_in = filters
    for c in FILTERS[3:]:  # classes4-7 and boxes4-7 on elu4-7
        total += 9 * c * n_boxes * (n_classes + 1) + n_boxes * (n_classes + 1)
        total += 9 * c * n_boxes * 4 + n_boxes * 4
    return total


@pytest.fixture(scope="module")
def udacity():
    """The ssd7_training notebook's model: 300x480, 5 classes, [-1, 1] inputs."""
    return ssd_7(
        (300, 480, 3),
        5,
        l2_regularization=0.0005,
        scales=SCALES,
        normalize_coords=True,
        subtract_mean=127.5,
        divide_by_stddev=127.5,
        return_predictor_sizes=True,
    )


def test_build_model_is_ssd7():
    assert build_model is ssd_7


def test_layers_params_and_sizes(udacity):
    model, sizes = udacity
    assert sizes.tolist() == [[37, 60], [18, 30], [9, 15], [4, 7]]
    n_anchors = 4 * sum(h * w for h, w in sizes.tolist())
    assert model.output_shape == (None, n_anchors, 6 + 12)
    assert model.count_params() == expected_params(5)
    names = {layer.name for layer in model.layers}
    for k in range(1, 8):
        assert {f"conv{k}", f"bn{k}", f"elu{k}"} <= names
    assert {f"pool{k}" for k in range(1, 7)} <= names and "pool7" not in names
    for k in range(4, 8):
        assert {f"classes{k}", f"boxes{k}", f"anchors{k}"} <= names
        assert {f"classes{k}_reshape", f"boxes{k}_reshape", f"anchors{k}_reshape"} <= names
    assert {"classes_concat", "boxes_concat", "anchors_concat", "classes_softmax"} <= names
    assert "input_channel_swap" not in names  # swap_channels=False by default
    assert isinstance(model.get_layer("input_mean_normalization"), SubtractMean)
    assert isinstance(model.get_layer("input_stddev_normalization"), DivideByStddev)


def test_block_configs(udacity):
    model, _ = udacity
    assert model.get_layer("conv1").kernel_size == (5, 5)
    assert model.get_layer("conv1").get_config()["activation"] == "linear"
    assert model.get_layer("pool1").padding == "valid"
    bn = model.get_layer("bn3")
    assert (bn.axis, bn.momentum) == (3, 0.99)
    # Keras-2 file order of a BatchNormalization: gamma, beta, moving mean, moving variance.
    order = [w.path.split("/")[-1] for w in bn.trainable_weights + bn.non_trainable_weights]
    assert order == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(model.losses) == 7 + 8


def test_forward_layout_and_anchors(udacity):
    """Zero head kernels and telltale biases reveal the box-major channel order."""
    model, sizes = udacity
    x = np.random.default_rng(1).uniform(0, 255, (2, 300, 480, 3)).astype("float32")
    c = 6
    for k in range(4, 8):
        conf, loc = model.get_layer(f"classes{k}"), model.get_layer(f"boxes{k}")
        conf.kernel.assign(np.zeros(conf.kernel.shape))
        loc.kernel.assign(np.zeros(loc.kernel.shape))
        channel = np.arange(4 * c)
        conf.bias.assign(10.0 * (channel % c == channel // c))  # box b votes for class b
        loc.bias.assign(np.arange(16, dtype="float32"))
    y = model.predict(x, verbose=0)
    box = np.arange(y.shape[1]) % 4
    assert (y[..., CLASSES].argmax(-1) == box).all()
    assert_allclose(y[0, :, OFFSETS], box[:, None] * 4 + np.arange(4))
    assert_allclose(y[..., VARIANCES], 1.0)
    config = resolve_anchor_config(4, scales=SCALES, aspect_ratios_global=(0.5, 1.0, 2.0))
    anchors = anchor_boxes_for_model(300, 480, sizes, config, normalize_coords=True)
    expected = np.concatenate([a.reshape(-1, 4) for a in anchors])
    assert_allclose(y[1, :, ANCHORS], expected, rtol=1e-5, atol=1e-7)
    # By hand: classes4's first cell centre is half a step (300/37, 480/60) from the corner;
    # its first box has ar 0.5: w = 0.08 * 300 * sqrt(0.5), h = 0.08 * 300 / sqrt(0.5) px.
    r = np.sqrt(0.5)
    expected_first = [4 / 480, 150 / 37 / 300, 0.08 * 300 * r / 480, 0.08 / r]
    assert_allclose(y[0, 0, ANCHORS], expected_first, rtol=1e-6)


def test_channel_swap_and_defaults():
    model = ssd_7((64, 64, 3), 2, swap_channels=[2, 1, 0], subtract_mean=[1.0, 2.0, 3.0])
    assert isinstance(model.get_layer("input_channel_swap"), ChannelSwap)
    pre = keras.Model(model.input, model.get_layer("input_channel_swap").output)
    x = np.ones((1, 64, 64, 3), "float32") * [10.0, 20.0, 30.0]
    assert_allclose(pre.predict(x, verbose=0)[0, 0, 0], [27.0, 18.0, 9.0])
    default = ssd_7((64, 64, 3), 2)
    assert default.losses == []  # l2_regularization=0.0 by default
    assert default.get_layer("anchors4").variances == [1.0, 1.0, 1.0, 1.0]
    assert default.get_layer("anchors4").normalize_coords is False
    assert default.get_layer("anchors5").this_scale == pytest.approx(0.3)  # 0.1..0.9, 5 values


def test_inference_modes_run():
    x = np.random.default_rng(2).uniform(0, 255, (2, 64, 96, 3)).astype("float32")
    for mode in ("inference", "inference_fast"):
        model = ssd_7((64, 96, 3), 3, mode=mode, top_k=10, subtract_mean=127.5)
        y = model.predict(x, verbose=0)
        assert y.shape == (2, 10, 6)
        assert model.get_layer("decoded_predictions").normalize_coords is False


def test_signature_matches_ssd_keras():
    expected = dict(
        mode="training", l2_regularization=0.0, min_scale=0.1, max_scale=0.9, scales=None,
        aspect_ratios_global=(0.5, 1.0, 2.0), aspect_ratios_per_layer=None,
        two_boxes_for_ar1=True, steps=None, offsets=None, clip_boxes=False,
        variances=(1.0, 1.0, 1.0, 1.0), coords="centroids", normalize_coords=False,
        subtract_mean=None, divide_by_stddev=None, swap_channels=False, confidence_thresh=0.01,
        iou_threshold=0.45, top_k=200, nms_max_output_size=400, return_predictor_sizes=False,
    )  # fmt: skip
    params = inspect.signature(ssd_7).parameters
    assert list(params)[:2] == ["image_size", "n_classes"]
    assert {k: p.default for k, p in list(params.items())[2:]} == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": (63, 100, 3)}, "at least 64x64 pixels.*image_size=\\(63, 100, 3\\)"),
        ({"image_size": (64, 64, 0)}, "`image_size` must be .height, width, channels."),
        ({"image_size": "64x64"}, "`image_size` must be"),
        ({"n_classes": True}, "n_classes=True"),
        ({"n_classes": -3}, "`n_classes` must be a positive integer"),
        ({"mode": "Training"}, "`mode` must be one of"),
        ({"l2_regularization": "0.1"}, "`l2_regularization` must be a non-negative number"),
        ({"aspect_ratios_global": None}, "Either `aspect_ratios_global` or"),
        ({"variances": (1.0, 1.0)}, "`variances` must be 4 positive numbers"),
        ({"subtract_mean": [1.0, 2.0]}, "has 2 `mean` values for an input with 3 channels"),
        ({"divide_by_stddev": 0}, "`stddev` must not contain zeros"),
        ({"swap_channels": True}, "`order` must be a non-empty list"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"image_size": (64, 64, 3), "n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ssd_7(**args)
