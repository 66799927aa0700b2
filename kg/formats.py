"""The one table of media types for the whole project.

Every response body the service writes, and every file the CLI reads or writes, is chosen here: the
SPARQL endpoint, linked-data documents, the API and ``kg export`` all negotiate against the same
rows, so a format added here is offered everywhere at once.

Kinds of payload:
- ``results``: SELECT/ASK answers (SPARQL results formats);
- ``graph``: a set of triples (CONSTRUCT, DESCRIBE, linked-data documents);
- ``dataset``: quads (exports, named graphs);
- ``page``: HTML for people; ``data``: JSON/CSV/Markdown tables of the API.
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
    aliases: tuple[str, ...] = ()  #: other media types and short names that mean this format
    label: str = ""
    ox_results: ox.QueryResultsFormat | None = None
    ox_rdf: ox.RdfFormat | None = None
    rdflib: str | None = None  #: rdflib parser/serializer name
    charset: bool = True  #: whether ``; charset=utf-8`` belongs on the Content-Type
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8" if self.charset else self.media_type


_R = frozenset({"results"})
_G = frozenset({"graph", "dataset"})
_D = frozenset({"dataset"})

FORMATS: tuple[Format, ...] = (
    # SPARQL results
    Format("json", "application/sparql-results+json", _R | {"data"}, "srj", ("application/json", "srj"),
           "SPARQL JSON", ox_results=ox.QueryResultsFormat.JSON),
    Format("xml", "application/sparql-results+xml", _R, "srx", ("application/xml", "text/xml", "srx"),
           "SPARQL XML", ox_results=ox.QueryResultsFormat.XML),
    Format("csv", "text/csv", _R | {"data"}, "csv", (), "CSV", ox_results=ox.QueryResultsFormat.CSV),
    Format("tsv", "text/tab-separated-values", _R, "tsv", (), "TSV", ox_results=ox.QueryResultsFormat.TSV),
    # RDF graphs and datasets
    Format("turtle", "text/turtle", frozenset({"graph"}), "ttl", ("application/x-turtle", "ttl"),
           "Turtle", ox_rdf=ox.RdfFormat.TURTLE, rdflib="turtle"),
    Format("ntriples", "application/n-triples", frozenset({"graph"}), "nt", ("text/plain", "nt"),
           "N-Triples", ox_rdf=ox.RdfFormat.N_TRIPLES, rdflib="nt"),
    Format("jsonld", "application/ld+json", _G, "jsonld", ("json-ld",), "JSON-LD",
           ox_rdf=ox.RdfFormat.JSON_LD, rdflib="json-ld"),
    Format("rdfxml", "application/rdf+xml", frozenset({"graph"}), "rdf", ("rdf", "owl"), "RDF/XML",
           ox_rdf=ox.RdfFormat.RDF_XML, rdflib="xml"),
    Format("trig", "application/trig", _D, "trig", (), "TriG", ox_rdf=ox.RdfFormat.TRIG, rdflib="trig"),
    Format("nquads", "application/n-quads", _D, "nq", ("nq",), "N-Quads",
           ox_rdf=ox.RdfFormat.N_QUADS, rdflib="nquads"),
    # For people and plain tools
    Format("html", "text/html", frozenset({"page"}), "html", ("application/xhtml+xml",), "HTML"),
    Format("markdown", "text/markdown", frozenset({"data"}), "md", ("md",), "Markdown"),
    Format("problem", "application/problem+json", frozenset({"error"}), None, (), "Problem JSON",
           charset=False),
)

BY_KEY: dict[str, Format] = {f.key: f for f in FORMATS}


class NotAcceptable(Exception):
    """No offered format satisfies the request; ``offered`` lists what would."""

    def __init__(self, offered: Sequence[Format], asked: str):
        self.offered = list(offered)
        self.asked = asked
        names = ", ".join(f.media_type for f in self.offered)
        super().__init__(f"cannot answer {asked!r}; available: {names}")


def formats_for(kind: str) -> list[Format]:
    """Every format that can carry a payload of ``kind``, in the table's order of preference."""
    return [f for f in FORMATS if kind in f.kinds]


def by_name(name: str, kind: str | None = None) -> Format | None:
    """A format by short key, extension, media type or alias (case-insensitive), optionally of a kind."""
    wanted = name.strip().lower()
    for f in FORMATS if kind is None else formats_for(kind):
        if wanted in {f.key, f.media_type, f.extension, *f.aliases}:
            return f
    return None


def by_extension(ext: str, kind: str) -> Format | None:
    ext = ext.lower().lstrip(".")
    return next((f for f in formats_for(kind) if f.extension == ext or ext in f.aliases), None)


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges of an Accept header with their q-values, best first (stable for ties).

    >>> parse_accept("text/html;q=0.5, text/turtle")
    [('text/turtle', 1.0), ('text/html', 0.5)]
    """
    ranges: list[tuple[str, float, int]] = []
    for index, part in enumerate((header or "").split(",")):
        items = [p.strip() for p in part.split(";")]
        media = items[0].lower()
        if not media:
            continue
        q = 1.0
        for param in items[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        # More specific ranges win ties (RFC 9110 §12.5.1), then header order.
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media, q, -index + specificity * 1000))
    ranges.sort(key=lambda r: (-r[1], -r[2]))
    return [(m, q) for m, q, _ in ranges]


def negotiate(
    accept: str | None,
    offered: Iterable[Format],
    *,
    default: Format | None = None,
    requested: str | None = None,
) -> Format:
    """Pick the format to answer with.

    ``requested`` (a ``?format=`` value or an extension) wins over ``accept``. An empty Accept or
    ``*/*`` gives ``default`` (the first offered format when not given). Raises ``NotAcceptable``
    when nothing offered satisfies the request.

    >>> negotiate("text/turtle;q=0.9, application/ld+json", formats_for("graph")).key
    'jsonld'
    """
    offered = list(offered)
    default = default or offered[0]
    if requested:
        chosen = next((f for f in offered if by_name(requested) is f), None)
        if chosen is None:
            raise NotAcceptable(offered, requested)
        return chosen
    ranges = parse_accept(accept)
    if not ranges:
        return default
    best: tuple[float, int, Format] | None = None
    for media, q in ranges:
        if q <= 0:
            continue
        for position, f in enumerate(offered):
            names = {f.media_type, *(a for a in f.aliases if "/" in a)}
            if media == "*/*":
                match = f is default
                if not match:
                    continue
            elif media.endswith("/*"):
                if not any(n.startswith(media[:-1]) for n in names):
                    continue
            elif media not in names:
                continue
            # Exact media type beats an alias (e.g. application/json is an alias of SPARQL JSON).
            rank = (q, (2 if media == f.media_type else 1) * 1000 - position)
            if best is None or rank > best[:2]:
                best = (rank[0], rank[1], f)
        if best is not None and best[0] > q:
            break
    if best is None:
        if any(m == "*/*" and q > 0 for m, q in ranges):
            return default
        raise NotAcceptable(offered, accept or "")
    return best[2]


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


def rdf_format_for_path(path: str) -> Format | None:
    """The RDF format of a file by its name (``.gz`` is looked through)."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return next((f for f in FORMATS if f.ox_rdf is not None and (f.extension == ext or ext in f.aliases)), None)
