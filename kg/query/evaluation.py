"""What an evaluator does with one job: evaluate it, cap it, serialise it.

The job and its outcome are small picklable values that travel over a pipe between the server and
an evaluator process (``kg.query.evaluator``); ``execute`` is also what the remote store's path runs in
the server's own thread, so both paths answer byte for byte alike.

Caps: at most ``max_rows`` rows or triples and at most ``max_bytes`` bytes of serialised answer;
rows are held in the evaluator only as far as the answer may be sent.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_attr

import pyoxigraph as ox

from kg.formats import BY_KEY, Format, serialize_triples
from kg.store.base import CappedSolutions

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


class WorkerError(Exception):
    """Base of the pool's failures."""


class WorkerTimeout(WorkerError):
    """The query did not finish within its time limit; its worker was killed."""


class WorkerBusy(WorkerTimeout):
    """No worker became free within the time limit."""


class WorkerCrashed(WorkerError):
    """The worker died while evaluating (out of memory, a crash in the engine)."""


@dataclass(frozen=True)
class Job:
    """One query to evaluate: small, picklable, no live objects."""

    query: str
    version: str = ""
    union_default: bool = True
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    substitutions: tuple[tuple[str, Any], ...] = ()
    results_format: str | None = "json"  #: key in kg.formats for SELECT/ASK answers
    graph_format: str | None = "turtle"  #: key for CONSTRUCT/DESCRIBE answers
    max_rows: int = 10_000
    max_bytes: int = 16 * 1024**2  #: byte cap of the serialised answer (Config.max_result_bytes)
    #: A trusted query's answer, read back by ``kg.query.trusted`` rather than sent to a client: the
    #: engine writes it itself, in TSV or N-Triples (``_native``).
    native: bool = False


@dataclass(frozen=True)
class Batch:
    """The queries of one request, evaluated one after another on one version of the graph in one
    round trip: what a page or a lookup shows is never half from before a write and half from after
    it, and a request pays the trip to the evaluator once. The outcome is ``ok`` with the jobs'
    outcomes, in order, in ``extra["outcomes"]``."""

    jobs: tuple[Job, ...]
    version: str = ""


@dataclass(frozen=True)
class Write:
    """A committed write to apply to the in-memory copy: the exact update text the store applied
    (the version triples included), and the version it leads to."""

    update: str
    version: str  #: the version after the write
    previous: str  #: the version the copy must hold for the write to apply


@dataclass
class Outcome:
    """What a job produced. ``status`` is ok | syntax | unacceptable | error."""

    status: str
    kind: str = ""  #: results | boolean | graph
    format: str | None = None
    truncated: bool = False
    count: int = 0
    message: str = ""
    body: bytes = b""
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)


# -- evaluation, cap and serialisation (shared by workers and the in-process remote path) ---------

def execute(store: Any, job: Job, prefixes: dict[str, str] | None, *, embedded: bool = True,
            timeout: float | None = None) -> Outcome:
    """Evaluate ``job`` on ``store`` and serialise at most ``job.max_rows`` rows/triples.

    ``store`` is a ``pyoxigraph.Store`` (``embedded``) or a ``kg.store.Store`` (remote).
    """
    started = time.perf_counter()
    try:
        result = _query(store, job, prefixes, embedded=embedded, timeout=timeout)
        outcome = _serialise(result, job, prefixes)
    except SyntaxError as exc:
        outcome = Outcome("syntax", message=str(exc))
    outcome.elapsed = time.perf_counter() - started
    return outcome


def execute_reported(store: Any, job: Job, prefixes: dict[str, str] | None) -> Outcome:
    """``execute`` in a worker process: a failure becomes an Outcome the server answers with
    (OSError, the store's own, is left to the caller)."""
    try:
        return execute(store, job, prefixes)
    except MemoryError:
        return Outcome("error", message="the query needed more memory than a worker may use")
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported to the server, which answers with it
        return Outcome("error", message=f"{type(exc).__name__}: {exc}")


def execute_batch(store: Any, batch: Batch, prefixes: dict[str, str] | None) -> Outcome:
    """Every job of ``batch`` on ``store`` (which the caller holds at one version)."""
    started = time.perf_counter()
    outcomes = [execute_reported(store, job, prefixes) for job in batch.jobs]
    return Outcome("ok", elapsed=time.perf_counter() - started, extra={"outcomes": outcomes})


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
    if job.native and isinstance(result, ox.QuerySolutions):
        return _native(result, "results", BY_KEY["tsv"], job, header=1)
    if job.native and isinstance(result, ox.QueryTriples):
        return _native(result, "graph", BY_KEY["ntriples"], job, header=0)
    if isinstance(result, ox.QueryBoolean):
        fmt = BY_KEY.get(job.results_format or "")
        if fmt is None:
            return Outcome("unacceptable", kind="boolean")
        return Outcome("ok", kind="boolean", format=fmt.key, count=1,
                       body=result.serialize(format=fmt.ox_results))
    if isinstance(result, (ox.QuerySolutions, CappedSolutions)):
        fmt = BY_KEY.get(job.results_format or "")
        if fmt is None:
            return Outcome("unacceptable", kind="results")
        variables = [v.value for v in result.variables]
        rows, truncated = _take(result, job.max_rows, job.max_bytes, _row_weight)
        body, cut = _fit(rows, job.max_bytes, lambda part: serialize_solutions(variables, part, fmt))
        return Outcome("ok", kind="results", format=fmt.key, truncated=truncated or cut > 0, count=len(rows) - cut,
                       body=body)
    fmt = BY_KEY.get(job.graph_format or "")
    if fmt is None:
        return Outcome("unacceptable", kind="graph")
    triples, truncated = _take(iter(result), job.max_rows, job.max_bytes, _triple_weight)
    body, cut = _fit(triples, job.max_bytes, lambda part: serialize_triples(part, fmt, prefixes))
    return Outcome("ok", kind="graph", format=fmt.key, truncated=truncated or cut > 0, count=len(triples) - cut,
                   body=body)


class _Full(Exception):
    """The answer has passed a cap: the engine's writer is stopped."""


class _Lines:
    """Where the engine writes a line-based answer (one row or triple a line, with any line break in
    a value escaped): it keeps what was written and stops the writer, by raising ``_Full``, once it
    holds more lines or bytes than the caps let through."""

    def __init__(self, max_lines: int, max_bytes: int):
        self.buffer = bytearray()
        self.lines = 0
        self.max_lines = max_lines
        self.max_bytes = max_bytes

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.lines += data.count(b"\n")
        if self.lines > self.max_lines or len(self.buffer) > self.max_bytes:
            raise _Full
        return len(data)

    def flush(self) -> None:
        pass

    def whole_lines(self) -> bytes:
        """The longest run of whole lines within both caps."""
        end, found = 0, 0
        while found < self.max_lines:
            newline = self.buffer.find(b"\n", end)
            if newline < 0 or newline + 1 > self.max_bytes:
                break
            end, found = newline + 1, found + 1
        return bytes(self.buffer[:end])


def _native(result: Any, kind: str, fmt: Format, job: Job, *, header: int) -> Outcome:
    """The answer as the engine writes it (in Rust, ~15 times faster than building it here), cut at
    whole lines by the row and byte caps; ``header`` lines come before the rows (TSV's variables)."""
    sink = _Lines(job.max_rows + header, job.max_bytes)
    stopped = False
    try:
        result.serialize(sink, format=fmt.ox_results if kind == "results" else fmt.ox_rdf)
    except _Full:
        stopped = True
    body = sink.whole_lines()
    count = body.count(b"\n") - header
    return Outcome("ok", kind=kind, format=fmt.key, truncated=stopped or len(body) < len(sink.buffer),
                   count=max(0, count), body=body)


# -- the caps: rows and bytes --------------------------------------------------------------------------

def _term_weight(term: Any) -> int:
    """At most what the term takes in any answer format: its value and a separator. (Datatypes,
    languages and markup are left out: CSV writes none of them, and counting them cut CSV answers
    well before their bytes reached the cap. Turtle's prefixes may shorten IRIs below this.)"""
    if term is None:
        return 0
    if isinstance(term, ox.Triple):
        return _triple_weight(term)
    return len(term.value) + 1


def _row_weight(row: Any) -> int:
    return sum(_term_weight(term) for term in row) + 1


def _triple_weight(triple: Any) -> int:
    return _term_weight(triple.subject) + _term_weight(triple.predicate) + _term_weight(triple.object)


def _take(items: Any, max_rows: int, max_bytes: int, weight: Any) -> tuple[list, bool]:
    """At most ``max_rows`` items, stopping early once their text outweighs ``max_bytes``: the rows of
    an answer are held in the evaluator only as far as the answer may be sent. True when cut."""
    out: list = []
    total = 0
    for item in items:
        if len(out) == max_rows:
            return out, True
        total += weight(item)
        if total > max_bytes and out:
            return out, True
        out.append(item)
    return out, False


def _fit(items: list, max_bytes: int, serialise: Any) -> tuple[bytes, int]:
    """The serialisation of the longest prefix of ``items`` within ``max_bytes`` (escapes and markup
    can outgrow the weights ``_take`` counted) and how many items were left out."""
    body = serialise(items)
    if len(body) <= max_bytes or not items:
        return body, 0
    low, high = 0, len(items) - 1  # the longest fitting prefix has between low and high items
    best = serialise(items[:0])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = serialise(items[:middle])
        if len(candidate) <= max_bytes:
            low, best = middle, candidate
        else:
            high = middle - 1
    if low == 0:
        best = serialise(items[:0])
    return best, len(items) - low


def serialize_solutions(variables: list[str], rows: list, fmt: Format) -> bytes:
    """SELECT rows (already capped) in a SPARQL results format.

    Oxigraph's native writers consume a whole ``QuerySolutions`` and cannot be told to stop at the
    cap, so capped rows are written here, following the W3C result-format specifications.
    """
    if fmt.key == "json":
        return _json(variables, rows)
    if fmt.key == "xml":
        return _xml(variables, rows)
    if fmt.key == "csv":
        return _csv(variables, rows)
    if fmt.key == "tsv":
        return _tsv(variables, rows)
    raise ValueError(f"{fmt.label} is not a SPARQL results format")


def _json_term(term: Any) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    return {"type": "literal", "value": str(term)}


def _json(variables: list[str], rows: list) -> bytes:
    bindings = []
    for row in rows:
        binding = {}
        for name in variables:
            term = row[name]
            if term is not None:
                binding[name] = _json_term(term)
        bindings.append(binding)
    return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_term(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{_xml_escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{_xml_escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={_xml_attr(term.language)}>{_xml_text(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={_xml_attr(term.datatype.value)}>{_xml_text(term.value)}</literal>"
        return f"<literal>{_xml_text(term.value)}</literal>"
    if isinstance(term, ox.Triple):
        return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}"
                f"</predicate><object>{_xml_term(term.object)}</object></triple>")
    return f"<literal>{_xml_text(str(term))}</literal>"


def _xml_text(text: str) -> str:
    # \r would be normalised to \n by an XML parser: keep it as a character reference.
    return _xml_escape(text).replace("\r", "&#13;")


def _xml(variables: list[str], rows: list) -> bytes:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    out += [f"<variable name={_xml_attr(v)}/>" for v in variables]
    out.append("</head><results>")
    for row in rows:
        out.append("<result>")
        for name in variables:
            term = row[name]
            if term is not None:
                out.append(f"<binding name={_xml_attr(name)}>{_xml_term(term)}</binding>")
        out.append("</result>")
    out.append("</results></sparql>\n")
    return "".join(out).encode("utf-8")


def _csv_value(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, (ox.NamedNode, ox.Literal)):
        return term.value
    return str(term)


def _csv(variables: list[str], rows: list) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow([_csv_value(row[name]) for name in variables])
    return buffer.getvalue().encode("utf-8")


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _tsv_term(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.Literal):
        quoted = '"' + term.value.translate(_TSV_ESCAPES) + '"'
        if term.language:
            return f"{quoted}@{term.language}"
        if term.datatype.value != XSD_STRING:
            return f"{quoted}^^<{term.datatype.value}>"
        return quoted
    if isinstance(term, ox.Triple):
        return f"<< {_tsv_term(term.subject)} {_tsv_term(term.predicate)} {_tsv_term(term.object)} >>"
    return str(term)


def _tsv(variables: list[str], rows: list) -> bytes:
    lines = ["\t".join("?" + v for v in variables)]
    for row in rows:
        lines.append("\t".join(_tsv_term(row[name]) for name in variables))
    return ("\n".join(lines) + "\n").encode("utf-8")
