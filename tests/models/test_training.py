"""Real training steps: builders + SSDInputEncoder + SSDLoss on synthetic images."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_ssd.encoding.input_encoder import SSDInputEncoder
from keras_ssd.losses.ssd_loss import SSDLoss
from keras_ssd.models import ssd_7
from keras_ssd.models import ssd_300
from keras_ssd.models import ssd_512


def synthetic_batch(rng, n_images, height, width, n_classes):
    """Images with bright filled rectangles on a dark background, and their labels.

    Class k's rectangle has colour k, so the class is learnable from the pixels.
    """
    images = rng.uniform(0, 30, (n_images, height, width, 3)).astype("float32")
    labels = []
    for image in images:
        boxes = []
        for _ in range(rng.integers(1, 3)):
            cls = int(rng.integers(1, n_classes + 1))
            w, h = rng.integers(width // 4, width // 2), rng.integers(height // 4, height // 2)
            x0, y0 = rng.integers(0, width - w), rng.integers(0, height - h)
            image[y0 : y0 + h, x0 : x0 + w] = 255.0 * np.eye(3)[(cls - 1) % 3]
            boxes.append([cls, x0, y0, x0 + w, y0 + h])
        labels.append(np.array(boxes, dtype="float32"))
    return images, labels


def one_step_loss(model, encoder, images, labels):
    model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9), loss=SSDLoss().compute_loss)
    y_true = encoder(labels)
    assert y_true.shape[1:] == model.output_shape[1:]
    history = model.fit(images, y_true, batch_size=len(images), epochs=1, verbose=0)
    return history.history["loss"][0]


def test_ssd300_one_training_step(rng):
    size, n_classes = 264, 3  # the smallest valid input keeps the CPU time down
    scales = [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05]
    model, sizes = ssd_300((size, size, 3), n_classes, scales=scales, return_predictor_sizes=True)
    ar3, ar5 = (1.0, 2.0, 0.5), (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    encoder = SSDInputEncoder(
        size,
        size,
        n_classes,
        sizes,
        scales=scales,
        aspect_ratios_per_layer=[ar3, ar5, ar5, ar5, ar3, ar3],
        steps=[8, 16, 32, 64, 100, 300],
        offsets=[0.5] * 6,
        variances=(0.1, 0.1, 0.2, 0.2),
        normalize_coords=True,
    )
    images, labels = synthetic_batch(rng, 2, size, size, n_classes)
    loss = one_step_loss(model, encoder, images, labels)
    assert np.isfinite(loss) and loss > 0


@pytest.mark.slow
def test_ssd512_one_training_step(rng):
    size, n_classes = 264, 2
    scales = [0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05]
    model, sizes = ssd_512((size, size, 3), n_classes, scales=scales, return_predictor_sizes=True)
    ar3, ar5 = (1.0, 2.0, 0.5), (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    encoder = SSDInputEncoder(
        size,
        size,
        n_classes,
        sizes,
        scales=scales,
        aspect_ratios_per_layer=[ar3, ar5, ar5, ar5, ar5, ar3, ar3],
        steps=[8, 16, 32, 64, 128, 256, 512],
        variances=(0.1, 0.1, 0.2, 0.2),
        normalize_coords=True,
    )
    images, labels = synthetic_batch(rng, 2, size, size, n_classes)
    loss = one_step_loss(model, encoder, images, labels)
    assert np.isfinite(loss) and loss > 0


def test_ssd7_fits_a_few_images(rng):
    """SSD7 overfits 4 synthetic images: the loss falls to well under half its start."""
    keras.utils.set_random_seed(0)
    height, width, n_classes = 64, 96, 3
    scales = [0.15, 0.3, 0.5, 0.7, 0.9]
    model, sizes = ssd_7(
        (height, width, 3),
        n_classes,
        scales=scales,
        subtract_mean=127.5,
        divide_by_stddev=127.5,
        return_predictor_sizes=True,
    )
    encoder = SSDInputEncoder(
        height,
        width,
        n_classes,
        sizes,
        scales=scales,
        aspect_ratios_global=(0.5, 1.0, 2.0),
        variances=(1.0, 1.0, 1.0, 1.0),
        normalize_coords=False,
    )
    images, labels = synthetic_batch(rng, 4, height, width, n_classes)
    y_true = encoder(labels)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SSDLoss().compute_loss)
    history = model.fit(images, y_true, batch_size=4, epochs=30, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * losses[0], losses
