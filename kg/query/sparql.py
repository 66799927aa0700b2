"""User SPARQL, from request to bytes: checks, dataset, limits, execution.

Why one module: every route that runs SPARQL a user wrote (the ``/sparql`` endpoint, and any
feature that wants the same guarantees) goes through ``run_query``/``run_update``, so the time
limit, the row and byte caps and the refusal of operations that reach outside hold everywhere alike.
It knows nothing of HTTP: the service maps its exceptions to statuses, and keeps whole answers in
the one cache (``kg.query.cache``, filled by ``service/response_cache.py``).

Checks before anything runs (``check``, by ``kg.query.precheck``): one linear pass, bounded in length and
nesting, that refuses ``SERVICE`` (and ``LOAD`` in updates) glued or spaced, and finds the query form
and the ``FROM``/``FROM NAMED`` graphs. The evaluators of the embedded store are, besides, unable to
open an internet socket (``kg.safety.confine``); over a remote store the pre-check is the only guard. The
parse itself is Oxigraph's (its messages carry line and column); rdflib's parser is slow and not
thread-safe, and stays off this path.

Execution: over the embedded store, in killable worker processes (``kg.query.evaluation``); over a
remote store, in this thread with the store's own timeout, applied to the whole query. Both cap rows
and bytes while reading; a request's store calls (the graph listing included) share one deadline.

>>> precheck.analyse("PREFIX ex: <http://ex/> SELECT * FROM ex:g WHERE { ?s ?p '# SERVICE' }", {}).form
'SELECT'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from kg.formats import BY_KEY, Format, NotAcceptable, formats_for
from kg.query import deadline as request_deadline
from kg.query import precheck
from kg.query.evaluation import Batch, Job, Outcome, WorkerCrashed, WorkerTimeout, execute
from kg.query.precheck import Analysis, Bounds
from kg.query.trusted import Query, result_of
from kg.store import StoreError, StoreTimeout, StoreUnavailable, UpdateStopped

# -- errors ---------------------------------------------------------------------------------------


class SparqlError(Exception):
    """A query or update that cannot be answered; the subclass says why, ``title`` in a few words."""

    title = "Bad Request"

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Malformed(SparqlError):
    title = "Malformed query"


class Refused(SparqlError):
    title = "Operation not allowed"


class UnknownGraph(SparqlError):
    title = "Unknown graph"


class TimedOut(SparqlError):
    """The time limit ran out before the answer was complete."""

    title = "Query time limit exceeded"


class Unavailable(SparqlError):
    """The store did not answer."""

    title = "Store unavailable"


class Stopped(SparqlError):
    """The evaluator evaluating the query died (most often: it reached its memory limit)."""

    title = "Query stopped"


# -- the pre-check ---------------------------------------------------------------------------------

def check(kg: Any, text: str, *, update: bool = False) -> Analysis:
    """The pre-check (``kg.query.precheck``) as ``run_query`` and ``run_update`` run it: empty text is
    Malformed, the bounds come from the configuration (an update may be as long as a body), and the
    scan's refusals are this module's errors (Refused, Malformed)."""
    if not text or not text.strip():
        raise Malformed(f"the {'update' if update else 'query'} is empty")
    config = kg.config
    bounds = Bounds(max_length=config.max_body if update else config.max_query_length,
                    max_depth=config.max_query_depth)
    try:
        return precheck.analyse(text, kg.prefixes, update=update, bounds=bounds)
    except precheck.Refused as exc:
        raise Refused(str(exc)) from None
    except precheck.PrecheckError as exc:
        raise Malformed(str(exc)) from None


# -- formats ----------------------------------------------------------------------------------------

RESULT_FORMATS: list[Format] = formats_for("results")
GRAPH_FORMATS: list[Format] = [*formats_for("graph"), BY_KEY["trig"], BY_KEY["nquads"]]


def offered_formats(form: str | None) -> list[Format]:
    """The formats a query form can be answered in, preferred first."""
    if form in ("CONSTRUCT", "DESCRIBE"):
        return GRAPH_FORMATS
    return RESULT_FORMATS


# -- the dataset --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """The RDF dataset of one query: None for both means the union of every graph."""

    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None

    @property
    def union(self) -> bool:
        return self.default_graphs is None and self.named_graphs is None


def dataset_for(kg: Any, analysis: Analysis, default_graph_uri: list[str] | None,
                named_graph_uri: list[str] | None, *, timeout: float | None = None) -> Dataset:
    """The protocol's graphs override the query's FROM (SPARQL 1.1 Protocol §2.1.4); every graph
    named must exist in the store (UnknownGraph otherwise: nothing is ever fetched)."""
    if default_graph_uri or named_graph_uri:
        dataset = Dataset(tuple(default_graph_uri or ()), tuple(named_graph_uri or ()))
        where = "default-graph-uri/named-graph-uri"
    elif analysis.has_dataset:
        dataset = Dataset(analysis.from_graphs, analysis.from_named)
        where = "FROM/FROM NAMED"
    else:
        return Dataset()
    known = known_graphs(kg, timeout=timeout)
    unknown = [g for g in (*dataset.default_graphs, *dataset.named_graphs) if g not in known]
    if unknown:
        raise UnknownGraph(
            f"{where} names graphs this store does not have: {', '.join('<' + g + '>' for g in unknown)}; "
            "this endpoint never fetches graphs from elsewhere",
            graphs=sorted(known))
    return dataset


_GRAPH_COUNTS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


def known_graphs(kg: Any, *, timeout: float | None = None) -> dict[str, int]:
    """Named graphs of the store with their triple counts, computed once per graph version.

    Counting reads every quad: it runs where any query runs, under ``timeout`` (the asking request's
    time left; the configured limit by default), never unbounded in the request's thread.
    """
    limit = kg.config.query_timeout if timeout is None else max(0.001, timeout)

    def count() -> dict[str, int]:
        try:
            rows = kg.query(_GRAPH_COUNTS, union_default=False, timeout=limit, max_rows=10**9)
        except StoreTimeout as exc:
            raise TimedOut(f"listing the store's graphs did not finish within the time limit ({limit:g} s)",
                           timeout=limit) from exc
        except StoreUnavailable as exc:
            raise Unavailable(f"the store cannot be reached: {exc}") from exc
        return {r["g"].value: int(r["n"].value) for r in rows}

    return kg.per_version("graph counts", count)


# -- limits -------------------------------------------------------------------------------------------

def effective_timeout(kg: Any, requested: str | float | None) -> float:
    """The configured limit, or less when the request asks for less (never more), but never less than
    ``KG_MIN_TIMEOUT``: a request that asks to be stopped at once gets an answer or a timeout of its own,
    never a kill of the evaluator that others' queries share."""
    limit = float(kg.config.query_timeout)
    if requested in (None, ""):
        return limit
    try:
        asked = float(requested)
    except (TypeError, ValueError):
        raise SparqlError(f"timeout must be a number of seconds, not {requested!r}") from None
    if not asked > 0:
        raise SparqlError(f"timeout must be a positive number of seconds, not {requested!r}")
    return max(min(asked, limit), float(kg.config.min_timeout))


# -- execution ----------------------------------------------------------------------------------------

@dataclass
class Answer:
    """An answer ready to send."""

    body: bytes
    format: Format
    form: str
    truncated: bool = False
    max_rows: int = 0
    time_limit: float = 0.0
    checks: list = field(default_factory=list)  #: the answers of ``run_query``'s ``checks``, in order


def run_query(
    kg: Any,
    text: str,
    *,
    fmt: Format,
    analysis: Analysis | None = None,
    default_graph_uri: list[str] | None = None,
    named_graph_uri: list[str] | None = None,
    timeout: str | float | None = None,
    max_rows: int | None = None,
    substitutions: dict[str, ox.NamedNode | ox.Literal | ox.BlankNode] | None = None,
    checks: Sequence[Query] = (),
) -> Answer:
    """Check, evaluate under the limits and serialise one query in ``fmt``.

    Raises SparqlError subclasses (Malformed, Refused, UnknownGraph, TimedOut, Unavailable, Stopped)
    and kg.formats.NotAcceptable (the answer's kind cannot be written in ``fmt``). ``analysis``: this
    text's pre-check when the caller ran it already (``check``). ``checks``: trusted queries the caller
    needs answered with this one (a named query's parameter checks): they travel in its batch, see its
    version of the graph, and their answers are in ``Answer.checks``.
    """
    analysis = analysis or check(kg, text)
    limit = effective_timeout(kg, timeout)
    # Within what is left of the request's own deadline (a named query's parameters were read first).
    deadline = time.monotonic() + request_deadline.remaining(limit)
    cap = int(kg.config.max_rows if max_rows is None else min(max_rows, kg.config.max_rows))
    dataset = dataset_for(kg, analysis, default_graph_uri, named_graph_uri, timeout=limit)
    subs = tuple(sorted((substitutions or {}).items()))
    in_results = fmt in RESULT_FORMATS
    job = Job(
        query=text,
        union_default=dataset.union,
        default_graphs=dataset.default_graphs,
        named_graphs=dataset.named_graphs,
        substitutions=subs,
        # When the scan could not tell the form, let the result decide with the default of the other kind.
        results_format=fmt.key if in_results else (None if analysis.form else RESULT_FORMATS[0].key),
        graph_format=fmt.key if not in_results else (None if analysis.form else GRAPH_FORMATS[0].key),
        max_rows=cap,
        max_bytes=int(kg.config.max_result_bytes),
    )
    # One deadline for the whole request: what the graph listing took is not given again.
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimedOut(f"the query did not finish within its time limit of {limit:g} s", timeout=limit)
    outcome, answers = _evaluate(kg, job, remaining, list(checks))
    if outcome.status == "syntax":
        raise Malformed(outcome.message)
    if outcome.status == "unacceptable":
        kind_formats = GRAPH_FORMATS if outcome.kind == "graph" else RESULT_FORMATS
        raise NotAcceptable(kind_formats, fmt.media_type)
    if outcome.status == "memory":  # the query's own doing, as when it stops its evaluator
        raise Stopped(outcome.message)
    if outcome.status != "ok":
        raise Unavailable(f"the query failed in the store: {outcome.message}")
    form = analysis.form or ("CONSTRUCT" if outcome.kind == "graph" else
                             "ASK" if outcome.kind == "boolean" else "SELECT")
    return Answer(outcome.body, BY_KEY[outcome.format or fmt.key], form, outcome.truncated,
                  cap, time_limit=limit, checks=answers)


def _evaluate(kg: Any, job: Job, limit: float, checks: list[Query]) -> tuple[Outcome, list]:
    pool = kg.evaluators()
    # A remote store's one query answers from one state of the store by itself; the version is read
    # only where a write may show in part (``torn_reads``), to be checked again after.
    version = kg.store.version() if pool is not None or kg.store.torn_reads else None
    try:
        if pool is not None:
            *checked, outcome = pool.run(Batch(version, (*(q.job(kg) for q in checks), job)), limit)
        else:
            # Over a remote store each check is a request of its own, as the query is.
            answers = [list(kg.query(q.sparql, timeout=limit, prefixes=kg.prefixes,
                                     substitutions=q.substitutions)) for q in checks]
            outcome = execute(kg.store, job, kg.prefixes, embedded=False, timeout=limit)
    except WorkerCrashed as exc:
        raise Stopped(str(exc)) from exc
    except WorkerTimeout as exc:
        raise TimedOut(str(exc), timeout=limit) from exc
    except StoreTimeout as exc:
        raise TimedOut(f"the query did not finish within its time limit of {limit:g} s: {exc}",
                       timeout=limit) from exc
    except StoreUnavailable as exc:
        raise Unavailable(f"the store cannot be reached: {exc}") from exc
    except StoreError as exc:
        raise Malformed(str(exc)) from exc
    if pool is not None:
        return outcome, [result_of(answer) for answer in checked]
    if version is not None:
        # The one query may have met a write committing (Virtuoso): a GET is then run again.
        kg.store.ensure_unmoved(version)
    return outcome, answers


def run_update(kg: Any, text: str, *, timeout: str | float | None = None) -> None:
    """Apply one SPARQL Update request through the store's single writer (it bumps the version,
    which empties the cache), under the time limit as a query is. Raises Malformed, Refused,
    TimedOut, Stopped or Unavailable; nothing of an update that raises is kept."""
    check(kg, text, update=True)
    limit = effective_timeout(kg, timeout)
    try:
        kg.store.update(text, prefixes=kg.prefixes, timeout=limit)
    except SyntaxError as exc:
        raise Malformed(str(exc)) from exc
    except UpdateStopped as exc:
        raise Stopped(str(exc)) from exc
    except StoreTimeout as exc:
        raise TimedOut(f"the update did not finish within its time limit of {limit:g} s and was stopped; "
                       "nothing of it was kept", timeout=limit) from exc
    except StoreUnavailable as exc:
        raise Unavailable(f"the store cannot be reached: {exc}") from exc
    except StoreError as exc:
        raise Malformed(f"the update failed: {exc}") from exc
