"""Tests for the AnchorBoxes layer."""

import json

import keras
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from keras_ssd.anchors import anchor_boxes_for_layer
from keras_ssd.layers import AnchorBoxes
from tests.helpers import run_layer_test

SSD300_FC7 = dict(img_height=300, img_width=300, this_scale=0.2, next_scale=0.37,
                  aspect_ratios=(1.0, 2.0, 0.5, 3.0, 1 / 3), this_steps=16, this_offsets=0.5,
                  normalize_coords=True)


def test_layer_contract_and_values():
    out = run_layer_test(AnchorBoxes, SSD300_FC7, np.zeros((2, 19, 19, 24), "float32"),
                         expected_output_shape=(2, 19, 19, 6, 8))
    expected = anchor_boxes_for_layer(300, 300, (19, 19), SSD300_FC7["aspect_ratios"], 0.2, 0.37,
                                      this_steps=16, this_offsets=0.5, normalize_coords=True)
    assert_array_equal(out[0, ..., :4], expected.astype("float32"))
    assert_array_equal(out[1], out[0])
    assert_array_equal(out[..., 4:], np.broadcast_to([0.1, 0.1, 0.2, 0.2], out[..., 4:].shape)
                       .astype("float32"))


@pytest.mark.parametrize("shape", [(37, 60), (5, 3), (1, 1)])
def test_non_square_and_odd_feature_maps(shape):
    layer = AnchorBoxes(301, 479, 0.1, 0.2, aspect_ratios=(0.5, 1.0, 2.0))
    inputs = keras.Input((*shape, 16))
    assert tuple(layer(inputs).shape) == (None, *shape, 4, 8)
    assert layer.compute_output_shape((None, *shape, 16)) == (None, *shape, 4, 8)
    eager = keras.ops.convert_to_numpy(layer(np.zeros((3, *shape, 16), "float32")))
    assert eager.shape == (3, *shape, 4, 8)


def test_config_keeps_steps_and_offsets():
    # ssd_keras #226: the config dropped this_steps/this_offsets, so a reloaded
    # model silently shifted its anchors (conv6_2 centres 15+30k instead of 16+32k).
    layer = AnchorBoxes(300, 300, 0.37, 0.54, this_steps=32, this_offsets=(0.5, 0.25))
    config = json.loads(json.dumps(layer.get_config()))
    assert config["this_steps"] == 32.0
    assert config["this_offsets"] == [0.5, 0.25]
    restored = AnchorBoxes.from_config(config)
    assert_array_equal(restored.anchors_for((10, 10)), layer.anchors_for((10, 10)))


def test_keras_file_round_trip_keeps_anchors(tmp_path):
    inputs = keras.Input((10, 10, 8))
    outputs = AnchorBoxes(300, 300, 0.37, 0.54, this_steps=32, name="priors")(inputs)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "anchors.keras"
    model.save(path)
    restored = keras.models.load_model(path)  # no custom_objects
    x = np.zeros((1, 10, 10, 8), "float32")
    after = restored.predict(x, verbose=0)
    assert_array_equal(after, model.predict(x, verbose=0))
    assert after[0, 0, 1, 0, 0] == pytest.approx(16 + 32)  # centres 16 + 32k, not 15 + 30k


def test_scale_above_one_is_allowed():
    # ssd_keras rejected this_scale > 1 but accepted next_scale > 1.
    layer = AnchorBoxes(100, 100, 1.05, 1.1, aspect_ratios=(1.0,))
    assert layer.anchors_for((1, 1))[0, 0, 0, 2] == pytest.approx(105.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(this_scale=0.0), "Received: this_scale=0.0"),
        (dict(next_scale=-1.0), "Received: next_scale=-1.0"),
        (dict(aspect_ratios=(1.0, 0.0)), "aspect_ratios"),
        (dict(variances=(0.1, 0.1, 0.2)), "variances"),
        (dict(variances=(0.1, 0.1, 0.2, 0.0)), "variances"),
        (dict(coords="xywh"), "Received: coords='xywh'"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(img_height=100, img_width=100, this_scale=0.1, next_scale=0.2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        AnchorBoxes(**args)


def test_unknown_feature_map_size_is_an_error():
    layer = AnchorBoxes(100, 100, 0.1, 0.2)
    with pytest.raises(ValueError, match="static feature-map size"):
        layer(keras.Input((None, None, 4)))
