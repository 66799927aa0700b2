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
import math
import os
import pickle
import queue
import select
import signal
import subprocess
import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

from kg.children import start_module
from kg.query.evaluation import Batch, Outcome, WorkerBusy, WorkerTimeout, Write

log = logging.getLogger(__name__)


class EngineLost(Exception):
    """The evaluator cannot answer this job (it died, was stopped, or holds another version): the
    caller evaluates it elsewhere."""


class _Slot:
    """One evaluating thread of the engine, reached through a pipe each way. (A Unix socket pair, one
    descriptor instead of two, measured 10-20% slower on ``ASK {}`` after large answers: bench/notes.md.)

    A request is pickled by the C pickler and its reply awaited on a poll object made once: the
    round trip is on every query's path, and ``Connection.send``/``poll`` build a pickler and a
    selector per call."""

    def __init__(self, jobs: Connection, results: Connection):
        self.jobs = jobs
        self.results = results
        self._replies = select.poll()  # gevent's cooperative poll in its worker (made after patching)
        self._replies.register(results.fileno(), select.POLLIN)

    def send(self, request: Batch | Write) -> None:
        self.jobs.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))

    def wait(self, seconds: float) -> bool:
        """Whether a reply (or the end of the pipe) came within ``seconds``."""
        return bool(self._replies.poll(max(0, math.ceil(seconds * 1000))))

    def recv(self) -> Any:
        return pickle.loads(self.results.recv_bytes())

    def close(self) -> None:
        self.jobs.close()
        self.results.close()


class Evaluator:
    """Server-side handle of one evaluator process: starts it, waits until it is ready (its copy
    loaded, or the directory opened), hands it batches and writes, kills it.

    It is reached through a pair of pipes per evaluating thread (``_Slot``), and one connection for its
    start: the settings go down it, and "ready" or "failed" comes back.
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
        self._control, control = Pipe()
        # Under gevent's worker the pair comes from its socketpair, non-blocking; the evaluator, which
        # inherits one end, reads it as a plain blocking pipe (the server waits on its end with poll).
        for conn in (self._control, control):
            os.set_blocking(conn.fileno(), True)
        pipes = [(Pipe(duplex=False), Pipe(duplex=False)) for _ in range(self.threads)]  # [(read, write)] * 2
        self._slots = [_Slot(jobs[1], results[0]) for jobs, results in pipes]
        theirs = [(jobs[0], results[1]) for jobs, results in pipes]
        fds = (control.fileno(), *(conn.fileno() for pair in theirs for conn in pair))
        try:
            self.proc = start_module("kg.query.evaluator_process",
                                     [str(control.fileno()), *(f"{r.fileno()},{w.fileno()}" for r, w in theirs)], fds)
        except OSError:
            for slot in self._slots:
                slot.close()
            self._control.close()
            raise
        finally:
            control.close()
            for pair in theirs:
                for conn in pair:
                    conn.close()
        self._control.send({**init, "source": source})
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
            # poll first: a wait that yields to the other requests where they share one thread (gevent).
            self._control.poll(None)
            message = self._control.recv()
        except (EOFError, OSError):
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            reason = " (out of memory: the copy needs more than KG_WORKER_MEMORY)" if code in (-6, -9) else ""
            message = ("failed", f"the evaluator stopped while starting{reason}")
        finally:
            # Closed here, by the only thread that reads it (see kill()).
            self._control.close()
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

    def run(self, request: Batch | Write, deadline: float) -> Any:
        """Send ``request`` and return the reply (a batch's outcomes; a write's outcome) before
        ``deadline`` (``time.monotonic``).

        Raises WorkerTimeout (the engine was killed at the deadline), WorkerBusy (no thread became
        free in time) or EngineLost (evaluate elsewhere).

        A slot taken from the idle queue belongs to this call until it is put back or closed here:
        its pipes are never closed by another thread, because a descriptor closed under a waiting
        ``poll`` can be reused by the next pipe this process opens (a new engine's), and the wait
        would then watch the wrong one until its deadline.
        """
        try:
            # Without waiting first: a free thread is the common case, and a timed wait costs a timer.
            slot = self._idle.get_nowait()
        except queue.Empty:
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
            slot.send(request)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not slot.wait(remaining):
                self.kill(reason="deadline")
                raise WorkerTimeout("the query did not finish within its time limit and was stopped")
            reply = slot.recv()
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
        if self.retired:
            self._stop_if_idle()
        if reply is None:
            raise EngineLost("the evaluator holds another version of the graph")
        return reply

    def apply(self, write: Write, deadline: float) -> bool:
        """Apply a committed write to the copy; True when it now holds ``write.version``.

        False (the caller reloads) when the copy held another version, the update failed there, or
        the engine could not take it before ``deadline``; a write never waits on a runaway query
        longer than that, and an engine that misses it is reloaded, as before."""
        try:
            outcome: Outcome = self.run(write, deadline)
        except (EngineLost, WorkerTimeout):
            return False
        if outcome.status != "ok":
            log.info("the in-memory copy could not apply a write (%s): reloading", outcome.message)
            return False
        with self._lock:
            self.version = write.version
            self.triples = outcome.count
        return True

    def _death(self) -> str:
        """Why the process died under a query, from its exit status (read when it is reaped)."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "crash"
        # Under RLIMIT_DATA an allocation that fails aborts the engine (SIGABRT); SIGKILL comes from
        # outside: the system's out-of-memory killer, or an operator.
        if code in (-signal.SIGABRT, 128 + signal.SIGABRT):
            return "it ran out of memory (KG_WORKER_MEMORY)"
        if code in (-signal.SIGKILL, 128 + signal.SIGKILL):
            return "it was killed from outside (the system's out-of-memory killer, or an operator)"
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
        """Stop the process. Closes only the connections no thread is using: idle slots here, slots in use
        by the thread that holds them (``run``), the control connection by its reader (``_await_loaded``)."""
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
        threading.Thread(target=self.proc.wait, daemon=True).start()  # reaped, not left a zombie
