"""Input pipeline throughput: `build_dataset` (tf.data) against `DataGenerator.generate()`.

Part 1, the SSD300 training pipeline: read JPEG, the original SSD augmentation
(`SSDDataAugmentation`: photometric distortions, zoom-out, min-IoU crop, flip, resize to
300x300), encode with the SSD300 `SSDInputEncoder` (8732 anchors). Images per second of
`generate()` (the reference, one thread) and of the tf.data pipeline, and their ratio.

Part 2, the SSD7 pipeline of the main job (shapes dataset, 160x160, the `keras-ssd train`
SSD7 chain): pipeline images per second alone, and SSD7 training with the live pipeline
against training on one cached batch (no input work at all). A ratio near 1 means the
pipeline never starves training.

Both parts use the synthetic shapes dataset, written to a temporary directory.

    python benchmarks/pipeline.py [--images 512] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ssd.app.train import build_augmentation  # noqa: E402
from keras_ssd.config import TrainConfig  # noqa: E402
from keras_ssd.data import transforms as T  # noqa: E402
from keras_ssd.data.generator import DataGenerator  # noqa: E402
from keras_ssd.data.pipeline import build_dataset  # noqa: E402
from keras_ssd.data.synthetic import generate_shapes_dataset  # noqa: E402
from keras_ssd.encoding.input_encoder import SSDInputEncoder  # noqa: E402

SSD300_ENCODER = dict(
    img_height=300,
    img_width=300,
    n_classes=20,
    predictor_sizes=[(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
    scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
    aspect_ratios_per_layer=[
        [1.0, 2.0, 0.5],
        [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0],
        [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0],
        [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0],
        [1.0, 2.0, 0.5],
        [1.0, 2.0, 0.5],
    ],
    steps=[8, 16, 32, 64, 100, 300],
    offsets=[0.5] * 6,
    variances=[0.1, 0.1, 0.2, 0.2],
    neg_iou_limit=0.5,
)


def ssd7_chain(height, width, seed):
    """The SSD7 training transformations of `keras-ssd train`, from the training job itself."""
    return build_augmentation(TrainConfig(model="ssd7"), (height, width), seed)


def images_per_second(batches, n_batches: int) -> float:
    """Throughput of an iterator of batches, after one warm-up batch."""
    next(batches)
    start = time.perf_counter()
    n_images = sum(len(next(batches)[0]) for _ in range(n_batches))
    return n_images / (time.perf_counter() - start)


def measure_generate(generator, batch_size, n_batches, transformations, encoder) -> float:
    batches = generator.generate(
        batch_size=batch_size, shuffle=True, transformations=transformations,
        label_encoder=encoder, seed=0,
    )  # fmt: skip
    return images_per_second(batches, n_batches)


def measure_tf_data(generator, batch_size, n_batches, transformations, encoder, workers) -> float:
    dataset = build_dataset(generator, batch_size, transformations, encoder, seed=0,
                            workers=workers)  # fmt: skip
    iterator = iter(dataset)
    rate = images_per_second(iterator, n_batches)
    del iterator, dataset  # stops the background threads before the next measurement
    gc.collect()
    return rate


def parse(shapes) -> DataGenerator:
    generator = DataGenerator(verbose=False)
    generator.parse_xml(
        shapes.images_dir, shapes.image_set_files["train"], shapes.annotations_dir,
        classes=shapes.classes, verbose=False,
    )  # fmt: skip
    return generator


def ssd300_part(root, n_images, batch_size, repeats):
    shapes = generate_shapes_dataset(
        os.path.join(root, "shapes300"), n_train=200, n_val=1, image_size=(300, 300)
    )
    generator = parse(shapes)
    encoder = SSDInputEncoder(**SSD300_ENCODER)
    chain = [T.SSDDataAugmentation(300, 300, background=(123, 117, 104), rng=0)]
    n_batches = max(1, n_images // batch_size)
    reference, threads, processes = [], [], []
    for _ in range(repeats):  # interleaved, so a load change affects all alike
        reference.append(measure_generate(generator, batch_size, n_batches, chain, encoder))
        threads.append(measure_tf_data(generator, batch_size, n_batches, chain, encoder, 0))
        processes.append(
            measure_tf_data(generator, batch_size, n_batches, chain, encoder, os.cpu_count())
        )
    reference, threads, processes = max(reference), max(threads), max(processes)
    print(
        f"SSD300 pipeline (200 shapes images 300x300, SSDDataAugmentation, {encoder.n_boxes} "
        f"anchors, batch {batch_size}, {n_batches} batches, best of {repeats}):"
    )
    report(reference, threads, processes)


def report(reference, threads, processes):
    print(f"  DataGenerator.generate()              {reference:8.1f} images/s   (reference)")
    print(f"  build_dataset, threads (workers=0)    {threads:8.1f} images/s   "
          f"{threads / reference:.2f}x")  # fmt: skip
    print(f"  build_dataset, workers={os.cpu_count()} processes  {processes:8.1f} images/s   "
          f"{processes / reference:.2f}x")  # fmt: skip


def ssd7_part(root, n_images, batch_size, train_steps):
    import keras

    from keras_ssd.losses.ssd_loss import SSDLoss
    from keras_ssd.models.ssd7 import ssd_7

    shapes = generate_shapes_dataset(os.path.join(root, "shapes160"), n_train=1000, n_val=1)
    generator = parse(shapes)
    height, width = shapes.image_size
    n_classes = len(shapes.classes) - 1
    keras.utils.set_random_seed(0)
    model, predictor_sizes = ssd_7((height, width, 3), n_classes, return_predictor_sizes=True)
    encoder = SSDInputEncoder(
        height, width, n_classes, predictor_sizes=predictor_sizes,
        variances=(1.0, 1.0, 1.0, 1.0), normalize_coords=False,
    )  # fmt: skip
    chain = ssd7_chain(height, width, 0)
    n_batches = max(1, n_images // batch_size)
    reference = measure_generate(generator, batch_size, n_batches, chain, encoder)
    threads = measure_tf_data(generator, batch_size, n_batches, chain, encoder, 0)
    processes = measure_tf_data(generator, batch_size, n_batches, chain, encoder, os.cpu_count())

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SSDLoss().compute_loss)
    live = build_dataset(generator, batch_size, chain, encoder, seed=0)
    cached = live.take(1).cache().repeat()

    def train_rate(dataset):
        model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # warm-up
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=train_steps, epochs=1, verbose=0, shuffle=False)
        return train_steps * batch_size / (time.perf_counter() - start)

    cached_rate = train_rate(cached)
    live_rate = train_rate(live)
    del live
    live_workers = build_dataset(generator, batch_size, chain, encoder, seed=0, workers=2)
    workers_rate = train_rate(live_workers)
    python_generator = generator.generate(
        batch_size=batch_size, transformations=chain, label_encoder=encoder, seed=0
    )
    generate_rate = train_rate(python_generator)
    print(f"SSD7 pipeline (1000 shapes images {height}x{width}, the train chain, "
          f"{encoder.n_boxes} anchors, batch {batch_size}):")  # fmt: skip
    report(reference, threads, processes)
    print(f"  SSD7 fit, one cached batch            {cached_rate:8.1f} images/s   (reference)")
    print(f"  SSD7 fit, DataGenerator.generate()    {generate_rate:8.1f} images/s   "
          f"{generate_rate / cached_rate:.2f}x")  # fmt: skip
    print(f"  SSD7 fit, live pipeline (threads)     {live_rate:8.1f} images/s   "
          f"{live_rate / cached_rate:.2f}x")  # fmt: skip
    print(f"  SSD7 fit, live pipeline (workers=2)   {workers_rate:8.1f} images/s   "
          f"{workers_rate / cached_rate:.2f}x")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512, help="images timed per measurement")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=15)
    parser.add_argument("--skip-ssd7", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, NumPy {np.__version__}")
    with tempfile.TemporaryDirectory() as root:
        ssd300_part(root, args.images, args.batch_size, args.repeats)
        if not args.skip_ssd7:
            ssd7_part(root, args.images, args.batch_size, args.train_steps)


if __name__ == "__main__":
    main()
