"""The evaluator: the one kind of process that evaluates queries of the embedded store.

Why processes: pyoxigraph has no query cancellation and evaluates inside Rust, where neither a
thread nor a signal can stop it (``docs/engine-facts.md``). A query that outlives its deadline is
stopped the only sure way, by killing the process evaluating it; the server answers itself and
starts another.

Why one class for two sources: an evaluator holds either a **copy** of the graph in Oxigraph's
memory store (``source="memory"``: 2-5x faster than RocksDB on the benchmark's aggregates; it
answers only while its copy holds the store's current version, and takes each committed write as
the same update text) or a **read-only open** of the store directory (``source="disk"``: what
answers while a copy loads, reopened when the version moves on). Everything else is the same: a
fresh interpreter (fork+exec, never a bare fork of the threaded server) that confines itself before
it opens anything (``kg.safety.confine``), K threads on large stacks (pyoxigraph releases the GIL while it
evaluates), one pair of pipes per thread, a memory limit, and death when its server dies.

Why threads, not one process each: forked copies do not stay shared (at 1M triples each of two
forked children held 268 of its 342 MB privately after three passes of the mix), so K processes
would cost K copies. The price: a kill at one query's deadline stops the queries beside it; the
pool retries those within their own time left (``kg.query.pool``).

The copy is read from the directory by a short-lived helper process (``--dump``, inheriting the
confinement) and streamed in as N-Quads, so RocksDB's caches never live in the evaluator.
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

from kg.config import PROJECT_ROOT
from kg.query.evaluation import DEFAULT_WORKER_MEMORY, Job, Outcome, WorkerBusy, WorkerTimeout, Write, execute_reported
from kg.store import meta

log = logging.getLogger(__name__)


class EngineLost(Exception):
    """The evaluator cannot answer this job (it died, was stopped, or holds another version): the
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


class Evaluator:
    """Server-side handle of one evaluator process: starts it, waits until it is ready (its copy
    loaded, or the directory opened), hands it jobs, kills it.

    ``on_loaded`` is called (from a background thread) once it is ready or has failed.
    """

    def __init__(self, init: dict, threads: int, *, source: str = "memory", on_loaded=None):
        if source not in ("memory", "disk"):
            raise ValueError(f"an evaluator reads from 'memory' or 'disk', not {source!r}")
        self.source = source
        self.threads = max(1, int(threads))
        self.state = "loading"  #: loading | ready | failed | stopped
        self.version = ""
        self.triples = 0
        self.load_seconds = 0.0
        self.error = ""
        self.confinement: dict = {}  #: what the engine process achieved (kg.safety.confine), once ready
        self.retired = False
        self.stop_reason = ""  #: why it stopped: deadline | crash | retired | closed
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
            self.proc = start_module("kg.query.evaluator", args, tuple(fds_for_child))
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
            init_conn.send({**init, "source": source})
        threading.Thread(target=self._await_loaded, daemon=True, name=f"kg-evaluator-{source}-load").start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "state": self.state, "threads": self.threads,
                               "pid": self.pid}
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
            message = ("failed", f"the evaluator stopped while starting{reason}")
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
            raise EngineLost("the evaluator stopped")
        with self._lock:
            self._busy += 1
        try:
            if self.state != "ready":
                raise EngineLost("the evaluator stopped")
            slot.jobs.send(job)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not slot.results.poll(remaining):
                self.kill(reason="deadline")
                raise WorkerTimeout("the query did not finish within its time limit and was stopped")
            outcome: Outcome = slot.results.recv()
        except (EOFError, OSError) as exc:
            slot.close()
            reason = self.stop_reason or self._death()
            self.kill(reason=reason)
            raise EngineLost(f"the evaluator stopped while evaluating: {reason}") from exc
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

    def _death(self) -> str:
        """Why the process died under a query, from its exit status (read when it is reaped)."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "crash"
        if code in (-6, -9, 134, 137):
            return "it ran out of memory (KG_WORKER_MEMORY)"
        return f"crash (exit status {code})"

    def retire(self) -> None:
        """Stop once the jobs it is evaluating are answered (a newer copy has taken over)."""
        self.retired = True
        self._stop_if_idle()

    def _stop_if_idle(self) -> None:
        with self._lock:
            idle = self._busy == 0
        if idle:
            self.kill(reason="retired")

    def kill(self, reason: str = "closed") -> None:
        """Stop the process. Closes only the pipes no thread is using: idle slots here, slots in use
        by the thread that holds them (``run``), the status pipe by its reader (``_await_loaded``)."""
        with self._lock:
            if self.state in ("stopped", "failed"):
                return
            loading = self.state == "loading"
            self.state = "stopped"
            self.stop_reason = reason
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


# -- the evaluator process -----------------------------------------------------------------------

def start_module(module: str, args: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen:
    """``python -m module args...`` in a fresh interpreter (fork+exec, never a bare fork of the
    threaded server) that finds this project's packages and inherits ``pass_fds``."""
    root = str(PROJECT_ROOT)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen([sys.executable, "-m", module, *args], pass_fds=pass_fds,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": path}, cwd=root)


def limit_memory(limit: int) -> None:
    try:
        import resource

        if limit > 0:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def watch_parent(parent: int) -> None:
    # A worker outliving its server (killed with SIGKILL) would hold memory for nothing.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


#: Stack of each evaluating thread. Oxigraph's parser and evaluator recurse: on 8 MiB, about 1,000
#: nested CONCATs or 8,000 '+' crash the process; the pre-check's default bounds (64 levels, 4,096
#: operators) need about 5 MiB at worst, and this doubles the room once more. The pages are reserved,
#: not used, but RLIMIT_DATA counts them: KG_WORKER_MEMORY must leave room for one per thread.
EVALUATOR_STACK = 16 * 1024**2


def confine_evaluator(init: dict) -> dict:
    """The first thing an evaluator process does: no internet sockets from here on (``kg.safety.confine``).

    Returns what was achieved, for the server to show; exits when confinement is required and
    impossible (the server then reports that no evaluator could start)."""
    from kg.safety import confine

    result = confine.confine()
    if not result.confined:
        print(f"kg evaluator: cannot confine this process ({result.reason})", file=sys.stderr, flush=True)
        if init.get("require_confinement"):
            os._exit(3)
    return result.as_dict()


def start_evaluating_threads(targets: list[tuple[Any, tuple]]) -> list[threading.Thread]:
    """Threads with the evaluator's large stack (set process-wide: every thread after it gets it)."""
    threading.stack_size(EVALUATOR_STACK)
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in targets]
    for thread in threads:
        thread.start()
    return threads


def start_dump(path: str) -> subprocess.Popen:
    """The helper process that writes the store at ``path`` as N-Quads to its standard output."""
    return subprocess.Popen([sys.executable, "-m", "kg.query.evaluator", "--dump", path],
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

    def store_for(self, version: str) -> ox.Store | None:
        """The copy, when it holds ``version`` (None: stale, evaluate elsewhere)."""
        return self.store if version == self.version else None

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


class _Directory:
    """A read-only open of the store directory, shared by the threads, reopened when a job asks for
    a newer version than the one it opened (a read-only open may not see later writes)."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._store: ox.Store | None = None
        self._opened: str | None = None

    def store_for(self, version: str) -> ox.Store:
        with self._lock:
            if self._store is None or version != self._opened:
                self._store = None
                self._store = ox.Store.read_only(self.path)
                self._opened = version
            return self._store

    def apply(self, write: Write) -> Outcome:
        return Outcome("stale", message="the directory is read, not written, here")


def _serve(source: _Copy | _Directory, prefixes: dict[str, str], jobs: Connection, results: Connection) -> None:
    while True:
        try:
            job: Job | Write = jobs.recv()
        except (EOFError, OSError):
            return
        try:
            if isinstance(job, Write):
                outcome = source.apply(job)
            else:
                store = source.store_for(job.version)
                outcome = Outcome("stale") if store is None else execute_reported(store, job, prefixes)
        except OSError as exc:
            outcome = Outcome("error", message=f"the store could not be read: {exc}")
        try:
            results.send(outcome)
        except (BrokenPipeError, OSError):
            return


def evaluator_main(argv: list[str]) -> None:
    init_conn = Connection(int(argv[0]), writable=False)
    status = Connection(int(argv[1]), readable=False)
    slots = [tuple(int(fd) for fd in pair.split(",")) for pair in argv[2:]]
    init = init_conn.recv()
    init_conn.close()
    # Before anything is opened: the dump helper started below inherits the confinement.
    confinement = confine_evaluator(init)
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
            status.send(("failed", "the graph does not fit in the memory an evaluator may use (KG_WORKER_MEMORY)"))
            return
        except Exception as exc:  # noqa: BLE001 - reported to the server, which falls back to disk
            status.send(("failed", f"{type(exc).__name__}: {exc}"))
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
            (_serve, (source, init["prefixes"], Connection(job_fd, writable=False),
                      Connection(res_fd, readable=False)))
            for job_fd, res_fd in slots
        ])
    except RuntimeError as exc:
        status.send(("failed", f"cannot start the query threads within KG_WORKER_MEMORY: {exc}"))
        os._exit(1)
    try:
        status.send(("ready", version, quads, time.perf_counter() - started, confinement))
    except OSError:  # the server is gone
        os._exit(0)
    for thread in threads:
        thread.join()


def dump_main(path: str) -> None:
    """Write the whole store at ``path`` to standard output as N-Quads (the copy's loader)."""
    store = ox.Store.read_only(path)
    try:
        store.dump(sys.stdout.buffer, format=ox.RdfFormat.N_QUADS)
        sys.stdout.buffer.flush()
    except (BrokenPipeError, OSError):
        # The evaluator stopped reading (it was stopped, or the server is shutting down).
        os._exit(1)


if __name__ == "__main__":
    # Run the imported module's copy (``kg.query.evaluator``), not ``__main__``'s.
    from kg.query import evaluator as _module

    if sys.argv[1] == "--dump":
        _module.dump_main(sys.argv[2])
    else:
        _module.evaluator_main(sys.argv[1:])
