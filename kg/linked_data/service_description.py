"""The W3C SPARQL 1.1 Service Description of the endpoint, as triples.

Why: an RDF client that GETs ``/sparql`` without a query learns from it, in a standard vocabulary
(``sd:``), what this endpoint offers: its address, the languages (update only when writes are
configured), the result formats, features (the default graph is the union of the named graphs;
no federated SERVICE) and the dataset with each named graph and its triple count.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from kg.formats import Format

SD = "http://www.w3.org/ns/sparql-service-description#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
VOID = "http://rdfs.org/ns/void#"
DCT = "http://purl.org/dc/terms/"
W3_FORMATS = "http://www.w3.org/ns/formats/"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"

#: Format keys of kg.formats → the W3C's IRIs for them (https://www.w3.org/ns/formats/).
FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML",
    "trig": "TriG",
    "nquads": "N-Quads",
}


def describe_service(endpoint: str, graphs: dict[str, int], formats: list[Format], *,
                     updates: bool, title: str = "Outsourcing knowledge graph") -> list[ox.Triple]:
    """Triples describing the endpoint at ``endpoint`` over ``graphs`` (name → triple count)."""
    service = ox.NamedNode(endpoint)
    triples: list[ox.Triple] = []

    def add(s: Any, p: str, o: Any) -> None:
        triples.append(ox.Triple(s, ox.NamedNode(p), o))

    add(service, RDF_TYPE, ox.NamedNode(SD + "Service"))
    add(service, SD + "endpoint", service)
    add(service, DCT + "title", ox.Literal(title, language="en"))
    add(service, SD + "supportedLanguage", ox.NamedNode(SD + "SPARQL11Query"))
    if updates:
        add(service, SD + "supportedLanguage", ox.NamedNode(SD + "SPARQL11Update"))
    add(service, SD + "feature", ox.NamedNode(SD + "UnionDefaultGraph"))
    for fmt in formats:
        if fmt.key in FORMAT_IRIS:
            add(service, SD + "resultFormat", ox.NamedNode(W3_FORMATS + FORMAT_IRIS[fmt.key]))
    dataset = ox.BlankNode("dataset")
    add(service, SD + "defaultDataset", dataset)
    add(dataset, RDF_TYPE, ox.NamedNode(SD + "Dataset"))
    default = ox.BlankNode("default-graph")
    add(dataset, SD + "defaultGraph", default)
    add(default, RDF_TYPE, ox.NamedNode(SD + "Graph"))
    add(default, DCT + "description",
        ox.Literal("The union of every named graph of the dataset.", language="en"))
    add(default, VOID + "triples", _integer(sum(graphs.values())))
    for index, (name, count) in enumerate(sorted(graphs.items())):
        named = ox.BlankNode(f"named-graph-{index}")
        graph = ox.BlankNode(f"graph-{index}")
        add(dataset, SD + "namedGraph", named)
        add(named, RDF_TYPE, ox.NamedNode(SD + "NamedGraph"))
        add(named, SD + "name", ox.NamedNode(name))
        add(named, SD + "graph", graph)
        add(graph, RDF_TYPE, ox.NamedNode(SD + "Graph"))
        add(graph, VOID + "triples", _integer(count))
    return triples


def _integer(n: int) -> ox.Literal:
    return ox.Literal(str(int(n)), datatype=ox.NamedNode(XSD_INTEGER))
