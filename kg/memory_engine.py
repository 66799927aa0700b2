"""A copy of the graph held in memory by one killable process, answering read queries.

Why a copy: on the same data, Oxigraph's on-disk (RocksDB) engine evaluates the benchmark's
aggregates 2-5x slower than its in-memory engine (100k triples: the mix in 396 ms against 174 ms;
1M: 5.9 s against 1.35 s, one pass in one process, ``bench/notes.md``). The durable store stays on
disk and takes every write; reads go to this copy while its version equals the store's, and a
write makes the pool start a new copy (``kg.query_pool``) and use the disk workers meanwhile.

Why one process with threads: pyoxigraph releases the GIL while it evaluates, so threads of one
process evaluate in parallel over one copy. Forked copies do not stay shared: reading writes to
the pages it reads (measured at 1M triples: 268 of 342 MB private in each of two forked children
after three passes of the mix), so N processes would cost N copies.

Why a process at all: a query that outlives its deadline can only be stopped by killing the
process evaluating it (``docs/engine-facts.md``). The pool then kills the whole engine, retries the
other queries it was evaluating on the disk workers and loads a new engine.

The copy is read from the store directory by a short-lived helper process (``--dump``) and
streamed in as N-Quads, so RocksDB's caches never live in the engine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

from kg.query_workers import (
    DEFAULT_WORKER_MEMORY,
    Job,
    Outcome,
    WorkerBusy,
    WorkerTimeout,
    Write,
    confine_evaluator,
    execute_reported,
    limit_memory,
    start_evaluating_threads,
    start_module,
    watch_parent,
)
from kg.store import meta

log = logging.getLogger(__name__)


class EngineLost(Exception):
    """The engine cannot answer this job (it died, was stopped, or holds another version): the
    caller evaluates it elsewhere."""


class _Slot:
    """One evaluating thread of the engine, reached through its own pair of pipes."""

    def __init__(self, jobs: Connection, results: Connection):
        self.jobs = jobs
        self.results = results

    def close(self) -> None:
        for conn in (self.jobs, self.results):
            with contextlib.suppress(OSError):
                conn.close()


class MemoryEngine:
    """Server-side handle of one engine process: starts it, waits for its copy, hands it jobs.

    ``on_loaded`` is called (from a background thread) once the copy is ready or has failed.
    """

    def __init__(self, init: dict, threads: int, on_loaded=None):
        self.threads = max(1, int(threads))
        self.state = "loading"  #: loading | ready | failed | stopped
        self.version = ""
        self.triples = 0
        self.load_seconds = 0.0
        self.error = ""
        self.confinement: dict = {}  #: what the engine process achieved (kg.confine), once ready
        self.retired = False
        self.changes_at_start = 0  #: the pool's write count when this copy started loading
        self._busy = 0
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Slot | None] = queue.Queue()
        self._on_loaded = on_loaded
        fds_for_child: list[int] = []
        ours: list[tuple[int, int]] = []  # (job write end, result read end) per slot
        init_r, init_w = os.pipe()
        status_r, status_w = os.pipe()
        args = [str(init_r), str(status_w)]
        fds_for_child += [init_r, status_w]
        for _ in range(self.threads):
            job_r, job_w = os.pipe()
            res_r, res_w = os.pipe()
            fds_for_child += [job_r, res_w]
            ours.append((job_w, res_r))
            args.append(f"{job_r},{res_w}")
        try:
            self.proc = start_module("kg.memory_engine", args, tuple(fds_for_child))
        except OSError:
            for fd in [init_w, status_r, *(fd for pair in ours for fd in pair)]:
                os.close(fd)
            raise
        finally:
            for fd in fds_for_child:
                os.close(fd)
        self._slots = [_Slot(Connection(w, readable=False), Connection(r, writable=False)) for w, r in ours]
        self._status = Connection(status_r, writable=False)
        with Connection(init_w, readable=False) as init_conn:
            init_conn.send(init)
        threading.Thread(target=self._await_loaded, daemon=True, name="kg-memory-engine-load").start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "threads": self.threads, "pid": self.pid}
        if self.state == "ready":
            out.update(version=self.version, triples=self.triples, load_seconds=round(self.load_seconds, 3),
                       confinement=self.confinement)
        if self.error:
            out["error"] = self.error
        return out

    def _await_loaded(self) -> None:
        try:
            message = self._status.recv()
        except (EOFError, OSError):
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            reason = " (out of memory: the copy needs more than KG_WORKER_MEMORY)" if code in (-6, -9) else ""
            message = ("failed", f"the engine stopped while loading the graph{reason}")
        finally:
            # Closed here, by the only thread that reads it (see kill()).
            with contextlib.suppress(OSError):
                self._status.close()
        with self._lock:
            if message[0] == "ready" and self.state == "loading":
                _, self.version, self.triples, self.load_seconds, self.confinement = message
                self.state = "ready"
                for slot in self._slots:
                    self._idle.put(slot)
            elif self.state == "loading":
                self.error = str(message[1])
        if self.state == "loading":
            self.kill()
            self.state = "failed"
        if self._on_loaded is not None:
            self._on_loaded(self)

    def run(self, job: Job, deadline: float) -> Outcome:
        """Evaluate ``job`` before ``deadline`` (``time.monotonic``).

        Raises WorkerTimeout (the engine was killed at the deadline), WorkerBusy (no thread became
        free in time) or EngineLost (evaluate elsewhere).

        A slot taken from the idle queue belongs to this call until it is put back or closed here:
        its pipes are never closed by another thread, because a descriptor closed under a waiting
        ``poll`` can be reused by the next pipe this process opens (a new engine's), and the wait
        would then watch the wrong pipe until its deadline.
        """
        try:
            slot = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise WorkerBusy("every query thread stayed busy for the whole time limit") from None
        if slot is None:  # the engine stopped while we waited
            self._idle.put(None)
            raise EngineLost("the in-memory engine stopped")
        with self._lock:
            self._busy += 1
        try:
            if self.state != "ready":
                raise EngineLost("the in-memory engine stopped")
            slot.jobs.send(job)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not slot.results.poll(remaining):
                self.kill()
                raise WorkerTimeout("the query did not finish within its time limit and was stopped")
            outcome: Outcome = slot.results.recv()
        except (EOFError, OSError) as exc:
            slot.close()
            self.kill()
            raise EngineLost(f"the in-memory engine stopped while evaluating: {type(exc).__name__}") from exc
        except BaseException:
            slot.close()
            raise
        finally:
            with self._lock:
                self._busy -= 1
        with self._lock:
            if self.state == "ready":
                self._idle.put(slot)
                slot = None
        if slot is not None:
            slot.close()
        if outcome.status == "stale":
            raise EngineLost("the in-memory copy holds another version of the graph")
        if self.retired:
            self._stop_if_idle()
        return outcome

    def apply(self, write: Write, deadline: float) -> bool:
        """Apply a committed write to the copy; True when it now holds ``write.version``.

        False (the caller reloads) when the copy held another version, the update failed there, or
        the engine could not take it before ``deadline``; a write never waits on a runaway query
        longer than that, and an engine that misses it is reloaded, as before."""
        try:
            outcome = self.run(write, deadline)  # type: ignore[arg-type]
        except (EngineLost, WorkerTimeout):
            return False
        if outcome.status != "ok":
            log.info("the in-memory copy could not apply a write (%s): reloading", outcome.message)
            return False
        with self._lock:
            self.version = write.version
            self.triples = int(outcome.extra.get("triples", self.triples))
        return True

    def retire(self) -> None:
        """Stop once the jobs it is evaluating are answered (a newer copy has taken over)."""
        self.retired = True
        self._stop_if_idle()

    def _stop_if_idle(self) -> None:
        with self._lock:
            idle = self._busy == 0
        if idle:
            self.kill()

    def kill(self) -> None:
        """Stop the process. Closes only the pipes no thread is using: idle slots here, slots in use
        by the thread that holds them (``run``), the status pipe by its reader (``_await_loaded``)."""
        with self._lock:
            if self.state in ("stopped", "failed"):
                return
            loading = self.state == "loading"
            self.state = "stopped"
            with contextlib.suppress(OSError):
                self.proc.kill()
            if loading:
                unused = list(self._slots)  # never handed out
            else:
                unused = []
                while True:
                    try:
                        slot = self._idle.get_nowait()
                    except queue.Empty:
                        break
                    if slot is not None:
                        unused.append(slot)
            self._idle.put(None)  # wakes every waiter, each puts it back for the next
        for slot in unused:
            slot.close()
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)


# -- the engine process --------------------------------------------------------------------------

def start_dump(path: str) -> subprocess.Popen:
    """The helper process that writes the store at ``path`` as N-Quads to its standard output."""
    return subprocess.Popen([sys.executable, "-m", "kg.memory_engine", "--dump", path],
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
    a time (the server sends them in the order the store committed them)."""

    def __init__(self, store: ox.Store, version: str):
        self.store = store
        self.version = version
        self._lock = threading.Lock()

    def apply(self, write: Write) -> Outcome:
        with self._lock:
            if write.previous != self.version:
                return Outcome("stale", message=f"the copy holds {self.version}, not {write.previous}")
            try:
                self.store.update(write.update)
            except (SyntaxError, OSError, ValueError) as exc:
                return Outcome("error", message=f"{type(exc).__name__}: {exc}")
            self.version = write.version
            return Outcome("ok", extra={"version": write.version, "triples": len(self.store)})


def _serve(copy: _Copy, prefixes: dict[str, str], jobs: Connection, results: Connection) -> None:
    store = copy.store
    while True:
        try:
            job: Job | Write = jobs.recv()
        except (EOFError, OSError):
            return
        if isinstance(job, Write):
            outcome = copy.apply(job)
        elif job.version != copy.version:
            outcome = Outcome("stale")
        else:
            try:
                outcome = execute_reported(store, job, prefixes)
            except OSError as exc:
                outcome = Outcome("error", message=f"{type(exc).__name__}: {exc}")
        try:
            results.send(outcome)
        except (BrokenPipeError, OSError):
            return


def engine_main(argv: list[str]) -> None:
    init_conn = Connection(int(argv[0]), writable=False)
    status = Connection(int(argv[1]), readable=False)
    slots = [tuple(int(fd) for fd in pair.split(",")) for pair in argv[2:]]
    init = init_conn.recv()
    init_conn.close()
    # Before anything is opened: the dump helper started below inherits the confinement.
    confinement = confine_evaluator(init)
    started = time.perf_counter()
    # The reader starts before the memory limit is set: the limit is for the copy, not for RocksDB.
    helper = start_dump(init["path"])
    limit_memory(int(init.get("memory", DEFAULT_WORKER_MEMORY)))
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        store = load_copy(helper)
        version = meta.read(store, init["graph_ns"])[0] or ""
    except MemoryError:
        status.send(("failed", "the graph does not fit in the memory a query worker may use (KG_WORKER_MEMORY)"))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the server, which falls back to disk
        status.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    from kg import guard

    guard.install(extra=[tuple(x) for x in init.get("allow", [])], rdflib=False)
    try:
        # Before saying ready: a thread's stack counts against the memory limit too.
        copy = _Copy(store, version)
        threads = start_evaluating_threads([
            (_serve, (copy, init["prefixes"], Connection(job_fd, writable=False),
                      Connection(res_fd, readable=False)))
            for job_fd, res_fd in slots
        ])
    except RuntimeError as exc:
        status.send(("failed", f"cannot start the query threads within KG_WORKER_MEMORY: {exc}"))
        os._exit(1)
    try:
        status.send(("ready", version, len(store), time.perf_counter() - started, confinement))
    except OSError:  # the server is gone
        os._exit(0)
    for thread in threads:
        thread.join()


def dump_main(path: str) -> None:
    """Write the whole store at ``path`` to standard output as N-Quads (the engine's loader)."""
    store = ox.Store.read_only(path)
    try:
        store.dump(sys.stdout.buffer, format=ox.RdfFormat.N_QUADS)
        sys.stdout.buffer.flush()
    except (BrokenPipeError, OSError):
        # The engine stopped reading (it was stopped, or the server is shutting down): nothing to say.
        os._exit(1)


if __name__ == "__main__":
    # Run the imported module's copy, so the classes pickled back are ``kg.query_workers.*``.
    from kg import memory_engine as _module

    if sys.argv[1] == "--dump":
        _module.dump_main(sys.argv[2])
    else:
        _module.engine_main(sys.argv[1:])
