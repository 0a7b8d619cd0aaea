"""ArrayRecycler: a buffer is reused only when nothing can reach the array built on it."""

from __future__ import annotations

import copy
import gc
import pickle
import threading

import numpy as np
import pytest

from keras_ssd.encoding.input_encoder import SSDInputEncoder
from keras_ssd.encoding.recycling import ArrayRecycler

SHAPE = (4, 1000, 33)  # 528 kB
MIN_BYTES = 1 << 16


def address(array):
    return array.__array_interface__["data"][0]


def test_released_buffer_is_reused():
    recycler = ArrayRecycler(min_bytes=MIN_BYTES)
    first = recycler.empty(SHAPE, np.float32)
    assert first.shape == SHAPE and first.dtype == np.float32 and first.flags.c_contiguous
    assert first.flags.writeable
    first_address = address(first)
    del first
    assert address(recycler.empty(SHAPE, np.float32)) == first_address


@pytest.mark.parametrize(
    "keep",
    [
        lambda a: a,
        lambda a: a[1],  # a view
        lambda a: a[1:3][:, 5:9, :4],  # a view of a view
        lambda a: np.asarray(a),
        lambda a: memoryview(a),
        lambda a: [a[0, 0]],  # a view inside a container
    ],
    ids=["array", "view", "view-of-view", "asarray", "memoryview", "in-list"],
)
def test_buffer_is_not_reused_while_anything_refers_to_it(keep):
    recycler = ArrayRecycler(min_bytes=MIN_BYTES)
    first = recycler.empty(SHAPE, np.float32)
    first[...] = 7.0
    kept = keep(first)
    first_address = address(first)
    del first
    gc.collect()
    second = recycler.empty(SHAPE, np.float32)
    second[...] = -1.0
    assert address(second) != first_address
    assert np.all(np.asarray(kept) == 7.0)  # untouched by the second array
    del kept
    del second
    third = recycler.empty(SHAPE, np.float32)
    assert address(third) == first_address  # released now, so reused


def test_tensor_sharing_memory_keeps_the_buffer():
    tf = pytest.importorskip("tensorflow")
    recycler = ArrayRecycler(min_bytes=MIN_BYTES)
    first = recycler.empty(SHAPE, np.float32)
    first[...] = 3.0
    tensor = tf.convert_to_tensor(first)
    del first
    second = recycler.empty(SHAPE, np.float32)
    second[...] = 0.0
    assert float(tf.reduce_min(tensor)) == 3.0


def test_capacity_bounds_the_pool_and_shapes_must_match():
    recycler = ArrayRecycler(capacity=1, min_bytes=MIN_BYTES)
    a, b = recycler.empty(SHAPE, np.float32), recycler.empty(SHAPE, np.float32)
    addresses = {address(a), address(b)}
    del a, b  # one is kept, one freed
    c = recycler.empty(SHAPE, np.float32)
    assert address(c) in addresses
    d = recycler.empty(SHAPE, np.float32)  # pool empty again: fresh memory
    assert address(d) not in {address(c)}
    other = recycler.empty((2, 1000, 33), np.float32)  # another size never takes a buffer
    assert other.shape == (2, 1000, 33)


def test_small_arrays_are_plain_arrays():
    recycler = ArrayRecycler(min_bytes=MIN_BYTES)
    small = recycler.empty((3, 5), np.float64)
    assert small.base is None and small.shape == (3, 5)


def test_copies_and_pickles_start_empty_and_work():
    recycler = ArrayRecycler(min_bytes=MIN_BYTES)
    held = recycler.empty(SHAPE, np.float32)
    del held
    for clone in (copy.deepcopy(recycler), pickle.loads(pickle.dumps(recycler))):
        assert clone.min_bytes == MIN_BYTES and clone.capacity == recycler.capacity
        assert clone.empty(SHAPE, np.float32).shape == SHAPE


def test_threads_never_share_a_live_buffer():
    recycler = ArrayRecycler(min_bytes=MIN_BYTES)
    errors = []

    def work(value):
        for _ in range(50):
            array = recycler.empty(SHAPE, np.float32)
            array[...] = value
            if not np.all(array == value):
                errors.append(value)

    threads = [threading.Thread(target=work, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_encoder_outputs_survive_later_calls():
    config = dict(
        img_height=300, img_width=300, n_classes=20, predictor_sizes=[(38, 38), (19, 19)],
        scales=[0.1, 0.2, 0.37], aspect_ratios_global=[1.0, 2.0, 0.5],
    )
    encoder = SSDInputEncoder(**config)
    labels_a = [np.array([[1, 10, 10, 100, 100]])] * 16
    labels_b = [np.array([[2, 150, 150, 290, 250]])] * 16
    y_a = encoder(labels_a)
    expected_a = y_a.copy()
    y_b = encoder(labels_b)  # y_a is alive: y_b must be other memory
    np.testing.assert_array_equal(y_a, expected_a)
    assert not np.shares_memory(y_a, y_b)
    del y_a
    y_c = encoder(labels_a)  # may reuse y_a's buffer: the values must be fresh
    np.testing.assert_array_equal(y_c, expected_a)
    copied = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_array_equal(copied(labels_b), y_b)
