"""Lookups people ask for without writing SPARQL: the outsourcing types, skills, activities.

Queries here are fixed text; values reach them only as typed substitutions (Oxigraph binds them
as terms), never by formatting strings. Oxigraph binds a substituted variable only when the SELECT
projects it, so every substituted variable is projected.

Every fact, definition and earnings rate in an answer says what kind of statement it is (``kind``:
``quoted``, ``read`` or ``editorial``, see ontology/README.md "Kinds of statement"), with the reading
notes of a read one and the premises of an inferred one. ``statement_kind`` resolves the kind of any
one statement the way the pages and the comparison do.

Why one module of this size: each lookup is a fixed query text and the few lines that read its rows,
and a query text is worth reading beside its reader; a third of the module is SPARQL.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import TypeVar

import pyoxigraph as ox

from kg.graph import KnowledgeGraph
from kg.namespaces import curie
from kg.query.trusted import Query

T = TypeVar("T")

_TYPES = """
SELECT ?lang ?type ?label ?acronym ?definition ?definitionKind WHERE {
  ?type a out:OutsourcingType .
  OPTIONAL { ?type skos:prefLabel ?label FILTER(LANGMATCHES(LANG(?label), ?lang)) }
  OPTIONAL { ?type skos:altLabel ?acronym }
  OPTIONAL { ?type skos:definition ?definition FILTER(LANGMATCHES(LANG(?definition), ?lang)) }
  OPTIONAL { ?record out:supportsSubject ?type ; out:supportsProperty skos:definition ;
                     out:statementKind ?definitionKind }
} ORDER BY ?acronym ?label ?type ?definitionKind
"""

# Every outgoing statement of every type: filters and earnings are answered from it in Python,
# which keeps one fixed query whatever the filter.
_TYPE_FACTS = """
SELECT ?type ?p ?o WHERE { ?type a out:OutsourcingType ; ?p ?o }
"""

_EARNINGS = """
SELECT ?lang ?type ?rate ?amount ?currency ?unit ?unitLabel ?beneficiary ?beneficiaryLabel ?statistic ?kind WHERE {
  ?type a out:OutsourcingType ; out:averageEarnings ?rate .
  ?rate schema:value ?amount .
  OPTIONAL { ?rate schema:currency ?currency }
  OPTIONAL { ?rate out:perTimeUnit ?unit }
  OPTIONAL { ?rate out:beneficiary ?beneficiary .
             OPTIONAL { ?beneficiary skos:prefLabel ?beneficiaryLabel
                        FILTER(LANGMATCHES(LANG(?beneficiaryLabel), ?lang)) } }
  OPTIONAL { ?rate out:statistic ?statistic }
  OPTIONAL { ?rate out:statementKind ?kind }
}
"""

_EARNINGS_NOTES = """
SELECT ?rate ?note WHERE { ?type a out:OutsourcingType ; out:averageEarnings ?rate . ?rate out:readingNote ?note }
"""

# The statement nodes of one type: its evidence records, the fact nodes it links to (earnings, trend
# origin, period: they cite a source themselves) and the type itself, with what says their kind.
# Each branch reads its nodes' statements itself: with ``?node ?q ?v`` after the UNION the engine
# joined the branches to every triple of the graph (58 ms at 100k triples, 0.7 ms this way).
_STATEMENTS = """
SELECT ?type ?node ?q ?v WHERE {
  { ?node out:supportsSubject ?type . ?node ?q ?v }
  UNION { ?type ?link ?node . ?node prov:wasDerivedFrom ?cited . ?node ?q ?v FILTER(isIRI(?node)) }
  UNION { ?type a out:OutsourcingType ; ?q ?v . BIND(?type AS ?node) }
  FILTER(?q IN (out:statementKind, out:supportsProperty, out:supportsValue, out:supportsLiteral,
                out:evidenceText, prov:wasDerivedFrom, out:readingNote, out:inferredFrom,
                out:quotedPassage, prov:wasAttributedTo))
}
"""

_CONCEPTS = """
SELECT ?lang ?class ?concept ?label ?definition ?kind WHERE {
  ?concept a ?class .
  OPTIONAL { ?concept skos:prefLabel ?label FILTER(LANGMATCHES(LANG(?label), ?lang)) }
  OPTIONAL { ?concept skos:definition ?definition FILTER(LANGMATCHES(LANG(?definition), ?lang)) }
  OPTIONAL { ?concept out:statementKind ?kind }
} ORDER BY ?label ?concept
"""

_USED_BY = """
SELECT ?class ?property ?concept ?type WHERE { ?type a out:OutsourcingType ; ?property ?concept . ?concept a ?class }
"""

_DESCRIBE = """
SELECT ?lang ?type ?p ?o ?pLabel ?oLabel ?oAlt ?rank ?oClass WHERE {
  ?type ?p ?o .
  OPTIONAL { ?p rdfs:label ?pLabel FILTER(LANGMATCHES(LANG(?pLabel), ?lang)) }
  OPTIONAL { ?o skos:prefLabel ?oLabel FILTER(LANGMATCHES(LANG(?oLabel), ?lang)) }
  OPTIONAL { ?o rdfs:label ?oLabel FILTER(LANGMATCHES(LANG(?oLabel), ?lang)) }
  OPTIONAL { ?o skos:altLabel ?oAlt }
  OPTIONAL { ?o out:rank ?rank }
  OPTIONAL { ?o a ?oClass }
}
"""

# Provenance of plain statements (out:Evidence) and of n-ary nodes (their own quote), with the kind of
# the node that quotes and the Web Annotation passage of the quote.
_EVIDENCE = """
SELECT ?type ?p ?o ?lit ?text ?source ?sourceLabel ?kind ?passage WHERE {
  {
    ?ev a out:Evidence ; out:supportsSubject ?type ; out:supportsProperty ?p ; out:evidenceText ?text .
    OPTIONAL { ?ev out:supportsValue ?o }
    OPTIONAL { ?ev out:supportsLiteral ?lit }
    OPTIONAL { ?ev prov:wasDerivedFrom ?source }
    BIND(?ev AS ?node)
  } UNION {
    ?type ?p ?o . ?o out:evidenceText ?text .
    FILTER NOT EXISTS { ?o a out:OutsourcingType }
    OPTIONAL { ?o prov:wasDerivedFrom ?source }
    BIND(?o AS ?node)
  } UNION {
    ?type out:evidenceText ?text . BIND(prov:wasDerivedFrom AS ?p)
    OPTIONAL { ?type prov:wasDerivedFrom ?source }
    BIND(?type AS ?node)
  }
  OPTIONAL { ?source rdfs:label ?sourceLabel }
  OPTIONAL { ?node out:statementKind ?kind }
  OPTIONAL { ?node out:quotedPassage ?passage . ?passage oa:hasSelector/oa:exact ?text }
}
"""

_NODE = """
SELECT ?node ?p ?o WHERE { ?node ?p ?o }
"""

SKOS = "http://www.w3.org/2004/02/skos/core#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PROV = "http://www.w3.org/ns/prov#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
VANN = "http://purl.org/vocab/vann/"

#: The three kinds of statement, from the least to the most sourced; several records of one statement
#: report the least sourced of their kinds, so that an answer never claims more than its data.
KINDS = ("editorial", "read", "quoted")

#: Statements that are editorial by definition (ontology/README.md, "Kinds of statement").
GROUPING = (RDF_TYPE, SKOS + "inScheme", SKOS + "topConceptOf", SKOS + "hasTopConcept")
NOTES = (SKOS + "scopeNote", SKOS + "editorialNote", SKOS + "note", SKOS + "historyNote", SKOS + "changeNote",
         RDFS + "comment", VANN + "usageNote")


def _lit(lang: str) -> ox.Literal:
    return ox.Literal(lang)


def _value(term) -> str | None:
    return None if term is None else term.value


def page_link(kg: KnowledgeGraph, iri: str) -> str | None:
    """The relative address of a resource's page on this service, for things it serves."""
    slug = kg.slug(iri)
    return f"/doc/{slug}" if slug else None


def normalise(text: str) -> str:
    """Case- and accent-insensitive form: ``normalise("Spécialisé") == "specialise"``.

    >>> normalise("Spécialisé  KPO")
    'specialise kpo'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.casefold()).strip()


def kind_name(kg: KnowledgeGraph, iri: str | None) -> str | None:
    """``quoted``, ``read`` or ``editorial`` for the IRI of a statement kind (None for anything else)."""
    slug = kg.slug(iri) if iri else None
    name = slug.removeprefix("statement-") if slug else None
    return name if name in KINDS else None


def weakest(kinds) -> str | None:
    """The least sourced of several kinds (None when there is none)."""
    known = [k for k in kinds if k in KINDS]
    return min(known, key=KINDS.index) if known else None


def types_query(lang: str = "en") -> Query:
    return Query(_TYPES, {"lang": _lit(lang)})


def _read(kg: KnowledgeGraph, query: Query):
    return kg.query(query.sparql, prefixes=kg.prefixes, substitutions=query.substitutions,
                    timeout=kg.config.query_timeout)


def list_types(kg: KnowledgeGraph, lang: str = "en", *, rows=None) -> list[dict]:
    """Every outsourcing type with its IRI, slug, label, acronym, definition and the definition's kind.

    One entry per type even when a type has several acronyms (the first in order is kept). ``rows``:
    the answer to ``types_query(lang)`` when the caller read it in a batch with others.
    """
    if rows is None:
        rows = _read(kg, types_query(lang))
    types: dict[str, dict] = {}
    kinds: dict[str, set[str]] = {}
    for row in rows:
        iri = row["type"].value
        entry = types.setdefault(iri, {"iri": iri, "slug": kg.slug(iri), "label": None,
                                       "acronym": None, "definition": None, "definition_kind": None})
        for key in ("label", "acronym", "definition"):
            if entry[key] is None and row[key] is not None:
                entry[key] = row[key].value
        if row["definitionKind"] is not None:
            kinds.setdefault(iri, set()).add(kind_name(kg, row["definitionKind"].value) or "")
    for iri, entry in types.items():
        entry["definition_kind"] = weakest(kinds.get(iri, ()))
    return list(types.values())


def type_facts(kg: KnowledgeGraph) -> dict[str, dict[str, set[str]]]:
    """type IRI → property IRI → object values (IRIs or lexical forms)."""
    facts: dict[str, dict[str, set[str]]] = {}
    for row in kg.query(_TYPE_FACTS, prefixes=kg.prefixes, timeout=kg.config.query_timeout):
        facts.setdefault(row["type"].value, {}).setdefault(row["p"].value, set()).add(row["o"].value)
    return facts


def earnings_queries(lang: str = "en") -> list[Query]:
    return [Query(_EARNINGS, {"lang": _lit(lang)}), Query(_EARNINGS_NOTES)]


def earnings(kg: KnowledgeGraph, lang: str = "en", *, rows=None) -> dict[str, list[dict]]:
    """type IRI → its earnings rates (amount, currency, unit, beneficiary, statistic), each with its kind
    of statement and reading notes (what the figure was read as: currency, statistic, beneficiary).
    ``rows``: the answers to ``earnings_queries(lang)``, when read in a batch."""
    out: dict[str, list[dict]] = {}
    rows, note_rows = rows if rows is not None else kg.query_all(earnings_queries(lang),
                                                                 timeout=kg.config.query_timeout)
    notes: dict[str, set[str]] = {}
    for row in note_rows:
        notes.setdefault(row["rate"].value, set()).add(row["note"].value)
    seen: set[tuple] = set()
    for row in rows:
        try:
            amount = float(row["amount"].value)
        except ValueError:
            continue
        key = (row["type"].value, row["rate"].value)
        if key in seen:
            continue
        seen.add(key)
        out.setdefault(row["type"].value, []).append({
            "iri": row["rate"].value if isinstance(row["rate"], ox.NamedNode) else None,
            "amount": amount,
            "currency": _value(row["currency"]),
            "unit": _value(row["unit"]),
            "per": _unit_word(_value(row["unit"])),
            "beneficiary": _value(row["beneficiary"]),
            "beneficiary_label": _value(row["beneficiaryLabel"]),
            "statistic": _value(row["statistic"]),
            "kind": kind_name(kg, _value(row["kind"])),
            "reading_notes": sorted(notes.get(row["rate"].value, ())),
        })
    for rates in out.values():
        rates.sort(key=lambda r: (r["beneficiary"] or "", r["amount"]))
    return out


def _unit_word(unit: str | None) -> str | None:
    if unit is None:
        return None
    return {"HR": "hour", "DAY": "day", "WK": "week", "MO": "month", "YR": "year", "MIN": "minute"}.get(
        unit.rsplit("/", 1)[-1], unit.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Concept:
    iri: str
    slug: str | None
    label: str | None
    kind: str | None = None  #: kind of the concept's own texts (``editorial`` for the shipped ones)


def concepts(kg: KnowledgeGraph, cls: str, lang: str = "en") -> list[Concept]:
    """Individuals of a class (a full IRI), labelled."""
    rows = kg.query(_CONCEPTS, prefixes=kg.prefixes,
                          substitutions={"lang": _lit(lang), "class": ox.NamedNode(cls)},
                          timeout=kg.config.query_timeout)
    seen: dict[str, Concept] = {}
    for row in rows:
        iri = row["concept"].value
        if iri not in seen:
            seen[iri] = Concept(iri, kg.slug(iri), _value(row["label"]), kind_name(kg, _value(row["kind"])))
    return list(seen.values())


def resolve(kg: KnowledgeGraph, raw: str, candidates: list[Concept]) -> str | None:
    """The candidate a user means by ``raw``: IRI, prefixed name, slug, slug suffix or label.

    ``activity_level=high`` finds ``outd:activity-level-high`` (its slug ends in ``-high``).
    """
    raw = raw.strip()
    if not raw:
        return None
    iri = expand(kg, raw)
    wanted = normalise(raw)
    for test in (
        lambda c: c.iri == iri,
        lambda c: (c.slug or "") == raw,
        lambda c: normalise(c.label or "") == wanted,
        lambda c: (c.slug or "").endswith("-" + raw),
        lambda c: normalise(c.label or "").startswith(wanted + " "),
        lambda c: f" {wanted} " in f" {normalise(c.label or '')} ",
        lambda c: f"-{raw}-" in f"-{c.slug or ''}-",
    ):
        hits = [c for c in candidates if test(c)]
        if len(hits) == 1:
            return hits[0].iri
    return None


def expand(kg: KnowledgeGraph, raw: str) -> str:
    """A full IRI for an IRI, a prefixed name (``outd:kpo``) or a slug (``kpo``)."""
    if raw.startswith(("http://", "https://", "urn:")):
        return raw
    prefix, sep, local = raw.partition(":")
    if sep and prefix in kg.prefixes:
        return kg.prefixes[prefix] + local
    return kg.iri(raw)


def used_by(kg: KnowledgeGraph, cls: str) -> dict[str, dict[str, list[str]]]:
    """concept IRI → property IRI → slugs of the types that point at it."""
    out: dict[str, dict[str, list[str]]] = {}
    rows = kg.query(_USED_BY, prefixes=kg.prefixes, substitutions={"class": ox.NamedNode(cls)},
                          timeout=kg.config.query_timeout)
    for row in rows:
        slug = kg.slug(row["type"].value) or row["type"].value
        bucket = out.setdefault(row["concept"].value, {}).setdefault(row["property"].value, [])
        if slug not in bucket:
            bucket.append(slug)
    return out


def describe_type(kg: KnowledgeGraph, iri: str, lang: str = "en") -> dict | None:
    """One type: every statement about it with labels, plus the source words behind each; None when
    ``iri`` names no outsourcing type."""
    out = kg.prefixes["out"]
    try:
        node = ox.NamedNode(iri)
    except ValueError:
        return None
    # Everything the answer needs, read together: one trip to the evaluator, one version of the graph.
    rows, evidence_rows, statement_rows, type_rows, *earning_rows = kg.query_all([
        Query(_DESCRIBE, {"lang": _lit(lang), "type": node}), Query(_EVIDENCE, {"type": node}),
        statements_query(iri), types_query(lang), *earnings_queries(lang),
    ], timeout=kg.config.query_timeout)
    evidence = _evidence(kg, evidence_rows)
    index = statement_index(kg, iri, rows=statement_rows)
    facts: dict[tuple[str, str], dict] = {}
    labels: dict[str, list[str]] = {}
    for row in rows:
        p, o = row["p"], row["o"]
        key = (p.value, o.value + (("@" + o.language) if isinstance(o, ox.Literal) and o.language else ""))
        fact = facts.get(key)
        if fact is None:
            fact = facts[key] = {
                "property": p.value,
                "property_label": _value(row["pLabel"]) or _local(p.value),
                "value": _term_json(kg, o),
                "evidence": evidence.get((p.value, o.value)) or evidence.get((p.value, None), []),
                **statement_kind(kg, index, iri, p.value, o),
            }
        if isinstance(o, ox.NamedNode):
            value = fact["value"]
            if value.get("label") is None and row["oLabel"] is not None:
                value["label"] = row["oLabel"].value
            # Several alternative labels: the first in code-point order, never the engine's row order.
            if row["oAlt"] is not None:
                value["acronym"] = min(value.get("acronym", row["oAlt"].value), row["oAlt"].value)
            if row["rank"] is not None:
                value["rank"] = int(row["rank"].value)
            if row["oClass"] is not None:
                classes = value.setdefault("classes", [])
                if row["oClass"].value not in classes:
                    classes.append(row["oClass"].value)
        if isinstance(o, ox.Literal):
            labels.setdefault(p.value, []).append(o.value)
    entry = next((t for t in list_types(kg, lang, rows=type_rows) if t["iri"] == iri), None)
    if entry is None:
        return None
    details = [fact["value"]["iri"] for fact in facts.values() if fact["property"] == out + "averageEarnings"]
    answers = kg.query_all([Query(_NODE, {"node": ox.NamedNode(d)}) for d in details],
                           timeout=kg.config.query_timeout) if details else []
    node_details = {d: _node(kg, rows) for d, rows in zip(details, answers, strict=True)}
    for fact in facts.values():
        detail = node_details.get(fact["value"].get("iri"))
        if detail:
            fact["value"]["details"] = detail
    result = dict(entry)
    result["page"] = page_link(kg, iri)
    result["kind"] = weakest(index.get(iri, {}).get("kinds", ()))
    result["earnings"] = earnings(kg, lang, rows=earning_rows).get(iri, [])
    result["provenance"] = evidence.get((kg.prefixes["prov"] + "wasDerivedFrom", None), [])
    for fact in facts.values():
        if "classes" in fact["value"]:
            fact["value"]["classes"].sort()
    # Ties (one label in two languages) are broken by the full value: never the engine's row order.
    ordered = sorted(facts.values(), key=lambda f: (f["property_label"], str(f["value"].get("label") or
                                                                             f["value"].get("value") or ""),
                                                    f["property"], json.dumps(f["value"], sort_keys=True)))
    result["facts"] = ordered
    return result


def _node(kg: KnowledgeGraph, rows) -> dict:
    details: dict[str, list] = {}
    for row in rows:
        details.setdefault(_short(kg, row["p"].value), []).append(row["o"].value)
    # Sorted: the engine's row order is not part of the answer (it differs between evaluators).
    return {key: sorted(values) for key, values in sorted(details.items())}


def _evidence(kg: KnowledgeGraph, rows) -> dict[tuple, list[dict]]:
    found: dict[tuple, list[dict]] = {}
    prov = kg.prefixes["prov"] + "wasDerivedFrom"
    for row in rows:
        p = row["p"].value
        value = _value(row["o"]) or _value(row["lit"])
        keys = [(p, value)]
        if p == prov and value is None:
            keys = [(p, None)]
        item = {"text": row["text"].value, "source": _value(row["source"]),
                "source_label": _value(row["sourceLabel"]), "kind": kind_name(kg, _value(row["kind"])),
                "passage": _value(row["passage"])}
        for key in keys:
            bucket = found.setdefault(key, [])
            if item not in bucket:
                bucket.append(item)
    for bucket in found.values():
        bucket.sort(key=lambda e: (e["text"], e["source"] or "", e["source_label"] or "", e["kind"] or "",
                                   e["passage"] or ""))
    return found


def statements_query(iri: str) -> Query:
    return Query(_STATEMENTS, {"type": ox.NamedNode(iri)})


def statement_index(kg: KnowledgeGraph, iri: str, *, rows=None) -> dict[str, dict]:
    """The statement nodes about ``iri`` (its records, the fact nodes it links to, itself): node IRI →
    kinds, property, value or literal, reading notes, premises. ``rows``: the answer to
    ``statements_query(iri)``, when read in a batch."""
    nodes: dict[str, dict] = {}
    out = kg.prefixes["out"]
    if rows is None:
        rows = _read(kg, statements_query(iri))
    for row in rows:
        info = nodes.setdefault(row["node"].value, {"kinds": set(), "property": None, "value": None,
                                                   "literal": None, "notes": set(), "premises": set()})
        q, v = row["q"].value, row["v"]
        if q == out + "statementKind":
            info["kinds"].add(kind_name(kg, v.value))
        elif q == out + "supportsProperty":
            info["property"] = v.value
        elif q == out + "supportsValue":
            info["value"] = v.value
        elif q == out + "supportsLiteral":
            info["literal"] = (v.value, v.language if isinstance(v, ox.Literal) else None)
        elif q == out + "readingNote":
            info["notes"].add(v.value)
        elif q == out + "inferredFrom":
            info["premises"].add(v.value)
    return nodes


def statement_kind(kg: KnowledgeGraph, index: dict[str, dict], subject: str, prop: str, obj) -> dict:
    """The kind of the statement ``subject prop obj`` (``obj`` a pyoxigraph term), with its reading notes
    and premises, resolved as ontology/README.md says: its evidence records; else the fact node it
    links to; else the rules for what is editorial by definition (groupings, notes, translations,
    out:awaitsSourceFor); the subject's own quote for its provenance; else unmarked (None)."""
    out = kg.prefixes["out"]
    found = []
    for node, info in index.items():
        if info["property"] != prop or node == subject:
            continue
        if isinstance(obj, ox.Literal):
            if info["value"] is not None:
                continue
            if info["literal"] is not None and info["literal"] != (obj.value, obj.language or None):
                continue
        elif info["value"] != obj.value:
            continue
        found.append(info)
    if not found and isinstance(obj, ox.NamedNode) and obj.value in index and obj.value != subject:
        found = [index[obj.value]]
    if found:
        kinds = {k for info in found for k in info["kinds"]}
        return {"kind": weakest(kinds),
                "reading_notes": sorted({n for info in found for n in info["notes"]}),
                "inferred_from": sorted({p for info in found for p in info["premises"]})}
    kind = None
    if prop in GROUPING or prop in NOTES or prop in (out + "readingNote", out + "awaitsSourceFor"):
        kind = "editorial"
    elif isinstance(obj, ox.Literal) and obj.language and not obj.language.lower().startswith("en"):
        kind = "editorial"  # a translation
    elif prop in (out + "evidenceText", out + "quotedPassage", PROV + "wasDerivedFrom"):
        kind = weakest(index.get(subject, {}).get("kinds", ()))
    return {"kind": kind, "reading_notes": [], "inferred_from": []}


def _term_json(kg: KnowledgeGraph, term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"iri": term.value, "slug": kg.slug(term.value), "label": None,
                "page": page_link(kg, term.value)}
    if isinstance(term, ox.Literal):
        value: dict = {"value": term.value}
        if term.language:
            value["language"] = term.language
        elif term.datatype and not term.datatype.value.endswith("#string"):
            value["datatype"] = term.datatype.value
        return value
    return {"value": str(term)}


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


def _short(kg: KnowledgeGraph, iri: str) -> str:
    return curie(iri, kg.prefixes) or iri
