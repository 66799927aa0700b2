"""The answer cache (kg/query/cache.py): what was answered since the last write is answered again
from memory, nothing older ever is, and the cache stays within its bounds however it is filled.

Expected contents are worked out from the rules the module documents (least recently used goes
first; a new version empties it), never read back from the cache's own bookkeeping alone."""

from __future__ import annotations

import threading

from kg.query.cache import ResultCache


def test_a_repeated_request_is_a_hit_until_the_graph_changes():
    cache = ResultCache(max_entries=8)
    cache.put("v1", ("sparql", "ASK {}", "json"), b'{"boolean":true}')
    assert cache.get("v1", ("sparql", "ASK {}", "json")) == b'{"boolean":true}'
    assert cache.get("v1", ("sparql", "ASK {}", "json")) == b'{"boolean":true}'
    # Another format is another answer: a miss, never the JSON body.
    assert cache.get("v1", ("sparql", "ASK {}", "xml")) is None
    assert cache.stats()["hits"] == 2 and cache.stats()["misses"] == 1


def test_a_new_version_forgets_every_older_answer():
    cache = ResultCache(max_entries=8)
    for n in range(3):
        cache.put("v1", ("q", n), b"old")
    assert cache.get("v2", ("q", 0)) is None
    # Going back to the old version's name finds nothing either: the entries are gone, not hidden.
    assert all(cache.get("v1", ("q", n)) is None for n in range(3))
    assert cache.stats()["entries"] == 0 and cache.stats()["bytes"] == 0


def test_a_read_under_a_new_version_empties_what_the_old_one_held():
    cache = ResultCache(max_entries=8)
    cache.put("v1", "a", b"1")
    assert cache.get("v2", "a") is None  # the first request after a write: the old answers go
    cache.put("v2", "b", b"2")
    assert cache.get("v2", "b") == b"2" and cache.stats()["entries"] == 1


def test_an_answer_read_before_a_write_and_stored_after_it_is_not_kept_and_empties_nothing():
    cache = ResultCache(max_entries=8)
    assert cache.get("v1", "slow") is None  # a slow request begins under v1
    assert cache.get("v2", "b") is None  # a write; the next request reads under v2...
    cache.put("v2", "b", b"2")  # ...and stores its answer
    cache.put("v1", "slow", b"1")  # the slow request ends
    assert cache.get("v2", "b") == b"2" and cache.stats()["entries"] == 1


def test_the_least_recently_used_answer_goes_first():
    cache = ResultCache(max_entries=3)
    for key in "abc":
        cache.put("v", key, key.encode())
    assert cache.get("v", "a") == b"a"  # a is now the most recently used; b the least
    cache.put("v", "d", b"d")
    assert cache.get("v", "b") is None
    assert [cache.get("v", k) for k in "acd"] == [b"a", b"c", b"d"]
    assert len(cache) == 3


def test_the_bytes_held_stay_within_the_bound():
    # 10 answers of 300 bytes into 1,000 bytes: the three newest fit (900), the fourth would not.
    cache = ResultCache(max_entries=100, max_bytes=1000, max_item_bytes=1000)
    for n in range(10):
        cache.put("v", n, bytes(300))
        assert cache.stats()["bytes"] <= 1000
    assert [n for n in range(10) if cache.get("v", n) is not None] == [7, 8, 9]
    assert cache.stats()["bytes"] == 900


def test_an_answer_larger_than_an_item_may_be_is_not_kept_and_evicts_nothing():
    cache = ResultCache(max_entries=10, max_bytes=800)  # items up to 800 // 8 = 100 bytes by default
    cache.put("v", "small", bytes(100))
    cache.put("v", "large", bytes(101))
    assert cache.get("v", "large") is None
    assert cache.get("v", "small") == bytes(100)


def test_the_size_given_for_an_object_counts_against_the_bound():
    cache = ResultCache(max_entries=10, max_bytes=1000, max_item_bytes=1000)
    cache.put("v", "first", {"rows": 1}, size=600)
    cache.put("v", "second", {"rows": 2}, size=600)
    assert cache.get("v", "first") is None and cache.get("v", "second") == {"rows": 2}


def test_replacing_an_answer_counts_its_bytes_once():
    cache = ResultCache(max_entries=10, max_bytes=1000, max_item_bytes=1000)
    for _ in range(5):
        cache.put("v", "same", bytes(400))
    assert cache.stats() | {"hits": 0, "misses": 0} == {"hits": 0, "misses": 0, "entries": 1, "bytes": 400}


def test_clear_forgets_everything_of_the_current_version():
    cache = ResultCache(max_entries=10)
    cache.put("v", "a", b"x")
    cache.clear()
    assert cache.get("v", "a") is None and len(cache) == 0


def test_a_disabled_cache_stores_nothing():
    for cache in (ResultCache(max_entries=10, enabled=False), ResultCache(max_entries=0)):
        cache.put("v", "a", b"x")
        assert cache.get("v", "a") is None
        assert len(cache) == 0


def test_concurrent_writers_and_readers_never_break_the_bounds():
    cache = ResultCache(max_entries=50, max_bytes=20_000, max_item_bytes=1000)
    errors: list[str] = []

    def work(worker: int) -> None:
        for n in range(2000):
            version = f"v{n // 500}"  # the graph changes under them, four times
            cache.put(version, (worker, n % 70), bytes(n % 1000))
            value = cache.get(version, (worker, (n * 7) % 70))
            if value is not None and not isinstance(value, bytes):
                errors.append(repr(value))
            stats = cache.stats()
            if stats["entries"] > 50 or stats["bytes"] > 20_000:
                errors.append(repr(stats))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # The bytes it reports are the bytes it holds.
    held = sum(len(cache.get("v3", key) or b"") for key in [(w, k) for w in range(4) for k in range(70)])
    assert cache.stats()["bytes"] == held
