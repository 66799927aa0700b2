"""The data behind the ontology page: every class and property of the vocabulary, documented.

It plays the part pyLODE or Widoco would (metadata header, then one section per class and per
property with label, definition, super/sub terms, domain, range, characteristics, inverse), but is built
from the vocabulary graph in the store at the current version, in-process, with no generator writing
files or caches anywhere. Each section's anchor is the term's local name, so the hash IRI
``…/ontology#requiresSkill`` opens the page at that term.

The identifiers it shows (the ontology, its namespace, each term) are the canonical IRIs, the names a
person writes in a query on any deployment; only its links lead to this deployment's pages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from kg.graph import KnowledgeGraph
from kg.linked_data.page import KNOWN_LABELS, humanize
from kg.linked_data.rewrite import Rewriter
from kg.namespaces import STANDARD

RDF, RDFS, OWL, SKOS, DCT, VANN = (STANDARD[p] for p in ("rdf", "rdfs", "owl", "skos", "dcterms", "vann"))

KINDS = (
    ("classes", "Classes", OWL + "Class"),
    ("object_properties", "Object properties", OWL + "ObjectProperty"),
    ("datatype_properties", "Datatype properties", OWL + "DatatypeProperty"),
    ("annotation_properties", "Annotation properties", OWL + "AnnotationProperty"),
)
CHARACTERISTICS = {
    OWL + "FunctionalProperty": "functional",
    OWL + "InverseFunctionalProperty": "inverse functional",
    OWL + "TransitiveProperty": "transitive",
    OWL + "SymmetricProperty": "symmetric",
}


@dataclass
class TermRef:
    text: str
    href: str
    local: bool  #: a term of this vocabulary (an anchor on the page)


@dataclass
class Term:
    name: str
    iri: str
    label: str
    definition: str | None
    comments: list[str] = field(default_factory=list)
    other_labels: list[tuple[str, str]] = field(default_factory=list)
    relations: list[tuple[str, list[TermRef]]] = field(default_factory=list)
    characteristics: list[str] = field(default_factory=list)


@dataclass
class Section:
    key: str
    title: str
    terms: list[Term]


@dataclass
class OntologyDoc:
    iri: str
    title: str
    description: str | None
    metadata: list[tuple[str, list[TermRef | str]]]
    sections: list[Section]
    prefix: str | None
    namespace: str


def build_ontology_doc(kg: KnowledgeGraph, rewriter: Rewriter, lang: str = "en") -> OntologyDoc:
    """The documentation of the vocabulary as this deployment serves it (``rewriter`` places the links)."""
    triples = kg.store.graph_triples(kg.graph("vocabulary"))
    out: dict[str, list[tuple[str, object]]] = defaultdict(list)
    for t in triples:
        if isinstance(t.subject, ox.NamedNode):
            out[t.subject.value].append((t.predicate.value, t.object))
    vocab = kg.config.vocab_ns

    def objects(s: str, p: str) -> list:
        return [o for q, o in out.get(s, []) if q == p]

    def text(s: str, p: str) -> str | None:
        lits = [o for o in objects(s, p) if isinstance(o, ox.Literal)]
        for want in (lang, ""):
            for lit in lits:
                if (lit.language or "") == want:
                    return lit.value
        return lits[0].value if lits else None

    def ref(iri: str) -> TermRef:
        if iri.startswith(vocab):
            return TermRef(text(iri, RDFS + "label") or humanize(iri), "#" + iri[len(vocab) :], True)
        for prefix, ns in STANDARD.items():
            if iri.startswith(ns):
                return TermRef(f"{prefix}:{iri[len(ns) :]}", iri, False)
        return TermRef(KNOWN_LABELS.get(iri) or humanize(iri), rewriter.to_public(iri), False)

    def refs(values) -> list[TermRef]:
        return sorted(
            (ref(o.value) for o in values if isinstance(o, ox.NamedNode)), key=lambda r: r.text.lower()
        )

    # Reverse indexes: sub-terms and where a class is used as domain or range.
    inverse: dict[tuple[str, str], list[ox.NamedNode]] = defaultdict(list)
    for t in triples:
        if isinstance(t.object, ox.NamedNode) and isinstance(t.subject, ox.NamedNode):
            inverse[(t.object.value, t.predicate.value)].append(t.subject)

    sections = []
    for key, title, kind in KINDS:
        terms = []
        for iri in sorted(
            s
            for s, pairs in out.items()
            if s.startswith(vocab)
            and any(p == RDF + "type" and getattr(o, "value", None) == kind for p, o in pairs)
        ):
            term = Term(
                name=iri[len(vocab) :],
                iri=iri,
                label=text(iri, RDFS + "label") or humanize(iri),
                definition=text(iri, SKOS + "definition"),
            )
            term.comments = [o.value for p in (RDFS + "comment", SKOS + "scopeNote", VANN + "usageNote")
                             for o in objects(iri, p) if isinstance(o, ox.Literal)]
            term.other_labels = sorted(
                (o.language or "", o.value)
                for o in objects(iri, RDFS + "label")
                if isinstance(o, ox.Literal) and o.value != term.label
            )
            rel = term.relations
            if kind == OWL + "Class":
                rel += [
                    ("Subclass of", refs(objects(iri, RDFS + "subClassOf"))),
                    ("Superclass of", refs(inverse[(iri, RDFS + "subClassOf")])),
                    (
                        "Disjoint with",
                        refs(objects(iri, OWL + "disjointWith") + inverse[(iri, OWL + "disjointWith")]),
                    ),
                    ("In the domain of", refs(inverse[(iri, RDFS + "domain")])),
                    ("In the range of", refs(inverse[(iri, RDFS + "range")])),
                ]
            else:
                rel += [
                    ("Domain", refs(objects(iri, RDFS + "domain"))),
                    ("Range", refs(objects(iri, RDFS + "range"))),
                    ("Subproperty of", refs(objects(iri, RDFS + "subPropertyOf"))),
                    ("Superproperty of", refs(inverse[(iri, RDFS + "subPropertyOf")])),
                    ("Inverse of", refs(objects(iri, OWL + "inverseOf"))),
                ]
                term.characteristics = sorted(
                    CHARACTERISTICS[o.value]
                    for o in objects(iri, RDF + "type")
                    if isinstance(o, ox.NamedNode) and o.value in CHARACTERISTICS
                )
            term.relations = [(name, values) for name, values in rel if values]
            terms.append(term)
        sections.append(Section(key, title, terms))

    onto = kg.config.ontology_iri
    metadata: list[tuple[str, list[TermRef | str]]] = []
    for label, p in (
        ("Version", OWL + "versionInfo"),
        ("Version IRI", OWL + "versionIRI"),
        ("Created", DCT + "created"),
        ("Modified", DCT + "modified"),
        ("Creator", DCT + "creator"),
        ("License", DCT + "license"),
        ("Source", DCT + "source"),
    ):
        values: list[TermRef | str] = []
        for o in objects(onto, p):
            if isinstance(o, ox.NamedNode) and kg.slug(o.value):
                values.append(TermRef(_slug_text(o.value, kg), rewriter.to_public(o.value), False))
            elif isinstance(o, ox.NamedNode):
                # A license or version IRI: its address is what people look for, as Widoco shows it.
                values.append(TermRef(o.value, o.value, False))
            else:
                values.append(o.value)
        if values:
            metadata.append((label, values))
    return OntologyDoc(
        iri=onto,
        title=text(onto, DCT + "title") or text(onto, RDFS + "label") or "Ontology",
        description=text(onto, DCT + "description"),
        metadata=metadata,
        sections=sections,
        prefix=text(onto, VANN + "preferredNamespacePrefix"),
        namespace=vocab,
    )


def _slug_text(iri: str, kg: KnowledgeGraph) -> str:
    """The label of a thing the vocabulary header points at (e.g. its source article)."""
    for row in kg.store.query(
        f"SELECT ?l WHERE {{ {ox.NamedNode(iri)} rdfs:label|skos:prefLabel|dcterms:title ?l }}",
        prefixes=kg.prefixes,
    ):
        return row["l"].value
    return humanize(iri)
