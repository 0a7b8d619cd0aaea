"""SSD300: layer names, weight shapes, anchors, outputs, modes and argument checks."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.layers import AnchorBoxes
from keras_ssd.layers import L2Normalization
from keras_ssd.layout import ANCHORS
from keras_ssd.layout import CLASSES
from keras_ssd.layout import OFFSETS
from keras_ssd.layout import VARIANCES
from keras_ssd.models import ssd_300

VOC_SCALES = [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05]
SOURCES = ["conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2"]
N_BOXES = [4, 6, 6, 6, 4, 4]
SIZES = [38, 19, 10, 5, 3, 1]
BASE = [
    "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
    "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7",
]  # fmt: skip
EXTRAS = ["conv6_1", "conv6_2", "conv7_1", "conv7_2", "conv8_1", "conv8_2", "conv9_1", "conv9_2"]

# Kernel shapes of the published Caffe model (kh, kw, in, out).
KERNELS = {
    "conv1_1": (3, 3, 3, 64), "conv1_2": (3, 3, 64, 64),
    "conv2_1": (3, 3, 64, 128), "conv2_2": (3, 3, 128, 128),
    "conv3_1": (3, 3, 128, 256), "conv3_2": (3, 3, 256, 256), "conv3_3": (3, 3, 256, 256),
    "conv4_1": (3, 3, 256, 512), "conv4_2": (3, 3, 512, 512), "conv4_3": (3, 3, 512, 512),
    "conv5_1": (3, 3, 512, 512), "conv5_2": (3, 3, 512, 512), "conv5_3": (3, 3, 512, 512),
    "fc6": (3, 3, 512, 1024), "fc7": (1, 1, 1024, 1024),
    "conv6_1": (1, 1, 1024, 256), "conv6_2": (3, 3, 256, 512),
    "conv7_1": (1, 1, 512, 128), "conv7_2": (3, 3, 128, 256),
    "conv8_1": (1, 1, 256, 128), "conv8_2": (3, 3, 128, 256),
    "conv9_1": (1, 1, 256, 128), "conv9_2": (3, 3, 128, 256),
}  # fmt: skip
SOURCE_CHANNELS = [512, 1024, 512, 256, 256, 256]


@pytest.fixture(scope="module")
def voc():
    """The VOC SSD300 (n_classes=20) in training mode and its predictor sizes."""
    return ssd_300((300, 300, 3), 20, scales=VOC_SCALES, return_predictor_sizes=True)


def test_parameter_count_and_anchor_count(voc):
    model, _ = voc
    assert model.count_params() == 26_285_486
    assert model.output_shape == (None, 8732, 21 + 12)


def test_parameter_count_coco():
    model = ssd_300((300, 300, 3), 80, scales=VOC_SCALES)
    assert model.count_params() == 34_305_206
    assert model.get_layer("conv4_3_norm_mbox_conf").kernel.shape == (3, 3, 512, 324)


def test_predictor_sizes(voc):
    _, sizes = voc
    assert sizes.shape == (6, 2)
    assert np.issubdtype(sizes.dtype, np.integer)
    assert sizes.tolist() == [[s, s] for s in SIZES]


def test_layer_names(voc):
    model, _ = voc
    names = [layer.name for layer in model.layers]
    heads = [f"{s}_mbox_{k}" for s in SOURCES for k in ("conf", "loc", "priorbox")]
    expected = (
        ["input_1", "identity_layer", "input_mean_normalization", "input_channel_swap"]
        + BASE
        + ["pool1", "pool2", "pool3", "pool4", "pool5"]
        + EXTRAS
        + ["conv6_padding", "conv7_padding", "conv4_3_norm"]
        + heads
        + [f"{h}_reshape" for h in heads]
        + ["mbox_conf", "mbox_loc", "mbox_priorbox", "mbox_conf_softmax", "predictions"]
    )
    assert sorted(names) == sorted(expected)
    assert len(names) == len(set(names))


def test_weight_shapes_and_order(voc):
    """Every weight-bearing layer: [kernel, bias] with the Caffe shapes; gamma alone."""
    model, _ = voc
    expected = dict(KERNELS)
    for source, n, c_in in zip(SOURCES, N_BOXES, SOURCE_CHANNELS):
        expected[f"{source}_mbox_conf"] = (3, 3, c_in, n * 21)
        expected[f"{source}_mbox_loc"] = (3, 3, c_in, n * 4)
    # The independent shape table adds up to the published parameter count.
    assert sum(int(np.prod(k)) + k[-1] for k in expected.values()) + 512 == 26_285_486
    with_weights = [layer for layer in model.layers if layer.weights]
    assert len(with_weights) == 36
    for layer in with_weights:
        shapes = [tuple(w.shape) for w in layer.trainable_weights + layer.non_trainable_weights]
        if layer.name == "conv4_3_norm":
            assert isinstance(layer, L2Normalization)
            assert shapes == [(512,)]
            assert_allclose(layer.gamma.numpy(), 20.0)
        else:
            kernel = expected.pop(layer.name)
            assert shapes == [kernel, (kernel[-1],)], layer.name
    assert not expected


def test_layer_configs(voc):
    model, _ = voc
    pool5 = model.get_layer("pool5")
    assert (pool5.pool_size, pool5.strides, pool5.padding) == ((3, 3), (1, 1), "same")
    for name in ("pool1", "pool2", "pool3", "pool4"):
        pool = model.get_layer(name)
        assert (pool.pool_size, pool.strides, pool.padding) == ((2, 2), (2, 2), "same")
    assert model.get_layer("fc6").dilation_rate == (6, 6)
    for name in ("conv6_2", "conv7_2"):
        conv = model.get_layer(name)
        assert (conv.strides, conv.padding) == ((2, 2), "valid")
    for name in ("conv8_2", "conv9_2"):
        conv = model.get_layer(name)
        assert (conv.strides, conv.padding) == ((1, 1), "valid")
    assert model.get_layer("conv6_padding").padding == ((1, 1), (1, 1))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 35
    for conv in convs:
        assert isinstance(conv.kernel_initializer, keras.initializers.HeNormal)
        assert isinstance(conv.kernel_regularizer, keras.regularizers.L2)
        assert conv.kernel_regularizer.l2 == pytest.approx(0.0005)
        head = conv.name.endswith(("_mbox_conf", "_mbox_loc"))
        assert conv.get_config()["activation"] == ("linear" if head else "relu"), conv.name
    # One L2 term per convolution kernel; the L2Normalization gamma is not regularised.
    assert len(model.losses) == 35
    assert model.get_layer("mbox_conf_softmax").get_config()["activation"] == "softmax"


def test_anchor_layers_keep_steps_and_scales(voc):
    model, _ = voc
    steps = [8, 16, 32, 64, 100, 300]
    for i, source in enumerate(SOURCES):
        layer = model.get_layer(f"{source}_mbox_priorbox")
        assert isinstance(layer, AnchorBoxes)
        assert layer.this_steps == steps[i]
        assert layer.this_scale == pytest.approx(VOC_SCALES[i])
        assert layer.next_scale == pytest.approx(VOC_SCALES[i + 1])
        assert layer.normalize_coords is True
        assert layer.variances == [0.1, 0.1, 0.2, 0.2]


def test_l2_regularization_off():
    model = ssd_300((300, 300, 3), 1, scales=VOC_SCALES, l2_regularization=0)
    assert model.losses == []
    assert model.get_layer("conv1_1").kernel_regularizer is None


def test_preprocessing_expects_rgb_0_255(voc):
    """input_channel_swap outputs BGR minus the Caffe BGR means (104, 117, 123)."""
    model, _ = voc
    pre = keras.Model(model.input, model.get_layer("input_channel_swap").output)
    x = np.zeros((1, 300, 300, 3), dtype="float32")
    x[0, 0, 0] = [200.0, 100.0, 50.0]  # R, G, B
    out = pre.predict(x, verbose=0)
    assert_allclose(out[0, 0, 0], [50 - 104, 100 - 117, 200 - 123])
    assert_allclose(out[0, 1, 1], [-104, -117, -123])
    assert model.input.name == "input_1"


def test_forward_head_order_and_anchors(voc):
    """One forward pass with zero head kernels and telltale biases.

    Caffe order: within a cell the conf channels are box-major (box b, class c
    at b * C + c) and the rows run over (row, column, box); the output carries
    the anchors (golden values computed by hand) and variances.
    """
    model, _ = voc
    c = 21
    for source, n in zip(SOURCES, N_BOXES):
        conf = model.get_layer(f"{source}_mbox_conf")
        loc = model.get_layer(f"{source}_mbox_loc")
        conf.kernel.assign(np.zeros(conf.kernel.shape))
        loc.kernel.assign(np.zeros(loc.kernel.shape))
        # Box b votes for class b (logit 10), so the argmax names the box.
        conf.bias.assign(10.0 * (np.arange(n * c) % c == np.arange(n * c) // c))
        loc.bias.assign(np.arange(n * 4, dtype="float32"))
    x = np.random.default_rng(0).uniform(0, 255, (1, 300, 300, 3)).astype("float32")
    y = model.predict(x, verbose=0)[0]
    assert y.shape == (8732, 33)
    assert_allclose(y[:, CLASSES].sum(-1), 1.0, rtol=1e-5)

    starts = np.cumsum([0] + [s * s * n for s, n in zip(SIZES, N_BOXES)])
    assert starts[-1] == 8732
    for start, n in zip(starts[:-1], N_BOXES):
        box = np.arange(y.shape[0])[start : start + 4 * n] - start
        rows = y[start : start + 4 * n]
        assert (rows[:, CLASSES].argmax(-1) == box % n).all()
        assert_allclose(rows[:, OFFSETS], (box % n)[:, None] * 4 + np.arange(4))
    assert_allclose(y[:, VARIANCES], np.tile([0.1, 0.1, 0.2, 0.2], (8732, 1)), rtol=1e-6)

    anchors = y[:, ANCHORS]
    r2 = np.sqrt(2.0)
    # conv4_3_norm, cell (0, 0): centre (4, 4) px; boxes ar 1, ar 1', ar 2, ar 1/2.
    assert_allclose(
        anchors[0:4],
        [
            [4 / 300, 4 / 300, 0.1, 0.1],
            [4 / 300, 4 / 300, np.sqrt(0.02), np.sqrt(0.02)],
            [4 / 300, 4 / 300, 0.1 * r2, 0.1 / r2],
            [4 / 300, 4 / 300, 0.1 / r2, 0.1 * r2],
        ],
        rtol=1e-5,
    )
    # conv6_2 (step 32), cell (0, 1): centre x = 16 + 32 px (ssd_keras' load_model lost this).
    first = starts[2] + 1 * 6
    assert_allclose(anchors[first, :2], [48 / 300, 16 / 300], rtol=1e-5)
    assert_allclose(anchors[first, 2:], [0.37, 0.37], rtol=1e-5)
    # conv9_2: one cell at the image centre, scale 0.88, extra box sqrt(0.88 * 1.05).
    assert_allclose(anchors[-4, :], [0.5, 0.5, 0.88, 0.88], rtol=1e-5)
    assert_allclose(anchors[-3, 2:], [np.sqrt(0.88 * 1.05)] * 2, rtol=1e-5)


def test_inference_modes_output_shape():
    for mode in ("inference", "inference_fast"):
        model = ssd_300((300, 300, 3), 20, mode=mode, scales=VOC_SCALES, top_k=50)
        assert model.output_shape == (None, 50, 6)
        decode = model.get_layer("decoded_predictions")
        assert type(decode).__name__ == {"inference": "DecodeDetections"}.get(
            mode, "DecodeDetectionsFast"
        )
        assert (decode.img_height, decode.img_width) == (300, 300)


def test_non_square_input():
    model, sizes = ssd_300(
        (300, 400, 3), 20, scales=VOC_SCALES, steps=None, return_predictor_sizes=True
    )
    expected = [[38, 50], [19, 25], [10, 13], [5, 7], [3, 5], [1, 3]]
    assert sizes.tolist() == expected
    n_anchors = sum(h * w * n for (h, w), n in zip(expected, N_BOXES))
    assert model.output_shape == (None, n_anchors, 33)


def test_min_max_scale_and_global_aspect_ratios():
    model = ssd_300(
        (300, 300, 3),
        5,
        min_scale=0.2,
        max_scale=0.8,
        aspect_ratios_global=(1.0, 2.0),
        aspect_ratios_per_layer=None,
        two_boxes_for_ar1=False,
    )
    assert model.output_shape == (None, 2 * sum(s * s for s in SIZES), 6 + 12)
    assert model.get_layer("fc7_mbox_priorbox").this_scale == pytest.approx(0.3)


def test_signature_matches_ssd_keras():
    ar3, ar5 = (1.0, 2.0, 0.5), (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    expected = dict(
        mode="training", l2_regularization=0.0005, min_scale=None, max_scale=None,
        scales=None, aspect_ratios_global=None,
        aspect_ratios_per_layer=(ar3, ar5, ar5, ar5, ar3, ar3), two_boxes_for_ar1=True,
        steps=(8, 16, 32, 64, 100, 300), offsets=None, clip_boxes=False,
        variances=(0.1, 0.1, 0.2, 0.2), coords="centroids", normalize_coords=True,
        subtract_mean=(123, 117, 104), divide_by_stddev=None, swap_channels=(2, 1, 0),
        confidence_thresh=0.01, iou_threshold=0.45, top_k=200, nms_max_output_size=400,
        return_predictor_sizes=False,
    )  # fmt: skip
    params = inspect.signature(ssd_300).parameters
    assert list(params)[:2] == ["image_size", "n_classes"]
    assert {k: p.default for k, p in list(params.items())[2:]} == expected


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_classes": 0}, ValueError, "`n_classes` must be a positive integer.*n_classes=0"),
        ({"n_classes": 2.5}, ValueError, "n_classes=2.5"),
        ({"mode": "train"}, ValueError, "`mode` must be one of.*mode='train'"),
        ({"image_size": (300, 300)}, ValueError, "`image_size` must be .height, width, chan"),
        ({"image_size": (256, 300, 3)}, ValueError, "at least 257x257 pixels"),
        ({"scales": None}, ValueError, "Either `min_scale` and `max_scale` or `scales`"),
        ({"scales": [0.1] * 6}, ValueError, "`scales` must hold n_predictor_layers \\+ 1 = 7"),
        ({"l2_regularization": -1.0}, ValueError, "l2_regularization=-1.0"),
        ({"steps": (8, 16)}, ValueError, "`steps` must hold one entry per predictor layer"),
        ({"swap_channels": (3, 1, 0)}, ValueError, "refers to channel 3"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = {"image_size": (300, 300, 3), "n_classes": 20, "scales": VOC_SCALES, **kwargs}
    with pytest.raises(error, match=match):
        ssd_300(**args)
