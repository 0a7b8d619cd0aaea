"""The SSD7 weights shipped in weights/ (trained by the main job) really detect shapes."""

import pathlib

import numpy as np

from keras_ssd.boxes import iou
from keras_ssd.data.synthetic import SHAPE_CLASSES
from keras_ssd.data.synthetic import render_shapes_image
from keras_ssd.presets import build_detector

WEIGHTS = pathlib.Path(__file__).parent.parent / "weights" / "ssd7_shapes.weights.h5"


def test_shipped_ssd7_finds_fresh_shapes():
    model, _ = build_detector("ssd7", len(SHAPE_CLASSES), (160, 160), mode="inference")
    model.load_weights(WEIGHTS)
    rng = np.random.default_rng(12345)  # images the model never saw
    samples = [render_shapes_image(rng, (160, 160), 4, 0.0) for _ in range(12)]
    detections = model.predict(np.stack([s.image for s in samples]).astype("float32"), verbose=0)
    found = total = 0
    for sample, rows in zip(samples, detections):
        rows = rows[rows[:, 1] >= 0.5]
        for label in sample.labels:
            total += 1
            same_class = rows[rows[:, 0] == label[0]]
            if len(same_class) and iou(label[1:5], same_class[:, 2:6], "corners").max() >= 0.5:
                found += 1
    assert total >= 20
    assert found / total >= 0.8, f"found {found} of {total} shapes"
