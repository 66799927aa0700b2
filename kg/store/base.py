"""The store protocol: what every backend must do, in pyoxigraph's terms.

Results are always pyoxigraph objects (``QuerySolutions``, ``QueryBoolean``, an iterable of
``Triple``), whatever the backend: the remote store parses the endpoint's answers into them, so
serialisation and the code above see one currency.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import pyoxigraph as ox

from kg.store import meta

QueryResult = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | Iterator[ox.Triple]


class StoreError(Exception):
    """The store refused or failed an operation (bad query, write error)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (remote endpoint down)."""


class StoreTimeout(StoreError):
    """The store did not answer within the time limit."""


class UpdateStopped(StoreError):
    """The process applying an update died by itself (out of memory, a crash in the engine); nothing
    of the update was kept (``kg.store.update_process``)."""


class GraphMoved(StoreError):
    """A write landed while a request read the graph in several queries: what it read is not one
    version, so it is thrown away (``KnowledgeGraph.consistent`` reads again)."""


class GraphWrites:
    """Replacing and dropping a named graph, the same on every store: each is one update request
    (one transaction), the version bump included. A store provides ``config``, ``_write(update)``,
    ``_bump_ops()`` and ``_query_claim(ask)``."""

    def request_scope(self) -> contextlib.AbstractContextManager:
        """One version of the graph for the length of a request (see ``RemoteStore.request_scope``);
        a store whose version is read in memory needs nothing."""
        return contextlib.nullcontext()

    #: Whether one query can see part of a write that commits while it runs (Virtuoso reads committed
    #: rows without waiting); such a store's single queries are checked with ``ensure_unmoved`` too.
    torn_reads = False

    def repin(self) -> None:
        """Read the version the store holds now, pinned for the rest of the request when it has a
        scope (after ``GraphMoved``); a store whose version is read in memory needs nothing."""

    def ensure_unmoved(self, before: str) -> None:
        """Raise ``GraphMoved`` unless the store still holds the settled version ``before``: what was
        read since ``before`` was pinned is then of that one version. A store whose reads hold one
        version by themselves (the embedded store's evaluators) needs nothing."""

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple], *, unless: str | None = None) -> bool:
        """Make ``graph`` hold exactly ``triples``; with ``unless`` (a group pattern), only when it has
        no match, decided in the same transaction as the write. True when written."""
        update, token = meta.replace_update(self.config.graph_ns, graph, triples, unless)
        self._write(update + " ;\n" + self._bump_ops())
        return token is None or self._query_claim(meta.claimed(self.config.graph_ns, graph, token))

    def drop_graph(self, graph: str) -> None:
        """Remove a named graph (no error when absent); bumps the version."""
        self._write(f"DROP SILENT GRAPH {ox.NamedNode(graph)} ;\n" + self._bump_ops())


@runtime_checkable
class Store(Protocol):
    #: Which engine evaluates queries, e.g. "oxigraph-embedded" or "remote:<endpoint>".
    engine: str

    def query(
        self,
        sparql: str,
        *,
        union_default: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
        substitutions: dict[str, ox.NamedNode | ox.Literal | ox.BlankNode] | None = None,
        prefixes: dict[str, str] | None = None,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> QueryResult:
        """Evaluate a trusted query. User queries go through ``kg.query.sparql`` (limits, safety).

        ``max_rows`` lets a backend stop reading a SELECT answer after ``max_rows + 1`` rows (results
        are consumed lazily, so a caller that reads fewer rows never pays for the rest)."""

    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None, timeout: float | None = None) -> None:
        """Apply a SPARQL update atomically and bump the graph's version; stopped after ``timeout``
        seconds where the store lets us stop it (StoreTimeout, nothing kept)."""

    def request_scope(self) -> contextlib.AbstractContextManager:
        """One version of the graph for the length of a request (see ``RemoteStore.request_scope``);
        a store whose version is read in memory needs nothing."""
        return contextlib.nullcontext()

    #: See ``GraphWrites.torn_reads``.
    torn_reads: bool

    def repin(self) -> None:
        """See ``GraphWrites.repin``."""

    def ensure_unmoved(self, before: str) -> None:
        """See ``GraphWrites.ensure_unmoved``."""

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple], *, unless: str | None = None) -> bool:
        """Atomically make named graph ``graph`` hold exactly ``triples``; bumps the version.

        With ``unless`` (a SPARQL group pattern), only when it has no match, decided in the same
        transaction as the write, so replicas sharing one store cannot both pass a check and both
        write. True when the graph was written."""

    def drop_graph(self, graph: str) -> None:
        """Remove a named graph (no error when absent); bumps the version."""

    def graph_triples(self, graph: str) -> list[ox.Triple]:
        """The triples of one named graph."""

    def graphs(self) -> dict[str, int]:
        """Every named graph with its triple count."""

    def version(self) -> str:
        """An opaque token that changes with every write (ETags, caches)."""

    def modified(self) -> str:
        """xsd:dateTime of the last write (Last-Modified)."""

    def dump(self, fmt: ox.RdfFormat) -> bytes:
        """The whole dataset (quads) in a dataset format."""

    def bulk_load(self, path: str, fmt: ox.RdfFormat, graph: str | None = None) -> None:
        """Load a large file as fast as the backend can."""

    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot answer."""

    def close(self) -> None: ...
