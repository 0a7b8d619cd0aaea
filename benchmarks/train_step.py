"""SSD300 speed on this machine: training step and inference, against the CPU's matmul peak.

Prints
- the measured float32 matmul GFLOP/s (a 2048x2048 `tf.matmul`, the practical peak),
- the training step time at batch 8 (SGD, SSDLoss) under float32 and mixed_bfloat16,
- inference images/s at batch 1 and 8, raw network output and with decoding (NMS),
and beside each the achieved GFLOP/s and its fraction of the matmul peak, counting
62.7 GFLOPs per image forward (3x that for a training step: forward + backward).

    python benchmarks/train_step.py [--repeats 2] [--skip-bf16]

Each figure is the median of `--repeats` timed calls after one warm-up call. On a 2-core
machine a batch-8 step takes 10-20 s, so the whole script takes a few minutes; other
processes running at the same time slow it down.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssd.losses.ssd_loss import SSDLoss  # noqa: E402
from keras_ssd.presets import build_detector  # noqa: E402

GFLOPS_PER_IMAGE = 62.7  # SSD300 forward pass, multiply-adds counted as 2 FLOPs
N_CLASSES = 20


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls of `fn` after a warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda: tf.matmul(a, b))
    seconds = timed(lambda: matmul().numpy(), repeats)
    return 2 * n**3 / seconds / 1e9


def training_step_seconds(policy: str, batch: int, repeats: int) -> float:
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model, encoder = build_detector("ssd300", N_CLASSES)
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 255, (batch, 300, 300, 3)).astype("float32")
        labels = [np.array([[1 + i % N_CLASSES, 40, 50, 200, 220]], "float32")
                  for i in range(batch)]
        y_true = encoder(labels)
        model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9), loss=SSDLoss())
        return timed(lambda: model.train_on_batch(images, y_true), repeats)
    finally:
        keras.config.set_dtype_policy("float32")


def inference_images_per_second(mode: str, batch: int, repeats: int) -> float:
    model, _ = build_detector("ssd300", N_CLASSES, mode=mode)
    predict = tf.function(lambda x: model(x, training=False))
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (batch, 300, 300, 3)),
                         tf.float32)
    return batch / timed(lambda: predict(images).numpy(), repeats)


def row(label: str, value: str, gflops: float, peak: float) -> None:
    share = 100 * gflops / peak
    print(f"  {label:<42}{value:>14}   {gflops:7.1f} GFLOP/s  ({share:4.1f}% of peak)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--skip-bf16", action="store_true")
    args = parser.parse_args()

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    peak = matmul_gflops()
    print(f"Measured float32 matmul (2048x2048): {peak:.1f} GFLOP/s (taken as the peak)\n")

    print(f"SSD300 training step, batch {args.batch} (SGD + SSDLoss):")
    policies = ["float32"] + ([] if args.skip_bf16 else ["mixed_bfloat16"])
    for policy in policies:
        seconds = training_step_seconds(policy, args.batch, args.repeats)
        gflops = 3 * GFLOPS_PER_IMAGE * args.batch / seconds
        row(policy, f"{seconds:.2f} s/step", gflops, peak)

    print("\nSSD300 inference (float32):")
    for mode, label in (("training", "network only"), ("inference", "with decoding + NMS")):
        for batch in (1, args.batch):
            rate = inference_images_per_second(mode, batch, max(args.repeats, 3))
            row(f"{label}, batch {batch}", f"{rate:.2f} img/s", rate * GFLOPS_PER_IMAGE, peak)
    print(f"\nload average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
