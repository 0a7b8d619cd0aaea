"""SSDInputEncoder speed: SSD300 (8732 anchors), batch 32, 1-20 boxes per image.

Prints images/s of `SSDInputEncoder` and of a plain per-image reference (the
ssd_keras algorithm as it was written: per-image IoU, greedy bipartite with a
Python loop over the boxes, multi matching, neutral zone), run in the same
process, and their ratio. Pinned to one core with single-threaded NumPy. The
encoder reuses the memory of a `y_true` once the caller has dropped it (as a
training loop does); the figure without reuse is printed too.

    python benchmarks/encoder.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import copy  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from keras_ssd.anchors import anchor_boxes_for_model  # noqa: E402
from keras_ssd.boxes import convert_coordinates  # noqa: E402
from keras_ssd.boxes import iou  # noqa: E402
from keras_ssd.encoding.input_encoder import SSDInputEncoder  # noqa: E402

BATCH = 32
SSD300 = dict(
    img_height=300, img_width=300, n_classes=20,
    predictor_sizes=[(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
    scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
    aspect_ratios_per_layer=[[1.0, 2.0, 0.5]] + [[1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]] * 3
    + [[1.0, 2.0, 0.5]] * 2,
    steps=[8, 16, 32, 64, 100, 300], offsets=[0.5] * 6,
)


def plain_encode(encoder: SSDInputEncoder, labels_batch):
    """The port-style loop: one image at a time, one bipartite round per box."""
    n_classes = encoder.n_classes + 1
    anchors = np.concatenate([b.reshape(-1, 4) for b in encoder.boxes_list])  # centroids
    pixel_anchors = np.concatenate([b.reshape(-1, 4) for b in anchor_boxes_for_model(
        encoder.img_height, encoder.img_width, encoder.predictor_sizes,
        encoder.anchor_config, coords="corners")])
    scale = np.array([encoder.img_width, encoder.img_height] * 2, dtype=np.float64)
    y = np.zeros((len(labels_batch), encoder.n_boxes, n_classes + 12))
    y[:, :, -12:-8] = anchors
    y[:, :, -8:-4] = anchors
    y[:, :, -4:] = encoder.variances
    eye = np.eye(n_classes)
    for i, labels in enumerate(labels_batch):
        y[i, :, encoder.background_id] = 1
        if len(labels) == 0:
            continue
        labels = np.asarray(labels, dtype=np.float64)
        similarities = iou(labels[:, 1:], pixel_anchors, coords="corners")
        labels = labels.copy()
        labels[:, 1:] /= scale
        labels = convert_coordinates(labels, 1, "corners2centroids")
        one_hot = np.concatenate([eye[labels[:, 0].astype(int)], labels[:, 1:]], axis=1)
        weights = similarities.copy()  # greedy bipartite, loop over the boxes
        matches = np.zeros(len(labels), dtype=int)
        for _ in range(len(labels)):
            best_anchor = np.argmax(weights, axis=1)
            overlaps = weights[np.arange(len(labels)), best_anchor]
            gt = np.argmax(overlaps)
            matches[gt] = best_anchor[gt]
            weights[gt] = 0
            weights[:, best_anchor[gt]] = 0
        y[i, matches, :-8] = one_hot
        similarities[:, matches] = 0
        best_gt = np.argmax(similarities, axis=0)  # multi
        best = similarities[best_gt, np.arange(encoder.n_boxes)]
        multi = np.nonzero(best >= encoder.pos_iou_threshold)[0]
        y[i, multi, :-8] = one_hot[best_gt[multi]]
        similarities[:, multi] = 0
        neutral = np.nonzero(similarities.max(axis=0) >= encoder.neg_iou_limit)[0]
        y[i, neutral, encoder.background_id] = 0
    v = y[:, :, -4:]
    y[:, :, -12:-10] = (y[:, :, -12:-10] - y[:, :, -8:-6]) / y[:, :, -6:-4] / v[..., :2]
    y[:, :, -10:-8] = np.log(y[:, :, -10:-8] / y[:, :, -6:-4]) / v[..., 2:]
    return y


def random_batch(rng):
    labels = []
    for _ in range(BATCH):
        k = int(rng.integers(1, 21))
        xy = rng.uniform(0, 280, (k, 2))
        wh = rng.uniform(8, 200, (k, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, 300)], axis=1)
        labels.append(np.column_stack([rng.integers(1, 21, k), boxes]))
    return labels


def images_per_second(fn, batches, repeats):
    fn(batches[0])  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        for batch in batches:
            fn(batch)
    return repeats * len(batches) * BATCH / (time.perf_counter() - start)


def main():
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    encoder = SSDInputEncoder(**SSD300)
    rng = np.random.default_rng(0)
    batches = [random_batch(rng) for _ in range(4)]
    # Same classes and offsets as the reference (its float64 output, rounded to float32).
    for batch in batches[:2]:
        reference = plain_encode(encoder, batch)
        fast = encoder(batch)
        np.testing.assert_array_equal(fast[..., :-12], reference[..., :-12])
        np.testing.assert_allclose(fast[..., -12:-8], reference[..., -12:-8], atol=1e-4)
    plain = images_per_second(lambda b: plain_encode(encoder, b), batches, repeats=1)
    vectorised = images_per_second(encoder, batches, repeats=5)
    # As a caller that keeps every y_true alive sees it: fresh memory each call.
    no_reuse = copy.deepcopy(encoder)
    no_reuse._outputs.capacity = 0
    fresh = images_per_second(no_reuse, batches, repeats=5)
    print(f"SSD300, {encoder.n_boxes} anchors, batch {BATCH}, 1-20 boxes per image, one core")
    print(f"plain per-image reference : {plain:8.1f} images/s")
    print(f"SSDInputEncoder           : {vectorised:8.1f} images/s")
    print(f"  without memory reuse    : {fresh:8.1f} images/s (caller keeps every y_true)")
    print(f"speed-up                  : {vectorised / plain:8.1f}x")


if __name__ == "__main__":
    main()
