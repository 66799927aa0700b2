"""The JSON-LD ``@context`` of the project, generated from the vocabulary.

Every class and property of the ``out:`` vocabulary gets its local name as a short name (object
properties are coerced to ``@id``, typed datatype properties to their range), and the few external terms
the graph uses everywhere (labels, definitions, provenance, money) get theirs. Generating it from the
vocabulary means a term added to ``outsourcing.ttl`` gets a short name without anyone editing a context
by hand, and one function serves both ``/context.jsonld`` and the documents that embed it.

The context is embedded by value in documents (no client or server has to fetch it) and published at a
stable URL for clients that want to refer to it. It is the same on every deployment: each short name
stands for the canonical IRI of its term (``requiresSkill`` is always
``https://w3id.org/outsourcing-kg/ontology#requiresSkill``), and ``out:``/``outd:`` are the canonical
namespaces, whatever address the deployment is reached at (``docs/linked-data.md``, "One vocabulary").
"""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph as ox

from kg.graph import KnowledgeGraph
from kg.namespaces import STANDARD

OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"

#: External terms with short names: (name, IRI, whether values are IRIs).
EXTERNAL: tuple[tuple[str, str, bool], ...] = (
    ("label", RDFS + "label", False),
    ("comment", RDFS + "comment", False),
    ("isDefinedBy", RDFS + "isDefinedBy", True),
    ("subClassOf", RDFS + "subClassOf", True),
    ("prefLabel", SKOS + "prefLabel", False),
    ("altLabel", SKOS + "altLabel", False),
    ("definition", SKOS + "definition", False),
    ("editorialNote", SKOS + "editorialNote", False),
    ("inScheme", SKOS + "inScheme", True),
    ("topConceptOf", SKOS + "topConceptOf", True),
    ("hasTopConcept", SKOS + "hasTopConcept", True),
    ("related", SKOS + "related", True),
    ("broader", SKOS + "broader", True),
    ("narrower", SKOS + "narrower", True),
    ("relatedMatch", SKOS + "relatedMatch", True),
    ("closeMatch", SKOS + "closeMatch", True),
    ("wasDerivedFrom", "http://www.w3.org/ns/prov#wasDerivedFrom", True),
    ("title", "http://purl.org/dc/terms/title", False),
    ("description", "http://purl.org/dc/terms/description", False),
    ("value", "https://schema.org/value", False),
    ("currency", "https://schema.org/currency", False),
)

_SELECT_TERMS = """
SELECT ?term ?kind ?range WHERE {
  GRAPH %s {
    ?term a ?kind .
    VALUES ?kind { owl:Class owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty }
    OPTIONAL { ?term rdfs:range ?range }
  }
}
"""


def build_context(kg: KnowledgeGraph, rewriter: object = None) -> dict[str, Any]:
    """The ``@context`` object (the value of the key, not a document): canonical IRIs only.

    ``rewriter`` is accepted for callers written when the context followed the deployment, and
    ignored: a deployment's address never changes what a term means.
    """
    vocab_ns = kg.config.vocab_ns
    rows = kg.store.query(_SELECT_TERMS % ox.NamedNode(kg.graph("vocabulary")), prefixes=kg.prefixes)
    kinds: dict[str, set[str]] = {}
    ranges: dict[str, str] = {}
    for row in rows:
        term = row["term"]
        if not isinstance(term, ox.NamedNode) or not term.value.startswith(vocab_ns):
            continue
        name = term.value[len(vocab_ns) :]
        if not name or not name.replace("_", "a").isalnum():
            continue  # not usable as a JSON-LD term
        kinds.setdefault(name, set()).add(row["kind"].value)
        if row["range"] is not None:
            ranges[name] = row["range"].value

    context: dict[str, Any] = {"id": "@id", "type": "@type"}
    context.update({prefix: ns for prefix, ns in kg.prefixes.items() if prefix in ("out", "outd")})
    context.update({p: ns for p, ns in STANDARD.items() if p not in ("sh", "sd")})
    context["unit"] = STANDARD["unit"]
    for name in sorted(kinds):
        iri = vocab_ns + name
        kind = kinds[name]
        if OWL + "ObjectProperty" in kind:
            context[name] = {"@id": iri, "@type": "@id"}
        elif (
            OWL + "DatatypeProperty" in kind
            and ranges.get(name, "").startswith(XSD)
            and ranges[name] != XSD + "string"
        ):
            context[name] = {"@id": iri, "@type": ranges[name]}
        else:
            context[name] = iri
    for name, iri, is_ref in EXTERNAL:
        if name not in context:  # the project's own terms win a clash
            context[name] = {"@id": iri, "@type": "@id"} if is_ref else iri
    return context


def context_document(kg: KnowledgeGraph) -> dict[str, Any]:
    """The document published at ``/context.jsonld`` (the same bytes on every deployment)."""
    return {"@context": build_context(kg)}


def to_jsonld(triples: list[ox.Triple], context: dict[str, Any]) -> bytes:
    """Triples as compact JSON-LD with ``context`` embedded by value.

    rdflib's serializer is used because Oxigraph writes expanded JSON-LD only; the graph is built
    with ``bind_namespaces="none"`` so rdflib's ~30 default prefixes stay out of the context.
    """
    from rdflib import Graph

    from kg.terms import ox_to_graph

    graph = ox_to_graph(triples, Graph(bind_namespaces="none"))
    document = json.loads(graph.serialize(format="json-ld", context=context))
    # rdflib's node and value order follows Python's per-process string hashing: sort, so that every
    # process (and replica) writes the same bytes under the same ETag.
    return json.dumps(_canonical(document), indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _order(value: Any) -> tuple[str, str]:
    # Nodes by their IRI (or blank node label), then anything by its whole text.
    node = (value.get("@id") or value.get("id") or "") if isinstance(value, dict) else ""
    return str(node), json.dumps(value, sort_keys=True, ensure_ascii=False)


def _canonical(value: Any, key: str | None = None) -> Any:
    """JSON-LD with its unordered arrays sorted (``@list`` arrays and the context left alone)."""
    if key == "@context":
        return value
    if isinstance(value, dict):
        return {k: _canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if key == "@list":
            return items
        return sorted(items, key=_order)
    return value
