"""The default store: Oxigraph's engine in this process, durable in the data directory.

One process owns the directory read-write (RocksDB allows one writer); writes are serialised by a
lock and each is one Oxigraph transaction (a single SPARQL Update request) that also bumps the
version. Query evaluation releases the GIL, so threads read in parallel. User queries that may run
away are evaluated by ``kg.query.sparql`` in worker processes that open this directory read-only
(``path``), the only way to stop a query running inside Rust. A user's SPARQL Update may run away
too: this process lets go of the directory for its time, and an update process it can kill applies
it (``kg.store.update_process``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from kg.config import Config
from kg.offload import compute
from kg.query.precheck import without_trailing_semicolon
from kg.store import meta, update_process
from kg.store.base import GraphWrites, QueryResult, StoreError, StoreTimeout, StoreUnavailable, UpdateStopped
from kg.store.directory import open_directory, prune_info_logs
from kg.store.remote_text import own_syntax_error

log = logging.getLogger(__name__)


class StoreLocked(StoreError):
    """Another process holds the store directory read-write."""


def store_path(config: Config) -> Path:
    """Where the embedded store keeps its files inside the data directory."""
    return Path(config.data_dir) / "oxigraph"


class EmbeddedStore(GraphWrites):
    engine = "oxigraph-embedded"

    def __init__(self, config: Config, *, in_memory: bool = False, read_only: bool = False):
        self.config = config
        self.path: Path | None = None
        self.read_only = read_only
        if in_memory:
            self._store = ox.Store()
        else:
            self.path = store_path(config)
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                self._store = ox.Store.read_only(str(self.path)) if read_only else ox.Store(str(self.path))
            except OSError as exc:
                if "lock" in str(exc).lower():
                    raise StoreLocked(f"the store in {self.path} is open in another process "
                                      "(a running server?): stop it, or use another --data-dir") from exc
                raise StoreError(f"cannot open the store in {self.path}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._writable = not read_only  #: False while an update process, or another program, holds the directory
        #: Called after each committed write with the new version, the update text the store applied
        #: (None for a bulk load) and the version before it: the query pool applies the same text to
        #: its in-memory copy, or reloads it.
        self.listeners: list[Callable[[str, str | None, str], None]] = []
        self._version, self._modified = self._read_meta()
        if self._version is None and not read_only:
            self._write(meta.bump_operations(config.graph_ns, *meta.new_version()))

    # -- reading -------------------------------------------------------------------------------
    def query(
        self,
        sparql: str,
        *,
        union_default: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
        substitutions: dict | None = None,
        prefixes: dict[str, str] | None = None,
        timeout: float | None = None,  # in-process it cannot be enforced: KnowledgeGraph.query evaluates
        max_rows: int | None = None,  # bounded queries in killable processes; results are lazy
    ) -> QueryResult:
        kwargs: dict = {}
        if default_graphs is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
        elif union_default:
            kwargs["use_default_graph_as_union"] = True
        if named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        if substitutions:
            kwargs["substitutions"] = {ox.Variable(k): v for k, v in substitutions.items()}
        if prefixes:
            kwargs["prefixes"] = prefixes
        try:
            return self._store.query(sparql, **kwargs)
        except SyntaxError:
            raise
        except OSError as exc:
            raise StoreError(str(exc)) from exc

    def graph_triples(self, graph: str) -> list[ox.Triple]:
        return [q.triple for q in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph))]

    def graphs(self) -> dict[str, int]:
        rows = self._store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        return {r["g"].value: int(r["n"].value) for r in rows}

    def version(self) -> str:
        return self._version or ""

    def modified(self) -> str:
        return self._modified or ""

    def dump(self, fmt: ox.RdfFormat) -> bytes:
        return self._store.dump(format=fmt)

    def ping(self) -> None:
        self._store.query("ASK {}")

    # -- writing -------------------------------------------------------------------------------
    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None, timeout: float | None = None) -> None:
        """Apply ``sparql`` and the version bump as one request, so one transaction: a failure leaves
        neither, and a reader never sees the change under the old version (caches keyed by it).

        On a store directory the request runs in a process of its own (``kg.store.update_process``),
        stopped after ``timeout`` seconds (the configured query time limit by default) with nothing
        kept: StoreTimeout; UpdateStopped when it died by itself (its memory limit). An update that had
        committed when it was stopped (flushing, or replying) stands, and returns as any other."""
        if self.read_only:
            raise StoreError("this store was opened read-only")
        kwargs = {"prefixes": prefixes} if prefixes else {}
        text = without_trailing_semicolon(sparql) + "\n;\n" + self._bump_ops()
        limit = self.config.query_timeout if timeout is None else timeout
        with self._write_lock:
            try:
                if self.path is None:
                    try:
                        compute(self._store.update, text, **kwargs)
                    except SyntaxError as exc:
                        raise SyntaxError(own_syntax_error(sparql, prefixes, update=True) or str(exc)) from None
                else:
                    try:
                        self._apply_apart(sparql, text, prefixes or {}, time.monotonic() + limit)
                    except (StoreTimeout, UpdateStopped):
                        if self._read_meta()[0] == self._version:
                            raise  # nothing of it was kept, as the error says
                        # It committed (the update and its version bump are one transaction) before the
                        # process was stopped, flushing or replying: the write stands, and is answered so.
                        log.warning("an update committed as its time limit was reached; it is kept")
            except OSError as exc:
                raise StoreError(str(exc)) from exc
            self._changed(text)

    def _apply_apart(self, sparql: str, text: str, prefixes: dict[str, str], deadline: float) -> None:
        """Apply ``text`` (``sparql`` and the version bump) in an update process, having let go of the
        read-write open for its time (in-process readers read from a read-only open of the same
        version meanwhile). Every parse of the user's text happens there, its syntax error included."""
        request = update_process.Request(
            path=str(self.path), own=sparql, update=text, prefixes=prefixes,
            seconds=max(0.0, deadline - time.monotonic()), memory=int(self.config.worker_memory),
            require_confinement=bool(self.config.require_confinement))
        reader = compute(self._open, read_only=True)
        self._store = reader  # the last reference to the read-write open goes: the process may take it
        try:
            status, message = update_process.apply(request, deadline)
        finally:
            try:
                self._store = compute(self._open)
            except StoreError as exc:
                # Whatever the process did is read from a new read-only open; the next write tries again.
                log.error("the store could not be opened for writing again after an update: %s", exc)
                self._store = compute(self._open, read_only=True)
            prune_info_logs(str(self.path))
        if status == "syntax":
            raise SyntaxError(message)
        if status == "unavailable":
            raise StoreUnavailable(message)
        if status != "ok":
            raise StoreError(message)

    def _open(self, read_only: bool = False) -> ox.Store:
        try:
            store = open_directory(str(self.path), read_only=read_only)
        except StoreError:
            if not read_only:
                self._writable = False
            raise
        if not read_only:
            self._writable = True
        return store

    def _query_claim(self, ask: str) -> bool:
        return bool(self._store.query(ask))

    def bulk_load(self, path: str, fmt: ox.RdfFormat, graph: str | None = None) -> None:
        kwargs = {"to_graph": ox.NamedNode(graph)} if graph and not fmt.supports_datasets else {}
        with self._write_lock:
            if path.endswith(".gz"):
                import gzip

                with gzip.open(path, "rb") as handle:
                    self._store.bulk_load(handle, format=fmt, **kwargs)
            else:
                self._store.bulk_load(path=path, format=fmt, **kwargs)
            self._bump()

    def close(self) -> None:
        if self.read_only:
            return
        try:
            self._store.flush()
        except OSError:
            pass

    # -- internals -----------------------------------------------------------------------------
    def _bump_ops(self) -> str:
        return meta.bump_operations(self.config.graph_ns, *meta.new_version())

    def _write(self, update: str) -> None:
        if self.read_only:
            raise StoreError("this store was opened read-only")
        with self._write_lock:
            try:
                if not self._writable:
                    self._store = compute(self._open)
                compute(self._store.update, update)
            except (OSError, SyntaxError) as exc:
                raise StoreError(f"write failed: {exc}") from exc
            self._changed(update)

    def _bump(self) -> None:
        # Called with the write lock held, after a write that could not carry the bump itself.
        self._store.update(meta.bump_operations(self.config.graph_ns, *meta.new_version()))
        self._changed()

    def _changed(self, update: str | None = None) -> None:
        previous = self._version or ""
        self._version, self._modified = self._read_meta()
        for listener in list(self.listeners):
            try:
                listener(self._version or "", update, previous)
            except Exception:  # noqa: BLE001 - a reader's bookkeeping never fails a committed write
                log.exception("write listener failed")

    def _read_meta(self) -> tuple[str | None, str | None]:
        return meta.read(self._store, self.config.graph_ns)
