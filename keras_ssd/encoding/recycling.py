"""Large output arrays whose memory is reused once nothing refers to them.

`SSDInputEncoder` returns a fresh `y_true` per batch: 37 MB of float32 for an
SSD300 batch of 32. Memory that large comes straight from the kernel, which
zeroes every new page on first touch, and that costs more than filling the
array. `ArrayRecycler.empty` hands out arrays backed by buffers it keeps and
takes a buffer back only when the array handed out on it, and every view of
that array, has been garbage-collected, so a caller never sees its array
change.

How the release is detected: the handed-out array is a reshape of a flat array
made with `np.frombuffer` from a `memoryview` of the buffer. NumPy points every
view of the reshape (slices, reshapes, `np.asarray`, tensors that share its
memory) at that flat array, because its own base is not an array, so the flat
array lives exactly as long as something can reach the buffer; a
`weakref.finalize` on it returns the buffer to the pool.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

__all__ = ["ArrayRecycler"]


class ArrayRecycler:
    """A small pool of buffers for arrays of one producer.

    Args:
        capacity: buffers kept for reuse at most; further released buffers are
            freed. Two cover a producer whose previous output is still in use
            while it fills the next one.
        min_bytes: arrays smaller than this are plain `np.empty` arrays
            (small allocations are cheap and come from reused heap memory).

    Thread-safe. Copies and pickles of an owner start with an empty pool.
    """

    def __init__(self, capacity: int = 2, min_bytes: int = 1 << 22):
        self.capacity = capacity
        self.min_bytes = min_bytes
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def empty(self, shape, dtype) -> np.ndarray:
        """An uninitialised C-contiguous array, on a recycled buffer when one fits."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype)
        with self._lock:
            sizes = [buffer.nbytes for buffer in self._free]
            buffer = self._free.pop(sizes.index(nbytes)) if nbytes in sizes else None
        if buffer is None:
            buffer = np.empty(nbytes, np.uint8)
        # Through a memoryview: `frombuffer` of an array would make that array
        # the base of every view, and the flat array could die while they live.
        flat = np.frombuffer(memoryview(buffer), dtype=dtype)
        weakref.finalize(flat, self._release, buffer)
        return flat.reshape(shape)

    def _release(self, buffer: np.ndarray) -> None:
        with self._lock:
            if len(self._free) < self.capacity:
                self._free.append(buffer)

    def __getstate__(self):
        return {"capacity": self.capacity, "min_bytes": self.min_bytes}

    def __setstate__(self, state):
        self.__init__(**state)
