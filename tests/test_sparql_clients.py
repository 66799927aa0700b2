"""Real SPARQL clients work against /sparql: SPARQLWrapper (JSON, XML, CSV, CONSTRUCT to Turtle and
JSON-LD, GET and POST) and rdflib's SPARQLStore, and they all read the same answers."""

from __future__ import annotations

import csv
import io

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, GET, JSON, JSONLD, POST, TURTLE, XML, SPARQLWrapper

OUT = "https://w3id.org/outsourcing-kg/ontology#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SELECT = f"""
SELECT ?type ?acronym WHERE {{ ?type a <{OUT}OutsourcingType> ; <{SKOS}altLabel> ?acronym }}
ORDER BY ?type ?acronym"""
CONSTRUCT = (f"CONSTRUCT {{ ?t <{SKOS}altLabel> ?a }} "
             f"WHERE {{ ?t a <{OUT}OutsourcingType> ; <{SKOS}altLabel> ?a }}")


def _wrapper(server, query: str, fmt: str, method: str = GET) -> SPARQLWrapper:
    client = SPARQLWrapper(server.url + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    client.setMethod(method)
    return client


@pytest.fixture
def expected(select) -> set[tuple[str, str]]:
    rows = select(SELECT)
    assert len(rows) >= 2
    return {(r["type"], r["acronym"]) for r in rows}


@pytest.mark.parametrize("method", [GET, POST])
def test_sparqlwrapper_json(server, expected, method):
    result = _wrapper(server, SELECT, JSON, method).queryAndConvert()
    rows = {(b["type"]["value"], b["acronym"]["value"]) for b in result["results"]["bindings"]}
    assert expected <= rows


def test_sparqlwrapper_xml(server, expected):
    document = _wrapper(server, SELECT, XML).queryAndConvert()  # an xml.dom.minidom document
    rows = set()
    for result in document.getElementsByTagName("result"):
        cells = {}
        for binding in result.getElementsByTagName("binding"):
            cells[binding.getAttribute("name")] = binding.firstChild.firstChild.nodeValue
        rows.add((cells["type"], cells["acronym"]))
    assert expected <= rows


def test_sparqlwrapper_csv(server, expected):
    body = _wrapper(server, SELECT, CSV).queryAndConvert()
    reader = csv.reader(io.StringIO(body.decode("utf-8")))
    assert next(reader) == ["type", "acronym"]
    assert expected <= {tuple(row) for row in reader}


def test_sparqlwrapper_construct_turtle_and_jsonld_agree(server, expected):
    turtle = _wrapper(server, CONSTRUCT, TURTLE).queryAndConvert()
    graph = Graph().parse(data=turtle, format="turtle")
    assert {(str(s), str(o)) for s, _, o in graph} >= expected
    jsonld = _wrapper(server, CONSTRUCT, JSONLD).queryAndConvert()
    assert isinstance(jsonld, Graph)  # SPARQLWrapper parsed it with rdflib
    assert isomorphic(jsonld, graph)


def test_sparqlwrapper_ask_and_errors(server):
    ask = _wrapper(server, f"ASK {{ ?t a <{OUT}OutsourcingType> }}", JSON)
    assert ask.queryAndConvert()["boolean"] is True
    from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

    with pytest.raises(QueryBadFormed) as failure:
        _wrapper(server, "SELECT * WHERE { ?s ?p }", JSON).queryAndConvert()
    assert "1:" in str(failure.value)  # the parser's position reaches the client


def test_rdflib_sparqlstore(server, expected):
    store = SPARQLStore(server.url + "/sparql")
    graph = Graph(store=store)
    rows = {(str(r[0]), str(r[1])) for r in graph.query(SELECT)}
    assert expected <= rows
    assert graph.query(f"ASK {{ ?t a <{OUT}OutsourcingType> }}").askAnswer is True
    constructed = graph.query(CONSTRUCT).graph
    assert {(str(s), str(o)) for s, _, o in constructed} >= expected
    bpo = URIRef(next(t for t, a in expected if a == "BPO"))
    assert (bpo, None, None) in constructed
