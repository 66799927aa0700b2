"""The one table of media types for the whole project.

Every response body the service writes, every submission it reads, and every file the CLI reads or
writes is one row here: the SPARQL endpoint, linked-data documents, the API, error answers and
``kg export`` all pick from the same rows, so a format added here is offered everywhere at once.

Nothing here reads a request: which row answers an HTTP request is chosen in
``service/negotiation.py`` from the ``Accept`` header (that is HTTP, and the core knows none), and by
``--format`` on the command line. This module says what exists, finds rows by the names people use
for them, and serialises.

Kinds of payload a row serves:
- ``results``: SELECT/ASK answers (SPARQL results formats);
- ``graph``: a set of triples (CONSTRUCT, DESCRIBE, linked-data documents);
- ``dataset``: quads (exports, named graphs);
- ``page``: HTML for people; ``data``: JSON/CSV/Markdown tables of the API;
- ``error``: what an error is told in (problem JSON, an HTML page, plain text);
- ``submission``: what a new outsourcing type may be sent as (RDF, or the JSON/YAML form).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox


@dataclass(frozen=True)
class Format:
    """One row of the table."""

    key: str  #: short name, used by ``?format=`` and the CLI
    media_type: str
    kinds: frozenset[str]
    extension: str | None = None  #: file / URL extension without the dot
    #: Other names that mean this format: media types clients send for it (counted in negotiation only
    #: when named exactly) and short names.
    aliases: tuple[str, ...] = ()
    label: str = ""
    ox_results: ox.QueryResultsFormat | None = None
    ox_rdf: ox.RdfFormat | None = None
    rdflib: str | None = None  #: rdflib parser/serializer name
    charset: bool = True  #: whether ``; charset=utf-8`` belongs on the Content-Type
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __hash__(self) -> int:
        # Negotiation remembers its choices by the formats offered; the key names the row, so hashing
        # it alone is enough, and cheaper than the generated hash of every field.
        return hash(self.key)

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8" if self.charset else self.media_type

    @property
    def names(self) -> tuple[str, ...]:
        """Every name of the row, lowercase: key, media type, extension, aliases."""
        return tuple(n.lower() for n in (self.key, self.media_type, self.extension, *self.aliases) if n)

    @property
    def media_aliases(self) -> tuple[str, ...]:
        """The other media types clients use for this format (``application/json`` for JSON-LD ...)."""
        return tuple(a for a in self.aliases if "/" in a)


_R = frozenset({"results"})
_G = frozenset({"graph", "dataset"})
_D = frozenset({"dataset"})
_S = frozenset({"submission"})
_E = frozenset({"error"})

FORMATS: tuple[Format, ...] = (
    # SPARQL results
    Format("json", "application/sparql-results+json", _R | {"data"}, "srj", ("application/json", "srj"),
           "SPARQL JSON", ox_results=ox.QueryResultsFormat.JSON),
    Format("xml", "application/sparql-results+xml", _R, "srx", ("application/xml", "text/xml", "srx"),
           "SPARQL XML", ox_results=ox.QueryResultsFormat.XML),
    Format("csv", "text/csv", _R | {"data"}, "csv", (), "CSV", ox_results=ox.QueryResultsFormat.CSV),
    Format("tsv", "text/tab-separated-values", _R, "tsv", (), "TSV", ox_results=ox.QueryResultsFormat.TSV),
    # RDF graphs and datasets
    Format("turtle", "text/turtle", frozenset({"graph"}) | _S, "ttl", ("application/x-turtle", "ttl"),
           "Turtle", ox_rdf=ox.RdfFormat.TURTLE, rdflib="turtle"),
    Format("ntriples", "application/n-triples", frozenset({"graph"}), "nt", ("text/plain", "nt"),
           "N-Triples", ox_rdf=ox.RdfFormat.N_TRIPLES, rdflib="nt"),
    # JSON-LD is JSON: a client asking for application/json gets it where a graph is the answer.
    Format("jsonld", "application/ld+json", _G | _S, "jsonld", ("json-ld", "application/json"), "JSON-LD",
           ox_rdf=ox.RdfFormat.JSON_LD, rdflib="json-ld"),
    Format("rdfxml", "application/rdf+xml", frozenset({"graph"}), "rdf", ("rdf", "owl"), "RDF/XML",
           ox_rdf=ox.RdfFormat.RDF_XML, rdflib="xml"),
    Format("trig", "application/trig", _D | _S, "trig", (), "TriG", ox_rdf=ox.RdfFormat.TRIG, rdflib="trig"),
    Format("nquads", "application/n-quads", _D, "nq", ("nq",), "N-Quads",
           ox_rdf=ox.RdfFormat.N_QUADS, rdflib="nquads"),
    # For people and plain tools
    Format("html", "text/html", frozenset({"page"}) | _E, "html", ("application/xhtml+xml",), "HTML"),
    Format("markdown", "text/markdown", frozenset({"data"}), "md", ("md",), "Markdown"),
    # Errors: a client that reads any of these JSON types can read a problem document (RFC 9457).
    Format("problem", "application/problem+json", _E, None,
           ("application/json", "application/sparql-results+json", "application/ld+json"), "Problem JSON",
           charset=False),
    Format("text", "text/plain", _E, "txt", (), "Plain text"),
    # Submissions without RDF knowledge (kg.extension.submission reads them); a JSON form that turns
    # out to be JSON-LD is read as JSON-LD there.
    Format("form-json", "application/json", _S, "json", ("json",), "JSON form", charset=False),
    Format("form-yaml", "application/yaml", _S, "yaml",
           ("yml", "yaml", "application/x-yaml", "text/yaml", "text/x-yaml"), "YAML form"),
)

BY_KEY: dict[str, Format] = {f.key: f for f in FORMATS}


class NotAcceptable(Exception):
    """None of the formats that can carry an answer is the one asked for; ``offered`` lists those that can.

    Said in domain terms: what was asked (a format name, or the client's list) and what is available.
    """

    def __init__(self, offered: Sequence[Format], asked: str):
        self.offered = list(offered)
        self.asked = asked
        names = ", ".join(f.media_type for f in self.offered)
        super().__init__(f"cannot answer {asked!r}; available: {names}")


def formats_for(kind: str) -> list[Format]:
    """Every format that can carry a payload of ``kind``, in the table's order of preference."""
    return [f for f in FORMATS if kind in f.kinds]


def by_name(name: str, kind: str | None = None) -> Format | None:
    """A format by short key, extension, media type or alias (case-insensitive), optionally of a kind.

    >>> by_name("TTL").key, by_name("application/json").key, by_name("application/json", "graph").key
    ('turtle', 'json', 'jsonld')
    """
    wanted = name.strip().lower()
    return next((f for f in (FORMATS if kind is None else formats_for(kind)) if wanted in f.names), None)


def for_submission(name: str | None) -> Format | None:
    """The format of a submission by its media type (without parameters), short name or file
    extension (``.ttl`` or ``ttl``); None when submissions cannot come in it.

    A row's own media type, key or extension wins over another row's alias: ``application/json`` is the
    JSON form (which reads JSON-LD too), not JSON-LD, whose alias it also is.

    >>> [for_submission(n).key for n in ("text/turtle", ".yml", "json", "application/json", "jsonld")]
    ['turtle', 'form-yaml', 'form-json', 'form-json', 'jsonld']
    >>> for_submission("application/rdf+xml") is None
    True
    """
    if not name:
        return None
    wanted = name.strip().lower().removeprefix(".")
    rows = formats_for("submission")
    own = next((f for f in rows if wanted in (f.key, f.media_type, f.extension)), None)
    return own or next((f for f in rows if wanted in f.aliases), None)


def submission_names() -> list[str]:
    """Every short name and extension a submission format answers to (for ``--format`` choices)."""
    return sorted({n for f in formats_for("submission") for n in f.names if "/" not in n})


def submission_media_types() -> list[str]:
    """Every media type a submission may be sent as (what a refusal of another type lists, and the API description)."""
    return sorted({n for f in formats_for("submission") for n in f.names if "/" in n})


def serialize_results(result: ox.QuerySolutions | ox.QueryBoolean, fmt: Format) -> bytes:
    """SELECT/ASK results in a SPARQL results format, serialised natively by Oxigraph."""
    if fmt.ox_results is None:
        raise ValueError(f"{fmt.label} is not a SPARQL results format")
    return result.serialize(format=fmt.ox_results)


def serialize_triples(
    triples: Iterable[ox.Triple] | Iterable[ox.Quad],
    fmt: Format,
    prefixes: dict[str, str] | None = None,
) -> bytes:
    """Triples or quads in an RDF format, serialised natively by Oxigraph."""
    if fmt.ox_rdf is None:
        raise ValueError(f"{fmt.label} is not an RDF format")
    kwargs = {"prefixes": prefixes} if prefixes and fmt.ox_rdf in _PREFIXED else {}
    return ox.serialize(triples, format=fmt.ox_rdf, **kwargs)


_PREFIXED = {ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.RDF_XML, ox.RdfFormat.N3}


class _Full(Exception):
    """The answer has passed a cap: the engine's writer is stopped."""


class _Lines:
    """Where the engine writes a line-based answer: it keeps what was written and stops the writer,
    by raising ``_Full``, once it holds more lines or bytes than the caps let through."""

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


def write_lines(answer: ox.QuerySolutions | ox.QueryTriples | Iterable[ox.Triple],
                fmt: ox.QueryResultsFormat | ox.RdfFormat, *, max_lines: int, max_bytes: int,
                header: int = 0) -> tuple[bytes, bool]:
    """``answer`` written by the engine in a line-based format (TSV: a header line, then a row a line;
    N-Triples: a triple a line; a line break inside a value is escaped in both), cut at whole lines:
    at most ``max_lines`` lines and ``max_bytes`` bytes, except that the first ``header`` lines are
    kept whatever their size (an answer without its variables would not parse). True when something
    was left out.

    The engine's writers take no cap, so the writer is stopped as soon as it passes one: a long answer
    is never held whole, and a lazily read one (a remote endpoint's) is read no further.

    >>> store = ox.Store()
    >>> store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("one\\ntwo")))
    >>> write_lines(store.query("SELECT ?o { ?s ?p ?o }"), ox.QueryResultsFormat.TSV, max_lines=2, max_bytes=99)
    (b'?o\\n"one\\\\ntwo"\\n', False)
    >>> write_lines(store.query("SELECT ?o { ?s ?p ?o }"), ox.QueryResultsFormat.TSV, max_lines=1, max_bytes=99)
    (b'?o\\n', True)
    """
    sink = _Lines(max_lines, max_bytes)
    try:
        if isinstance(answer, (ox.QuerySolutions, ox.QueryTriples)):
            answer.serialize(sink, format=fmt)
        else:
            ox.serialize(answer, sink, format=fmt)
    except _Full:
        pass
    else:
        if not sink.buffer or sink.buffer.endswith(b"\n"):
            return bytes(sink.buffer), False  # within both caps, whole lines: nothing to cut
    end = 0
    for found in range(max_lines):
        newline = sink.buffer.find(b"\n", end)
        if newline < 0 or (found >= header and newline + 1 > max_bytes):
            break
        end = newline + 1
    return bytes(sink.buffer[:end]), end < len(sink.buffer)


def rdf_format_for_path(path: str) -> Format | None:
    """The RDF format of a file by its name (``.gz`` is looked through)."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return next((f for f in FORMATS if f.ox_rdf is not None and (f.extension == ext or ext in f.aliases)), None)
