"""Turn what a person submits as a new outsourcing type into an rdflib graph, safely.

A submission arrives as Turtle, TriG, JSON-LD, or a small JSON/YAML form that needs no RDF
knowledge (see ``FORM_FIELDS`` and ``docs/extending.md``). Whatever the format, parsing:

- is bounded: the input's size and the number of triples are capped before and after parsing;
- fetches nothing: a JSON-LD ``@context`` (or ``@import``) given as a URL is refused before rdflib
  sees the document, because rdflib would download it (``docs/engine-facts.md``); XML is not
  accepted at all (no entities to expand); YAML aliases are refused (no "billion laughs");
- names the line of a syntax error, so a person can fix the file.

Nothing here knows the store: ``kg.extension.extend`` validates the graph this returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, SKOS

from kg.config import Config

#: Largest submission accepted from any channel (HTTP also has ``KG_MAX_BODY``).
MAX_BYTES = 512 * 1024
#: Largest number of triples one submission may describe.
MAX_TRIPLES = 5_000
#: Deepest nesting accepted in JSON or YAML (Python's parsers recurse).
MAX_DEPTH = 32

#: Formats by the names people and HTTP clients use for them.
FORMAT_NAMES: dict[str, str] = {
    "turtle": "turtle",
    "ttl": "turtle",
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "trig": "trig",
    "application/trig": "trig",
    "jsonld": "json-ld",
    "json-ld": "json-ld",
    "application/ld+json": "json-ld",
    "json": "json",
    "application/json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
}

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class SubmissionError(Exception):
    """The submission cannot be read: bad syntax, unsupported format, too big, or unsafe."""

    def __init__(self, message: str, *, line: int | None = None, kind: str = "syntax", status: int = 400):
        self.message, self.line, self.kind, self.status = message, line, kind, status
        super().__init__(f"line {line}: {message}" if line else message)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.line:
            out["line"] = self.line
        return out


@dataclass
class Submission:
    """A parsed submission: its triples and, for TriG, the named graphs it tried to write."""

    graph: Graph
    format: str
    named_graphs: list[str]


def format_for(name: str | None) -> str | None:
    """The submission format for a media type, short name or file extension (None when unknown).

    >>> format_for("text/turtle; charset=utf-8"), format_for("yml"), format_for("application/rdf+xml")
    ('turtle', 'yaml', None)
    """
    if not name:
        return None
    return FORMAT_NAMES.get(name.split(";")[0].strip().lower().lstrip("."))


def parse(data: bytes | str, fmt: str, config: Config, *, max_bytes: int = MAX_BYTES) -> Submission:
    """Parse a submission in ``fmt`` (a key of ``FORMAT_NAMES``) into triples.

    Raises ``SubmissionError`` for anything that cannot be read safely.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise SubmissionError(
            f"the submission is {len(raw)} bytes; the limit is {max_bytes}", kind="too-large", status=413
        )
    kind = format_for(fmt)
    if kind is None:
        raise SubmissionError(
            f"unsupported format {fmt!r}: send Turtle, TriG, JSON-LD, or the JSON/YAML form",
            kind="unsupported-format",
            status=415,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"the submission is not UTF-8 (byte {exc.start})") from exc
    if kind in ("turtle", "trig"):
        submission = _parse_rdf(text, kind, config)
    elif kind == "json-ld":
        submission = _parse_jsonld(_load_json(text), config)
    else:
        document = _load_json(text) if kind == "json" else _load_yaml(text)
        if kind == "json" and _looks_like_jsonld(document):
            submission = _parse_jsonld(document, config)
        else:
            submission = Submission(form_to_graph(document, config), "form", [])
    if len(submission.graph) > MAX_TRIPLES:
        raise SubmissionError(
            f"the submission holds {len(submission.graph)} triples; the limit is {MAX_TRIPLES}",
            kind="too-large",
            status=413,
        )
    if len(submission.graph) == 0:
        raise SubmissionError("the submission holds no triples", kind="empty", status=422)
    return submission


# -- RDF syntaxes ---------------------------------------------------------------------------------


def _parse_rdf(text: str, kind: str, config: Config) -> Submission:
    dataset = Dataset()
    try:
        # A base inside the namespace lets a hand-written file say <lpo> for outd:lpo.
        with _quiet_rdflib():
            dataset.parse(data=text, format=kind, publicID=config.id_ns)
    except Exception as exc:  # rdflib raises many unrelated types for bad syntax
        raise _syntax_error(exc) from exc
    graph = Graph()
    named: list[str] = []
    for g in dataset.graphs():
        name = str(g.identifier)
        if len(g) and name != "urn:x-rdflib:default":
            named.append(name)
        for triple in g:
            graph.add(triple)
    return Submission(graph, kind, named)


def _syntax_error(exc: Exception) -> SubmissionError:
    lines = getattr(exc, "lines", None)
    why = getattr(exc, "_why", None) or (str(exc).splitlines() or ["unreadable input"])[0]
    return SubmissionError(f"syntax error: {why}", line=lines + 1 if isinstance(lines, int) else None)


# -- JSON and JSON-LD -----------------------------------------------------------------------------


def _load_json(text: str) -> Any:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"JSON syntax error: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc
    except RecursionError as exc:
        raise SubmissionError("the JSON is nested too deeply") from exc
    _check_depth(document)
    return document


def _check_depth(node: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise SubmissionError(f"the document is nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        for value in node.values():
            _check_depth(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_depth(value, depth + 1)


def _looks_like_jsonld(document: Any) -> bool:
    return isinstance(document, list) or (
        isinstance(document, dict) and any(k.startswith("@") for k in document)
    )


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
        raise SubmissionError(
            f"remote JSON-LD contexts are not fetched: {', '.join(remote[:3])}; "
            "put the context inline as an object",
            kind="remote-context",
            status=422,
        )
    dataset = Dataset()
    try:
        with _no_network(), _quiet_rdflib():
            dataset.parse(data=json.dumps(document), format="json-ld", base=config.id_ns)
    except SubmissionError:
        raise
    except Exception as exc:
        raise SubmissionError(
            f"JSON-LD error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    graph = Graph()
    named = []
    for g in dataset.graphs():
        if len(g) and str(g.identifier) != "urn:x-rdflib:default":
            named.append(str(g.identifier))
        for triple in g:
            graph.add(triple)
    return Submission(graph, "json-ld", named)


def _quiet_rdflib():
    """rdflib 7.6's own Dataset.parse calls its deprecated ``default_context``: not our warning to raise."""
    import warnings

    manager = warnings.catch_warnings()
    manager.__enter__()
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*default_context.*")
    import contextlib

    @contextlib.contextmanager
    def _exit():
        try:
            yield
        finally:
            manager.__exit__(None, None, None)

    return _exit()


def _no_network():
    """The project's socket guard when it is installed (belt and braces: contexts are checked above)."""
    try:
        from kg.safety import guard  # written alongside; optional
    except ImportError:
        guard = None
    for name in ("no_network", "deny_network", "blocked"):
        factory = getattr(guard, name, None) if guard else None
        if callable(factory):
            try:
                return factory()
            except TypeError:
                continue
    import contextlib

    return contextlib.nullcontext()


# -- YAML -----------------------------------------------------------------------------------------


def _load_yaml(text: str) -> Any:
    import yaml

    class _Loader(yaml.SafeLoader):
        """SafeLoader without aliases: an alias can expand a small file into a huge tree."""

        def compose_node(self, parent, index):  # type: ignore[override]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not accepted", event.start_mark
                )
            return super().compose_node(parent, index)

    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SubmissionError(
            f"YAML syntax error: {exc.problem or exc.context}", line=mark.line + 1 if mark else None
        ) from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise SubmissionError(f"YAML error: {exc}") from exc
    _check_depth(document)
    return document


# -- the simple form --------------------------------------------------------------------------------

#: Keys of the simple form → (property IRI, kind of value). "ref" values are slugs, prefixed names
#: (outd:x) or IRIs of existing things, or of things described under ``new``.
FORM_FIELDS: dict[str, tuple[str, str]] = {
    "label": (str(SKOS.prefLabel), "text"),
    "acronym": (str(SKOS.altLabel), "text"),
    "definition": (str(SKOS.definition), "text"),
    "note": (str(SKOS.note), "text"),
    "skills": ("out:requiresSkill", "ref"),
    "activities": ("out:typicalActivity", "ref"),
    "activity_level": ("out:hasActivityLevel", "ref"),
    "client_contact": ("out:hasClientContactFrequency", "ref"),
    "specialization": ("out:hasSpecializationLevel", "ref"),
    "emphasis": ("out:hasEmphasis", "ref"),
    "qualifications": ("out:workforceQualification", "ref"),
    "extension_of": ("out:isExtensionOf", "ref"),
    "simpler_form_of": ("out:isSimplerFormOf", "ref"),
    "broader": (str(SKOS.broader), "ref"),
    "related": (str(SKOS.related), "ref"),
    "source": (str(PROV.wasDerivedFrom), "iri"),
    "evidence": ("out:evidenceText", "plain"),
}
#: Keys of an entry under ``new`` (a skill, activity... described in the same submission).
NEW_FIELDS: dict[str, tuple[str, str]] = {
    "label": (str(SKOS.prefLabel), "text"),
    "definition": (str(SKOS.definition), "text"),
    "source": (str(PROV.wasDerivedFrom), "iri"),
    "evidence": ("out:evidenceText", "plain"),
}
#: A source described in the same submission (``new: {sources: [...]}``), for ``source:`` to point at.
SOURCE_FIELDS: dict[str, tuple[str, str]] = {
    "title": (str(DCTERMS.title), "text"),
    "url": ("https://schema.org/url", "iri"),
}
#: ``new`` entries: class of the node by the key it is listed under.
NEW_KINDS = {
    "skills": "out:Skill",
    "activities": "out:Activity",
    "qualifications": "out:Qualification",
    "sources": str(PROV.Entity),
}
#: Concept scheme each kind of new node joins (its members are listed there).
NEW_SCHEMES = {"skills": "skills", "activities": "activities", "qualifications": "qualifications"}


def form_to_graph(document: Any, config: Config) -> Graph:
    """The triples a simple-form document states (see ``FORM_FIELDS``).

    >>> from kg.config import Config
    >>> g = form_to_graph({"id": "lpo", "label": "Legal Process Outsourcing", "acronym": "LPO"},
    ...                   Config.from_env(environ={}))
    >>> sorted(str(o) for o in g.objects())[:2]
    ['LPO', 'Legal Process Outsourcing']
    """
    if not isinstance(document, dict):
        raise SubmissionError(
            "the form must be a mapping of field names to values (see docs/extending.md)",
            kind="form",
            status=422,
        )
    slug = document.get("id")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise SubmissionError(
            "the form needs 'id': a slug of lower-case letters, digits and hyphens, e.g. 'lpo'",
            kind="form",
            status=422,
        )
    lang = document.get("lang", "en")
    if not isinstance(lang, str) or not re.match(r"^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$", lang):
        raise SubmissionError("'lang' must be a language tag such as 'en'", kind="form", status=422)
    graph = Graph()
    subject = URIRef(config.id_ns + slug)
    out = config.vocab_ns
    graph.add((subject, RDF.type, URIRef(out + "OutsourcingType")))
    scheme = URIRef(config.id_ns + "outsourcing-types")
    graph.add((subject, SKOS.inScheme, scheme))
    graph.add((subject, SKOS.topConceptOf, scheme))
    _fill(graph, subject, document, FORM_FIELDS, {"id", "lang", "new"}, lang, config, "")
    new = document.get("new", {})
    if not isinstance(new, dict):
        raise SubmissionError(
            "'new' must map skills/activities/qualifications/sources to lists", kind="form", status=422
        )
    for group, entries in new.items():
        if group not in NEW_KINDS:
            raise SubmissionError(_unknown_key(group, NEW_KINDS, "new."), kind="form", status=422)
        if not isinstance(entries, list):
            raise SubmissionError(f"'new.{group}' must be a list", kind="form", status=422)
        for index, entry in enumerate(entries):
            where = f"new.{group}[{index}]"
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("id"), str)
                or not SLUG.match(entry["id"])
            ):
                raise SubmissionError(f"'{where}' needs an 'id' slug", kind="form", status=422)
            node = URIRef(config.id_ns + entry["id"])
            kind = NEW_KINDS[group]
            graph.add((node, RDF.type, URIRef(out + kind[4:] if kind.startswith("out:") else kind)))
            if group in NEW_SCHEMES:
                graph.add((node, SKOS.inScheme, URIRef(config.id_ns + NEW_SCHEMES[group])))
            fields = SOURCE_FIELDS if group == "sources" else NEW_FIELDS
            _fill(graph, node, entry, fields, {"id"}, lang, config, where + ".")
    return graph


def _fill(
    graph: Graph,
    subject: URIRef,
    document: dict,
    fields: dict,
    skip: set[str],
    lang: str,
    config: Config,
    where: str,
) -> None:
    for key, value in document.items():
        if key in skip or str(key).startswith("_"):  # "_comment" and the like
            continue
        if key not in fields:
            raise SubmissionError(_unknown_key(key, fields, where), kind="form", status=422)
        prop, kind = fields[key]
        prop_iri = URIRef(config.vocab_ns + prop[4:] if prop.startswith("out:") else prop)
        for item in value if isinstance(value, list) else [value]:
            graph.add((subject, prop_iri, _form_value(item, kind, lang, config, where + key)))


def _form_value(item: Any, kind: str, lang: str, config: Config, where: str):
    if kind == "text" and isinstance(item, dict):
        # {"en": "...", "fr": "..."}: one label per language
        raise SubmissionError(
            f"'{where}': give one string (use a list for several values)", kind="form", status=422
        )
    if not isinstance(item, str) or not item.strip():
        raise SubmissionError(f"'{where}' must be a non-empty string", kind="form", status=422)
    if kind == "text":
        return Literal(item.strip(), lang=lang)
    if kind == "plain":
        return Literal(item.strip())
    return URIRef(resolve_reference(item.strip(), config, allow_any_iri=(kind == "iri")))


def resolve_reference(value: str, config: Config, *, allow_any_iri: bool = False) -> str:
    """A slug, ``outd:slug`` or ``out:Term`` (or, where allowed, any http(s) IRI) as a full IRI.

    >>> resolve_reference("outd:bpo", Config.from_env(environ={}))
    'https://w3id.org/outsourcing-kg/id/bpo'
    """
    if value.startswith("outd:") and SLUG.match(value[5:]):
        return config.id_ns + value[5:]
    if SLUG.match(value):
        return config.id_ns + value
    if value.startswith(config.id_ns) and SLUG.match(value[len(config.id_ns) :]):
        return value
    if allow_any_iri and re.match(r"^https?://[^\s<>\"{}|\\^`]+$", value):
        return value
    raise SubmissionError(f"{value!r} is not a slug or an IRI of this graph", kind="form", status=422)


def _unknown_key(key: str, known: Iterable[str], where: str) -> str:
    from kg.domain.suggest import closest

    hint = closest(str(key), list(known))
    return (
        f"unknown field '{where}{key}'"
        + (f"; did you mean '{where}{hint}'?" if hint else "")
        + f" (fields: {', '.join(known)})"
    )
