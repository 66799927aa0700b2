"""The cache: identical requests between two writes are answered from memory.

Why: the graph changes rarely (admin writes) and is read often, mostly with the same few requests;
answering them again costs an evaluator round trip, the engine's time and the serialisation. Every
entry is keyed by the graph's version (``kg.store.version()``, which changes with every write), so a
write invalidates everything at once without tracking what it touched.

There is one per opened graph (``KnowledgeGraph.cache``), sized by ``Config.cache_size`` entries;
``Config.cache`` False (``--no-cache``, ``KG_CACHE=off``) gives a cache that stores nothing. It holds
whole answers of read requests (``service/response_cache.py``). API:

- ``cache.get(version, key) -> value | None``: the value stored under ``key`` for that version. A
  different version than the cache last saw empties the cache (the graph moved on).
- ``cache.put(version, key, value, size=None)``: store a value (any object; treat it as immutable).
  ``size`` in bytes (``len(value)`` for bytes); values larger than ``max_item_bytes`` are not kept,
  and the least recently used entries are dropped to stay within ``max_entries`` and ``max_bytes``.
  A value for another version than the one the cache last saw is not kept: a request reads (``get``)
  before it stores, so the graph moved on while it read, and nobody will ask for that version again.
- ``cache.clear()``, ``cache.stats() -> dict`` (hits, misses, entries, bytes).

Keys are any hashable value; include in them everything that changes the answer (the feature's
name, the request's parameters, the negotiated format). Thread-safe.

>>> c = ResultCache(max_entries=2)
>>> c.put("v1", ("q", 1), b"abc")
>>> c.get("v1", ("q", 1))
b'abc'
>>> c.get("v2", ("q", 1)) is None  # a write happened: everything older is gone
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ResultCache:
    """A bounded LRU of answers for the current graph version."""

    def __init__(self, max_entries: int = 1024, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_item_bytes: int | None = None, enabled: bool = True):
        self.max_entries = max(0, int(max_entries))
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes if max_item_bytes is not None else max(1, max_bytes // 8)
        self.enabled = enabled and self.max_entries > 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._version: str | None = None
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _sync(self, version: str) -> None:
        # Called with the lock held.
        if version != self._version:
            self._entries.clear()
            self._bytes = 0
            self._version = version

    def get(self, version: str, key: Hashable) -> Any | None:
        if not self.enabled:
            return None
        with self._lock:
            self._sync(version)
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, version: str, key: Hashable, value: Any, size: int | None = None) -> None:
        if not self.enabled:
            return
        if size is None:
            size = len(value) if isinstance(value, (bytes, bytearray, str)) else 0
        if size > self.max_item_bytes:
            return
        with self._lock:
            if self._version is not None and version != self._version:
                # Storing it would empty the newer version's answers for one that is never asked again.
                return
            self._sync(version)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "entries": len(self._entries),
                    "bytes": self._bytes}

    def __len__(self) -> int:
        return len(self._entries)
