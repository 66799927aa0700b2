"""How the embedded store's directory is opened, by every process that opens it.

RocksDB allows one read-write open at a time, and any number of read-only ones, which do not see
later writes and which a writer can trip up: a read-only open can meet the read-write one removing
files it had just listed (RocksDB leaves that undefined; it fails, and the next try succeeds). The
server, the evaluators reading the directory, the dump helper and the update processes all open it
here, with a few tries.

Each read-write open also starts a new info log (``LOG``; the last one becomes ``LOG.old.<time>``,
about 130 KB each, and RocksDB keeps a thousand): with two such opens per SPARQL update
(``kg.store.update_process``) they would outgrow a small graph's data a hundredfold, so
``prune_info_logs`` keeps the newest few.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

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


#: Info logs of earlier opens kept beside the current one.
KEEP_INFO_LOGS = 10


def _opened_at(log: Path) -> tuple[int, str]:
    stamp = log.name.rsplit(".", 1)[-1]  # microseconds since the epoch
    return (int(stamp) if stamp.isdigit() else 0, log.name)


def prune_info_logs(path: str, keep: int = KEEP_INFO_LOGS) -> None:
    """Remove all but the newest ``keep`` of RocksDB's old info logs (text it writes for people; no
    data, and nothing RocksDB reads back) in the store directory ``path``."""
    old = sorted(Path(path).glob("LOG.old.*"), key=_opened_at)
    for log in old[:-keep] if keep else old:
        with contextlib.suppress(FileNotFoundError):  # RocksDB prunes them too
            log.unlink()
