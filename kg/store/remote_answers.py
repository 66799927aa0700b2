"""What the remote store does with an endpoint's answer: parse it into pyoxigraph objects, refuse
a cut or partial one, and make engine-specific terms plain (Virtuoso's ``nodeID://`` blank nodes,
1/0 booleans), also while streaming; and how writes are cut into operations an engine accepts.
"""

from __future__ import annotations

import gzip
import re
from typing import IO, Any

import pyoxigraph as ox

from kg.store.base import QueryResult, StoreError, StoreTimeout

#: What an answer's Content-Type says it is.
RESULT_TYPES = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_TYPES = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
#: Triples per INSERT DATA operation within a request (see ``data_operations``).
DATA_OPERATION = 2_000


def parse_answer(content_type: str, body: bytes) -> QueryResult:
    """Parse a whole answer; one that does not parse was cut short by the endpoint's time limit."""
    if content_type in RESULT_TYPES:
        fmt = RESULT_TYPES[content_type]
        try:
            result = ox.parse_query_results(body, fmt)
            if isinstance(result, ox.QueryBoolean):
                return result
            for _ in result:  # parsing is lazy: read to the end to see a truncated answer
                pass
        except SyntaxError as exc:
            raise StoreTimeout(f"the SPARQL endpoint's answer does not parse (cut short?): {exc}") from exc
        return ox.parse_query_results(body, fmt)
    if content_type in GRAPH_TYPES:
        try:
            triples = [q.triple for q in ox.parse(body, format=GRAPH_TYPES[content_type])]
        except SyntaxError as exc:
            raise StoreTimeout(f"the SPARQL endpoint's answer does not parse (cut short?): {exc}") from exc
        return iter(triples)
    raise StoreError(f"the SPARQL endpoint answered in an unexpected format: {content_type or 'none'}")


def error_text(content_type: str, body: bytes) -> str:
    """What an error answer says, short: HTML tags dropped, and without Virtuoso's echo of the whole
    request after its message (long, and it holds our prologue and version triples)."""
    text = body.decode("utf-8", "replace")
    if content_type in ("text/html", "application/xhtml+xml"):
        text = re.sub(r"<[^>]*>", " ", text)
    text = text.split("\n\nSPARQL query:", 1)[0]
    return re.sub(r"[ \t]+", " ", text).strip()[:500]


def engine_limit(headers) -> int | None:
    """The row count at which the engine says it cut a SELECT answer (Virtuoso's ResultSetMaxRows)."""
    value = headers.get("X-SPARQL-MaxRows") if headers is not None else None
    try:
        return int(value) if value else None
    except ValueError:
        return None


def engine_cut(limit: int) -> StoreError:
    return StoreError(f"the SPARQL endpoint cut the answer at its own row limit ({limit} rows): an answer "
                      "that long cannot be trusted whole (on Virtuoso, raise [SPARQL] ResultSetMaxRows above "
                      "KG_MAX_ROWS and the largest graph)")


def check_partial(headers) -> None:
    """Virtuoso answers 200 with what it found so far when its time limit strikes, and says so only in
    ``X-SQL-State``: such an answer is a timeout, never a short result."""
    state = headers.get("X-SQL-State") if headers is not None else None
    if state:
        message = (headers.get("X-SQL-Message") or "").split("  ", 1)[0]
        raise StoreTimeout(f"the SPARQL endpoint stopped the query and answered in part ({state}: {message})")


def _has_blank_node(triple: ox.Triple) -> bool:
    return isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode)


def _insert_template(graph: ox.NamedNode | None, triples: list[ox.Triple]) -> str:
    body = " .\n".join(f"{t.subject} {t.predicate} {t.object}" for t in triples)
    if graph is None:
        return f"INSERT {{\n{body}\n}} WHERE {{}}"
    return f"INSERT {{ GRAPH {graph} {{\n{body}\n}} }} WHERE {{}}"


def data_operations(graph: ox.NamedNode | None, triples: list[ox.Triple]) -> list[str]:
    """Operations that insert ``triples`` into ``graph`` (the default graph when None), as every engine
    takes them: INSERT DATA of at most ``DATA_OPERATION`` triples each (Virtuoso's parser runs out of
    stack near 5,000 in one operation, not in several), and the triples with blank nodes in one
    template over the empty pattern (Virtuoso refuses blank nodes in INSERT DATA; one template keeps
    each label one node, fresh, as INSERT DATA would make it)."""
    plain = [t for t in triples if not _has_blank_node(t)]
    blank = [t for t in triples if _has_blank_node(t)]
    ops = []
    for start in range(0, len(plain), DATA_OPERATION):
        body = " .\n".join(f"{t.subject} {t.predicate} {t.object}" for t in plain[start:start + DATA_OPERATION])
        ops.append(f"INSERT DATA {{ GRAPH {graph} {{\n{body}\n}} }}" if graph is not None
                   else f"INSERT DATA {{\n{body}\n}}")
    if blank:
        ops.append(_insert_template(graph, blank))
    return ops


def insert_data(chunk: dict[object, list[ox.Triple]]) -> str:
    ops = []
    for graph, triples in chunk.items():
        ops += data_operations(None if isinstance(graph, ox.DefaultGraph) or graph is None else graph, triples)
    return " ;\n".join(ops)


# Two things Virtuoso writes that no RDF parser reads as meant, fixed in the answer's bytes:
# - blank nodes labelled "nodeID://b10000" in SPARQL JSON and XML results (not a blank node label);
# - booleans as "1"/"0"^^xsd:boolean (a valid lexical form, but not the canonical one every caller
#   compares with: "true"/"false").
# The context (a bnode's value, a boolean's datatype) makes each rewrite safe inside literals, where
# the quotes and angle brackets around it would be escaped.
_XSD_BOOLEAN = rb"http://www.w3.org/2001/XMLSchema#boolean"
_VIRTUOSO_TERMS = re.compile(
    rb'(?P<json>"type"\s{0,4}:\s{0,4}"bnode"\s{0,4},\s{0,4}"value"\s{0,4}:\s{0,4}")nodeID://'
    rb"|(?P<xml><bnode>)nodeID://"
    rb'|(?P<jb>"datatype"\s{0,4}:\s{0,4}"' + _XSD_BOOLEAN + rb'"\s{0,4},\s{0,4}"value"\s{0,4}:\s{0,4}")(?P<jv>[01])"'
    rb'|(?P<xb><literal datatype="' + _XSD_BOOLEAN + rb'">)(?P<xv>[01])<'
    rb'|(?P<nb>")(?P<nv>[01])(?P<nt>"\^\^<' + _XSD_BOOLEAN + rb">)"
)
_BOOLEAN_WORDS = {b"1": b"true", b"0": b"false"}


def _fix_terms(m: re.Match) -> bytes:
    if m.group("json") is not None or m.group("xml") is not None:
        return m.group("json") or m.group("xml")
    if m.group("jb") is not None:
        return m.group("jb") + _BOOLEAN_WORDS[m.group("jv")] + b'"'
    if m.group("xb") is not None:
        return m.group("xb") + _BOOLEAN_WORDS[m.group("xv")] + b"<"
    return m.group("nb") + _BOOLEAN_WORDS[m.group("nv")] + m.group("nt")


def plain_terms(body: bytes) -> bytes:
    if b"nodeID://" not in body and _XSD_BOOLEAN not in body:
        return body
    return _VIRTUOSO_TERMS.sub(_fix_terms, body)


class PlainTerms:
    """A streamed answer with ``plain_terms`` applied as it is read. The last bytes of what has
    arrived are held back until more comes, so that no term is split between two reads."""

    _HOLD = 256  # longer than anything the pattern matches

    def __init__(self, raw: Any):
        self._raw = raw
        self._buffer = b""
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size + self._HOLD):
            chunk = self._raw.read(max(size, 65536)) if size >= 0 else self._raw.read()
            if not chunk:
                self._done = True
                break
            self._buffer = plain_terms(self._buffer + chunk)
        ready = len(self._buffer) if self._done else max(0, len(self._buffer) - self._HOLD)
        if size >= 0:
            ready = min(ready, size)
        out, self._buffer = self._buffer[:ready], self._buffer[ready:]
        return out


def open_for_reading(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def read_position(handle: IO[bytes]) -> int:
    # Progress in bytes of the file on disk (the compressed size for .gz).
    raw = getattr(handle, "fileobj", None) or handle
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0
