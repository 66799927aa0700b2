"""The opened knowledge graph: configuration, store and shipped ontology, held together.

``KnowledgeGraph.open`` is what the service's app factory and the CLI call at start; the core's
modules (``kg.query``, ``kg.domain``, ``kg.linked_data``, ``kg.extension``) take the object it returns.
It also holds what lives as long as the opened graph: the answer cache, the query evaluators (started
on first use), and values computed from the graph that stay valid until the next write
(``per_version``), one mechanism instead of a memo per feature.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kg.config import Config
from kg.extension.directory import load_extension_directory
from kg.namespaces import graph_iri, prefixes
from kg.ontology.loader import Ontology, load
from kg.query import deadline
from kg.query.cache import ResultCache
from kg.query.pool import QueryPool
from kg.query.trusted import Query, bounded_batch, one_version
from kg.store import GraphMoved, Store, meta, open_store

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How long a read waits before trying again while a write is under way (``kg.store.meta.in_flight``).
IN_FLIGHT_WAIT = 0.05


@dataclass
class KnowledgeGraph:
    config: Config
    store: Store
    ontology: Ontology
    #: Files under ontology/extensions/ that could not be loaded, with the reason (served on /healthz).
    problems: list[dict] = field(default_factory=list)
    #: Whole answers of read requests, valid until the next write (``kg.query.cache``).
    cache: ResultCache = field(init=False)
    _pool: QueryPool | None = field(default=None, init=False, repr=False)
    _memos: dict[str, tuple[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _building: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.cache = ResultCache(self.config.cache_size, enabled=self.config.cache)

    @classmethod
    def open(cls, config: Config, *, store: Store | None = None) -> KnowledgeGraph:
        """Open the store, install the shipped graphs, load drop-in extensions."""
        store = store or open_store(config)
        ontology = load(store, config)
        kg = cls(config=config, store=store, ontology=ontology)
        kg.problems = load_extension_directory(kg)
        for problem in kg.problems:
            log.warning("extension not loaded: %(file)s: %(error)s", problem)
        return kg

    def query(self, sparql: str, *, timeout: float, **kwargs):
        """A trusted query under a time limit (lookups, comparisons, descriptions, named queries).

        With the embedded store it is evaluated where a user's query would be, in a killable
        evaluator (``kg.query.trusted``); otherwise by the store, which bounds it itself. Queries without a
        limit (loading, validation, writes) call ``store.query`` directly. The store never calls back
        up here: the decision is taken on the way down.
        """
        fields = {k: v for k, v in kwargs.items() if k != "prefixes"}  # the evaluators hold the prefixes
        results = bounded_batch(self, [Query(sparql, **fields)], timeout=timeout)
        if results is not None:
            return results[0]
        return self.store.query(sparql, timeout=timeout, **kwargs)

    def query_all(self, queries: list[Query], *, timeout: float) -> list:
        """Several trusted queries of one request, answered together: one round trip to the
        evaluator and one version of the graph for all (a remote store answers them in turn)."""
        results = bounded_batch(self, queries, timeout=timeout)
        if results is not None:
            return results
        # A remote store answers the queries one by one, so one version is made sure of here: the
        # version the store holds is read after the batch and compared with the one the request
        # pinned when it began (``Store.request_scope``; through any replica, versions never repeat).
        # When they differ, what was read may mix two versions, and so may what the request read
        # before this batch: the whole read is run again (``consistent``), never this batch alone.
        before = self.store.version()
        results = [list(self.store.query(
            q.sparql, timeout=timeout, prefixes=self.prefixes, substitutions=q.substitutions,
            union_default=q.union_default,
            default_graphs=list(q.default_graphs) if q.default_graphs is not None else None,
            named_graphs=list(q.named_graphs) if q.named_graphs is not None else None,
            max_rows=q.max_rows)) for q in queries]
        self.store.ensure_unmoved(before)
        return results

    def consistent(self, read: Callable[[], T]) -> T:
        """``read()``, run again under the version the store then holds whenever a write lands while
        it reads (``GraphMoved``), until the time limit (the request's, or ``query_timeout``).

        A read is run whole again because its queries must all answer from one version: re-reading
        only the batch that noticed the write would leave it disagreeing with the ones before."""
        stop = time.monotonic() + deadline.remaining(self.config.query_timeout)
        while True:
            try:
                with one_version():  # the embedded store's batches; a remote store checks its own
                    return read()
            except GraphMoved:
                if time.monotonic() >= stop:
                    raise
                self.store.repin()
                if meta.in_flight(self.store.version()):
                    time.sleep(IN_FLIGHT_WAIT)  # a write is under way: let it finish

    @property
    def prefixes(self) -> dict[str, str]:
        return prefixes(self.config)

    def graph(self, name: str) -> str:
        return graph_iri(self.config, name)

    def iri(self, slug: str) -> str:
        """Canonical IRI of a thing: ``{namespace}id/{slug}``."""
        return self.config.id_ns + slug

    def slug(self, iri: str) -> str | None:
        """The slug of a canonical thing IRI, or None for any other IRI."""
        if iri.startswith(self.config.id_ns):
            rest = iri[len(self.config.id_ns):]
            return rest if rest and "/" not in rest and "#" not in rest else None
        return None

    def per_version(self, name: str, build: Callable[[], T]) -> T:
        """The value ``build()`` computed from the graph, kept until the next write.

        The version is read before building: a write landing meanwhile leaves the value filed under
        the older version, so the next call builds again rather than serving it as current.
        """
        version = self.store.version()
        held = self._memos.get(name)
        if held is not None and held[0] == version:
            return held[1]
        with self._lock:
            building = self._building.setdefault(name, threading.Lock())
        # One build per name at a time: concurrent requests after a write wait for the first
        # (counting every graph of a large store once, not once per request).
        with building:
            held = self._memos.get(name)
            if held is not None and held[0] == version:
                return held[1]
            value = build()
            self._memos[name] = (version, value)
        return value

    def evaluators(self) -> QueryPool | None:
        """The killable evaluators of the embedded store (started on first use); None for a remote
        store, which bounds its queries itself."""
        if self._pool is not None or self.config.store != "embedded" or getattr(self.store, "path", None) is None:
            return self._pool
        with self._lock:
            if self._pool is None:
                from kg.safety import guard

                config = self.config
                self._pool = QueryPool(self.store.path, self.prefixes, graph_ns=config.graph_ns,
                                       workers=config.query_workers, engine=config.query_engine,
                                       engine_threads=config.query_threads, allow=guard.endpoints_of(config),
                                       memory=config.worker_memory, version=self.store.version(),
                                       require_confinement=config.require_confinement)
                listeners = getattr(self.store, "listeners", None)
                if listeners is not None:
                    listeners.append(self._pool.version_changed)
        return self._pool

    @property
    def running_evaluators(self) -> QueryPool | None:
        """The evaluators if they were started (for status pages, which must not start them)."""
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self.store.close()
