"""Ranked search over labels, acronyms and definitions, ignoring case and accents.

Why: people look for "kpo", "legal" or "spécialisé" without knowing IRIs. The searchable text is
read from the graph once per graph version (a few hundred literals) and ranked in Python, so the
user's text never reaches SPARQL at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from kg.domain.lookup import normalise
from kg.graph import KnowledgeGraph

_TEXTS = """
SELECT ?thing ?field ?text ?class WHERE {
  VALUES ?field { skos:prefLabel skos:altLabel skos:definition rdfs:label }
  ?thing ?field ?text .
  OPTIONAL { ?thing a ?class }
}
"""

#: Score of a match by field and kind; the best match of a resource is its score.
_WEIGHTS = {"exact": 100, "prefix": 60, "word": 40, "substring": 25}
_FIELD = {"prefLabel": 1.0, "altLabel": 1.0, "label": 0.8, "definition": 0.3}


@dataclass
class Entry:
    iri: str
    slug: str | None
    label: str | None
    kinds: set[str]
    texts: list[tuple[str, str, str]]  #: (field, original text, normalised text)


def _index(kg: KnowledgeGraph) -> list[Entry]:
    return kg.per_version("search index", lambda: _build_index(kg))


def _build_index(kg: KnowledgeGraph) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for row in kg.query(_TEXTS, prefixes=kg.prefixes, timeout=kg.config.query_timeout):
        thing = row["thing"]
        if not isinstance(thing, ox.NamedNode) or kg.slug(thing.value) is None:
            continue  # only things this service describes
        text = row["text"]
        if text.language and not text.language.startswith(("en", "fr")):
            continue
        entry = entries.setdefault(thing.value, Entry(thing.value, kg.slug(thing.value), None, set(), []))
        field = row["field"].value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        item = (field, text.value, normalise(text.value))
        if item not in entry.texts:
            entry.texts.append(item)
        if field == "prefLabel" and (text.language or "en").startswith("en"):
            entry.label = text.value
        if row["class"] is not None:
            entry.kinds.add(row["class"].value.rsplit("#", 1)[-1])
    return list(entries.values())


def search(kg: KnowledgeGraph, q: str, kind: str | None = None) -> list[dict]:
    """Resources matching ``q``, best first: {iri, slug, label, kinds, score, matched}."""
    wanted = normalise(q)
    if not wanted:
        return []
    hits = []
    for entry in _index(kg):
        if kind and kind not in entry.kinds:
            continue
        best, matched = 0.0, None
        for field, original, text in entry.texts:
            if text == wanted:
                kind_score = _WEIGHTS["exact"]
            elif text.startswith(wanted):
                kind_score = _WEIGHTS["prefix"]
            elif f" {wanted}" in f" {text}":
                kind_score = _WEIGHTS["word"]
            elif wanted in text:
                kind_score = _WEIGHTS["substring"]
            else:
                continue
            score = kind_score * _FIELD.get(field, 0.5)
            if score > best:
                best, matched = score, {"field": field, "text": original}
        if best:
            hits.append({"iri": entry.iri, "slug": entry.slug, "label": entry.label,
                         "kinds": sorted(entry.kinds), "score": round(best, 1), "matched": matched,
                         "page": f"/doc/{entry.slug}"})
    hits.sort(key=lambda h: (-h["score"], (h["label"] or "").casefold(), h["iri"]))
    return hits
