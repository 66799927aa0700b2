"""What the simple form's statements are: quoted, read from a quote, or the submitter's own words.

The simple form (JSON/YAML) cannot mark the kind of each statement itself, and the shapes reject
anything unsourced that would pass as sourced, so ``mark_form`` translates it first, never upwards:
the type's own quote is quoted; a fact whose value is a ``new:`` entry with a quote of its own is read
from that quote (the quote moves to the fact's record); every other fact, the definition and the
``new:`` entries' own texts are the submitter's editorial statements; a missing activity level is
recorded as awaiting a source. A Turtle submission marks its statements itself and is left alone.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS

from kg.extension.form import SLUG
from kg.extension.provenance import agent_iri

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: Properties whose statements about a type need a record (besides those with domain out:OutsourcingType).
_RECORDED = (SKOS.broader, SKOS.narrower, SKOS.related, SKOS.definition)


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def _record_iri(kg: KnowledgeGraph, g: Graph, type_slug: str, prop: str, value) -> URIRef:
    """``evidence-<type>-<property>[-<value slug>]``, kept within the slug length limit and unused."""
    short = f"evidence-{type_slug}-{_kebab(_local(prop))}"
    value_slug = kg.slug(str(value)) if isinstance(value, URIRef) else None
    digest = hashlib.sha1(f"{prop} {value}".encode()).hexdigest()[:10]
    for base in (f"{short}-{value_slug}" if value_slug else short, f"{short}-{digest}",
                 f"evidence-{type_slug[:40]}-{digest}"):
        if SLUG.fullmatch(base) and (URIRef(kg.iri(base)), None, None) not in g:
            return URIRef(kg.iri(base))
    return URIRef(kg.iri(f"evidence-{digest}-{hashlib.sha1(type_slug.encode()).hexdigest()[:10]}"))


def _text(g: Graph, node, lang: str = "en") -> str:
    for prop in (SKOS.prefLabel, RDFS.label, SKOS.altLabel):
        for lit in g.objects(node, prop):
            if isinstance(lit, Literal) and (lit.language or lang) == lang:
                return str(lit)
    return _local(str(node))


def mark_form(kg: KnowledgeGraph, g: Graph, type_iri: str, agent: str) -> None:
    """Mark the kinds of what a simple-form submission states, in place (see the module docstring).

    The form gives one quote for the type and one for each ``new:`` entry, never one per fact, so
    nothing is marked as more than the form shows: only a fact whose value comes with its own quote is
    read from it; the rest is the submitter's own (editorial) statement, which SHACL lets through with
    a warning when it is a fact.
    """
    out = kg.config.vocab_ns
    kind = {k: URIRef(kg.iri("statement-" + k)) for k in ("quoted", "read", "editorial")}
    statement_kind, reading_note = URIRef(out + "statementKind"), URIRef(out + "readingNote")
    evidence_text = URIRef(out + "evidenceText")
    author = agent_iri(kg.config, agent)
    me = URIRef(type_iri)
    slug = kg.slug(type_iri) or "type"
    name = next((str(a) for a in g.objects(me, SKOS.altLabel)), None) or _text(g, me)
    if (me, evidence_text, None) in g and (me, PROV.wasDerivedFrom, None) in g:
        g.add((me, statement_kind, kind["quoted"]))
    recorded = {str(p) for p in _RECORDED} | {
        str(p) for p in kg.ontology.vocabulary.subjects(RDFS.domain, URIRef(out + "OutsourcingType"))
    }
    recorded.discard(out + "awaitsSourceFor")
    facts = sorted(
        ((p, o) for p, o in g.predicate_objects(me) if str(p) in recorded),
        key=lambda t: (str(t[0]), str(t[1])),
    )
    quoted_nodes: set = set()
    for prop, value in facts:
        record = _record_iri(kg, g, slug, str(prop), value)
        g.add((record, RDF.type, URIRef(out + "Evidence")))
        g.add((record, URIRef(out + "supportsSubject"), me))
        g.add((record, URIRef(out + "supportsProperty"), prop))
        if isinstance(value, URIRef):
            g.add((record, URIRef(out + "supportsValue"), value))
        prop_label = _text(kg.ontology.vocabulary, prop)
        if prop_label == _local(str(prop)):
            prop_label = _kebab(prop_label).replace("-", " ")
        value_label = _text(g, value) if isinstance(value, URIRef) else "its definition"
        quotes = list(g.objects(value, evidence_text)) if isinstance(value, URIRef) else []
        sources = list(g.objects(value, PROV.wasDerivedFrom)) if isinstance(value, URIRef) else []
        if quotes and sources:
            for q in quotes:
                g.add((record, evidence_text, q))
            for src in sources:
                g.add((record, PROV.wasDerivedFrom, src))
            g.add((record, statement_kind, kind["read"]))
            g.add((record, reading_note, Literal(
                f"The simple form gave this passage for \u201c{value_label}\u201d; that {name} {prop_label} "
                f"\u201c{value_label}\u201d is the submitter's reading of it.", lang="en")))
            quoted_nodes.add(value)
            g.add((record, RDFS.label, Literal(f"Evidence: {name} {prop_label} {value_label}", lang="en")))
        else:
            g.add((record, statement_kind, kind["editorial"]))
            g.add((record, PROV.wasAttributedTo, author))
            what = "definition" if prop == SKOS.definition else "statement"
            g.add((record, SKOS.editorialNote, Literal(
                f"The submitter's own {what}: the simple form quotes no source for it.", lang="en")))
            caption = f"{name}'s definition" if prop == SKOS.definition else f"{name} {prop_label} {value_label}"
            g.add((record, RDFS.label, Literal(f"Statement: {caption}", lang="en")))
    # New nodes described in the form: their quote moved to the records of the facts that use them,
    # their label and definition are the submitter's words.
    for node in sorted({s for s in g.subjects() if s != me}, key=str):
        if (node, RDF.type, URIRef(out + "Evidence")) in g or (node, RDF.type, PROV.Entity) in g:
            continue
        if node in quoted_nodes:
            g.remove((node, evidence_text, None))
            g.remove((node, PROV.wasDerivedFrom, None))
        if (node, evidence_text, None) in g:  # a quote no fact uses: it stays a reading of its node
            g.add((node, statement_kind, kind["read"]))
            g.add((node, reading_note, Literal(
                "The simple form gave this passage for this entry; its label and definition are the "
                "submitter's words.", lang="en")))
            continue
        g.add((node, statement_kind, kind["editorial"]))
        g.add((node, PROV.wasAttributedTo, author))
    # No activity level in the form: the type waits for a source that states it.
    if (me, URIRef(out + "hasActivityLevel"), None) not in g:
        g.add((me, URIRef(out + "awaitsSourceFor"), URIRef(kg.iri("dimension-activity-level"))))


__all__ = ["mark_form"]
