"""What a person reads on a resource's page, built from the same triples as every RDF format.

``describe()`` gives triples; a page needs labels instead of IRIs, properties grouped and named, money
written as money, and under each fact the source sentence that supports it. This module turns one
description into that plain view model (dataclasses), so the Jinja template only lays it out and the HTML
says exactly what the Turtle says.

Every value on a page carries the kind of statement it is (``quoted``, ``read``, ``editorial``, see
ontology/README.md "Kinds of statement"), resolved from the same triples the way the API and the comparison
resolve it (``kg.domain.lookup.statement_kind``): its evidence records, else the fact node it links to, else what
is editorial by definition (groupings, notes, translations), else the kind of the node itself (not for a
type, whose facts each need a record). A description holds the records that quote something in full, an
editorial one only by name (``kg.linked_data.description`` follows nodes that carry a quote): so a
type's fact with no quoting record in view is editorial. A read value shows its reading notes, an
inferred one its premises, and each quote links to its Web Annotation passage.

Why one module of this size: grouping, labelling, ordering and marking the kind of each value are
decisions about the same view of the same triples; split, each part would need the others' state.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox

from kg.config import Config
from kg.linked_data.rewrite import Rewriter
from kg.namespaces import STANDARD

RDF_TYPE = STANDARD["rdf"] + "type"
RDFS, SKOS, PROV, DCT, SCHEMA = (STANDARD[p] for p in ("rdfs", "skos", "prov", "dcterms", "schema"))
TIME = STANDARD["time"]
OA = STANDARD["oa"]

#: Label properties, best first.
LABELS = (SKOS + "prefLabel", RDFS + "label", DCT + "title", SKOS + "altLabel")

#: Properties shown in the page header rather than in a group.
HEADER = {SKOS + "prefLabel", RDFS + "label", DCT + "title", SKOS + "altLabel", SKOS + "definition", RDF_TYPE}

#: Names of external properties and units that carry no label in the graph.
KNOWN_LABELS = {
    SKOS + "inScheme": "in scheme",
    SKOS + "topConceptOf": "top concept of",
    SKOS + "hasTopConcept": "has top concept",
    SKOS + "related": "related to",
    SKOS + "broader": "broader",
    SKOS + "narrower": "narrower",
    SKOS + "relatedMatch": "related match",
    SKOS + "closeMatch": "close match",
    SKOS + "exactMatch": "exact match",
    SKOS + "editorialNote": "editorial note",
    SKOS + "Concept": "concept",
    SKOS + "ConceptScheme": "concept scheme",
    SKOS + "definition": "definition",
    SKOS + "prefLabel": "preferred label",
    SKOS + "altLabel": "alternative label",
    RDFS + "label": "label",
    RDFS + "comment": "comment",
    RDF_TYPE: "type",
    PROV + "wasDerivedFrom": "derived from",
    PROV + "Entity": "provenance entity",
    DCT + "title": "title",
    DCT + "description": "description",
    DCT + "language": "language",
    DCT + "source": "source",
    DCT + "license": "license",
    DCT + "modified": "modified",
    SCHEMA + "value": "amount",
    SCHEMA + "currency": "currency",
    SCHEMA + "inLanguage": "language",
    SCHEMA + "Article": "article",
    TIME + "hasTime": "period",
    TIME + "hasBeginning": "beginning",
    TIME + "hasEnd": "end",
    TIME + "inXSDgYear": "year",
    TIME + "ProperInterval": "time interval",
    TIME + "Instant": "instant",
    OA + "SpecificResource": "passage (Web Annotation)",
    OA + "TextQuoteSelector": "text quote selector (Web Annotation)",
    OA + "hasSource": "in source",
    OA + "hasSelector": "selector",
    OA + "exact": "exact words",
    OA + "prefix": "text before",
    OA + "suffix": "text after",
    PROV + "wasAttributedTo": "attributed to",
    PROV + "Agent": "agent",
    "http://qudt.org/vocab/unit/HR": "hour",
    "http://qudt.org/vocab/unit/MIN": "minute",
    "http://qudt.org/vocab/unit/DAY": "day",
    "http://qudt.org/vocab/unit/WK": "week",
    "http://qudt.org/vocab/unit/MO": "month",
    "http://qudt.org/vocab/unit/YR": "year",
}

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥"}

#: Groups of properties on a page: (title, local names in the project vocabulary or full IRIs).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Earnings",
        ("averageEarnings", SCHEMA + "value", SCHEMA + "currency", "perTimeUnit", "beneficiary", "statistic"),
    ),
    ("Levels", ("hasActivityLevel", "hasSpecializationLevel", "hasClientContactFrequency", "rank")),
    ("Skills and people", ("requiresSkill", "workforceQualification")),
    ("Work", ("typicalActivity", "hasEmphasis", "emergedInSector", "outsourcedWork")),
    (
        "Related types",
        ("isExtensionOf", "isSimplerFormOf", SKOS + "related", SKOS + "broader", SKOS + "narrower"),
    ),
    (
        "Comparison",
        (
            "comparedType",
            "baselineType",
            "measure",
            "outcome",
            "ratio",
            "concernsType",
            "differsOn",
            "dimensionProperty",
            "displayOrder",
        ),
    ),
    (
        "History",
        (
            "trendStarted",
            "trendOrigin",
            TIME + "hasTime",
            TIME + "hasBeginning",
            TIME + "hasEnd",
            TIME + "inXSDgYear",
            "outsourcingParty",
            "hostParty",
            "locationFactor",
        ),
    ),
    ("Evidence", ("supportsSubject", "supportsProperty", "supportsValue", "supportsLiteral")),
    ("Passage", (OA + "hasSource", OA + "hasSelector", OA + "exact", OA + "prefix", OA + "suffix")),
    (
        "Classification",
        (
            SKOS + "inScheme",
            SKOS + "topConceptOf",
            SKOS + "hasTopConcept",
            SKOS + "exactMatch",
            SKOS + "closeMatch",
            SKOS + "relatedMatch",
        ),
    ),
    (
        "Provenance",
        (
            "evidenceText",
            PROV + "wasDerivedFrom",
            "statementKind",
            "readingNote",
            "inferredFrom",
            "quotedPassage",
            PROV + "wasAttributedTo",
        ),
    ),
)
OTHER = "Other properties"

#: Incoming links that are shown as quotes under facts instead of as rows.
EVIDENCE_LINKS = ("supportsSubject", "supportsValue")

#: Groups whose rows describe the record itself (its target, its provenance), not a statement: no kind.
UNMARKED_GROUPS = ("Evidence", "Passage", "Provenance")

KINDS = ("editorial", "read", "quoted")
KIND_TITLES = {
    "quoted": "Quoted: the source says it, in the words quoted.",
    "read": "Read: our interpretation of the quoted words; the note says what we read into them.",
    "editorial": "Editorial: our own words, not the source's.",
    None: "Not marked: no statement record in this description says what kind of statement this is.",
}
GROUPING = (RDF_TYPE, SKOS + "inScheme", SKOS + "topConceptOf", SKOS + "hasTopConcept")
#: Statements about a type that the shapes require a record for (outsh:TypeStatementShape), besides the ones
#: whose value is a fact node with its own kind. A description carries the records that quote something;
#: when it holds none for such a statement, the record is an editorial one (which quotes nothing).
RECORDED = ("requiresSkill", "typicalActivity", "hasActivityLevel", "hasClientContactFrequency",
            "hasSpecializationLevel", "hasEmphasis", "workforceQualification", "emergedInSector", "isExtensionOf",
            "isSimplerFormOf", SKOS + "broader", SKOS + "narrower", SKOS + "related", SKOS + "definition")
NOTES = (SKOS + "scopeNote", SKOS + "editorialNote", SKOS + "note", SKOS + "historyNote", SKOS + "changeNote",
         RDFS + "comment", STANDARD["vann"] + "usageNote")


@dataclass
class Link:
    text: str
    href: str | None = None


@dataclass
class Quote:
    text: str
    source: Link | None = None
    passage: Link | None = None  #: the W3C Web Annotation passage of the quote


@dataclass
class Value:
    text: str
    href: str | None = None
    lang: str | None = None
    money: bool = False
    quotes: list[Quote] = field(default_factory=list)
    details: list[Row] = field(default_factory=list)
    marked: bool = False  #: whether the page shows its kind of statement
    kind: str | None = None  #: "quoted", "read", "editorial"; None when nothing says
    notes: list[str] = field(default_factory=list)  #: reading notes of a read value
    inferred_from: list[Link] = field(default_factory=list)  #: premises of an inferred value

    @property
    def kind_title(self) -> str:
        return KIND_TITLES.get(self.kind, KIND_TITLES[None])


@dataclass
class Row:
    label: str
    property: Link
    values: list[Value]


@dataclass
class Group:
    title: str
    rows: list[Row]


@dataclass
class ResourceView:
    iri: str
    canonical: str
    title: str
    acronyms: list[str]
    definition: Value | None
    types: list[Link]
    quotes: list[Quote]
    own: Value  #: the kind and reading notes of what the resource's own quotes support
    groups: list[Group]
    incoming: list[Group]
    evidence: list[Value]
    other_labels: list[Value]


def humanize(iri: str) -> str:
    """A readable name from an IRI's last segment: ``hasActivityLevel`` → ``has activity level``.

    >>> humanize("https://w3id.org/outsourcing-kg/ontology#hasActivityLevel")
    'has activity level'
    >>> humanize("http://data.europa.eu/esco/isco/C4132")
    'C4132'
    """
    tail = re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", tail).replace("-", " ").replace("_", " ")
    return words.lower() if words[:1].islower() or " " in words and not tail.isupper() else words


def format_money(amount: str, currency: str | None, unit: str | None) -> str:
    """``24.0``, ``USD``, ``hour`` → ``$24 per hour``.

    >>> format_money("24.0", "USD", "hour")
    '$24 per hour'
    >>> format_money("10.5", "CHF", None)
    '10.50 CHF'
    """
    try:
        number = Decimal(amount)
    except InvalidOperation:
        text = amount
    else:
        text = amount if _too_long_written_out(number) else \
            f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"
    symbol = CURRENCY_SYMBOLS.get((currency or "").upper())
    money = f"{symbol}{text}" if symbol else f"{text} {currency}".strip()
    return f"{money} per {unit}" if unit else money


class _Index:
    """The description's triples, indexed for the questions a page asks."""

    def __init__(self, triples: Iterable[ox.Triple], config: Config, rewriter: Rewriter, lang: str):
        self.config, self.rewriter, self.lang = config, rewriter, lang
        self.out: dict[str, list[tuple[str, object]]] = defaultdict(list)
        self.inc: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for t in triples:
            s, p, o = _key(t.subject), t.predicate.value, t.object
            self.out[s].append((p, o))
            if not isinstance(o, ox.Literal):
                self.inc[_key(o)].append((p, s))
        self.vocab = config.vocab_ns
        self._records: list[str] | None = None
        kind = self.v("statementKind")
        self.has_kinds = any(p == kind for pairs in self.out.values() for p, _ in pairs)

    def v(self, name: str) -> str:
        return name if ":" in name else self.vocab + name

    def objects(self, s: str, p: str) -> list:
        return [o for q, o in self.out.get(s, []) if q == p]

    def literal_values(self, s: str, p: str) -> list[str]:
        return [o.value for o in self.objects(s, p) if isinstance(o, ox.Literal)]

    def pick(self, literals: list[ox.Literal]) -> ox.Literal | None:
        """The literal in the page's language, else one without a language, else any."""
        for want in (self.lang, ""):
            for lit in literals:
                if (lit.language or "") == want:
                    return lit
        return literals[0] if literals else None

    def label(self, iri: str) -> str:
        for p in LABELS:
            lit = self.pick([o for o in self.objects(iri, p) if isinstance(o, ox.Literal)])
            if lit is not None:
                return lit.value
        if iri in KNOWN_LABELS:
            return KNOWN_LABELS[iri]
        return humanize(iri)

    def href(self, iri: str) -> str | None:
        if iri.startswith("_:"):
            return None
        return self.rewriter.to_public(iri)

    def has_quote(self, iri: str) -> bool:
        return bool(self.objects(iri, self.v("evidenceText")))

    def quotes_of(self, node: str) -> list[Quote]:
        sources = [
            self.link(o.value)
            for o in self.objects(node, PROV + "wasDerivedFrom")
            if isinstance(o, ox.NamedNode)
        ]
        passages = [o.value for o in self.objects(node, self.v("quotedPassage")) if isinstance(o, ox.NamedNode)]
        quotes = []
        for text in sorted(self.literal_values(node, self.v("evidenceText"))):
            # A passage's caption quotes its words ("Passage: “…”"): the description holds captions only.
            passage = next((p for p in sorted(passages) if f"“{text}”" in self.label(p)), None)
            quotes.append(Quote(text, sources[0] if sources else None,
                                Link("where it is in the source", self.href(passage)) if passage else None))
        return quotes

    def kinds_of(self, node: str) -> set[str]:
        return {_kind_name(o.value) for o in self.objects(node, self.v("statementKind")) if isinstance(o, ox.NamedNode)}

    def is_fact_node(self, node: str) -> bool:
        """A node that cites a source itself (earnings, trend origin, period), unlike a concept."""
        return bool(self.objects(node, PROV + "wasDerivedFrom") or self.objects(node, self.v("evidenceText")))

    def is_type(self, node: str) -> bool:
        kind = self.v("OutsourcingType")
        return any(isinstance(o, ox.NamedNode) and o.value == kind for o in self.objects(node, RDF_TYPE))

    def _about(self, record: str, s: str, p: str, o, *, valueless_match_any: bool) -> bool:
        """Whether an evidence record is about the statement (s, p, o); a record without a value
        matches any object when ``valueless_match_any``, otherwise only a literal."""
        if _first([_key(x) for x in self.objects(record, self.v("supportsSubject"))]) != s:
            return False
        if _first([_key(x) for x in self.objects(record, self.v("supportsProperty"))]) != p:
            return False
        value = self.objects(record, self.v("supportsValue")) + self.objects(record, self.v("supportsLiteral"))
        if value:
            return any(_same(v, o) for v in value)
        return valueless_match_any or isinstance(o, ox.Literal)

    def records_for(self, s: str, p: str, o) -> list[str]:
        """Evidence records about the statement (s, p, o); records without a value match a literal."""
        return [r for r in self.evidence_records() if self._about(r, s, p, o, valueless_match_any=False)]

    def mark(self, value: Value, s: str, p: str, o, subject_notes: bool = False) -> Value:
        """Give ``value`` the kind of the statement (s, p, o), with notes and premises (module docstring).

        ``subject_notes``: the value stands for ``s`` (an incoming link), so a kind taken from ``s`` brings
        its reading notes too."""
        if not self.has_kinds:
            return value  # a description with no kinds at all (the VoID page): nothing to show
        value.marked = True
        nodes = self.records_for(s, p, o)
        if not nodes and not isinstance(o, ox.Literal):
            target = _key(o)
            if target != s and self.is_fact_node(target) and not self.is_type(target):
                nodes = [target]
        if nodes:
            value.kind = _weakest({k for n in nodes for k in self.kinds_of(n)})
            value.notes = sorted({n2 for n in nodes for n2 in self.literal_values(n, self.v("readingNote"))})
            premises = sorted({_key(x) for n in nodes for x in self.objects(n, self.v("inferredFrom"))})
            value.inferred_from = [self.link(x) for x in premises]
            return value
        if p in GROUPING or p in NOTES or p in (self.v("readingNote"), self.v("awaitsSourceFor")):
            value.kind = "editorial"
        elif isinstance(o, ox.Literal) and o.language and not o.language.lower().startswith("en"):
            value.kind = "editorial"  # a translation
        elif not self.is_type(s):
            value.kind = _weakest(self.kinds_of(s))
            if subject_notes:
                value.notes = sorted(self.literal_values(s, self.v("readingNote")))
        elif p in {self.v(n) for n in RECORDED} and (not isinstance(o, ox.Literal) or _english(o)):
            value.kind = "editorial"  # its record quotes nothing, so the description leaves it out
        return value

    def evidence_for(self, s: str, p: str, o) -> list[Quote]:
        """Quotes of evidence records about the statement (s, p, o); records without a value match any."""
        quotes: list[Quote] = []
        for record in self.evidence_records():
            if self._about(record, s, p, o, valueless_match_any=True):
                quotes += self.quotes_of(record)
        return quotes

    def evidence_records(self) -> list[str]:
        # Asked once per value shown: found once per page, or a page of n links costs n times the triples.
        if self._records is None:
            kind = self.v("Evidence")
            self._records = [
                s
                for s, pairs in self.out.items()
                if any(p == RDF_TYPE and isinstance(o, ox.NamedNode) and o.value == kind for p, o in pairs)
            ]
        return self._records

    def link(self, iri: str) -> Link:
        return Link(self.label(iri), self.href(iri))


def build_view(
    subject: str, triples: list[ox.Triple], config: Config, rewriter: Rewriter, lang: str = "en"
) -> ResourceView:
    """The page of ``subject`` (canonical IRI) from its description ``triples`` (canonical IRIs)."""
    ix = _Index(triples, config, rewriter, lang)
    own = ix.out.get(subject, [])

    title = ix.label(subject)
    acronyms = sorted(
        {
            o.value
            for o in ix.objects(subject, SKOS + "altLabel")
            if isinstance(o, ox.Literal) and o.value != title and (o.language or lang) == lang
        }
    )
    definition_lit = ix.pick(
        [o for o in ix.objects(subject, SKOS + "definition") if isinstance(o, ox.Literal)]
    )
    definition = None
    if definition_lit is not None:
        definition = ix.mark(
            Value(
                definition_lit.value,
                lang=definition_lit.language,
                quotes=ix.evidence_for(subject, SKOS + "definition", definition_lit),
            ),
            subject,
            SKOS + "definition",
            definition_lit,
        )
    types = [ix.link(o.value) for o in ix.objects(subject, RDF_TYPE) if isinstance(o, ox.NamedNode)]

    # Other languages and names, so that nothing in the description is missing from the page.
    shown_header = {title, *acronyms}
    other_labels = []
    for p in LABELS:
        for o in ix.objects(subject, p):
            if isinstance(o, ox.Literal) and o.value not in shown_header:
                other_labels.append(ix.mark(Value(o.value, lang=o.language), subject, p, o))
                shown_header.add(o.value)
    for o in ix.objects(subject, SKOS + "definition"):
        if isinstance(o, ox.Literal) and definition_lit is not None and o != definition_lit:
            other_labels.append(ix.mark(Value(o.value, lang=o.language), subject, SKOS + "definition", o))

    groups = _group_rows(ix, [(p, o) for p, o in own if p not in HEADER], subject)
    incoming = _incoming(ix, subject)
    evidence = [
        _value(ix, record, quotes=ix.quotes_of(record))
        for record in sorted(
            {s for p, s in ix.inc.get(subject, []) if p in {ix.v(n) for n in EVIDENCE_LINKS}}
        )
    ]
    for value, record in zip(
        evidence,
        sorted({s for p, s in ix.inc.get(subject, []) if p in {ix.v(n) for n in EVIDENCE_LINKS}}),
        strict=True,
    ):
        value.marked = ix.has_kinds
        # A record the description holds only by name quotes nothing: an editorial one (module docstring).
        value.kind = _weakest(ix.kinds_of(record)) or ("editorial" if not ix.has_quote(record) else None)
        value.notes = sorted(ix.literal_values(record, ix.v("readingNote")))
    own = Value(title, marked=bool(ix.kinds_of(subject)), kind=_weakest(ix.kinds_of(subject)),
                notes=sorted(ix.literal_values(subject, ix.v("readingNote"))))
    return ResourceView(
        iri=rewriter.to_public(subject),
        canonical=subject,
        title=title,
        acronyms=acronyms,
        definition=definition,
        types=types,
        quotes=ix.quotes_of(subject),
        own=own,
        groups=groups,
        incoming=incoming,
        evidence=evidence,
        other_labels=other_labels,
    )


def _group_of(ix: _Index, p: str) -> str:
    for title, names in GROUPS:
        if p in {ix.v(n) for n in names}:
            return title
    return OTHER


def _ordered(groups: dict[str, list[Row]]) -> list[Group]:
    order = [t for t, _ in GROUPS] + [OTHER]
    return [Group(t, groups[t]) for t in order if groups.get(t)]


def _group_rows(ix: _Index, pairs: list[tuple[str, object]], subject: str) -> list[Group]:
    by_property: dict[str, list] = defaultdict(list)
    for p, o in pairs:
        by_property[p].append(o)
    groups: dict[str, list[Row]] = defaultdict(list)
    for p in sorted(by_property, key=lambda q: ix.label(q)):
        group = _group_of(ix, p)
        values = []
        for o in by_property[p]:
            value = _object_value(ix, subject, p, o)
            values.append(ix.mark(value, subject, p, o) if group not in UNMARKED_GROUPS else value)
        values.sort(key=lambda v: v.text.lower())
        groups[group].append(Row(ix.label(p), ix.link(p), values))
    return _ordered(groups)


def _object_value(ix: _Index, subject: str, p: str, o) -> Value:
    if isinstance(o, ox.Literal):
        if p == ix.v("evidenceText"):
            return Value(o.value, lang=o.language)
        return Value(_literal_text(o), lang=o.language, quotes=ix.evidence_for(subject, p, o))
    key = _key(o)
    return _value(ix, key, quotes=ix.evidence_for(subject, p, o))


def _value(ix: _Index, node: str, quotes: list[Quote] | None = None) -> Value:
    """A linked value; a fact node (earnings, comparison...) also shows its own details and quotes."""
    value = Value(ix.label(node), ix.href(node), quotes=list(quotes or []))
    if node.startswith("_:") or ix.has_quote(node):
        amount = ix.literal_values(node, SCHEMA + "value")
        if amount:
            currency = _first(ix.literal_values(node, SCHEMA + "currency"))
            unit = _first(
                [o.value for o in ix.objects(node, ix.v("perTimeUnit")) if isinstance(o, ox.NamedNode)]
            )
            value.text = format_money(amount[0], currency, ix.label(unit) if unit else None)
            beneficiary = _first(
                [o.value for o in ix.objects(node, ix.v("beneficiary")) if isinstance(o, ox.NamedNode)]
            )
            if beneficiary:  # what a country earns is not a wage: say whose money it is
                value.text += f" for the {ix.label(beneficiary)}"
            value.money = True
        # Shown with the value itself: its quotes, kind, reading notes and passages.
        shown = {RDF_TYPE, RDFS + "label", SKOS + "prefLabel", ix.v("evidenceText"), PROV + "wasDerivedFrom",
                 ix.v("statementKind"), ix.v("readingNote"), ix.v("quotedPassage"), ix.v("inferredFrom")}
        skip = shown | {SCHEMA + "value", SCHEMA + "currency", ix.v("perTimeUnit")} if value.money else shown
        details: dict[str, list[Value]] = defaultdict(list)
        for p, o in ix.out.get(node, []):
            if p in skip:
                continue
            details[p].append(
                Value(_literal_text(o), lang=o.language)
                if isinstance(o, ox.Literal)
                else Value(ix.label(_key(o)), ix.href(_key(o)))
            )
        value.details = [
            Row(ix.label(p), ix.link(p), sorted(vs, key=lambda v: v.text.lower()))
            for p, vs in sorted(details.items(), key=lambda kv: ix.label(kv[0]))
        ]
        if not value.quotes:
            value.quotes = ix.quotes_of(node)
    return value


def _incoming(ix: _Index, subject: str) -> list[Group]:
    hidden = {ix.v(n) for n in EVIDENCE_LINKS}
    by_property: dict[str, list[str]] = defaultdict(list)
    for p, s in ix.inc.get(subject, []):
        if p not in hidden:
            by_property[p].append(s)
    groups: dict[str, list[Row]] = defaultdict(list)
    for p in sorted(by_property, key=lambda q: ix.label(q)):
        values = []
        for s in sorted(set(by_property[p])):
            quotes = ix.evidence_for(s, p, ox.NamedNode(subject))
            value = _value(ix, s, quotes=quotes)
            if _group_of(ix, p) not in UNMARKED_GROUPS:
                ix.mark(value, s, p, ox.NamedNode(subject), subject_notes=True)
            values.append(value)
        values.sort(key=lambda v: v.text.lower())
        groups[_group_of(ix, p)].append(Row(ix.label(p), ix.link(p), values))
    return _ordered(groups)


def _literal_text(lit: ox.Literal) -> str:
    """How a page shows a literal's value: numbers in full with thousands separators, unless long.

    >>> _literal_text(ox.Literal("1200000", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")))
    '1,200,000'
    >>> _literal_text(ox.Literal("1E+999999999", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")))
    '1E+999999999'
    """
    dt = lit.datatype.value if lit.datatype else ""
    if dt.endswith(("#decimal", "#double", "#float")):
        try:
            number = Decimal(lit.value)
            if _too_long_written_out(number):
                return lit.value
            return f"{number:,.0f}" if number == number.to_integral_value() else str(number.normalize())
        except InvalidOperation:
            return lit.value
    return lit.value


#: Decimal places past which a number is shown as it is written, not in full.
_MAX_WRITTEN_OUT = 40


def _too_long_written_out(number: Decimal) -> bool:
    """Whether writing ``number`` out in full is long: ``1E+999999999`` is 12 characters in the graph
    and a billion digits on a page."""
    return not number.is_finite() or abs(number.adjusted()) > _MAX_WRITTEN_OUT



def _english(lit: ox.Literal) -> bool:
    return not lit.language or lit.language.lower().startswith("en")


def _kind_name(iri: str) -> str:
    name = re.split(r"[#/]", iri)[-1].removeprefix("statement-")
    return name if name in KINDS else ""


def _weakest(kinds: set[str]) -> str | None:
    known = [k for k in kinds if k in KINDS]
    return min(known, key=KINDS.index) if known else None


def _key(term) -> str:
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else term.value


def _first(items: list):
    return items[0] if items else None


def _same(a, b) -> bool:
    if isinstance(a, ox.Literal) and isinstance(b, ox.Literal):
        return a.value == b.value
    return a == b
