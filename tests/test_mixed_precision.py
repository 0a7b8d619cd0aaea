"""Mixed precision: every model builds, trains and decodes under mixed_float16 / mixed_bfloat16.

Each test sets the global dtype policy and restores float32 afterwards.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_ssd.data.synthetic import SHAPE_CLASSES
from keras_ssd.data.synthetic import render_shapes_image
from keras_ssd.distribute import set_precision
from keras_ssd.layout import ANCHORS
from keras_ssd.losses.ssd_loss import SSDLoss
from keras_ssd.presets import build_detector

POLICIES = ("mixed_float16", "mixed_bfloat16")


@pytest.fixture
def policy(request):
    set_precision(request.param)
    yield request.param
    set_precision("float32")


def _shapes_batch(n, size, seed=0):
    rng = np.random.default_rng(seed)
    items = [render_shapes_image(rng, size, max_objects=2, empty_fraction=0.0) for _ in range(n)]
    return (np.stack([i.image for i in items]).astype("float32"),
            [i.labels.astype("float32") for i in items])


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_ssd7_training_steps_give_finite_decreasing_losses(policy):
    keras.utils.set_random_seed(0)
    model, encoder = build_detector("ssd7", len(SHAPE_CLASSES), (64, 64))
    assert model.get_layer("conv1").compute_dtype == policy.split("_")[1]
    assert model.get_layer("conv1").kernel.dtype == "float32"  # variables stay float32
    images, labels = _shapes_batch(4, (64, 64))
    y_true = encoder(labels)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SSDLoss())
    if policy == "mixed_float16":  # compile adds loss scaling under float16
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # Under float16 the first steps overflow and are skipped while the dynamic loss
    # scale comes down from 2**15 (to 2**8 here); then the weights train.
    losses = model.fit(images, y_true, batch_size=4, epochs=12, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert int(model.optimizer.iterations) >= 4  # applied (not skipped) steps
    assert losses[-1] < losses[-2] < losses[-3] < losses[0]
    # The loss is computed in float32 whatever the policy.
    value = SSDLoss()(y_true, model.predict(images, verbose=0))
    assert value.dtype == "float32" and np.isfinite(float(value))


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
@pytest.mark.parametrize(("name", "size"), [("ssd7", (64, 64)), ("ssd300", (264, 264)),
                                            ("ssd512", (264, 264))])
def test_every_model_runs_and_decodes_under_the_policy(policy, name, size):
    model, _ = build_detector(name, len(SHAPE_CLASSES), size, mode="inference",
                              confidence_thresh=0.0, top_k=5)
    images, _ = _shapes_batch(1, size)
    detections = keras.ops.convert_to_numpy(model(images))
    assert detections.shape == (1, 5, 6)
    assert detections.dtype == np.float32  # decoding runs and returns float32
    assert np.all(np.isfinite(detections))
    assert np.all(detections[..., 1] > 0)  # confidence_thresh 0: five real boxes


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_anchors_and_scores_stay_float32(policy):
    # float16 anchors would move boxes by ~0.15 px at 300x300; the softmax, the
    # anchors and the `predictions` output are float32 under every policy.
    model, encoder = build_detector("ssd7", len(SHAPE_CLASSES), image_size=(64, 64))
    assert model.get_layer("conv1").compute_dtype == policy.split("_")[1]
    for name in ("anchors4", "classes_softmax", "anchors_concat", "predictions"):
        assert model.get_layer(name).compute_dtype == "float32", name
    y_pred = model.predict(np.zeros((1, 64, 64, 3), "float32"), verbose=0)
    assert y_pred.dtype == np.float32
    np.testing.assert_array_equal(y_pred[0, :, ANCHORS], encoder.anchors)
