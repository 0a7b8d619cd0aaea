"""Speed of `SSDLoss.compute_loss`: eager (reference) vs tf.function vs XLA.

SSD300 size: batch 32 x 8732 anchors x 21 classes (VOC), a realistic `y_true`
(about 0.5% positives, 1% neutral, the rest background). Prints milliseconds per
call and the speed-up over eager execution measured in the same process, for both
mining modes. The last block feeds XLA batches with different positive counts
(hence different numbers of mined negatives): its time per call stays flat because
the static-shape mining compiles once.

    python benchmarks/loss.py [--batch 32] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssd.layout import n_channels  # noqa: E402
from keras_ssd.losses import SSDLoss  # noqa: E402

N_BOXES = 8732
N_CLASSES = 20


def make_batch(rng, batch_size, pos_frac=0.005, neutral_frac=0.01):
    """`(y_true, y_pred)` float32 in the classes + 12 layout, SSD300/VOC sized."""
    n_cols = N_CLASSES + 1
    kind = rng.random((batch_size, N_BOXES))
    labels = np.where(kind < pos_frac, rng.integers(1, n_cols, size=kind.shape), 0)
    y_true = np.zeros((batch_size, N_BOXES, n_channels(N_CLASSES)), np.float32)
    y_true[..., :n_cols] = np.eye(n_cols, dtype=np.float32)[labels]
    y_true[(kind >= pos_frac) & (kind < pos_frac + neutral_frac), :n_cols] = 0.0
    y_true[..., n_cols:] = rng.normal(size=(batch_size, N_BOXES, 12))
    logits = rng.normal(scale=2.0, size=(batch_size, N_BOXES, n_cols))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    tail = rng.normal(size=(batch_size, N_BOXES, 12))
    y_pred = np.concatenate([probs, tail], -1).astype(np.float32)
    return tf.constant(y_true), tf.constant(y_pred)


def ms_per_call(fn, args, repeats):
    """Median milliseconds of `fn(*args)` over `repeats` calls, after one warm-up call."""
    fn(*args).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    batch = make_batch(rng, args.batch)
    print(f"compute_loss, batch {args.batch} x {N_BOXES} anchors x {N_CLASSES + 1} classes")
    print(f"device: {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    for mining in ("batch", "per_image"):
        loss = SSDLoss(mining=mining)
        eager = ms_per_call(loss.compute_loss, batch, args.repeats)
        modes = {
            "eager (reference)": eager,
            "tf.function": ms_per_call(tf.function(loss.compute_loss), batch, args.repeats),
            "tf.function(jit_compile=True)": ms_per_call(
                tf.function(loss.compute_loss, jit_compile=True), batch, args.repeats
            ),
        }
        print(f"\nmining={mining!r}")
        for name, ms in modes.items():
            print(f"  {name:32s} {ms:8.2f} ms/call   x{eager / ms:5.2f} vs eager")

    # XLA with a different positive count (so a different k) in every batch.
    loss = SSDLoss()
    xla = tf.function(loss.compute_loss, jit_compile=True)
    batches = [make_batch(rng, args.batch, pos_frac=f) for f in (0.002, 0.004, 0.006, 0.008)]
    start = time.perf_counter()
    xla(*batches[0]).numpy()
    first = 1000 * (time.perf_counter() - start)
    later = []
    for y_true, y_pred in batches[1:]:
        start = time.perf_counter()
        xla(y_true, y_pred).numpy()
        later.append(1000 * (time.perf_counter() - start))
    print("\nXLA, 4 batches with different positive counts (mining='batch'):")
    print(f"  first call (trace + compile)     {first:8.2f} ms")
    print(f"  next 3 calls (new k each)        {', '.join(f'{t:.2f}' for t in later)} ms")
    print(f"  traces: {xla.experimental_get_tracing_count()}")


if __name__ == "__main__":
    main()
