"""`.keras` save / `keras.models.load_model` round trips, with no `custom_objects`."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from keras_ssd.layers import AnchorBoxes
from keras_ssd.models import ssd_7
from keras_ssd.models import ssd_300
from keras_ssd.models import ssd_512

MODES = ("training", "inference", "inference_fast")


def _round_trip(model, tmp_path, image_size):
    x = np.random.default_rng(0).uniform(0, 255, (1, *image_size)).astype("float32")
    before = keras.ops.convert_to_numpy(model(x))  # eager: no tracing, cheaper than predict
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    after = keras.ops.convert_to_numpy(restored(x))
    # Random weights can push decoded boxes to inf (exp of a large offset); the NaNs
    # that follow must then sit in the same places (assert_allclose: equal_nan).
    assert_allclose(after, before, rtol=1e-6, atol=1e-6)
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    for layer in model.layers:
        twin = restored.get_layer(layer.name)
        assert type(twin) is type(layer)
        if isinstance(layer, AnchorBoxes):
            # steps and offsets survive (ssd_keras lost them, moving the anchors).
            assert twin.get_config() == layer.get_config()
            assert twin.this_steps == layer.this_steps
    return restored


@pytest.mark.parametrize("mode", MODES)
def test_ssd7_round_trip(mode, tmp_path):
    model = ssd_7(
        (64, 96, 3),
        3,
        mode=mode,
        steps=[8, 16, 32, (32, 48)],
        offsets=[0.5, 0.4, (0.3, 0.6), 0.5],
        subtract_mean=[120.0, 110.0, 100.0],
        divide_by_stddev=60.0,
        swap_channels=[2, 1, 0],
        top_k=20,
    )
    restored = _round_trip(model, tmp_path, (64, 96, 3))
    assert restored.get_layer("anchors7").this_steps == [32.0, 48.0]
    assert restored.get_layer("anchors6").this_offsets == [0.3, 0.6]
    assert restored.get_layer("input_mean_normalization").mean == [120.0, 110.0, 100.0]


def test_ssd300_training_round_trip(tmp_path):
    model = ssd_300(
        (300, 300, 3),
        20,
        scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
        offsets=[0.5] * 6,
    )
    restored = _round_trip(model, tmp_path, (300, 300, 3))
    assert restored.get_layer("conv6_2_mbox_priorbox").this_steps == 32
    assert restored.count_params() == 26_285_486


@pytest.mark.parametrize("mode", ["inference", "inference_fast"])
def test_ssd300_inference_round_trip(mode, tmp_path):
    # Smallest valid input (257 px) keeps the CPU time down; the architecture is the same.
    model = ssd_300((264, 264, 3), 2, mode=mode, min_scale=0.1, max_scale=0.9, top_k=20)
    _round_trip(model, tmp_path, (264, 264, 3))


@pytest.mark.parametrize("mode", MODES)
def test_ssd512_round_trip(mode, tmp_path):
    model = ssd_512((264, 264, 3), 2, mode=mode, min_scale=0.1, max_scale=0.9, top_k=20)
    _round_trip(model, tmp_path, (264, 264, 3))
