"""How the embedded store's directory is opened, by every process that opens it.

RocksDB allows one read-write open at a time, and any number of read-only ones, which do not see
later writes and which a writer can trip up: a read-only open can meet the read-write one removing
files it had just listed (RocksDB leaves that undefined; it fails, and the next try succeeds). The
server, the evaluators reading the directory, the dump helper and the update processes all open it
here, with a few tries.
"""

from __future__ import annotations

import time

import pyoxigraph as ox

from kg.store.base import StoreError


def open_directory(path: str, *, read_only: bool = False, within: float = 1.0) -> ox.Store:
    """The store directory opened, tried again for up to ``within`` seconds: a read-only open can
    meet a read-write one removing files it had just listed (RocksDB leaves that undefined; it fails
    and the next try succeeds), and a read-write open can meet the lock of an update process just
    reaped, or of another program (then StoreError)."""
    give_up = time.monotonic() + within
    while True:
        try:
            return ox.Store.read_only(path) if read_only else ox.Store(path)
        except (OSError, RuntimeError) as exc:
            if time.monotonic() > give_up:
                raise StoreError(f"cannot open the store in {path}: {exc}") from exc
            time.sleep(0.02)
