"""Where a query of the embedded store is evaluated: the in-memory copy, or the disk.

Every read that must be stoppable comes here (user SPARQL, named queries, lookups, descriptions).
Both are evaluators (``kg.query.evaluator``). The in-memory one answers when its copy holds the
store's current version, and a read that began before writes it has taken since (``_engine_for``).
A committed write is applied to the copy too (the same update text, version triples included)
before the write is acknowledged, so the copy stays current without reloading; it is reloaded only
when that cannot be done (a bulk load, a copy stopped at a deadline or loading, a failure).
Meanwhile the disk evaluator (a read-only open of the store directory) answers. So an answer always
reflects the latest write.

The disk evaluator starts on first need: a server that only reads never starts it. A query stopped
at its deadline takes its evaluator with it; the queries that evaluator was answering for others
are retried, once, within their own time left.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kg.config import DEFAULT_WORKER_MEMORY
from kg.query.evaluation import Batch, Outcome, WorkerBusy, WorkerCrashed, WorkerTimeout, Write
from kg.query.evaluator import EngineLost, Evaluator
from kg.query.precheck import tokens

log = logging.getLogger(__name__)

#: Shortest time between the starts of two loads of the copy, in seconds (see _start_engine_locked).
MIN_SPACING = 0.5
#: How long a write waits for the copy to apply it before the copy is reloaded instead, in seconds.
APPLY_TIMEOUT = 5.0
#: Loads of a copy of one version tried before that version is left to the disk. A load can fail for a
#: passing reason (the dump helper's read-only open of the directory failed once in a benchmark run,
#: right after a bulk load, and the next load succeeded), so a failure is tried again, each time after
#: twice as long; a cause that lasts (the copy does not fit ``KG_WORKER_MEMORY``) ends the tries.
LOAD_ATTEMPTS = 3


#: Functions whose value differs at each evaluation (a fresh UUID, random number, blank node, clock).
_ONCE_ONLY = re.compile(r"UUID|RAND|NOW|BNODE", re.I)


def repeatable(update: str) -> bool:
    """Whether applying ``update`` again writes what it wrote the first time: not when it calls a
    function of ``_ONCE_ONLY`` (looked for in every bare word, as the pre-check looks for SERVICE).

    >>> repeatable("INSERT DATA { <urn:a> <urn:b> 'NOW' }")
    True
    >>> repeatable("INSERT { <urn:a> <urn:b> ?u } WHERE { BIND(UUID() AS ?u) }")
    False
    """
    return not any(kind == "name" and ":" not in value and _ONCE_ONLY.search(value) for kind, value in tokens(update))


class QueryPool:
    """The query evaluators of one embedded store directory."""

    def __init__(self, store_path: Path | str, prefixes: dict[str, str], *, graph_ns: str,
                 workers: int = 2, engine: str = "memory", engine_threads: int = 4,
                 allow: list[tuple[str, int]] | None = None, memory: int = DEFAULT_WORKER_MEMORY,
                 version: str = "", require_confinement: bool = False):
        self.mode = engine
        self._workers = workers
        self._threads = engine_threads
        #: What the engine and the disk workers are started with.
        self._init = {"path": str(store_path), "prefixes": dict(prefixes), "allow": list(allow or []),
                      "memory": int(memory), "graph_ns": graph_ns, "require_confinement": require_confinement}
        self._lock = threading.Lock()
        self._disk: Evaluator | None = None  #: the read-only open of the directory, once needed
        self._engine: Evaluator | None = None  #: the copy in use
        self._loading: Evaluator | None = None  #: a newer copy being loaded
        self._failed_version: str | None = None  #: the store version a copy could not be made of
        self._wanted = version  #: the store's newest version we know of
        self._changes = 0  #: writes seen; a copy started before the last one is reloaded
        self._applying: tuple[str, threading.Event] | None = None  #: the write the copy is taking now
        self._failures = 0  #: loads of the wanted version that failed in a row
        self._closed = False
        self._timer: threading.Timer | None = None  #: a load waiting for its spacing
        self._last_error = ""  #: why the last copy could not be made (shown on /healthz)
        self._last_start = float("-inf")
        self._last_load_seconds = 0.0
        self.engine_loads = 0
        self.writes_applied = 0  #: writes applied to the copy instead of reloading it
        self.kills = {"memory": 0, "disk": 0}  #: evaluators stopped at a query's deadline
        self.answered = {"memory": 0, "disk": 0}  #: batches answered by each evaluator
        if self.mode == "memory":
            with self._lock:
                self._start_engine_locked()
        else:
            self._disk_evaluator()

    # -- routing ---------------------------------------------------------------------------------
    def run(self, batch: Batch, timeout: float) -> list[Outcome]:
        """The outcomes of ``batch`` within ``timeout`` seconds, from the fastest evaluator holding its
        version: the copy, else the disk (tried twice: the first may be stopped for another query's
        deadline). Raises WorkerTimeout (WorkerBusy) at the limit, WorkerCrashed when the query
        stopped an evaluator by itself."""
        deadline = time.monotonic() + timeout
        lost_on_disk = 0
        for evaluator in self._evaluators_for(batch.version, deadline):
            if deadline - time.monotonic() <= 0:
                break
            try:
                outcomes = evaluator.run(batch, deadline)
            except WorkerBusy:
                raise
            except WorkerTimeout:
                self._stopped(evaluator)
                with self._lock:
                    self.kills[evaluator.source] += 1
                raise WorkerTimeout(f"the query did not finish within its time limit of {timeout:g} s "
                                    "and was stopped") from None
            except EngineLost as exc:
                self._stopped(evaluator)
                if evaluator.source == "disk":
                    lost_on_disk += 1
                    if lost_on_disk == 2 or evaluator.stop_reason not in ("deadline", "retired", "closed"):
                        # It died under this query (out of memory, a crash): not tried again.
                        raise WorkerCrashed(f"the query stopped the evaluator ({exc})") from None
                log.info("the %s evaluator could not answer (%s); trying the next", evaluator.source, exc)
                continue
            with self._lock:
                self.answered[evaluator.source] += 1
            return outcomes
        raise WorkerTimeout(f"the query did not finish within its time limit of {timeout:g} s")

    def version_changed(self, version: str, update: str | None = None, previous: str = "") -> None:
        """A write was committed (``EmbeddedStore.listeners``): apply the same update to the copy, so
        it holds the new version at once; when that cannot be done (a bulk load, a copy that is
        loading or holds another version, a failure), load a copy of the new version now."""
        if self.mode != "memory":
            return
        if update is not None and not repeatable(update):
            update = None  # applied again, it would not write what the store wrote: the copy is reloaded
        engine = self._engine
        if (update is not None and engine is not None and engine.state == "ready" and self._loading is None
                and self._timer is None and engine.version == previous):
            applied = threading.Event()
            self._applying = (version, applied)
            try:
                taken = engine.apply(Write(update, version, previous), time.monotonic() + APPLY_TIMEOUT)
            finally:
                self._applying = None
                applied.set()
            if taken:
                with self._lock:
                    self._wanted = version
                    self.writes_applied += 1
                return
        with self._lock:
            self._wanted = version
            self._changes += 1
            self._failures = 0
            self._start_engine_locked()

    def _engine_for(self, version: str, deadline: float, stale: bool = False) -> Evaluator | None:
        """The copy, when it may answer a batch pinned at ``version`` (``stale``: it has just answered
        that it does not hold that version).

        The copy answers a batch pinned at the version it holds, or at any version it held before
        (the request overlapped the writes since, so their result is as right an answer; it still
        sees one version throughout), and says so when it cannot: a batch pinned at a write it has
        not taken yet. That one waits for the write being applied, a few milliseconds, rather than
        go to the disk, whose read-only open must be made again for each new version.
        """
        if self.mode != "memory":
            return None
        applying = self._applying
        if applying is not None and (applying[0] == version or stale):
            applying[1].wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            engine = self._engine
            if engine is not None and engine.state == "ready" and engine.version in (version, self._wanted):
                return engine
            if self._loading is None and version != self._failed_version:
                # A copy that was stopped, or one behind a write it could not take.
                self._wanted = version or self._wanted
                self._start_engine_locked()
            return None

    def _start_engine_locked(self) -> None:
        """Start loading a copy now, or once the spacing since the last start has passed (unless one
        is loading or waiting already).

        Loads are spaced by twice the last load's time (at least MIN_SPACING): under a stream of
        writes, or of runaway queries that each stop the engine, reloading takes at most about half
        a core, and reads go to the disk workers in between.
        """
        if self._timer is not None or self._loading is not None or self._closed:
            return
        spacing = max(MIN_SPACING, 2 * self._last_load_seconds, MIN_SPACING * 2 ** self._failures)
        wait = self._last_start + spacing - time.monotonic()
        if wait > 0:
            self._timer = threading.Timer(wait, self._start_later)
            self._timer.daemon = True
            self._timer.start()
            return
        self._last_start = time.monotonic()
        try:
            self._loading = Evaluator(self._init, self._threads, source="memory", on_loaded=self._loaded)
            self._loading.changes_at_start = self._changes
            self.engine_loads += 1
        except OSError as exc:
            log.error("cannot start the in-memory query engine: %s", exc)
            self._loading = None

    def _start_later(self) -> None:
        with self._lock:
            self._timer = None
            self._start_engine_locked()

    def _loaded(self, engine: Evaluator) -> None:
        with self._lock:
            if self._loading is engine:
                self._loading = None
            if self._closed:
                engine.kill()
                return
            if engine.state != "ready":
                self._failures += 1
                self._last_error = engine.error
                again = self._failures < LOAD_ATTEMPTS
                log.warning("the in-memory query engine could not load the graph (%s); queries are "
                            "answered from disk%s", engine.error, ", and the load is tried again" if again else "")
                if again:
                    self._start_engine_locked()
                else:
                    self._failed_version = self._wanted
                return
            old, self._engine = self._engine, engine
            self._failures = 0
            self._failed_version = None
            self._last_error = ""
            self._last_load_seconds = engine.load_seconds
            if engine.changes_at_start != self._changes:
                # Writes landed while this copy loaded: it may not hold them; load again.
                self._start_engine_locked()
        log.info("in-memory query engine ready: %d quads, version %s, loaded in %.2f s",
                 engine.triples, engine.version, engine.load_seconds)
        if old is not None:
            old.retire()

    def _evaluators_for(self, version: str, deadline: float) -> Iterator[Evaluator]:
        # The copy twice: the first time, the batch may have been pinned at a write it was taking.
        for attempt in range(2):
            engine = self._engine_for(version, deadline, stale=attempt > 0)
            if engine is None:
                break
            yield engine
        for _ in range(2):
            yield self._disk_evaluator()

    def _disk_evaluator(self) -> Evaluator:
        with self._lock:
            if self._disk is None or self._disk.state in ("stopped", "failed"):
                self._disk = Evaluator(self._init, self._workers, source="disk")
            return self._disk

    def _stopped(self, evaluator: Evaluator) -> None:
        """Forget an evaluator that stopped; a stopped copy is replaced by a new load at once."""
        with self._lock:
            if self._disk is evaluator:
                self._disk = None
            elif self._engine is evaluator and evaluator.state != "ready":
                self._engine = None
                self._start_engine_locked()

    # -- observing and stopping ------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What evaluates queries now (served on ``/healthz``)."""
        disk = self._disk
        out: dict[str, Any] = {"mode": self.mode, "disk": disk.describe() if disk is not None else None,
                               "answered": dict(self.answered), "stopped_at_deadline_on_disk": self.kills["disk"]}
        if self.mode == "memory":
            with self._lock:  # a failed load hands over to its retry under the lock
                engine, loading = self._engine, self._loading is not None or self._timer is not None
            out["engine"] = engine.describe() if engine is not None else None
            out["loading"] = loading
            out["loads"] = self.engine_loads
            out["writes_applied"] = self.writes_applied
            out["stopped_at_deadline"] = self.kills["memory"]
            if self._last_error:
                out["error"] = self._last_error
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            engines = [e for e in (self._engine, self._loading) if e is not None]
            self._engine = self._loading = None
            disk = self._disk
        for engine in engines:
            engine.kill()
        if disk is not None:
            disk.kill()
