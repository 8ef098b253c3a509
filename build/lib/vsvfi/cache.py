"""A small thread-safe LRU cache whose values are computed once per key.

VapourSynth runs frame callbacks on several threads. Two output frames between the same
pair of source frames (every frame but the first at ratio 3, 4, ...) need the same
converted source frames and the same per-pair network preparation; two threads may ask
for them at the same moment. :class:`OnceCache` makes the first caller compute a value
while later callers for the same key wait for that result instead of computing it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable, Hashable


class OnceCache:
    """LRU cache of at most ``capacity`` values; each value is computed once per key.

    ``get(key, make)`` returns the cached value or calls ``make()`` exactly once, even
    when several threads ask for ``key`` concurrently: the others block until it is done
    and share the result. If ``make`` raises, every waiter gets the exception and nothing
    is cached (the next ``get`` tries again). Values in the middle of being computed count
    towards ``capacity`` only once they are done. Evicted values stay alive for callers
    that still hold them.
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._done: OrderedDict[Hashable, object] = OrderedDict()
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def peek(self, key: Hashable, default=None):
        """The finished value for ``key`` (marked recently used), else ``default``;
        never waits and never computes."""
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.hits += 1
                return self._done[key]
            return default

    def get(self, key: Hashable, make: Callable[[], object]):
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.hits += 1
                return self._done[key]
            fut = self._pending.get(key)
            owner = fut is None
            if owner:
                fut = self._pending[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            return fut.result()
        try:
            value = make()
        except BaseException as e:
            with self._lock:
                del self._pending[key]
            fut.set_exception(e)
            raise
        with self._lock:
            del self._pending[key]
            self._done[key] = value
            while len(self._done) > self.capacity:
                self._done.popitem(last=False)
        fut.set_result(value)
        return value
