"""A query parsed once and evaluated again answers as if parsed anew: with other bindings, other
namespaces, over other graphs. This is what reusing parsed shape constraints (kg.ontology.prepared_sparql)
must not change."""

from __future__ import annotations

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.plugins.sparql.processor import SPARQLProcessor

from kg.ontology import prepared_sparql
from kg.ontology.prepared_sparql import PreparingProcessor

EX = Namespace("urn:ex:")
QUERY = "SELECT ?v WHERE { $this ex:value ?v FILTER(?v > $min) } ORDER BY ?v"


def _graph(values: dict[str, list[int]]) -> Graph:
    g = Graph()
    for subject, numbers in values.items():
        for n in numbers:
            g.add((EX[subject], EX.value, Literal(n)))
    return g


def _answers(processor_class, graph: Graph, this: URIRef, minimum: int, ns=None) -> list[int]:
    result = graph.query(QUERY, processor=processor_class(graph), initNs=ns or {"ex": EX},
                         initBindings={"this": this, "min": Literal(minimum)})
    return [row.v.toPython() for row in result]


def test_reused_queries_answer_as_freshly_parsed_ones():
    one, two = _graph({"a": [1, 5, 9], "b": [2, 3]}), _graph({"a": [7], "b": [10, 20]})
    cases = [(g, EX[s], m) for g in (one, two) for s in ("a", "b") for m in (0, 4, 8)]
    for _ in range(2):  # the second round is answered entirely from parsed queries
        seen = []
        for graph, this, minimum in cases:
            seen.append(_answers(PreparingProcessor, graph, this, minimum))
            assert seen[-1] == _answers(SPARQLProcessor, graph, this, minimum), (this, minimum)
        assert len({tuple(s) for s in seen}) > 4  # the bindings did change the answers


def test_the_namespaces_are_part_of_what_is_kept():
    g = Graph()
    g.add((URIRef("urn:one:a"), URIRef("urn:one:value"), Literal(1)))
    g.add((URIRef("urn:two:a"), URIRef("urn:two:value"), Literal(2)))
    for ns, expected in (("urn:one:", [1]), ("urn:two:", [2]), ("urn:one:", [1])):
        assert _answers(PreparingProcessor, g, URIRef(ns + "a"), 0, {"ex": Namespace(ns)}) == expected


def test_installed_it_is_what_graph_query_uses():
    prepared_sparql.install()
    g = _graph({"a": [3, 4]})
    before = prepared_sparql._prepared.cache_info().currsize
    text = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } # test_installed_it_is_what_graph_query_uses"
    assert [int(row.n) for row in g.query(text)] == [2]
    assert prepared_sparql._prepared.cache_info().currsize == before + 1
