"""The fast input pipeline: a `DataGenerator` as a `tf.data.Dataset` of training batches.

`build_dataset` does what `DataGenerator.generate` does (load, transform, drop, check boxes,
batch, encode), in parallel and in step with training:

    indices (shuffled per epoch, seeded) -> chunks (4 items; 16 with worker processes)
      -> map, `num_parallel_calls` at once: load the images, apply the transformations
         (in threads, or in forked worker processes with `workers=N`)
      -> unbatch -> filter the removed items -> batch (labels ragged)
      -> cast the images to float32 -> map: encode the batch -> prefetch

Threads or processes: OpenCV and NumPy release the GIL for heavy array work, so threads help
when that dominates (decoding, resizing). Transformation chains with much Python per image (the
SSD chain's crop trials) hold the GIL, and only worker processes run them in parallel; their
images come back through shared memory. `benchmarks/pipeline.py` measures both.

Determinism: every item is transformed by a private copy of the transformation chain (one per
thread or worker process), reseeded from `(seed, epoch, index)` before each item, and every
map keeps its order, so a seed fixes every batch of every epoch, whatever the number of
threads or workers. Reseeding is cheap: all the random components of a chain copy share one
generator (found as `keras_ssd.data.transforms.set_rng` finds them), whose state is reset per
item. Other callables must not be random, or the batches are not reproducible.

Item semantics are those of `generate()` (they run the same code): bad images follow
`on_bad_image`, images without ground truth are skipped unless `keep_images_without_gt`, an
item whose transformation returns `None` is dropped, and degenerate boxes follow
`degenerate_box_handling`. Unlike `generate()`, batches stay full: the images without ground
truth are left out of the epoch beforehand, and a dropped item's place is taken by the next
one.
"""

from __future__ import annotations

import atexit
import copy
import math
import mmap
import multiprocessing
import queue
import threading
import time
import weakref

import numpy as np
import tensorflow as tf

from keras_ssd.data.generator import DEGENERATE_BOX_HANDLING
from keras_ssd.data.image_io import check_on_error
from keras_ssd.data.transforms._base import Component
from keras_ssd.data.transforms.validation import BoxFilter

__all__ = ["build_dataset", "steps_per_epoch"]

_MAX_SEED = 2**63 - 1
_PROBE_TRIES = 32
_POLL_SECONDS = 0.2
# Items per Python call (and per worker round trip). Worker processes get larger chunks:
# each chunk costs the main process a fixed amount of work, which it takes from the workers.
_CHUNK = 4
_WORKER_CHUNK = 16
_IN_IMAGES = "in images"  # stands for an image already copied into the chunk's array


def _check_batch_size(batch_size) -> int:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or (batch_size < 1)
    ):
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def _usable_indices(data_generator, keep_images_without_gt: bool) -> np.ndarray:
    """Indices of the items an epoch visits (those with ground truth, unless told otherwise)."""
    if data_generator.labels is None:
        raise ValueError(
            "build_dataset needs a data set with labels; this DataGenerator has none "
            "(use `generate()` or `load_image()` for images without annotations)."
        )
    if data_generator.dataset_size == 0:
        raise ValueError("The data set is empty: parse or load a data set first.")
    indices = np.arange(data_generator.dataset_size, dtype=np.int64)
    if not keep_images_without_gt:
        indices = indices[[len(labels) > 0 for labels in data_generator.labels]]
        if len(indices) == 0:
            raise ValueError(
                "No image of the data set has ground-truth boxes, so every item would be "
                "skipped. Pass keep_images_without_gt=True to train on them."
            )
    return indices


def steps_per_epoch(data_generator, batch_size, keep_images_without_gt=False) -> int:
    """Batches in one pass of `build_dataset(data_generator, batch_size, ...)`.

    Counts the items an epoch visits; items dropped on the way (a transformation returning
    `None`, a bad image) make the real pass slightly shorter.
    """
    batch_size = _check_batch_size(batch_size)
    return math.ceil(len(_usable_indices(data_generator, keep_images_without_gt)) / batch_size)


def _share_generator(transform, generator: np.random.Generator) -> None:
    """Make `transform` and every component nested in it draw from `generator`."""
    if not isinstance(transform, Component):
        return
    if "rng" in vars(transform):
        transform.rng = generator
    for child in transform._children():
        _share_generator(child, generator)


class _ItemProcessor:
    """Loads and transforms items, with a private transformation chain per thread/process."""

    def __init__(self, data_generator, transformations, seed, options):
        self.data_generator = data_generator
        self.transformations = transformations
        self.seed = seed
        self.options = options
        self._local = threading.local()
        self.image_shape = None  # set by `probe`
        self.image_dtype = None
        self._pool = None

    def _chain(self) -> tuple[list, np.random.BitGenerator]:
        """This thread's copy of the chain, and the bit generator all its components draw from."""
        local = self._local
        if getattr(local, "chain", None) is None:
            local.chain = copy.deepcopy(self.transformations)
            local.bit_generator = np.random.PCG64()
            generator = np.random.Generator(local.bit_generator)
            for transform in local.chain:
                _share_generator(transform, generator)
        return local.chain, local.bit_generator

    def process(self, index: int, epoch: int, options: dict | None = None):
        """`DataGenerator._process_item` with reseeded transformations; `None` when dropped."""
        chain, bit_generator = self._chain()
        bit_generator.state = np.random.PCG64([self.seed, epoch, index]).state
        steps = [(transform, False) for transform in chain]
        return self.data_generator._process_item(index, steps=steps, **(options or self.options))

    def item(self, index: int, epoch: int):
        """`(image, labels float32 (k, 5))` of one item; the image is None when dropped."""
        item = self.process(index, epoch)
        if item is None:
            return None, None
        return np.asarray(item.image), np.asarray(item.labels, np.float32).reshape(-1, 5)

    def probe(self, indices: np.ndarray) -> None:
        """Fix the image shape of the dataset from the first item that is not dropped.

        Data problems (bad images, degenerate boxes) are left to the iteration, which handles
        them as the options say; the probe only looks for an image.
        """
        lenient = {**self.options, "on_bad_image": "skip", "degenerate_box_handling": "ignore"}
        for index in indices[:_PROBE_TRIES]:
            item = self.process(int(index), 0, lenient)
            if item is not None:
                image = np.asarray(item.image)
                if image.ndim != 3:
                    raise ValueError(
                        "The transformations must produce images of shape (H, W, C); "
                        f"{self.data_generator._describe(int(index))} became shape "
                        f"{image.shape}. Add `ConvertTo3Channels` to `transformations`."
                    )
                self.image_shape = image.shape
                # Images travel in the dtype the transformations produce (uint8 from disk: 4x
                # less to copy than float32) and become float32 in the graph, after batching.
                self.image_dtype = image.dtype
                return
        raise ValueError(
            f"The first {min(len(indices), _PROBE_TRIES)} items of the data set were all "
            "dropped (bad images, or transformations returning None); check the data set "
            "and the transformations."
        )

    def start_workers(self, workers: int, slots: int) -> None:
        """Run the items in `workers` forked processes from now on (see `build_dataset`).

        Images come back through `slots` shared-memory buffers of `_WORKER_CHUNK` images (one
        per chunk in flight), not through the result pipe: pickling them costs more than the
        copy.
        """
        key = id(self)
        # Forked children inherit this entry (a weak reference: the parent's registry must not
        # keep the processor, and with it the pool, alive).
        _FORKED[key] = weakref.ref(self)
        image_bytes = int(np.prod(self.image_shape)) * np.dtype(self.image_dtype).itemsize
        nbytes = _WORKER_CHUNK * image_bytes
        # An anonymous shared mapping made before the fork is shared with the children.
        self._shared_memory = mmap.mmap(-1, slots * nbytes)
        self._slots = np.frombuffer(self._shared_memory, self.image_dtype).reshape(
            slots, _WORKER_CHUNK, *self.image_shape
        )
        self._free_slots = queue.SimpleQueue()
        for slot in range(slots):
            self._free_slots.put(slot)
        self._pool = multiprocessing.get_context("fork").Pool(workers)
        self._stopped = threading.Event()
        weakref.finalize(self, _stop_workers, self._pool, key, self._stopped)

    def chunk_to_slot(self, indices, epochs, slot: int) -> list:
        """The items in a worker: images of the dataset's shape go to shared `slot`."""
        results = []
        for position, (index, epoch) in enumerate(zip(indices, epochs)):
            image, labels = self.item(index, epoch)
            if image is not None and image.shape == self.image_shape:
                self._slots[slot, position] = image
                image = position
            results.append((image, labels))
        return results

    def _from_workers(self, indices, epochs, images: np.ndarray) -> list:
        """The chunk's items from a worker; images of the dataset's shape are copied straight
        from shared memory into `images` and stand as `_IN_IMAGES` in the returned items."""
        slot = self._free_slots.get()
        try:
            result = self._pool.apply_async(_forked_chunk, (id(self), indices, epochs, slot))
            # Poll, so that a thread waiting here is released when the pool stops (the dataset
            # was deleted, or the interpreter exits) instead of blocking tf.data forever.
            while not result.ready():
                if self._stopped.is_set() or _CALLS.exiting.is_set():
                    raise RuntimeError("The worker processes of this dataset were stopped.")
                result.wait(_POLL_SECONDS)
            items = []
            for position, (image, labels) in enumerate(result.get()):
                if isinstance(image, int):  # its position in the slot
                    images[position] = self._slots[slot, image]
                    image = _IN_IMAGES
                items.append((image, labels))
            return items
        finally:
            self._free_slots.put(slot)

    def __call__(self, indices, epochs):
        """numpy_function body for a chunk of items.

        Returns `(images (n, H, W, C), labels float32 (K, 5), row_lengths int64 (n,),
        keep bool (n,))`; a dropped item has a zero image, no labels and `keep=False`.
        """
        indices, epochs = indices.tolist(), epochs.tolist()
        images = np.empty((len(indices), *self.image_shape), self.image_dtype)
        with _CALLS:
            if self._pool is None:
                items = [self.item(index, epoch) for index, epoch in zip(indices, epochs)]
            else:
                items = self._from_workers(indices, epochs, images)
        labels, keep = [], np.ones(len(items), bool)
        for i, (index, (image, item_labels)) in enumerate(zip(indices, items)):
            if image is _IN_IMAGES:
                labels.append(item_labels)
                continue
            if image is None:
                images[i], keep[i] = 0, False
                labels.append(np.zeros((0, 5), np.float32))
                continue
            if image.shape != self.image_shape:
                raise ValueError(
                    "All images must have the same shape after the transformations to be "
                    f"batched: {self.data_generator._describe(index)} has shape {image.shape}, "
                    f"the data set {self.image_shape}. End `transformations` with a `Resize` "
                    "(and add `ConvertTo3Channels` for grayscale or RGBA images)."
                )
            images[i] = image
            labels.append(item_labels)
        lengths = np.array([len(x) for x in labels], np.int64)
        return images, np.concatenate(labels), lengths, keep


class _CallTracker:
    """Counts the Python calls that tf.data threads are running, to end them before exit.

    A thread that needs the GIL once the interpreter is finalizing never returns, and an
    iterator destroyed at exit waits for its calls forever. So at exit (atexit), new calls fail
    at once, calls waiting on worker processes give up, and the exit waits (a few seconds at
    most) until no call is left.
    """

    def __init__(self):
        self.exiting = threading.Event()
        self._lock = threading.Lock()
        self._running = 0

    def __enter__(self):
        if self.exiting.is_set():
            raise RuntimeError("The Python interpreter is exiting.")
        with self._lock:
            self._running += 1

    def __exit__(self, *exc_info):
        with self._lock:
            self._running -= 1

    def drain(self, timeout: float = 5.0) -> None:
        self.exiting.set()
        deadline = time.monotonic() + timeout
        idle_polls = 0
        while idle_polls < 5 and time.monotonic() < deadline:
            idle_polls = idle_polls + 1 if self._running == 0 else 0
            time.sleep(0.02)


_CALLS = _CallTracker()
atexit.register(_CALLS.drain)

# Item processors by id, for forked worker processes (which inherit the parent's memory).
_FORKED: dict[int, weakref.ref] = {}


def _forked_chunk(key: int, indices, epochs, slot: int) -> list:
    return _FORKED[key]().chunk_to_slot(indices, epochs, slot)


def _stop_workers(pool, key: int, stopped: threading.Event) -> None:
    stopped.set()
    pool.terminate()
    _FORKED.pop(key, None)


def _index_dataset(indices, shuffle, seed, repeat) -> tf.data.Dataset:
    """`(index, epoch)` pairs: each epoch visits `indices` once, shuffled per epoch."""
    indices = tf.constant(indices, tf.int64)
    seed = tf.constant(seed, tf.int64)

    def epoch_items(epoch):
        order = indices
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(indices, seed=tf.stack([seed, epoch]))
        epochs = tf.fill(tf.shape(order), epoch)
        return tf.data.Dataset.from_tensor_slices((order, epochs))

    epochs = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(1)
    return epochs.flat_map(epoch_items)


def build_dataset(
    data_generator,
    batch_size,
    transformations=(),
    label_encoder=None,
    shuffle=True,
    seed=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    keep_images_without_gt=False,
    degenerate_box_handling="remove",
    repeat=True,
    *,
    on_bad_image="raise",
    drop_remainder=False,
    input_context=None,
    workers=0,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of training batches from `data_generator`, for `model.fit`.

    Args:
        data_generator: a `DataGenerator` with labels.
        batch_size: images per batch (the global batch size; see `input_context`).
        transformations: as for `generate()`: callables `t(image, labels)` applied in order,
            their `labels_format` set to the generator's. All images must end up with one
            shape (end with a `Resize`).
        label_encoder: e.g. an `SSDInputEncoder`, called on each batch's list of labels.
        shuffle: visit the items in a new order every epoch.
        seed: non-negative integer fixing the order and every random transformation of every
            epoch; `None` draws one.
        num_parallel_calls: threads loading and transforming items (`tf.data.AUTOTUNE`).
        keep_images_without_gt: also train on images without ground-truth boxes.
        degenerate_box_handling: `'remove'`, `'warn'`, `'raise'` or `'ignore'`, as for
            `generate()`.
        repeat: repeat the epochs forever (use `steps_per_epoch` with `model.fit`); `False`
            gives a single epoch.
        on_bad_image: `'raise'` (the error names the file), `'warn'` or `'skip'` (the item
            is dropped), as for `generate()`.
        drop_remainder: drop the last, smaller batch of a single epoch (`repeat=False`).
        input_context: a `tf.distribute.InputContext`, inside
            `strategy.distribute_datasets_from_function`: this input pipeline then gets its
            share of the items and the per-replica batch size.
        workers: `0` loads and transforms items in `num_parallel_calls` threads of this
            process. `N > 0` does it in `N` worker processes forked from this one (Linux and
            macOS), for transformation chains that spend their time in Python and so hold
            the GIL (the SSD chain does); the threads then only dispatch items. Forked
            workers inherit the data set and the transformations (nothing is pickled), but
            their warnings print to stderr rather than reach this process's filters. They
            stop when the dataset is garbage-collected (TensorFlow may keep a dataset's
            functions, and so the workers, until the interpreter exits) or at exit.

    Returns:
        A dataset of `(images, y_true)`: `images` float32 `(B, H, W, C)` with the pixel values
        the transformations produced (0-255 for images read from disk), and `y_true` the
        float32 encoder output, e.g. `(B, n_boxes, n_classes + 1 + 12)`. Without
        `label_encoder`, `y_true` is the labels as a float32 `tf.RaggedTensor` `(B, None, 5)`.
    """
    batch_size = _check_batch_size(batch_size)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % _MAX_SEED)
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or not (0 <= seed <= _MAX_SEED)
    ):
        raise ValueError(
            f"`seed` must be None or an integer in [0, 2**63). Received: seed={seed!r}"
        )
    if num_parallel_calls != tf.data.AUTOTUNE and (
        isinstance(num_parallel_calls, bool)
        or not isinstance(num_parallel_calls, (int, np.integer))
        or num_parallel_calls < 1
    ):
        raise ValueError(
            "`num_parallel_calls` must be tf.data.AUTOTUNE or a positive integer. "
            f"Received: num_parallel_calls={num_parallel_calls!r}"
        )
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ValueError(f"`workers` must be a non-negative integer. Received: workers={workers!r}")
    transformations = list(transformations or ())
    for t in transformations:
        if not callable(t):
            raise TypeError(f"Every element of `transformations` must be callable. Received: {t!r}")
    if label_encoder is not None and not callable(label_encoder):
        raise TypeError(f"`label_encoder` must be callable. Received: {label_encoder!r}")
    indices = _usable_indices(data_generator, keep_images_without_gt)
    # Items then run `DataGenerator._process_item`, the code of `generate()`, with these options.
    generator_options = _generator_options(
        data_generator, transformations, keep_images_without_gt, degenerate_box_handling,
        on_bad_image,
    )  # fmt: skip

    processor = _ItemProcessor(data_generator, transformations, int(seed), generator_options)
    processor.probe(indices)
    if workers:
        if num_parallel_calls == tf.data.AUTOTUNE:
            # Threads that only wait on the workers: enough to keep every worker fed (one
            # chunk in work and one queued each).
            num_parallel_calls = 2 * workers + 1
        processor.start_workers(workers, slots=num_parallel_calls)
    height, width, channels = processor.image_shape
    expected = (
        getattr(label_encoder, "img_height", None),
        getattr(label_encoder, "img_width", None),
    )
    if None not in expected and expected != (height, width):
        raise ValueError(
            f"The transformations produce images of size (height, width) = {(height, width)}, "
            f"but `label_encoder` encodes for {expected}. Resize the images to the encoder's "
            "size."
        )

    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    dataset = _index_dataset(indices, shuffle, int(seed), repeat)
    if input_context is not None and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

    image_dtype = tf.as_dtype(processor.image_dtype)

    def load_chunk(indices, epochs):
        images, flat_labels, lengths, keep = tf.numpy_function(
            processor,
            [indices, epochs],
            (image_dtype, tf.float32, tf.int64, tf.bool),
            stateful=False,
        )
        images.set_shape((None, height, width, channels))
        flat_labels.set_shape((None, 5))
        lengths.set_shape((None,))
        keep.set_shape((None,))
        return images, tf.RaggedTensor.from_row_lengths(flat_labels, lengths), keep

    # Items travel in chunks: one Python call (and one worker round trip) per chunk.
    dataset = dataset.batch(_WORKER_CHUNK if workers else _CHUNK)
    dataset = dataset.map(load_chunk, num_parallel_calls=num_parallel_calls, deterministic=True)
    dataset = dataset.unbatch()
    dataset = dataset.filter(lambda image, labels, keep: keep)
    dataset = dataset.map(lambda image, labels, keep: (image, labels))
    dataset = dataset.ragged_batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32), labels))
    if label_encoder is not None:
        dataset = dataset.map(
            _encoding_map(label_encoder), num_parallel_calls=num_parallel_calls, deterministic=True
        )
    options = tf.data.Options()
    # The source is a range of indices, not files: shard by elements when distributed.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _generator_options(
    data_generator, transformations, keep_images_without_gt, degenerate_box_handling, on_bad_image
) -> dict:
    """Validate the per-item options and build them as `DataGenerator.generate` does.

    Like `generate()`, this sets every transformation's `labels_format` to the generator's.
    """
    if degenerate_box_handling not in DEGENERATE_BOX_HANDLING:
        raise ValueError(
            f"`degenerate_box_handling` must be one of {DEGENERATE_BOX_HANDLING}. "
            f"Received: degenerate_box_handling={degenerate_box_handling!r}"
        )
    check_on_error(on_bad_image, "on_bad_image")
    for t in transformations:
        if hasattr(t, "labels_format"):
            t.labels_format = data_generator.labels_format
    box_filter = None
    if degenerate_box_handling == "remove":
        box_filter = BoxFilter(
            check_overlap=False,
            check_min_area=False,
            check_degenerate=True,
            labels_format=data_generator.labels_format,
        )
    return {
        "keep_images_without_gt": keep_images_without_gt,
        "degenerate_box_handling": degenerate_box_handling,
        "box_filter": box_filter,
        "on_bad_image": on_bad_image,
        "keep_originals": False,
    }


def _encoding_map(label_encoder):
    """A dataset map `(images, ragged labels) -> (images, y_true)` running `label_encoder`."""
    probe = np.asarray(label_encoder([np.zeros((0, 5))]))
    y_shape = (None, *probe.shape[1:])

    def encode(flat_labels, row_lengths):
        batch = np.split(flat_labels.astype(np.float64), np.cumsum(row_lengths)[:-1])
        return np.asarray(label_encoder(batch), dtype=np.float32)

    def encode_batch(images, labels):
        y_true = tf.numpy_function(
            encode, [labels.flat_values, labels.row_lengths()], tf.float32, stateful=False
        )
        y_true.set_shape(y_shape)
        return images, y_true

    return encode_batch
