"""The type-vs-type difference table, built from the graph for any two or more outsourcing types.

Why: the source text is a comparison of BPO and KPO; this module answers it from the graph rather
than from code. Its rows are the ``out:Dimension`` individuals (``out:dimensionProperty``,
``out:displayOrder``), so a dimension or a type added as data appears here with no code change.
Each value carries the source words behind it and the kind of statement it is (``quoted``: the
source says it; ``read``: our reading of the quoted words, with the reading notes; ``editorial``: our
own words), resolved like the API's (``kg.domain.lookup.statement_kind``); a dimension for which a type awaits a
source (``out:awaitsSourceFor``) says so instead of leaving a bare gap. Earnings get a computed ratio,
marked as computed; lineage relations (``isExtensionOf``...) and stored ``out:Comparison`` nodes between
the compared types are listed, with their kinds too.

Why one module of this size: the model (``Comparison`` and its parts), the six fixed queries it is
read with (in one batch) and the rules that fill it are one piece of reasoning; the renderings are
``kg.domain.compare_formats``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from kg.domain.lookup import (
    earnings,
    earnings_queries,
    kind_name,
    list_types,
    statement_index,
    statement_kind,
    statements_query,
    types_query,
)
from kg.graph import KnowledgeGraph
from kg.query.trusted import Query

_DIMENSIONS = """
SELECT ?lang ?dimension ?property ?order ?label ?definition WHERE {
  ?dimension a out:Dimension ; out:dimensionProperty ?property .
  OPTIONAL { ?dimension out:displayOrder ?order }
  OPTIONAL { ?dimension skos:prefLabel ?label FILTER(LANGMATCHES(LANG(?label), ?lang)) }
  OPTIONAL { ?dimension skos:definition ?definition FILTER(LANGMATCHES(LANG(?definition), ?lang)) }
}
"""

# Values of every dimension for one type, labelled; ranks for ordered scales.
_VALUES = """
SELECT ?lang ?type ?property ?value ?label ?rank WHERE {
  ?dimension a out:Dimension ; out:dimensionProperty ?property .
  ?type ?property ?value .
  OPTIONAL { ?value skos:prefLabel ?label FILTER(LANGMATCHES(LANG(?label), ?lang)) }
  OPTIONAL { ?value rdfs:label ?label FILTER(LANGMATCHES(LANG(?label), ?lang)) }
  OPTIONAL { ?value out:rank ?rank }
}
"""

# Source words of a plain statement (out:Evidence) or of an n-ary value node (its own quote), with the
# kind of the node that quotes them.
_EVIDENCE = """
SELECT ?type ?property ?value ?text ?source ?kind WHERE {
  ?dimension a out:Dimension ; out:dimensionProperty ?property .
  ?type ?property ?value .
  {
    ?ev a out:Evidence ; out:supportsSubject ?type ; out:supportsProperty ?property ;
        out:supportsValue ?value ; out:evidenceText ?text .
    OPTIONAL { ?ev prov:wasDerivedFrom ?source }
    OPTIONAL { ?ev out:statementKind ?kind }
  } UNION {
    ?value out:evidenceText ?text .
    OPTIONAL { ?value prov:wasDerivedFrom ?source }
    OPTIONAL { ?value out:statementKind ?kind }
  }
}
"""

# Dimensions for which a type awaits a source (out:awaitsSourceFor): shown as a gap, never guessed.
_AWAITING = """
SELECT ?type ?property WHERE { ?type out:awaitsSourceFor ?dimension . ?dimension out:dimensionProperty ?property }
"""

# Relations between types (lineage, relatedness) and their evidence, from one type's side.
_RELATIONS = """
SELECT ?lang ?type ?property ?other ?propertyLabel ?text ?source ?kind WHERE {
  ?type ?property ?other .
  ?other a out:OutsourcingType .
  FILTER(?property != skos:related)
  OPTIONAL { ?property rdfs:label ?propertyLabel FILTER(LANGMATCHES(LANG(?propertyLabel), ?lang)) }
  OPTIONAL {
    ?ev a out:Evidence ; out:supportsSubject ?type ; out:supportsProperty ?property ;
        out:supportsValue ?other ; out:evidenceText ?text .
    OPTIONAL { ?ev prov:wasDerivedFrom ?source }
    OPTIONAL { ?ev out:statementKind ?kind }
  }
}
"""

_STORED = """
SELECT ?lang ?type ?comparison ?baseline ?label ?measure ?measureLabel ?outcome ?outcomeLabel ?ratio
       ?beneficiary ?beneficiaryLabel ?text ?source ?kind ?note WHERE {
  ?comparison a out:Comparison ; out:comparedType ?type ; out:baselineType ?baseline .
  OPTIONAL { ?comparison rdfs:label ?label FILTER(LANGMATCHES(LANG(?label), ?lang)) }
  OPTIONAL { ?comparison out:measure ?measure .
             OPTIONAL { ?measure skos:prefLabel ?measureLabel FILTER(LANGMATCHES(LANG(?measureLabel), ?lang)) } }
  OPTIONAL { ?comparison out:outcome ?outcome .
             OPTIONAL { ?outcome skos:prefLabel ?outcomeLabel FILTER(LANGMATCHES(LANG(?outcomeLabel), ?lang)) } }
  OPTIONAL { ?comparison out:ratio ?ratio }
  OPTIONAL { ?comparison out:beneficiary ?beneficiary .
             OPTIONAL { ?beneficiary skos:prefLabel ?beneficiaryLabel
                        FILTER(LANGMATCHES(LANG(?beneficiaryLabel), ?lang)) } }
  OPTIONAL { ?comparison out:evidenceText ?text }
  OPTIONAL { ?comparison prov:wasDerivedFrom ?source }
  OPTIONAL { ?comparison out:statementKind ?kind }
  OPTIONAL { ?comparison out:readingNote ?note }
}
"""

#: What each kind of statement means, for the legends of the renderings.
KIND_LEGEND = {
    "quoted": "the source says it: its exact words are quoted",
    "read": "our reading of the quoted words; the reading notes say what we read into them",
    "editorial": "our own words, not the source's",
}


class UnknownType(LookupError):
    """A slug that names no outsourcing type; ``known`` lists the ones that exist."""

    def __init__(self, slug: str, known: list[str]):
        self.slug, self.known = slug, known
        super().__init__(f"no outsourcing type {slug!r}; known types: {', '.join(known)}")


@dataclass
class Evidence:
    text: str
    source: str | None = None
    kind: str | None = None  #: kind of the node that quotes the text


@dataclass
class Value:
    iri: str
    label: str
    slug: str | None = None
    rank: int | None = None
    amount: float | None = None
    currency: str | None = None
    per: str | None = None
    beneficiary: str | None = None  #: who earns the amount (earnings), e.g. "host country"
    kind: str | None = None  #: "quoted", "read" or "editorial" (None: unmarked)
    reading_notes: list[str] = field(default_factory=list)
    inferred_from: list[str] = field(default_factory=list)  #: IRIs of the records it was inferred from
    evidence: list[Evidence] = field(default_factory=list)

    def money(self) -> str | None:
        """``USD 24 per hour`` for an amount, else None."""
        if self.amount is None:
            return None
        return f"{self.currency or ''} {self.amount:g}{' per ' + self.per if self.per else ''}".strip()

    def display(self) -> str:
        """The value as text; an amount says who earns it (the host country's earnings are not a wage)."""
        money = self.money()
        if money is not None:
            return money + (f" for the {self.beneficiary}" if self.beneficiary else "")
        return self.label

    def marked(self) -> str:
        """The value with its kind, as a table cell shows it: ``investment analysis (read)``."""
        return f"{self.display()} ({self.kind or 'unmarked'})"


@dataclass
class Row:
    dimension: str
    key: str
    label: str
    property: str
    order: int
    cells: dict[str, list[Value]]
    status: str  #: "same", "different", "partial" (some types have no value) or "none"
    shared: list[str] = field(default_factory=list)  #: labels every compared type has
    note: str | None = None  #: e.g. which type ranks higher, or the earnings ratio
    awaiting: list[str] = field(default_factory=list)  #: slugs of the types that await a source for it


@dataclass
class TypeRef:
    slug: str
    iri: str
    label: str | None
    acronym: str | None

    @property
    def name(self) -> str:
        return self.acronym or self.label or self.slug


@dataclass
class Relation:
    subject: str
    property: str
    property_label: str
    object: str
    sentence: str
    evidence: list[Evidence] = field(default_factory=list)
    kind: str | None = None
    reading_notes: list[str] = field(default_factory=list)


@dataclass
class StoredComparison:
    iri: str
    label: str | None
    compared: str
    baseline: str
    measure: str | None
    outcome: str | None
    ratio: float | None
    beneficiary: str | None
    evidence: list[Evidence] = field(default_factory=list)
    kind: str | None = None
    reading_notes: list[str] = field(default_factory=list)


@dataclass
class Ratio:
    type: str
    baseline: str
    ratio: float
    currency: str | None
    per: str | None


@dataclass
class Comparison:
    types: list[TypeRef]
    rows: list[Row]
    relations: list[Relation]
    stored: list[StoredComparison]
    earnings_ratios: list[Ratio]

    @property
    def differences(self) -> list[Row]:
        return [r for r in self.rows if r.status in ("different", "partial")]

    @property
    def same(self) -> list[Row]:
        return [r for r in self.rows if r.status == "same"]


def _reads(kg: KnowledgeGraph, slugs: list[str], lang: ox.Literal) -> dict:
    """Every query a comparison needs, answered together: one trip to the evaluator and one version
    of the graph for the whole table (a type's IRI follows from its slug; an unknown one reads nothing)."""
    plan: dict = {"types": types_query(lang.value), "dimensions": Query(_DIMENSIONS, {"lang": lang}),
                  "awaiting": Query(_AWAITING)}
    plan.update(zip(("earnings", "earnings notes"), earnings_queries(lang.value), strict=True))
    for slug in slugs:
        try:
            node = ox.NamedNode(kg.iri(slug))
        except ValueError:
            continue  # names no type: reported as unknown once the types are read
        plan[("statements", slug)] = statements_query(node.value)
        plan[("values", slug)] = Query(_VALUES, {"lang": lang, "type": node})
        plan[("evidence", slug)] = Query(_EVIDENCE, {"type": node})
        plan[("relations", slug)] = Query(_RELATIONS, {"lang": lang, "type": node})
        plan[("stored", slug)] = Query(_STORED, {"lang": lang, "type": node})
    answers = kg.query_all(list(plan.values()), timeout=kg.config.query_timeout)
    return dict(zip(plan, answers, strict=True))


def compare(kg: KnowledgeGraph, slugs: list[str], lang: str = "en") -> Comparison:
    """Compare two or more types given by slug; UnknownType for a slug that names none.

    For the shipped graph, ``compare(kg, ["bpo", "kpo"]).rows[0].label`` is
    ``"processes (activity level)"`` (an opened graph is needed, so this is no doctest).
    """
    if len(slugs) < 2:
        raise ValueError("give at least two types to compare")
    if len(set(slugs)) != len(slugs):
        raise ValueError("each type can be compared only once")
    lang_lit = ox.Literal(lang)
    reads = _reads(kg, slugs, lang_lit)
    all_types = {t["slug"]: t for t in list_types(kg, lang, rows=reads["types"]) if t["slug"]}
    refs: list[TypeRef] = []
    for slug in slugs:
        t = all_types.get(slug)
        if t is None:
            raise UnknownType(slug, sorted(all_types))
        refs.append(TypeRef(slug, t["iri"], t["label"], t["acronym"]))
    dimensions: dict[str, dict] = {}
    for row in reads["dimensions"]:
        prop = row["property"].value
        if prop in dimensions:
            continue
        local = row["dimension"].value.rsplit("/", 1)[-1]
        dimensions[prop] = {
            "dimension": row["dimension"].value,
            "key": local.removeprefix("dimension-"),
            "label": row["label"].value if row["label"] else local,
            "order": int(row["order"].value) if row["order"] else 10_000,
        }
    rates = earnings(kg, lang, rows=(reads["earnings"], reads["earnings notes"]))
    indexes = {ref.slug: statement_index(kg, ref.iri, rows=reads["statements", ref.slug]) for ref in refs}
    cells: dict[str, dict[str, dict[str, Value]]] = {prop: {r.slug: {} for r in refs} for prop in dimensions}
    for ref in refs:
        index = indexes[ref.slug]
        for row in reads["values", ref.slug]:
            prop, value = row["property"].value, row["value"]
            bucket = cells[prop][ref.slug]
            if value.value in bucket:
                continue
            label = row["label"].value if row["label"] else (
                value.value if isinstance(value, ox.Literal) else value.value.rsplit("/", 1)[-1])
            v = Value(iri=value.value, label=label, slug=kg.slug(value.value),
                      rank=int(row["rank"].value) if row["rank"] else None)
            rate = next((r for r in rates.get(ref.iri, []) if r["iri"] == value.value), None)
            if rate:
                v.amount, v.currency, v.per = rate["amount"], rate["currency"], rate["per"]
                v.beneficiary = rate["beneficiary_label"]
            marks = statement_kind(kg, index, ref.iri, prop, value)
            v.kind, v.reading_notes, v.inferred_from = marks["kind"], marks["reading_notes"], marks["inferred_from"]
            bucket[value.value] = v
        for row in reads["evidence", ref.slug]:
            v = cells[row["property"].value][ref.slug].get(row["value"].value)
            if v is not None:
                ev = Evidence(row["text"].value, row["source"].value if row["source"] else None,
                              kind_name(kg, row["kind"].value if row["kind"] else None))
                _add_evidence(v.evidence, ev)
    awaiting: dict[str, set[str]] = {}
    for row in reads["awaiting"]:
        slug = next((r.slug for r in refs if r.iri == row["type"].value), None)
        if slug:
            awaiting.setdefault(row["property"].value, set()).add(slug)
    rows = [_row(prop, meta, cells[prop], refs) for prop, meta in dimensions.items()]
    for row in rows:
        row.awaiting = [r.slug for r in refs if r.slug in awaiting.get(row.property, ())]
    rows.sort(key=lambda r: (r.order, r.label))
    ratios = _earnings_ratios(refs, rows)
    for row in rows:
        if row.property.endswith("averageEarnings") and ratios:
            row.note = "; ".join(f"{name_of(refs, r.type)} / {name_of(refs, r.baseline)} = {r.ratio:.2f}"
                                 for r in ratios) + ", computed from the figures, not stated by the source"
    return Comparison(types=refs, rows=rows, relations=_relations(kg, refs, reads, indexes),
                      stored=_stored(kg, refs, reads), earnings_ratios=ratios)


def name_of(refs: list[TypeRef], slug: str) -> str:
    return next((r.name for r in refs if r.slug == slug), slug)


def _row(prop: str, meta: dict, cells: dict[str, dict[str, Value]], refs: list[TypeRef]) -> Row:
    values = {slug: sorted(vs.values(), key=lambda v: (v.rank or 0, v.label)) for slug, vs in cells.items()}
    sets = [frozenset(_identity(v) for v in values[r.slug]) for r in refs]
    if not any(sets):
        status = "none"
    elif not all(sets):
        status = "partial"
    elif all(s == sets[0] for s in sets):
        status = "same"
    else:
        status = "different"
    common = frozenset.intersection(*sets) if all(sets) else frozenset()
    shared = sorted({v.label for slug in values for v in values[slug] if _identity(v) in common})
    row = Row(dimension=meta["dimension"], key=meta["key"], label=meta["label"], property=prop,
              order=meta["order"], cells=values, status=status, shared=shared)
    ranked = {r.slug: values[r.slug][0].rank for r in refs
              if len(values[r.slug]) == 1 and values[r.slug][0].rank is not None}
    if status == "different" and len(ranked) == len(refs):
        top = max(ranked.values())
        highest = [r.name for r in refs if ranked[r.slug] == top]
        row.note = f"highest: {', '.join(highest)}"
    return row


def _identity(v: Value):
    # Earnings nodes differ per type; what is compared is the figure, not the node.
    return ("amount", v.amount, v.currency, v.per) if v.amount is not None else v.iri


def _earnings_ratios(refs: list[TypeRef], rows: list[Row]) -> list[Ratio]:
    row = next((r for r in rows if r.property.endswith("#averageEarnings")), None)
    if row is None or not refs:
        return []
    base_ref = refs[0]
    ratios = []
    for base in row.cells.get(base_ref.slug, []):
        if not base.amount:
            continue
        for ref in refs[1:]:
            for other in row.cells.get(ref.slug, []):
                if other.amount is not None and (other.currency, other.per) == (base.currency, base.per):
                    ratios.append(Ratio(ref.slug, base_ref.slug, round(other.amount / base.amount, 4),
                                        base.currency, base.per))
    return ratios


def _relations(kg: KnowledgeGraph, refs: list[TypeRef], reads: dict, indexes: dict) -> list[Relation]:
    by_iri = {r.iri: r for r in refs}
    by_slug = {r.slug: r for r in refs}
    found: dict[tuple, Relation] = {}
    for ref in refs:
        for row in reads["relations", ref.slug]:
            other = by_iri.get(row["other"].value)
            if other is None or other.slug == ref.slug:
                continue
            prop = row["property"].value
            key = (ref.slug, prop, other.slug)
            plabel = row["propertyLabel"].value if row["propertyLabel"] else prop.rsplit("#", 1)[-1]
            rel = found.get(key)
            if rel is None:
                rel = found[key] = Relation(ref.slug, prop, plabel, other.slug,
                                            f"{ref.name} {plabel} {other.name}")
            if row["text"] is not None:
                ev = Evidence(row["text"].value, row["source"].value if row["source"] else None,
                              kind_name(kg, row["kind"].value if row["kind"] else None))
                _add_evidence(rel.evidence, ev)
    for ref in refs:
        index = indexes[ref.slug]
        for rel in found.values():
            if rel.subject == ref.slug:
                marks = statement_kind(kg, index, ref.iri, rel.property, ox.NamedNode(by_slug[rel.object].iri))
                rel.kind, rel.reading_notes = marks["kind"], marks["reading_notes"]
    return list(found.values())


def _add_evidence(found: list[Evidence], ev: Evidence) -> None:
    """Add ``ev`` once, keeping the list sorted: the engine's row order is not part of the answer
    (the in-memory copy and the disk store return rows in different orders)."""
    if ev not in found:
        found.append(ev)
        found.sort(key=lambda e: (e.text, e.source or "", e.kind or ""))


def _stored(kg: KnowledgeGraph, refs: list[TypeRef], reads: dict) -> list[StoredComparison]:
    by_iri = {r.iri: r for r in refs}
    found: dict[str, StoredComparison] = {}
    for ref in refs:
        for row in reads["stored", ref.slug]:
            baseline = by_iri.get(row["baseline"].value)
            if baseline is None:
                continue
            iri = row["comparison"].value

            def text(name: str, row=row):
                return row[name].value if row[name] is not None else None

            item = found.get(iri)
            if item is None:
                item = found[iri] = StoredComparison(
                    iri=iri, label=text("label"), compared=ref.slug, baseline=baseline.slug,
                    measure=text("measureLabel") or text("measure"), outcome=text("outcomeLabel") or text("outcome"),
                    ratio=float(row["ratio"].value) if row["ratio"] is not None else None,
                    beneficiary=text("beneficiaryLabel") or text("beneficiary"),
                    kind=kind_name(kg, text("kind")))
            if row["text"] is not None:
                ev = Evidence(row["text"].value, text("source"), item.kind)
                _add_evidence(item.evidence, ev)
            if row["note"] is not None and row["note"].value not in item.reading_notes:
                item.reading_notes.append(row["note"].value)
                item.reading_notes.sort()
    return sorted(found.values(), key=lambda c: (c.measure or "", c.iri))


# -- renderers ---------------------------------------------------------------------------------
