"""Read what a person submits as a new outsourcing type into an rdflib graph, safely.

A submission arrives as Turtle, TriG, JSON-LD, or the small JSON/YAML form that needs no RDF knowledge
(``kg.extension.form``); which names mean which format is the project's one table (``kg.formats``,
rows of kind ``submission``). Whatever the format, reading:

- is bounded: the input's size and the number of triples are capped before and after parsing;
- fetches nothing: a JSON-LD ``@context`` (or ``@import``) given as a URL is refused before rdflib
  sees the document, because rdflib would download it (``docs/engine-facts.md``), and the parse runs
  inside the outbound guard (``kg.safety.guard.no_network``) besides; XML is not accepted at all (no
  entities to expand); YAML aliases are refused (no "billion laughs");
- names the line of a syntax error, so a person can fix the file.

Nothing here knows the store: ``kg.extension.intake`` checks the graph this returns.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from rdflib import Dataset, Graph

from kg.config import Config
from kg.extension.errors import Invalid, Malformed, TooLarge, UnsupportedFormat
from kg.extension.form import form_to_graph
from kg.formats import for_submission, submission_media_types
from kg.safety.guard import no_network
from kg.terms import to_ox

#: Largest submission accepted from any channel (HTTP also has ``KG_MAX_BODY``).
MAX_BYTES = 512 * 1024
#: Largest number of triples one submission may describe.
MAX_TRIPLES = 5_000
#: Deepest nesting accepted in JSON or YAML (Python's parsers recurse).
MAX_DEPTH = 32
#: rdflib's name for the default graph of a dataset it parsed.
_DEFAULT_GRAPH = "urn:x-rdflib:default"


@dataclass
class Submission:
    """A parsed submission: its triples, the format they came in (``turtle``, ``trig``, ``json-ld`` or
    ``form``) and, for TriG or JSON-LD, the named graphs it tried to write."""

    graph: Graph
    format: str
    named_graphs: list[str]


def parse(data: bytes | str, fmt: str, config: Config, *, max_bytes: int = MAX_BYTES) -> Submission:
    """Parse a submission in ``fmt`` (a submission format's key, media type or file extension).

    Raises ``TooLarge``, ``UnsupportedFormat``, ``Malformed`` or ``Invalid`` (``kg.extension.errors``)
    for anything that cannot be read safely, and nothing else.

    >>> from kg.config import Config
    >>> parse(b'<https://w3id.org/outsourcing-kg/id/x> a <urn:c> .', "ttl", Config.from_env(environ={})).format
    'turtle'
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise TooLarge(f"the submission is {len(raw)} bytes; the limit is {max_bytes}")
    row = for_submission(fmt.split(";")[0]) if fmt else None
    if row is None:
        raise UnsupportedFormat(
            f"unsupported format {fmt!r}: send Turtle, TriG, JSON-LD, or the JSON/YAML form "
            f"({', '.join(submission_media_types())})"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"the submission is not UTF-8 (byte {exc.start})") from exc
    if row.key in ("turtle", "trig"):
        submission = _parse_rdf(text, row.key, config)
    elif row.key == "jsonld":
        submission = _parse_jsonld(_load_json(text), config)
    else:
        document = _load_json(text) if row.key == "form-json" else _load_yaml(text)
        if row.key == "form-json" and _looks_like_jsonld(document):
            submission = _parse_jsonld(document, config)
        else:
            submission = Submission(form_to_graph(document, config), "form", [])
    if len(submission.graph) > MAX_TRIPLES:
        raise TooLarge(f"the submission holds {len(submission.graph)} triples; the limit is {MAX_TRIPLES}")
    if len(submission.graph) == 0:
        raise Invalid("the submission holds no triples")
    _storable(submission.graph)
    return submission


def _storable(graph: Graph) -> None:
    """Malformed for a term rdflib read that the store cannot hold (an IRI with a space written as
    ``\\u0020``, a lone surrogate in a literal): said here, not as a failure of the write."""
    for triple in graph:
        for term in triple:
            try:
                to_ox(term)
            except (ValueError, TypeError) as exc:
                shown = str(term).encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:120]
                raise Malformed(f"{shown!r} cannot be stored: {exc}") from None


def _merged(dataset: Dataset, fmt: str) -> Submission:
    """Every triple of every graph of ``dataset`` in one graph, and the names of the non-empty graphs."""
    graph = Graph()
    named: list[str] = []
    for g in dataset.graphs():
        if len(g) and str(g.identifier) != _DEFAULT_GRAPH:
            named.append(str(g.identifier))
        for triple in g:
            graph.add(triple)
    return Submission(graph, fmt, named)


@contextlib.contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """rdflib 7.6's own Dataset.parse calls its deprecated ``default_context``: not our warning to raise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*default_context.*")
        yield


# -- RDF syntaxes ---------------------------------------------------------------------------------


def _parse_rdf(text: str, fmt: str, config: Config) -> Submission:
    dataset = Dataset()
    try:
        # A base inside the namespace lets a hand-written file say <lpo> for outd:lpo.
        with no_network(), _quiet_rdflib():
            dataset.parse(data=text, format=fmt, publicID=config.id_ns)
    except Exception as exc:  # noqa: BLE001 - rdflib raises many unrelated types for bad syntax
        raise _syntax_error(exc) from exc
    return _merged(dataset, fmt)


def _syntax_error(exc: Exception) -> Malformed:
    lines = getattr(exc, "lines", None)
    why = getattr(exc, "_why", None) or (str(exc).splitlines() or ["unreadable input"])[0]
    return Malformed(f"syntax error: {why}", line=lines + 1 if isinstance(lines, int) else None)


# -- JSON and JSON-LD -----------------------------------------------------------------------------


def _load_json(text: str) -> Any:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Malformed(f"JSON syntax error: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc
    except RecursionError as exc:
        raise Malformed("the JSON is nested too deeply") from exc
    _check_depth(document)
    return document


def _check_depth(node: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise Malformed(f"the document is nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        for value in node.values():
            _check_depth(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_depth(value, depth + 1)


def _looks_like_jsonld(document: Any) -> bool:
    return isinstance(document, list) or (isinstance(document, dict) and any(k.startswith("@") for k in document))


def remote_contexts(node: Any) -> list[str]:
    """Every context reference that a JSON-LD processor would dereference (URLs, ``@import``).

    >>> remote_contexts({"@context": ["https://schema.org/", {"ex": "http://e/"}], "x": 1})
    ['https://schema.org/']
    """
    found: list[str] = []

    def walk_context(ctx: Any) -> None:
        if isinstance(ctx, str):
            found.append(ctx)
        elif isinstance(ctx, list):
            for item in ctx:
                walk_context(item)
        elif isinstance(ctx, dict):
            if isinstance(ctx.get("@import"), str):
                found.append(ctx["@import"])
            for value in ctx.values():
                if isinstance(value, dict) and "@context" in value:  # scoped contexts
                    walk_context(value["@context"])

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            for key, value in n.items():
                if key == "@context":
                    walk_context(value)
                else:
                    walk(value)
        elif isinstance(n, list):
            for item in n:
                walk(item)

    walk(node)
    return found


def _parse_jsonld(document: Any, config: Config) -> Submission:
    remote = remote_contexts(document)
    if remote:
        raise Invalid(
            f"remote JSON-LD contexts are not fetched: {', '.join(remote[:3])}; put the context inline as an object"
        )
    dataset = Dataset()
    try:
        with no_network(), _quiet_rdflib():
            dataset.parse(data=json.dumps(document), format="json-ld", base=config.id_ns)
    except Exception as exc:  # noqa: BLE001 - rdflib's JSON-LD parser raises many unrelated types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Malformed(f"JSON-LD error: {first}") from exc
    return _merged(dataset, "json-ld")


# -- YAML -----------------------------------------------------------------------------------------


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without aliases: an alias can expand a small file into a huge tree."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted", event.start_mark)
        return super().compose_node(parent, index)


def _load_yaml(text: str) -> Any:
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise Malformed(f"YAML syntax error: {exc.problem or exc.context}", line=line) from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise Malformed(f"YAML error: {exc}") from exc
    _check_depth(document)
    return document


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_TRIPLES", "Submission", "parse", "remote_contexts"]
