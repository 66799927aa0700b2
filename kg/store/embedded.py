"""The default store: Oxigraph's engine, durable in the data directory.

RocksDB allows one read-write open of a directory. A server never holds it: its writer process does
(``kg.store.writer``), which applies every write under a deadline and a memory limit, each write
with its version bump as one Oxigraph transaction, one at a time (a lock). The server reads from a
read-only open, made again after each write; query evaluation releases the GIL, so threads read in
parallel. User queries that may run away are evaluated by ``kg.query.sparql`` in worker processes
that open the directory read-only too. A command-line tool, which serves no one but its operator,
opens the directory read-write itself (``writer=False``), as does a store held in memory.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from kg.config import Config
from kg.offload import compute
from kg.query.precheck import without_trailing_semicolon
from kg.store import meta
from kg.store.base import (
    GraphWrites,
    QueryResult,
    StoreError,
    StoreLocked,
    StoreTimeout,
    StoreUnavailable,
    UpdateStopped,
)
from kg.store.directory import open_directory, prune_info_logs
from kg.store.remote_text import own_syntax_error
from kg.store.writer import Load, Settings, Update, Writer, load_file

log = logging.getLogger(__name__)

__all__ = ["EmbeddedStore", "StoreLocked", "store_path"]

#: Time limit of the service's own writes (a type added or removed, the ontology at start), in seconds.
#: They are bounded by what was validated (5,000 triples a submission, applied in well under a
#: second); the limit only keeps a wedged writer from holding the write lock for good.
OWN_WRITE_LIMIT = 120.0


def store_path(config: Config) -> Path:
    """Where the embedded store keeps its files inside the data directory."""
    return Path(config.data_dir) / "oxigraph"


class EmbeddedStore(GraphWrites):
    engine = "oxigraph-embedded"

    def __init__(self, config: Config, *, in_memory: bool = False, read_only: bool = False, writer: bool = True):
        self.config = config
        self.path: Path | None = None
        self.read_only = read_only
        self._writer: Writer | None = None  #: the process holding the directory read-write (a server's)
        self._served = writer and not in_memory and not read_only  #: writes go through a writer process
        if in_memory:
            self._store = ox.Store()
        else:
            self.path = store_path(config)
            self.path.mkdir(parents=True, exist_ok=True)
            if self._served:
                # A server's writer ends within a second of its server (``watch_parent``): one just
                # stopped or restarted is waited for; a server running beside is reported after that.
                self._writer = self._start_writer(within=2.0)
                self._store = self._reader()
            else:
                try:
                    self._store = ox.Store.read_only(str(self.path)) if read_only else ox.Store(str(self.path))
                except OSError as exc:
                    if "lock" in str(exc).lower():
                        raise StoreLocked(f"the store in {self.path} is open in another process "
                                          "(a running server?): stop it, or use another --data-dir") from exc
                    raise StoreError(f"cannot open the store in {self.path}: {exc}") from exc
        self._write_lock = threading.Lock()
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

        By the writer, on a server's store (``kg.store.writer``): stopped after ``timeout`` seconds (the
        configured query time limit by default) with nothing kept, StoreTimeout; UpdateStopped when it
        died by itself (its memory limit). Every parse of the user's text happens there, its syntax
        error included."""
        if self.read_only:
            raise StoreError("this store was opened read-only")
        text = without_trailing_semicolon(sparql) + "\n;\n" + self._bump_ops()
        limit = self.config.query_timeout if timeout is None else timeout
        with self._write_lock:
            if self._served:
                self._by_writer(Update(text, own=sparql, prefixes=prefixes or None), time.monotonic() + limit)
            else:
                try:
                    compute(self._store.update, text, **({"prefixes": prefixes} if prefixes else {}))
                except SyntaxError as exc:
                    raise SyntaxError(own_syntax_error(sparql, prefixes, update=True) or str(exc)) from None
                except OSError as exc:
                    raise StoreError(str(exc)) from exc
            self._changed(text)

    def bulk_load(self, path: str, fmt: ox.RdfFormat, graph: str | None = None) -> None:
        with self._write_lock:
            if self._served:
                self._by_writer(Load(path, fmt.media_type, graph), math.inf)
            else:
                load_file(self._store, path, fmt, graph)
            self._bump()

    def _write(self, update: str) -> None:
        if self.read_only:
            raise StoreError("this store was opened read-only")
        with self._write_lock:
            try:
                if self._served:
                    self._by_writer(Update(update), time.monotonic() + OWN_WRITE_LIMIT)
                else:
                    compute(self._store.update, update)
            except (OSError, SyntaxError) as exc:
                raise StoreError(f"write failed: {exc}") from exc
            self._changed(update)

    def _bump(self) -> None:
        # Called with the write lock held, after a write that could not carry the bump itself.
        bump = self._bump_ops()
        if self._served:
            self._by_writer(Update(bump), time.monotonic() + OWN_WRITE_LIMIT)
        else:
            self._store.update(bump)
        self._changed()

    def _by_writer(self, request: Update | Load, deadline: float) -> None:
        """Have the writer apply ``request`` (the write lock is held), then read from a new read-only open.

        A writer stopped at the deadline, or dead, is replaced at once, so the directory stays this
        server's between writes; when that fails (another program took it meanwhile) the next write
        tries again."""
        try:
            if self._writer is None or not self._writer.alive:
                self._writer = self._start_writer(within=1.0)
            status, message = self._writer.apply(request, deadline)
        except (StoreTimeout, UpdateStopped):
            self._writer = None
            try:
                self._writer = self._start_writer(within=1.0)
            except StoreError as exc:
                log.error("the store's writer could not be started again: %s", exc)
            raise
        except StoreLocked as exc:
            raise StoreUnavailable(str(exc)) from None
        if status == "syntax":
            raise SyntaxError(message)
        if status != "ok":
            raise StoreError(message)
        self._store = self._reader()

    def writer_status(self) -> dict | None:
        """The writer process of a server's store: running (its pid and confinement), or stopped until
        the next write starts another."""
        if not self._served:
            return None
        writer = self._writer
        if writer is None or not writer.alive:
            return {"state": "stopped"}
        return {"state": "running", "pid": writer.pid, "confinement": writer.confinement}

    def _start_writer(self, within: float) -> Writer:
        writer = Writer(Settings(path=str(self.path), memory=int(self.config.worker_memory),
                                 require_confinement=bool(self.config.require_confinement), within=within))
        prune_info_logs(str(self.path))
        return writer

    def _reader(self) -> ox.Store:
        """A new read-only open of the directory (the last one does not see later writes)."""
        return compute(open_directory, str(self.path), read_only=True)

    def _query_claim(self, ask: str) -> bool:
        return bool(self._store.query(ask))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()  # it flushes; the directory is free once this returns
            self._writer = None
        elif not self.read_only and not self._served:
            try:
                self._store.flush()
            except OSError:
                pass

    # -- internals -----------------------------------------------------------------------------
    def _bump_ops(self) -> str:
        return meta.bump_operations(self.config.graph_ns, *meta.new_version())

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
