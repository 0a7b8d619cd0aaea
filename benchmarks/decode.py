"""Speed of the in-graph decoding layers against the NumPy decoders.

SSD300 size: batch 8 x 8732 anchors (the real SSD300 anchors) x 21 classes (VOC), with a
realistic score map: mostly background, a few hundred boxes per image above 0.01, clustered
on a handful of objects so NMS has overlapping boxes to suppress. Prints images per second
of `DecodeDetections` / `DecodeDetectionsFast` (inside `tf.function` and through
`model.predict_on_batch`) and of the NumPy `decode_detections` / `decode_detections_fast`
on the same batch, and the speed-up of each layer over its NumPy decoder.

    python benchmarks/decode.py [--batch 8] [--repeats 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssd.anchors import anchor_boxes_for_model  # noqa: E402
from keras_ssd.anchors import resolve_anchor_config  # noqa: E402
from keras_ssd.layers import DecodeDetections  # noqa: E402
from keras_ssd.layers import DecodeDetectionsFast  # noqa: E402

N_CLASSES = 20
IMG_SIZE = 300
SETTINGS = dict(confidence_thresh=0.01, iou_threshold=0.45, top_k=200)


def ssd300_anchors():
    """float32 `(8732, 4)` normalised centroids of SSD300 (VOC scales)."""
    config = resolve_anchor_config(
        6,
        scales=(0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05),
        aspect_ratios_per_layer=[[1.0, 2.0, 0.5]]
        + [[1.0, 2.0, 0.5, 3.0, 1 / 3]] * 3
        + [[1.0, 2.0, 0.5]] * 2,
        steps=(8, 16, 32, 64, 100, 300),
        offsets=(0.5,) * 6,
    )
    sizes = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    layers = anchor_boxes_for_model(IMG_SIZE, IMG_SIZE, sizes, config, normalize_coords=True)
    return np.concatenate([a.reshape(-1, 4) for a in layers]).astype(np.float32)


def make_predictions(rng, batch, anchors, n_objects=8):
    """`(batch, 8732, 21 + 12)` float32 predictions; objects light up their nearby anchors."""
    n_boxes = len(anchors)
    logits = rng.normal(0.0, 1.0, (batch, n_boxes, N_CLASSES + 1))
    logits[..., 0] += 9.0
    for b in range(batch):
        centres = rng.uniform(0.1, 0.9, (n_objects, 2))
        sizes = rng.uniform(0.1, 0.5, (n_objects, 1))
        classes = rng.integers(1, N_CLASSES + 1, n_objects)
        for centre, size, class_id in zip(centres, sizes, classes):
            near = np.linalg.norm(anchors[:, :2] - centre, axis=1) < 0.3 * size[0]
            similar = np.abs(np.log(anchors[:, 2] / size[0])) < 0.7
            hit = near & similar
            logits[b, hit, class_id] += rng.uniform(5.0, 12.0, hit.sum())
    scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    offsets = rng.normal(0.0, 0.5, (batch, n_boxes, 4))
    tail = np.broadcast_to(
        np.concatenate([anchors, [[0.1, 0.1, 0.2, 0.2]] * n_boxes], 1), (batch, n_boxes, 8)
    )
    return np.concatenate([scores, offsets, tail], -1).astype(np.float32)


def numpy_decoders():
    """The NumPy decoders, or the tests' plain reference while they do not exist yet."""
    try:
        from keras_ssd.encoding.output_decoder import decode_detections
        from keras_ssd.encoding.output_decoder import decode_detections_fast
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from tests.layers.test_decode_detections import plain_decode

        print("keras_ssd.encoding.output_decoder missing: using the tests' plain reference")

        def plain_decode_detections(y, input_coords, **kwargs):
            return plain_decode(y, **kwargs)

        def plain_decode_detections_fast(y, input_coords, **kwargs):
            return plain_decode(y, fast=True, **kwargs)

        return plain_decode_detections, plain_decode_detections_fast
    return decode_detections, decode_detections_fast


def seconds_per_call(fn, repeats):
    """Best seconds of `fn()` over `repeats` calls, after one warm-up call.

    The minimum, not the median: on a shared machine it is the figure least disturbed by
    other processes.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.min(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()

    anchors = ssd300_anchors()
    y = make_predictions(np.random.default_rng(0), args.batch, anchors)
    above = (y[..., 1 : N_CLASSES + 1] > SETTINGS["confidence_thresh"]).sum(axis=(1, 2))
    print(
        f"batch {args.batch} x {len(anchors)} anchors x {N_CLASSES + 1} classes; "
        f"(box, class) scores above {SETTINGS['confidence_thresh']} per image: "
        f"{int(above.min())}-{int(above.max())}"
    )
    print(f"device: {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    size = dict(normalize_coords=True, img_height=IMG_SIZE, img_width=IMG_SIZE)
    decode_np, decode_fast_np = numpy_decoders()
    pairs = [
        (DecodeDetections, decode_np, {}),
        (DecodeDetectionsFast, decode_fast_np, {}),
    ]
    y_tensor = tf.constant(y)
    for layer_cls, reference, extra in pairs:
        layer = layer_cls(nms_max_output_size=400, **SETTINGS, **size)
        graph = tf.function(layer)
        inputs = keras.Input(y.shape[1:])
        model = keras.Model(inputs, layer(inputs))
        reference_s = seconds_per_call(
            lambda reference=reference, extra=extra: reference(
                y, input_coords="centroids", **SETTINGS, **size, **extra
            ),
            max(5, args.repeats // 3),
        )
        graph_s = seconds_per_call(lambda graph=graph: graph(y_tensor).numpy(), args.repeats)
        model_s = seconds_per_call(lambda model=model: model.predict_on_batch(y), args.repeats)
        n_kept = int(np.count_nonzero(graph(y_tensor).numpy()[..., 1]))
        print(f"\n{layer_cls.__name__} ({n_kept / args.batch:.0f} detections per image)")
        rows = {
            f"NumPy {reference.__name__} (reference)": reference_s,
            "layer in tf.function": graph_s,
            "layer via model.predict_on_batch": model_s,
        }
        for name, seconds in rows.items():
            print(
                f"  {name:<45} {args.batch / seconds:9.1f} images/s  {reference_s / seconds:7.1f}x"
            )


if __name__ == "__main__":
    main()
