"""Deterministic synthetic outsourcing data at a chosen size, as N-Triples.

Shapes of the real graph, scaled: outsourcing types with multilingual labels and required skills,
providers in countries offering types, skills, and workers with hourly earnings. The same seed and
size give byte-identical files, so runs on different days compare. Things live under the project's
id namespace (``outd:syn-*``) so the service's own routes (``/doc/{slug}``) reach them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from kg.config import DEFAULT_NAMESPACE

ID = DEFAULT_NAMESPACE + "id/"
OUT = DEFAULT_NAMESPACE + "ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = "https://schema.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
LANGS = ("en", "fr", "de")


@dataclass(frozen=True)
class Shape:
    """How many of each kind of thing a dataset of about ``triples`` triples holds."""

    triples: int
    types: int
    countries: int
    skills: int
    providers: int
    workers: int


def shape(triples: int) -> Shape:
    # About 7.5 triples per worker, which dominate; providers take ~3%, the other kinds little.
    workers = max(50, int(triples * 0.968 / 7.5))
    return Shape(
        triples=triples,
        types=20,
        countries=50,
        skills=max(30, triples // 2000),
        providers=max(10, triples // 200),
        workers=workers,
    )


def _iri(value: str) -> str:
    return f"<{value}>"


def _lit(value: str, lang: str | None = None, datatype: str | None = None) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if lang:
        return f'"{escaped}"@{lang}'
    if datatype:
        return f'"{escaped}"^^<{datatype}>'
    return f'"{escaped}"'


def thing(kind: str, i: int) -> str:
    """The IRI of the i-th synthetic thing of a kind (``worker``, ``provider``...)."""
    return f"{ID}syn-{kind}-{i}"


def generate(triples: int, path: Path, seed: int = 7) -> int:
    """Write about ``triples`` triples to ``path`` (N-Triples); return the exact number written."""
    s = shape(triples)
    rng = random.Random(seed)
    a = _iri(RDF_TYPE)
    label, alt, definition = _iri(SKOS + "prefLabel"), _iri(SKOS + "altLabel"), _iri(SKOS + "definition")
    name = _iri(SCHEMA + "name")
    country_p, works_for = _iri(SCHEMA + "addressCountry"), _iri(SCHEMA + "worksFor")
    requires, has_skill = _iri(OUT + "requiresSkill"), _iri(OUT + "hasSkill")
    offers, earnings = _iri(OUT + "offersType"), _iri(OUT + "hourlyEarnings")
    founded = _iri(SCHEMA + "foundingDate")
    count = 0
    with open(path, "w", encoding="utf-8") as out:

        def emit(subj: str, pred: str, obj: str) -> None:
            nonlocal count
            out.write(f"{subj} {pred} {obj} .\n")
            count += 1

        for i in range(s.types):
            t = _iri(thing("type", i))
            emit(t, a, _iri(OUT + "OutsourcingType"))
            for lang in LANGS:
                emit(t, label, _lit(f"Outsourcing type {i} ({lang})", lang))
            emit(t, alt, _lit(f"T{i}"))
            emit(t, definition, _lit(f"A synthetic kind of outsourcing, number {i}.", "en"))
            for j in rng.sample(range(s.skills), 3):
                emit(t, requires, _iri(thing("skill", j)))
        for i in range(s.countries):
            c = _iri(thing("country", i))
            emit(c, a, _iri(SCHEMA + "Country"))
            emit(c, label, _lit(f"Country {i}", "en"))
            emit(c, label, _lit(f"Pays {i}", "fr"))
        for i in range(s.skills):
            k = _iri(thing("skill", i))
            emit(k, a, _iri(OUT + "Skill"))
            emit(k, label, _lit(f"Skill {i}", "en"))
            emit(k, label, _lit(f"Compétence {i}", "fr"))
        for i in range(s.providers):
            p = _iri(thing("provider", i))
            emit(p, a, _iri(SCHEMA + "Organization"))
            emit(p, name, _lit(f"Provider {i}"))
            if i % 3 == 0:
                emit(p, alt, _lit(f"Anbieter {i}", "de"))
            emit(p, country_p, _iri(thing("country", rng.randrange(s.countries))))
            emit(p, offers, _iri(thing("type", rng.randrange(s.types))))
            emit(p, founded, _lit(str(1950 + rng.randrange(70)), datatype=XSD + "integer"))
        for i in range(s.workers):
            w = _iri(thing("worker", i))
            emit(w, a, _iri(SCHEMA + "Person"))
            emit(w, name, _lit(f"Worker {i}"))
            emit(w, works_for, _iri(thing("provider", rng.randrange(s.providers))))
            emit(w, country_p, _iri(thing("country", rng.randrange(s.countries))))
            for j in rng.sample(range(s.skills), 2):
                emit(w, has_skill, _iri(thing("skill", j)))
            emit(w, earnings, _lit(f"{rng.uniform(5, 80):.2f}", datatype=XSD + "decimal"))
            if i % 2 == 0:
                emit(w, label, _lit(f"Worker {i}", "en"))
    return count


def links_to(target: str, links: int, path: Path) -> int:
    """Write ``links`` triples ``<linker-i> schema:knowsAbout <target>`` to ``path`` (N-Triples): one
    resource linked from that many others, the shape that makes a description's incoming links page."""
    about, obj = _iri(SCHEMA + "knowsAbout"), _iri(target)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(links):
            out.write(f"{_iri(thing('linker', i))} {about} {obj} .\n")
    return links


def parse_size(text: str) -> int:
    """``10k`` → 10000, ``1M`` → 1000000."""
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)
