"""Trusted queries under the same time limit as user SPARQL.

Lookups, the comparison, search and named queries run fixed query text, but over a graph that
extensions and bulk loads make as large as anyone likes; their answers must still come within the
configured time limit. With the embedded store only a process can be stopped, so a store query
that carries a ``timeout`` is handed to the query worker pool (``kg.query.sparql.pool_for``) and its
answer comes back as bytes, parsed into the same pyoxigraph objects the store would have returned.
Queries without a timeout (loading, validation, writes) stay in-process.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from kg.query import deadline
from kg.store.base import QueryResult, StoreError, StoreTimeout


def bounded_query(kg: Any, sparql: str, *, timeout: float, union_default: bool = True,
                  default_graphs: list[str] | None = None, named_graphs: list[str] | None = None,
                  substitutions: dict | None = None, max_rows: int | None = None,
                  prefixes: dict[str, str] | None = None) -> QueryResult | None:
    """Evaluate in a killable worker; None when this graph has no worker pool (evaluate in-process).

    ``prefixes`` is taken for the store's signature: the evaluators hold the project's prefixes already.

    Raises ``StoreTimeout`` at the limit (the worker is killed and replaced) and ``SyntaxError`` for
    malformed text, as the store would.
    """
    from kg.query.evaluation import Job, WorkerCrashed, WorkerTimeout
    from kg.query.sparql import pool_for

    pool = pool_for(kg)
    if pool is None:
        return None
    limit = deadline.remaining(min(float(timeout), kg.config.query_timeout))
    if limit <= 0:
        raise StoreTimeout("the request's time limit was reached before this query could start")
    job = Job(
        query=sparql,
        version=kg.store.version(),
        union_default=union_default,
        default_graphs=tuple(default_graphs) if default_graphs is not None else None,
        named_graphs=tuple(named_graphs) if named_graphs is not None else None,
        substitutions=tuple((substitutions or {}).items()),
        results_format="json",
        graph_format="ntriples",
        max_rows=max_rows or kg.config.max_rows,
    )
    try:
        outcome = pool.run(job, limit)
    except WorkerTimeout as exc:
        raise StoreTimeout(f"the query did not finish within its time limit of {limit:g} s") from exc
    except WorkerCrashed as exc:
        raise StoreError(f"the query was stopped: {exc}") from exc
    if outcome.status == "syntax":
        raise SyntaxError(outcome.message)
    if outcome.status != "ok":
        raise StoreError(outcome.message or f"the query failed ({outcome.status})")
    if outcome.kind == "graph":
        return iter([q.triple for q in ox.parse(outcome.body, format=ox.RdfFormat.N_TRIPLES)])
    return ox.parse_query_results(outcome.body, ox.QueryResultsFormat.JSON)
