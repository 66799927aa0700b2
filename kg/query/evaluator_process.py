"""Inside an evaluator process: what it runs from start to exit.

``kg.query.evaluator`` is the server's side (start, send, wait, kill); this is the other end of its
connections. In order: confine the process (``kg.safety.confine``), load the copy through a dump
helper or open the directory read-only, limit memory, start K evaluating threads on large stacks, say
ready, then answer batches and writes until the server goes away. Run as
``python -m kg.query.evaluator_process``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

from kg.children import confine_child, limit_memory, outlive_sigterm, watch_parent
from kg.config import DEFAULT_WORKER_MEMORY
from kg.query.evaluation import Batch, Outcome, Write, execute_reported
from kg.store import meta
from kg.store.base import StoreError
from kg.store.directory import open_directory

#: Stack of each evaluating thread. Oxigraph's parser and evaluator recurse: on 8 MiB, about 1,000
#: nested CONCATs or 8,000 '+' crash the process; the pre-check's default bounds (64 levels, 4,096
#: operators) need about 5 MiB at worst, and this doubles the room once more. The pages are reserved,
#: not used, but RLIMIT_DATA counts them: KG_WORKER_MEMORY must leave room for one per thread.
EVALUATOR_STACK = 16 * 1024**2
#: Versions the copy remembers having held: a batch pinned at one of them is answered (see _Copy).
HELD_VERSIONS = 256


def start_evaluating_threads(targets: list[tuple[Any, tuple]]) -> list[threading.Thread]:
    """Threads with the evaluator's large stack (set process-wide: every thread after it gets it)."""
    threading.stack_size(EVALUATOR_STACK)
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in targets]
    for thread in threads:
        thread.start()
    return threads


def start_dump(path: str) -> subprocess.Popen:
    """The helper process that writes the store at ``path`` as N-Quads to its standard output."""
    return subprocess.Popen([sys.executable, "-m", "kg.query.evaluator_process", "--dump", path],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)


def load_copy(helper: subprocess.Popen) -> ox.Store:
    """An in-memory store holding everything ``helper`` (``start_dump``) writes."""
    store = ox.Store()
    try:
        assert helper.stdout is not None
        store.load(helper.stdout, format=ox.RdfFormat.N_QUADS)
    finally:
        if helper.stdout is not None:
            helper.stdout.close()
        code = helper.wait()
    if code != 0:
        raise OSError(f"reading the store directory failed (exit status {code})")
    return store


class _Copy:
    """The copy and the version it holds, shared by the engine's threads; writes are applied one at
    a time (the server sends them in the order the store committed them), and wait for the batches
    reading the copy, so a batch sees one version from its first query to its last.

    A batch pinned at a version the copy held before its current one is answered at the current
    one: the request began before the writes since, and overlapped them, so their result is as
    right an answer; refusing it would send every batch that waited for a thread across a write to
    the disk. A version it has not held yet is refused (None): a write not applied here yet."""

    def __init__(self, store: ox.Store, version: str):
        self.store = store
        self.version = version
        self._held: deque[str] = deque(maxlen=HELD_VERSIONS)  #: versions before the current one, newest last
        self._changed = threading.Condition()
        self._readers = 0

    @contextlib.contextmanager
    def holding(self, version: str, queries: int) -> Iterator[ox.Store | None]:
        """The copy at ``version`` (None: stale, evaluate elsewhere), kept there for the block when
        ``queries`` are more than one. One query needs no hold: the engine evaluates it on a snapshot,
        so a write is applied beside it at once, however long it runs."""
        with self._changed:
            store = self.store if version == self.version or version in self._held else None
            held = store is not None and queries > 1
            if held:
                self._readers += 1
        try:
            yield store
        finally:
            if held:
                with self._changed:
                    self._readers -= 1
                    self._changed.notify_all()

    def apply(self, write: Write) -> Outcome | None:
        with self._changed:
            self._changed.wait_for(lambda: self._readers == 0)
            if write.previous != self.version:
                return None
            try:
                self.store.update(write.update)
            except (SyntaxError, OSError, ValueError) as exc:
                return Outcome("error", message=f"{type(exc).__name__}: {exc}")
            self._held.append(self.version)
            self.version = write.version
            return Outcome("ok", count=len(self.store))


class _Directory:
    """A read-only open of the store directory, shared by the threads, reopened when a batch asks for
    a newer version than the one it opened (a read-only open may not see later writes, so each open
    is one version for as long as a batch holds it)."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._store: ox.Store | None = None
        self._opened: str | None = None

    @contextlib.contextmanager
    def holding(self, version: str, queries: int) -> Iterator[ox.Store]:
        with self._lock:
            if self._store is None or version != self._opened:
                self._store = None
                self._store = open_directory(self.path, read_only=True)
                self._opened = version
            store = self._store
        yield store

    def apply(self, write: Write) -> None:
        return None  # the directory is read, not written, here


def _serve(source: _Copy | _Directory, prefixes: dict[str, str], requests: Connection,
           replies: Connection) -> None:
    """Answer one thread's requests: a batch with its outcomes, a write with its outcome; None when
    the source does not hold the version asked for (the server evaluates elsewhere)."""
    while True:
        try:
            request: Batch | Write = requests.recv()
        except (EOFError, OSError):
            return
        reply: list[Outcome] | Outcome | None
        if isinstance(request, Write):
            reply = source.apply(request)
        else:
            try:
                with source.holding(request.version, len(request.jobs)) as store:
                    reply = None if store is None else [execute_reported(store, job, prefixes)
                                                         for job in request.jobs]
            except StoreError as exc:  # the directory could not be opened (kg.store.directory)
                reply = [Outcome("error", message=f"the store could not be read: {exc}")] * len(request.jobs)
        try:
            # The C pickler straight away: ``Connection.send`` makes a pickler with its own dispatch table
            # for every reply.
            replies.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return


def evaluator_main(argv: list[str]) -> None:
    outlive_sigterm()
    control = Connection(int(argv[0]))
    init = control.recv()
    # Before anything is opened: the dump helper started below inherits the confinement.
    confinement = confine_child("evaluator", bool(init.get("require_confinement")))
    started = time.perf_counter()
    source: _Copy | _Directory
    if init["source"] == "memory":
        # The reader starts before the memory limit is set: the limit is for the copy, not RocksDB.
        helper = start_dump(init["path"])
        limit_memory(int(init.get("memory", DEFAULT_WORKER_MEMORY)))
        try:
            store = load_copy(helper)
            source = _Copy(store, meta.read(store, init["graph_ns"])[0] or "")
        except MemoryError:
            control.send(("failed", "the graph does not fit in the memory an evaluator may use (KG_WORKER_MEMORY)"))
            return
        except Exception as exc:  # noqa: BLE001 - reported to the server, which falls back to disk
            control.send(("failed", f"{type(exc).__name__}: {exc}"))
            return
        version, quads = source.version, len(store)
    else:
        limit_memory(int(init.get("memory", DEFAULT_WORKER_MEMORY)))
        source, version, quads = _Directory(init["path"]), "", 0
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    from kg.safety import guard

    guard.install(extra=[tuple(x) for x in init.get("allow", [])], rdflib=False)
    try:
        # Before saying ready: a thread's stack counts against the memory limit too.
        threads = start_evaluating_threads([
            (_serve, (source, init["prefixes"], *(Connection(int(fd)) for fd in pair.split(","))))
            for pair in argv[1:]])
    except RuntimeError as exc:
        control.send(("failed", f"cannot start the query threads within KG_WORKER_MEMORY: {exc}"))
        os._exit(1)
    try:
        control.send(("ready", version, quads, time.perf_counter() - started, confinement))
    except OSError:  # the server is gone
        os._exit(0)
    for thread in threads:
        thread.join()


def dump_main(path: str) -> None:
    """Write the whole store at ``path`` to standard output as N-Quads (the copy's loader)."""
    outlive_sigterm()  # it ends when its evaluator stops reading
    try:
        store = open_directory(path, read_only=True)
    except StoreError as exc:
        print(f"kg dump: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    try:
        store.dump(sys.stdout.buffer, format=ox.RdfFormat.N_QUADS)
        sys.stdout.buffer.flush()
    except (BrokenPipeError, OSError):
        # The evaluator stopped reading (it was stopped, or the server is shutting down).
        os._exit(1)


if __name__ == "__main__":
    # Run the imported module's copy (``kg.query.evaluator_process``), not ``__main__``'s.
    from kg.query import evaluator_process as _module

    if sys.argv[1] == "--dump":
        _module.dump_main(sys.argv[2])
    else:
        _module.evaluator_main(sys.argv[1:])
