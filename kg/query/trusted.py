"""Trusted queries under the same time limit as user SPARQL.

Lookups, the comparison, search and named queries run fixed query text, but over a graph that
extensions and bulk loads make as large as anyone likes; their answers must still come within the
configured time limit. With the embedded store only a process can be stopped, so a store query
that carries a ``timeout`` is handed to the evaluators (``KnowledgeGraph.evaluators``) and its
answer comes back as bytes, parsed into the same pyoxigraph objects the store would have returned.
The bytes are TSV (rows) or N-Triples (triples) written by the engine itself (``Job.native``): building
them in Python (JSON, as a client gets) cost more than many of the queries.
Queries without a timeout (loading, validation, writes) stay in-process.

A request's queries travel together (``bounded_batch``): one round trip, one deadline, one version
of the graph for all of them. A view that needs more than one batch (a type's page reads the type,
then the evidence of what it found) runs under ``one_version``: a write that commits between two of
its batches raises ``GraphMoved``, and the service reads the whole view again (``KnowledgeGraph.consistent``),
as it does over a remote store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from kg.query import deadline
from kg.query.evaluation import Batch, Job, Outcome, WorkerCrashed
from kg.store.base import GraphMoved, QueryResult, StoreError, StoreTimeout

#: The version the first batch of a ``one_version`` block was pinned at (empty before it).
_first_version: ContextVar[list[str] | None] = ContextVar("kg_first_version", default=None)


@dataclass(frozen=True)
class Query:
    """One trusted query and how to evaluate it; values enter only as ``substitutions``."""

    sparql: str
    substitutions: dict[str, Any] | None = None
    union_default: bool = True
    default_graphs: Sequence[str] | None = None
    named_graphs: Sequence[str] | None = None
    max_rows: int | None = None

    def job(self, kg: Any) -> Job:
        return Job(
            query=self.sparql,
            union_default=self.union_default,
            default_graphs=tuple(self.default_graphs) if self.default_graphs is not None else None,
            named_graphs=tuple(self.named_graphs) if self.named_graphs is not None else None,
            substitutions=tuple((self.substitutions or {}).items()),
            results_format="tsv",
            graph_format="ntriples",
            max_rows=self.max_rows or kg.config.max_rows,
            native=True,
        )


def bounded_batch(kg: Any, queries: list[Query], *, timeout: float) -> list[QueryResult] | None:
    """Evaluate ``queries`` together in one evaluator, on one version; None without evaluators
    (evaluate in-process).

    Raises ``StoreTimeout`` at the limit (the evaluator is killed and replaced), ``StoreError`` when a
    query stopped its evaluator, and ``SyntaxError`` for malformed text, as the store would.
    """
    pool = kg.evaluators()
    if pool is None:
        return None
    limit = deadline.remaining(min(float(timeout), kg.config.query_timeout))
    if limit <= 0:
        raise StoreTimeout("the request's time limit was reached before this query could start")
    version = kg.store.version()
    outcomes = pool.run(Batch(version, tuple(q.job(kg) for q in queries)), limit)
    first = _first_version.get()
    if first is not None:
        if not first:
            first.append(version)
        elif kg.store.version() != first[0]:
            # The version moves before the copy takes a write, so an unchanged one means that no
            # write reached what this block's batches read, from before the first to after this one.
            raise GraphMoved("the graph changed between two reads of this request")
    return [result_of(outcome) for outcome in outcomes]


@contextmanager
def one_version() -> Iterator[None]:
    """The batches of the block answer from one version of the graph, or the second one to see a
    write raises ``GraphMoved`` (one batch alone needs no check: it is evaluated on one version)."""
    token = _first_version.set([])
    try:
        yield
    finally:
        _first_version.reset(token)


def result_of(outcome: Outcome) -> QueryResult:
    """A trusted job's outcome as the store would have answered it (``SyntaxError``, ``StoreError``)."""
    if outcome.status == "syntax":
        raise SyntaxError(outcome.message)
    if outcome.status == "memory":
        raise WorkerCrashed(outcome.message)
    if outcome.status != "ok":
        raise StoreError(outcome.message or f"the query failed ({outcome.status})")
    if outcome.kind == "graph":
        return iter([q.triple for q in ox.parse(outcome.body, format=ox.RdfFormat.N_TRIPLES)])
    return ox.parse_query_results(outcome.body, ox.QueryResultsFormat.TSV)
