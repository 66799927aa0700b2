"""What an evaluator does with one job: evaluate it, cap it, serialise it.

The job and its outcome are small picklable values that travel over a pipe between the server and
an evaluator process (``kg.query.evaluator``); ``execute`` is also what the remote store's path runs in
the server's own thread, so both paths answer byte for byte alike.

Caps: at most ``max_rows`` rows or triples and at most ``max_bytes`` bytes of serialised answer.
Every answer is written by the engine, never row by row in Python (4 to 10 times slower): first as
lines (TSV rows, N-Triples), where the writer is stopped at the caps (``kg.formats.write_lines``), so
an answer is never held whole; then, for another format, those lines are parsed and written again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from kg.formats import BY_KEY, serialize_triples, write_lines
from kg.store.base import StoreError, StoreTimeout


class WorkerTimeout(StoreTimeout):
    """The query did not finish within its time limit; its evaluator was killed."""


class WorkerBusy(WorkerTimeout):
    """No evaluating thread became free within the time limit."""


class WorkerCrashed(StoreError):
    """The evaluator died while evaluating (out of memory, a crash in the engine)."""


@dataclass(frozen=True)
class Job:
    """One query to evaluate: small, picklable, no live objects."""

    query: str
    union_default: bool = True
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    substitutions: tuple[tuple[str, Any], ...] = ()
    results_format: str | None = "json"  #: key in kg.formats for SELECT/ASK answers
    graph_format: str | None = "turtle"  #: key for CONSTRUCT/DESCRIBE answers
    max_rows: int = 10_000
    max_bytes: int = 16 * 1024**2  #: byte cap of the serialised answer (Config.max_result_bytes)
    #: A trusted query's answer, read back by ``kg.query.trusted`` rather than sent to a client: TSV or
    #: N-Triples, whatever the formats above say.
    native: bool = False


@dataclass(frozen=True)
class Batch:
    """The queries of one request, evaluated one after another on one version of the graph in one
    round trip: what a page or a lookup shows is never half from before a write and half from after
    it, and a request pays the trip to the evaluator once. Its answer is the jobs' outcomes, in order."""

    version: str
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class Write:
    """A committed write to apply to the in-memory copy: the exact update text the store applied
    (the version triples included), and the version it leads to."""

    update: str
    version: str  #: the version after the write
    previous: str  #: the version the copy must hold for the write to apply


@dataclass
class Outcome:
    """What a job (or a write) produced. ``status`` is ok | syntax | unacceptable | memory | error."""

    status: str
    kind: str = ""  #: results | boolean | graph
    format: str | None = None
    truncated: bool = False
    count: int = 0  #: rows or triples written (a write: the triples the copy holds after it)
    message: str = ""
    body: bytes = b""


# -- evaluation, cap and serialisation (shared by workers and the in-process remote path) ---------

def execute(store: Any, job: Job, prefixes: dict[str, str] | None, *, embedded: bool = True,
            timeout: float | None = None) -> Outcome:
    """Evaluate ``job`` on ``store`` and serialise at most ``job.max_rows`` rows/triples.

    ``store`` is a ``pyoxigraph.Store`` (``embedded``) or a ``kg.store.Store`` (remote).
    """
    try:
        return _serialise(_query(store, job, prefixes, embedded=embedded, timeout=timeout), job, prefixes)
    except SyntaxError as exc:
        return Outcome("syntax", message=str(exc))


def execute_reported(store: Any, job: Job, prefixes: dict[str, str] | None) -> Outcome:
    """``execute`` in an evaluator process: every failure becomes an Outcome the server answers with."""
    try:
        return execute(store, job, prefixes)
    except MemoryError:
        return Outcome("memory", message="the query needed more memory than an evaluator may use")
    except OSError as exc:
        return Outcome("error", message=f"the store could not be read: {exc}")
    except Exception as exc:  # noqa: BLE001 - reported to the server, which answers with it
        return Outcome("error", message=f"{type(exc).__name__}: {exc}")


def _query(store: Any, job: Job, prefixes: dict[str, str] | None, *, embedded: bool, timeout: float | None):
    subs = dict(job.substitutions) if job.substitutions else None
    if embedded:
        kwargs: dict[str, Any] = {}
        if job.default_graphs is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
        elif job.union_default:
            kwargs["use_default_graph_as_union"] = True
        if job.named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
        if subs:
            kwargs["substitutions"] = {ox.Variable(k): v for k, v in subs.items()}
        if prefixes:
            kwargs["prefixes"] = prefixes
        return store.query(job.query, **kwargs)
    return store.query(
        job.query, union_default=job.union_default,
        default_graphs=list(job.default_graphs) if job.default_graphs is not None else None,
        named_graphs=list(job.named_graphs) if job.named_graphs is not None else None,
        substitutions=subs, prefixes=prefixes, timeout=timeout, max_rows=job.max_rows,
    )


def _serialise(result: Any, job: Job, prefixes: dict[str, str] | None) -> Outcome:
    if isinstance(result, ox.QueryBoolean):
        fmt = BY_KEY.get(job.results_format or "")
        if fmt is None or fmt.ox_results is None:
            return Outcome("unacceptable", kind="boolean")
        return Outcome("ok", kind="boolean", format=fmt.key, count=1, body=result.serialize(format=fmt.ox_results))
    if isinstance(result, ox.QuerySolutions):
        fmt = BY_KEY["tsv"] if job.native else BY_KEY.get(job.results_format or "")
        if fmt is None or fmt.ox_results is None:
            return Outcome("unacceptable", kind="results")
        lines, header = ox.QueryResultsFormat.TSV, 1

        def convert(tsv: bytes) -> bytes:
            return ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV).serialize(format=fmt.ox_results)
    else:
        fmt = BY_KEY["ntriples"] if job.native else BY_KEY.get(job.graph_format or "")
        if fmt is None or fmt.ox_rdf is None:
            return Outcome("unacceptable", kind="graph")
        lines, header = ox.RdfFormat.N_TRIPLES, 0

        def convert(nt: bytes) -> bytes:
            return serialize_triples((q.triple for q in ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)), fmt, prefixes)
    kind = "results" if header else "graph"
    if fmt.key in ("tsv", "ntriples"):
        body, cut = write_lines(result, lines, max_lines=job.max_rows + header, max_bytes=job.max_bytes,
                                header=header)
        return Outcome("ok", kind=kind, format=fmt.key, truncated=cut, count=max(0, body.count(b"\n") - header),
                       body=body)
    # Another format: the capped lines are parsed and written again in it, by the engine too (the line
    # formats hold every term whole, so nothing changes on the way). Its size differs from theirs
    # (CSV is shorter, JSON and XML longer), so up to twice the cap is read and then fitted.
    written, cut = write_lines(result, lines, max_lines=job.max_rows + header, max_bytes=2 * job.max_bytes,
                               header=header)
    body = convert(written)
    if len(body) <= job.max_bytes:  # most answers: written again whole, nothing to fit
        return Outcome("ok", kind=kind, format=fmt.key, truncated=cut, count=max(0, written.count(b"\n") - header),
                       body=body)
    items = written.split(b"\n")[:-1]
    head, items = b"".join(line + b"\n" for line in items[:header]), items[header:]
    body, kept = _fit(items, job.max_bytes, lambda part: convert(head + b"".join(line + b"\n" for line in part)))
    return Outcome("ok", kind=kind, format=fmt.key, truncated=cut or kept < len(items), count=kept, body=body)


def _fit(items: list[bytes], max_bytes: int, serialise: Any) -> tuple[bytes, int]:
    """The serialisation of the longest prefix of ``items`` within ``max_bytes`` (all of them do not
    fit), and its length."""
    low, high = 0, len(items) - 1  # the longest fitting prefix has between low and high items
    best = serialise(items[:0])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = serialise(items[:middle])
        if len(candidate) <= max_bytes:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best, low
