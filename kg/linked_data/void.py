"""The VoID description of the dataset (``/.well-known/void``, RFC 5785 and the VoID W3C note §7).

It tells a crawler or a catalogue what is here before it asks anything: how many triples, classes and
properties, which vocabularies the data uses, where the SPARQL endpoint and the example resources are,
where the facts come from and under which licence. Every figure is counted from the store at the
graph's current version, so an added outsourcing type shows up at once; the license and source are
read from the ontology header, not repeated here.

The description is made for the address it is served at: the endpoint, the example resources and the
URI space are this deployment's, while classes, properties and the vocabulary keep their canonical IRIs.
"""

from __future__ import annotations

import pyoxigraph as ox

from kg.graph import KnowledgeGraph
from kg.linked_data.rewrite import Rewriter
from kg.namespaces import STANDARD
from kg.store.meta import meta_graph

VOID = "http://rdfs.org/ns/void#"
DCT = "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"
FOAF_HOMEPAGE = "http://xmlns.com/foaf/0.1/homepage"

#: The fragment naming the dataset inside the VoID document.
DATASET_FRAGMENT = "dataset"


def _count(kg: KnowledgeGraph, sparql: str) -> int:
    for row in kg.store.query(sparql, prefixes=kg.prefixes):
        return int(row["n"].value)
    return 0


def void_description(kg: KnowledgeGraph, base: str, rewriter: Rewriter | None = None) -> list[ox.Triple]:
    """VoID triples for the dataset as served at ``base`` (the deployment's address, ending in '/')."""
    rewriter = rewriter or Rewriter.for_config(kg.config, base)
    meta = ox.NamedNode(meta_graph(kg.config.graph_ns))
    # The version triples are bookkeeping, not data: they are left out of every figure.
    data = f"GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != {meta})"
    doc = base + ".well-known/void"
    ds = ox.NamedNode(doc + "#" + DATASET_FRAGMENT)
    out: list[ox.Triple] = []

    def add(p: str, o) -> None:
        out.append(ox.Triple(ds, ox.NamedNode(p), o))

    def integer(n: int) -> ox.Literal:
        return ox.Literal(str(n), datatype=ox.NamedNode(XSD + "integer"))

    out.append(
        ox.Triple(ox.NamedNode(doc), ox.NamedNode(RDF_TYPE), ox.NamedNode(VOID + "DatasetDescription"))
    )
    out.append(ox.Triple(ox.NamedNode(doc), ox.NamedNode(FOAF_HOMEPAGE), ox.NamedNode(base)))
    out.append(
        ox.Triple(
            ox.NamedNode(doc),
            ox.NamedNode(DCT + "title"),
            ox.Literal("VoID description of the outsourcing knowledge graph", language="en"),
        )
    )
    add(RDF_TYPE, ox.NamedNode(VOID + "Dataset"))
    add(DCT + "title", ox.Literal("Outsourcing knowledge graph", language="en"))
    add(
        DCT + "description",
        ox.Literal(
            "Kinds of outsourcing (BPO, KPO and types added later), the skills, activities and levels they "
            "involve, what they earn and how they compare, each statement marked as quoted from its source "
            "sentence, read from it, or editorial.",
            language="en",
        ),
    )
    add(
        VOID + "triples",
        integer(
            _count(kg, f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ {data} }} }}")
        ),
    )
    add(
        VOID + "entities",
        integer(
            _count(
                kg,
                f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {data} "
                "FILTER(STRSTARTS(STR(?s), STR(outd:))) }",
            )
        ),
    )
    add(
        VOID + "distinctSubjects",
        integer(_count(kg, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {data} }}")),
    )
    add(
        VOID + "distinctObjects", integer(_count(kg, f"SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE {{ {data} }}"))
    )
    add(VOID + "properties", integer(_count(kg, f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ {data} }}")))
    add(
        VOID + "classes",
        integer(_count(kg, f"SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE {{ {data} FILTER(?p = rdf:type) }}")),
    )
    add(VOID + "sparqlEndpoint", ox.NamedNode(base + "sparql"))
    add(VOID + "uriSpace", ox.Literal(rewriter.to_public(kg.config.id_ns)))
    add(VOID + "rootResource", ox.NamedNode(rewriter.to_public(kg.iri("outsourcing-types"))))
    add(VOID + "exampleResource", ox.NamedNode(rewriter.to_public(kg.iri("kpo"))))
    add(VOID + "exampleResource", ox.NamedNode(rewriter.to_public(kg.iri("bpo"))))

    # Vocabularies: the namespaces of every property and class the data uses.
    used = {
        row["t"].value
        for row in kg.store.query(
            f"SELECT DISTINCT ?t WHERE {{ {{ {data} BIND(?p AS ?t) }} UNION {{ {data} FILTER(?p = rdf:type) "
            f"BIND(?o AS ?t) }} }}",
            prefixes=kg.prefixes,
        )
        if isinstance(row["t"], ox.NamedNode)
    }
    namespaces = {
        ns for ns in (*STANDARD.values(), kg.config.vocab_ns) if any(t.startswith(ns) for t in used)
    }
    # The project's vocabulary by its one canonical IRI, as every other: a deployment serves its
    # documentation at /ontology, but does not rename it (docs/linked-data.md, "One vocabulary").
    for ns in sorted(namespaces):
        add(VOID + "vocabulary", ox.NamedNode(kg.config.ontology_iri if ns == kg.config.vocab_ns else ns))

    # License, source and modification date, from the graph itself.
    ontology = ox.NamedNode(kg.config.ontology_iri)
    for row in kg.store.query(f"SELECT ?l WHERE {{ {ontology} dcterms:license ?l }}", prefixes=kg.prefixes):
        add(DCT + "license", row["l"])
    for row in kg.store.query(
        "SELECT DISTINCT ?src WHERE { ?s prov:wasDerivedFrom ?src FILTER(isIRI(?src)) }", prefixes=kg.prefixes
    ):
        add(DCT + "source", rewriter.term(row["src"]))
    if kg.store.modified():
        add(DCT + "modified", ox.Literal(kg.store.modified(), datatype=ox.NamedNode(XSD + "dateTime")))

    # Class and property partitions, named by fragments of the VoID document (no blank nodes).
    for row in kg.store.query(
        f"SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {data} FILTER(?p = rdf:type) "
        f"BIND(?o AS ?c) }} GROUP BY ?c ORDER BY ?c",
        prefixes=kg.prefixes,
    ):
        part = ox.NamedNode(f"{doc}#class-{_fragment(row['c'].value, kg.prefixes)}")
        add(VOID + "classPartition", part)
        out.append(ox.Triple(part, ox.NamedNode(VOID + "class"), rewriter.term(row["c"])))
        out.append(ox.Triple(part, ox.NamedNode(VOID + "entities"), integer(int(row["n"].value))))
    for row in kg.store.query(
        f"SELECT ?q (COUNT(*) AS ?n) WHERE {{ {data} BIND(?p AS ?q) }} GROUP BY ?q ORDER BY ?q",
        prefixes=kg.prefixes,
    ):
        part = ox.NamedNode(f"{doc}#property-{_fragment(row['q'].value, kg.prefixes)}")
        add(VOID + "propertyPartition", part)
        out.append(ox.Triple(part, ox.NamedNode(VOID + "property"), rewriter.term(row["q"])))
        out.append(ox.Triple(part, ox.NamedNode(VOID + "triples"), integer(int(row["n"].value))))
    return sorted(out, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def _fragment(iri: str, prefixes: dict[str, str]) -> str:
    """A stable, readable fragment for a class or property IRI."""
    for prefix, ns in prefixes.items():
        if iri.startswith(ns):
            return f"{prefix}-{iri[len(ns) :]}"
    import zlib

    tail = iri.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in tail)
    # crc32, not hash(): the fragment must be the same in every process and on every start.
    return f"{safe}-{zlib.crc32(iri.encode('utf-8')) % 10_000:04d}"
