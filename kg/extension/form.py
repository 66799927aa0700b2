"""The simple form: a new outsourcing type as a few JSON/YAML fields, for people who do not write RDF.

Why a module of its own: the form is a small language of its own (its fields, what each becomes, the
``new:`` entries described alongside), documented in ``docs/extending.md`` ("The simple form");
``kg.extension.submission`` hands it the parsed document and gets triples back. What the form's
statements are (quoted, read, editorial) is decided later, by ``kg.extension.marking``.

An unknown field is refused with the closest known one; every refusal is ``Invalid``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, SKOS

from kg.config import Config
from kg.domain.suggest import closest
from kg.extension.errors import Invalid

#: A slug: the last segment of a thing's IRI (``outd:{slug}``), as types and their new nodes are named.
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$")
_HTTP_IRI = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")

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
        raise Invalid("the form must be a mapping of field names to values (see docs/extending.md)")
    slug = document.get("id")
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise Invalid("the form needs 'id': a slug of lower-case letters, digits and hyphens, e.g. 'lpo'")
    lang = document.get("lang", "en")
    if not isinstance(lang, str) or not _LANGUAGE_TAG.fullmatch(lang):
        raise Invalid("'lang' must be a language tag such as 'en'")
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
        raise Invalid("'new' must map skills/activities/qualifications/sources to lists")
    for group, entries in new.items():
        if group not in NEW_KINDS:
            raise Invalid(_unknown_key(group, NEW_KINDS, "new."))
        if not isinstance(entries, list):
            raise Invalid(f"'new.{group}' must be a list")
        for index, entry in enumerate(entries):
            where = f"new.{group}[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not SLUG.fullmatch(entry["id"]):
                raise Invalid(f"'{where}' needs an 'id' slug")
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
    fields: dict[str, tuple[str, str]],
    skip: set[str],
    lang: str,
    config: Config,
    where: str,
) -> None:
    for key, value in document.items():
        if key in skip or str(key).startswith("_"):  # "_comment" and the like
            continue
        if key not in fields:
            raise Invalid(_unknown_key(key, fields, where))
        prop, kind = fields[key]
        prop_iri = URIRef(config.vocab_ns + prop[4:] if prop.startswith("out:") else prop)
        for item in value if isinstance(value, list) else [value]:
            graph.add((subject, prop_iri, _form_value(item, kind, lang, config, where + key)))


def _form_value(item: Any, kind: str, lang: str, config: Config, where: str) -> Literal | URIRef:
    if kind == "text" and isinstance(item, dict):
        # {"en": "...", "fr": "..."} is not the form: one string per value
        raise Invalid(f"'{where}': give one string (use a list for several values)")
    if not isinstance(item, str) or not item.strip():
        raise Invalid(f"'{where}' must be a non-empty string")
    if kind == "text":
        return Literal(item.strip(), lang=lang)
    if kind == "plain":
        return Literal(item.strip())
    return URIRef(resolve_reference(item.strip(), config, allow_any_iri=(kind == "iri")))


def resolve_reference(value: str, config: Config, *, allow_any_iri: bool = False) -> str:
    """A slug, ``outd:slug`` or a thing's IRI (or, where allowed, any http(s) IRI) as a full IRI.

    >>> resolve_reference("outd:bpo", Config.from_env(environ={}))
    'https://w3id.org/outsourcing-kg/id/bpo'
    """
    if value.startswith("outd:") and SLUG.fullmatch(value[5:]):
        return config.id_ns + value[5:]
    if SLUG.fullmatch(value):
        return config.id_ns + value
    if value.startswith(config.id_ns) and SLUG.fullmatch(value[len(config.id_ns) :]):
        return value
    if allow_any_iri and _HTTP_IRI.fullmatch(value):
        return value
    raise Invalid(f"{value!r} is not a slug or an IRI of this graph")


def _unknown_key(key: object, known: Iterable[str], where: str) -> str:
    names = list(known)
    hint = closest(str(key), names)
    return (
        f"unknown field '{where}{key}'"
        + (f"; did you mean '{where}{hint}'?" if hint else "")
        + f" (fields: {', '.join(names)})"
    )


__all__ = ["FORM_FIELDS", "NEW_FIELDS", "NEW_KINDS", "SLUG", "SOURCE_FIELDS", "form_to_graph", "resolve_reference"]
