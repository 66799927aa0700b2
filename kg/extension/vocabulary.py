"""The terms a submission may use: the project's vocabulary, what the shipped graph uses, and a short
list of standard terms besides.

Why a whitelist: a misspelt property (``out:requireSkill``) is valid RDF and would silently state
nothing anyone queries for; refusing unknown terms, with the closest known one, catches it. The
vocabulary's own namespace counts only for terms the vocabulary defines. Everything here is read from
the shipped graphs in memory (a few milliseconds), never from the store.
"""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS

from kg.ontology.loader import Ontology

SCHEMA = Namespace("https://schema.org/")
OA = Namespace("http://www.w3.org/ns/oa#")

#: Standard properties a submission may use besides those the shipped graph already uses.
STANDARD_PROPERTIES = frozenset({
    RDF.type, RDFS.label, RDFS.comment, RDFS.seeAlso,
    SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel, SKOS.definition, SKOS.note, SKOS.scopeNote,
    SKOS.example, SKOS.editorialNote, SKOS.broader, SKOS.narrower, SKOS.related, SKOS.inScheme,
    SKOS.topConceptOf, SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch,
    SKOS.relatedMatch,
    PROV.wasDerivedFrom, PROV.wasAttributedTo,
    OA.hasSource, OA.hasSelector, OA.exact, OA.prefix, OA.suffix,
    DCTERMS.title, DCTERMS.description, DCTERMS.date, DCTERMS.language, DCTERMS.publisher,
    DCTERMS.creator, DCTERMS.source,
    SCHEMA.url, SCHEMA.name, SCHEMA.inLanguage, SCHEMA.datePublished, SCHEMA.publisher, SCHEMA.author,
})
#: Standard classes a submission may use besides those the shipped graph already uses.
STANDARD_CLASSES = frozenset({
    SKOS.Concept, PROV.Entity, PROV.Agent, SCHEMA.Article, SCHEMA.WebPage, SCHEMA.CreativeWork,
    OA.SpecificResource, OA.TextQuoteSelector,
})


def known_terms(ontology: Ontology, vocab_ns: str) -> tuple[set[str], set[str]]:
    """The properties and the classes a submission may use, as IRIs."""
    vocab, facts = ontology.vocabulary, ontology.facts
    props = {str(p) for p in STANDARD_PROPERTIES}
    classes = {str(c) for c in STANDARD_CLASSES}
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property):
        props |= {str(s) for s in vocab.subjects(RDF.type, kind)}
    for kind in (OWL.Class, RDFS.Class):
        classes |= {str(s) for s in vocab.subjects(RDF.type, kind)}
    props |= {str(p) for p in facts.predicates()}
    classes |= {str(o) for o in facts.objects(None, RDF.type)}
    # Vocabulary-namespace terms only count when the vocabulary defines them.
    defined = {str(s) for s in vocab.subjects()}
    return (
        {p for p in props if not p.startswith(vocab_ns) or p in defined},
        {c for c in classes if not c.startswith(vocab_ns) or c in defined},
    )


__all__ = ["STANDARD_CLASSES", "STANDARD_PROPERTIES", "known_terms"]
