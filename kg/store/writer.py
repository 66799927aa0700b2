"""The one process that holds the embedded store's directory read-write, and the server's handle on it.

Why a process: Oxigraph cannot stop an update once it runs, any more than a query
(``docs/engine-facts.md``), and an update's ``WHERE`` can run as long as any query, or fill memory.
So a server never opens its directory read-write itself: the writer does, for as long as the store
is open, and applies every write (a user's SPARQL Update, and the service's own: a type added or
removed, the ontology at start). The server reads from a read-only open, made again after each
write. Past a write's deadline the server kills the writer, and RocksDB keeps nothing of it: a write
and its version bump commit as one transaction or not at all. Then another writer takes the
directory. Like an evaluator, the writer confines itself before it opens anything (``LOAD`` cannot
fetch), runs under ``KG_WORKER_MEMORY``, parses on a large stack (Oxigraph's parser recurses) and
ends with its server.

Why one for the store's life, not one a write: a fresh interpreter and two read-write opens of the
directory cost about 0.12 s a write (``bench/notes.md``); a writer already waiting answers in a few
milliseconds, and holding the directory for good keeps other programs out of it (``kg load`` beside a
running server is refused) between writes too.

Run as ``python -m kg.store.writer``.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import pyoxigraph as ox

from kg.children import confine_child, limit_memory, outlive_sigterm, start_module, watch_parent
from kg.store.base import StoreError, StoreLocked, StoreTimeout, UpdateStopped
from kg.store.directory import open_directory
from kg.store.remote_text import own_syntax_error

#: Stack of the thread that parses and applies writes: as the server's threads have
#: (``service/server.py``), on which the deepest updates the pre-check lets through were measured.
WRITE_STACK = 32 * 1024**2
#: How long a writer may take to start and open the directory, in seconds.
START_LIMIT = 60.0


@dataclass(frozen=True)
class Settings:
    """What a writer is started with: picklable values only."""

    path: str
    memory: int
    require_confinement: bool
    within: float  #: how long to keep trying the read-write open (0 when it must be ours at once)


@dataclass(frozen=True)
class Update:
    """A SPARQL Update to apply as one transaction: a user's update, or one of the service's own."""

    text: str  #: the update and the version bump, one request
    own: str | None = None  #: the user's update as sent, to say its syntax error at its own line
    prefixes: dict[str, str] | None = None


@dataclass(frozen=True)
class Load:
    """A file given to Oxigraph's bulk loader (not a transaction); the version bump follows as an Update."""

    path: str
    media_type: str
    graph: str | None


def load_file(store: ox.Store, path: str, fmt: ox.RdfFormat, graph: str | None) -> None:
    """Bulk-load ``path`` (gzipped when it ends in ``.gz``) into ``store``; a file of triples into ``graph``."""
    kwargs = {"to_graph": ox.NamedNode(graph)} if graph and not fmt.supports_datasets else {}
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            store.bulk_load(handle, format=fmt, **kwargs)
    else:
        store.bulk_load(path=path, format=fmt, **kwargs)


class Writer:
    """The server's handle on its writer: starts it, hands it writes one at a time (the store's write
    lock is held around each), kills it at a deadline."""

    def __init__(self, settings: Settings):
        theirs, self._conn = Pipe(duplex=True)
        for conn in (theirs, self._conn):
            os.set_blocking(conn.fileno(), True)  # gevent's socketpair is non-blocking; the child reads plainly
        try:
            self._proc = start_module("kg.store.writer", [str(theirs.fileno())], (theirs.fileno(),))
        finally:
            theirs.close()
        try:
            self._conn.send_bytes(pickle.dumps(settings))
            status, detail = self._reply(time.monotonic() + START_LIMIT)
        except (StoreTimeout, UpdateStopped) as exc:
            raise StoreError(f"the store's writer did not start: {exc}") from None
        if status == "locked":
            self.kill()
            raise StoreLocked(f"the store in {settings.path} is open in another process "
                              "(a running server?): stop it, or use another --data-dir")
        if status != "ready":
            self.kill()
            raise StoreError(f"the store's writer could not open {settings.path}: {detail}")
        #: What the writer achieved (``kg.safety.confine``).
        self.confinement: dict = detail

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def apply(self, request: Update | Load, deadline: float) -> tuple[str, str]:
        """The outcome of ``request``: ``("ok", "")``, or ``("syntax" | "error", message)`` when nothing
        was applied. Raises StoreTimeout (stopped at ``deadline``; ``math.inf`` waits) or UpdateStopped
        (the writer died): either way the writer is gone, and nothing of the request was kept."""
        with contextlib.suppress(OSError):  # a writer gone: its end of the pipe says why, below
            self._conn.send_bytes(pickle.dumps(request))
        return self._reply(deadline)

    def _reply(self, deadline: float) -> tuple:
        replies = select.poll()  # cooperative under gevent's worker: other requests go on meanwhile
        replies.register(self._conn.fileno(), select.POLLIN)
        remaining = deadline - time.monotonic()
        wait = -1 if math.isinf(remaining) else max(0, math.ceil(remaining * 1000))
        if remaining <= 0 or not replies.poll(wait):
            self.kill()
            raise StoreTimeout("the update did not finish within its time limit and was stopped; "
                               "nothing of it was kept")
        try:
            return pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            code = self.kill()
            why = {-signal.SIGABRT: "it needed more memory than KG_WORKER_MEMORY allows",
                   3: "it could not be kept off the network, which KG_REQUIRE_CONFINEMENT requires"}
            raise UpdateStopped(f"the update stopped the process applying it ({why.get(code, f'exit status {code}')}); "
                                "nothing of it was kept") from None

    def kill(self) -> int | None:
        """Stop the writer now; returns its exit status once reaped (its lock on the directory is free then)."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        code = self._proc.wait()
        self._conn.close()
        return code

    def close(self) -> None:
        """Let the writer finish: it flushes and exits when its pipe closes; the directory is free on return."""
        self._conn.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


# -- the writer process -----------------------------------------------------------------------------

def _apply(store: ox.Store, request: Update | Load) -> tuple[str, str]:
    try:
        if isinstance(request, Load):
            load_file(store, request.path, ox.RdfFormat.from_media_type(request.media_type), request.graph)
        else:
            store.update(request.text, **({"prefixes": request.prefixes} if request.prefixes else {}))
        store.flush()
    except SyntaxError as exc:
        # Said again for the user's text alone: its line and column, not those of the text with the bump.
        own = request.own if isinstance(request, Update) else None
        return "syntax", (own_syntax_error(own, request.prefixes, update=True) if own else None) or str(exc)
    except MemoryError:
        return "error", "the write needed more memory than KG_WORKER_MEMORY allows"
    except (OSError, ValueError) as exc:
        return "error", str(exc)
    return "ok", ""


def _serve(conn: Connection, settings: Settings, confinement: dict) -> None:
    try:
        store = open_directory(settings.path, within=settings.within)
    except StoreError as exc:
        conn.send_bytes(pickle.dumps(("locked" if "lock" in str(exc).lower() else "error", str(exc))))
        return
    conn.send_bytes(pickle.dumps(("ready", confinement)))
    while True:
        try:
            request = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            break  # the server closed the store
        conn.send_bytes(pickle.dumps(_apply(store, request)))
    store.flush()


def main(fd: int) -> None:
    outlive_sigterm()
    conn = Connection(fd)
    settings: Settings = pickle.loads(conn.recv_bytes())
    confinement = confine_child("writer", settings.require_confinement)
    limit_memory(settings.memory)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    threading.stack_size(WRITE_STACK)
    worker = threading.Thread(target=_serve, args=(conn, settings, confinement))
    worker.start()
    worker.join()


if __name__ == "__main__":
    from kg.store import writer as _module

    _module.main(int(sys.argv[1]))
