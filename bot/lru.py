"""The project's bounded caches. `LRU`: a mapping that forgets the least recently used
entries once their total weight passes its size (each entry weighs 1 unless `weigh` says
otherwise: the outcome cache weighs replies by their characters). Safe across threads (the
SQLite store reads and writes its cache from the event loop and its writer thread).
`Memo`: for the recogniser's per-word lookups, where an LRU's bookkeeping would cost more
than the lookup: a plain dict emptied when full.

    seen = LRU(2)
    seen.put("a", 1); seen.put("b", 2); seen.get("a"); seen.put("c", 3)
    assert "b" not in seen and seen.get("a") == 1
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int, weigh: Callable[[V], int] | None = None):
        self.size = size
        self._weigh = weigh
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return default
            self._data.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> V:
        weight = self._weigh(value) if self._weigh else 1
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            if self.size <= 0:
                return value
            self._data[key] = (value, weight)
            self._weight += weight
            while self._weight > self.size and len(self._data) > 1:
                self._weight -= self._data.popitem(last=False)[1][1]
        return value

    def pop(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            found = self._data.pop(key, None)
            if found is None:
                return default
            self._weight -= found[1]
            return found[0]

    def drop(self, match: Callable[[K], bool] | None = None) -> None:
        """Forget the entries whose key `match` accepts, or all of them."""
        with self._lock:
            for key in [k for k in self._data if match is None or match(k)]:
                self._weight -= self._data.pop(key)[1]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


class Memo(dict[K, V]):
    """A memo with a size cap: emptied when full, so memory stays bounded whatever people
    type, and a lookup costs a plain dict lookup (the words that recur come back at once)."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap

    def put(self, key: K, value: V) -> None:
        if len(self) >= self.cap:
            self.clear()
        self[key] = value
