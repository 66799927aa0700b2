"""Every answer format parses with an independent parser (rdflib, the standard library) and all
formats of one query agree: same rows, isomorphic graphs. Negotiation over real HTTP follows RFC 9110
(q-values, wildcards, specificity, parameters; ``tests/unit/test_negotiation.py`` has the rules in
detail); what nothing offered satisfies is a 406 listing what is available."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from rdflib import BNode, Dataset, Graph, Literal, URIRef, Variable
from rdflib.compare import isomorphic
from rdflib.query import Result

JSON = "application/sparql-results+json"
XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
SRX = "{http://www.w3.org/2005/sparql-results#}"

# Awkward values on purpose: quotes, commas, tabs, newlines, a language tag, a typed number, a
# non-ASCII IRI, an unbound cell.
TRICKY = r"""
SELECT ?x ?y WHERE {
  VALUES (?x ?y) {
    ("comma, \"quote\"\ttab\nnewline"@en 1.5)
    (<http://example.org/é> UNDEF)
    ("plain" <http://example.org/b>)
  }
}"""
FACTS = """
SELECT ?type ?label ?text WHERE {
  ?type a out:OutsourcingType ; skos:prefLabel ?label .
  OPTIONAL { ?type out:evidenceText ?text }
} ORDER BY ?type ?label ?text"""
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s a out:OutsourcingType ; ?p ?o }"


def _get(server, http, query, accept=None, **params):
    headers = {"Accept": accept} if accept else {}
    r = http.get(server.url + "/sparql", params={"query": query, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r


def _rows(result: Result) -> list[tuple]:
    return sorted(tuple(row.get(v) for v in result.vars) for row in result.bindings)


def _rows_stdlib_json(body: bytes) -> tuple[list[str], list[dict]]:
    doc = json.loads(body)
    return doc["head"]["vars"], doc["results"]["bindings"]


@pytest.mark.parametrize("query", [TRICKY, FACTS], ids=["tricky", "facts"])
def test_select_formats_parse_and_agree(server, http, query):
    bodies = {media: _get(server, http, query, media).content for media in (JSON, XML, CSV, TSV)}
    parsed = {media: Result.parse(io.BytesIO(body), format=fmt)
              for (media, body), fmt in zip(bodies.items(), ("json", "xml", "csv", "tsv"), strict=True)}
    full = _rows(parsed[JSON])
    assert full, "the query has answers"
    assert _rows(parsed[XML]) == full
    assert _rows(parsed[TSV]) == full
    # CSV carries lexical forms only (W3C SPARQL 1.1 CSV): compare those.
    lexical = sorted(tuple("" if t is None else str(t) for t in row) for row in full)
    with_csv = sorted(tuple(row) for row in list(csv.reader(io.StringIO(bodies[CSV].decode("utf-8"))))[1:])
    assert with_csv == lexical
    # And the standard library reads the same from JSON and XML.
    variables, bindings = _rows_stdlib_json(bodies[JSON])
    tree = ET.fromstring(bodies[XML])
    assert [v.get("name") for v in tree.iter(SRX + "variable")] == variables
    assert len(list(tree.iter(SRX + "result"))) == len(bindings)


def test_tricky_values_survive_every_format(server, http):
    result = Result.parse(io.BytesIO(_get(server, http, TRICKY, TSV).content), format="tsv")
    values = {row.get(Variable("x")) for row in result.bindings}
    assert Literal('comma, "quote"\ttab\nnewline', lang="en") in values
    assert URIRef("http://example.org/é") in values
    assert any(row.get(Variable("y")) is None for row in result.bindings)
    assert Literal("1.5", datatype=URIRef("http://www.w3.org/2001/XMLSchema#decimal")) in {
        row.get(Variable("y")) for row in result.bindings}


@pytest.mark.parametrize("media, fmt", [(JSON, "json"), (XML, "xml"), (CSV, "csv"), (TSV, "tsv")])
def test_ask_in_every_results_format(server, http, media, fmt):
    yes = _get(server, http, "ASK { ?t a out:OutsourcingType }", media)
    no = _get(server, http, "ASK { <http://example.org/nothing> ?p ?o }", media)
    assert yes.headers["Content-Type"].startswith(media)
    if fmt in ("json", "xml"):
        assert Result.parse(io.BytesIO(yes.content), format=fmt).askAnswer is True
        assert Result.parse(io.BytesIO(no.content), format=fmt).askAnswer is False
    else:
        assert yes.text.strip().lower() == "true" and no.text.strip().lower() == "false"


GRAPH_FORMATS = [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml"), ("application/trig", "trig"), ("application/n-quads", "nquads"),
]


def _parse_graph(body: bytes, fmt: str) -> Graph:
    if fmt in ("trig", "nquads"):
        ds = Dataset()
        ds.parse(data=body, format=fmt)
        g = Graph()
        for s, p, o, _ in ds.quads((None, None, None, None)):
            g.add((s, p, o))
        return g
    return Graph().parse(data=body, format=fmt)


@pytest.mark.parametrize("query", [CONSTRUCT, "DESCRIBE outd:bpo"], ids=["construct", "describe"])
def test_graph_formats_parse_and_are_isomorphic(server, http, query):
    graphs = {}
    for media, fmt in GRAPH_FORMATS:
        r = _get(server, http, query, media)
        assert r.headers["Content-Type"].split(";")[0] == media
        graphs[media] = _parse_graph(r.content, fmt)
    reference = graphs["text/turtle"]
    assert len(reference) > 0
    for media, g in graphs.items():
        assert isomorphic(g, reference), media


def test_construct_matches_the_graph(server, http, select):
    g = Graph().parse(data=_get(server, http, CONSTRUCT, "application/n-triples").content, format="nt")
    expected = select("SELECT ?s ?p ?o WHERE { ?s a out:OutsourcingType ; ?p ?o }")
    subjects = {URIRef(row["s"]) for row in expected}
    assert subjects <= set(g.subjects())
    assert not any(isinstance(s, BNode) for s in subjects)


@pytest.mark.parametrize("query, accept, params, expected", [
    ("ASK {}", None, {}, JSON),
    ("ASK {}", "*/*", {}, JSON),
    ("ASK {}", "application/sparql-results+xml", {}, XML),
    ("ASK {}", "text/csv;q=0.5, text/tab-separated-values", {}, TSV),
    ("ASK {}", "text/tab-separated-values;q=0.2, application/sparql-results+json;q=0.9", {}, JSON),
    ("ASK {}", "application/json", {}, JSON),
    ("ASK {}", "text/turtle;q=1, text/csv;q=0.1", {}, CSV),
    ("ASK {}", "application/sparql-results+json", {"format": "csv"}, CSV),
    ("ASK {}", None, {"format": "xml"}, XML),
    (CONSTRUCT, None, {}, "text/turtle"),
    (CONSTRUCT, "*/*", {}, "text/turtle"),
    (CONSTRUCT, "application/ld+json;q=0.9, application/rdf+xml;q=0.4", {}, "application/ld+json"),
    (CONSTRUCT, "application/n-triples", {}, "application/n-triples"),
    (CONSTRUCT, None, {"format": "jsonld"}, "application/ld+json"),
    # SPARQLWrapper's spelling: format=xml for a CONSTRUCT means RDF/XML.
    (CONSTRUCT, "application/rdf+xml", {"format": "xml"}, "application/rdf+xml"),
    # RFC 9110: q=0 refuses a type even under */*; case does not matter; the charset a format is sent
    # with may be named; the most specific range decides.
    ("ASK {}", "application/sparql-results+json;q=0, */*", {}, XML),
    ("ASK {}", "TEXT/CSV", {}, CSV),
    ("ASK {}", "text/*;q=0.5, text/csv;q=0.1", {}, TSV),
    (CONSTRUCT, "text/turtle;charset=utf-8", {}, "text/turtle"),
    (CONSTRUCT, "text/turtle;q=0, */*;q=0.5", {}, "application/n-triples"),
    # JSON-LD is JSON: a JSON client asking for a graph gets JSON-LD; for results, SPARQL JSON.
    (CONSTRUCT, "application/json", {}, "application/ld+json"),
    # format= values that name no format are ignored (clients send several spellings).
    ("ASK {}", "text/csv", {"format": "no-such-format"}, CSV),
])
def test_negotiation_table(server, http, query, accept, params, expected):
    r = _get(server, http, query, accept, **params)
    assert r.headers["Content-Type"].split(";")[0] == expected
    assert "Accept" in r.headers["Vary"]


@pytest.mark.parametrize("query, accept, params", [
    ("ASK {}", "image/png", {}),
    ("ASK {}", "text/turtle", {}),
    ("ASK {}", "application/sparql-results+json;q=0, text/*;q=0", {}),
    ("ASK {}", "text/csv;charset=iso-8859-1", {}),  # the answer is UTF-8, never Latin-1
    (CONSTRUCT, "application/sparql-results+json", {}),
    (CONSTRUCT, None, {"format": "csv"}),
])
def test_unsatisfiable_accept_is_406_listing_offers(server, http, query, accept, params):
    headers = {"Accept": accept} if accept else {}
    r = http.get(server.url + "/sparql", params={"query": query, **params}, headers=headers)
    assert r.status_code == 406
    offered = "text/turtle" if query == CONSTRUCT else "application/sparql-results+json"
    assert offered in r.text
    assert "Accept" in r.headers["Vary"]


def test_a_406_lists_every_format_the_answer_has_in_the_clients_error_format(server, http):
    r = http.get(server.url + "/sparql", params={"query": CONSTRUCT},
                 headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 406 and r.headers["Content-Type"] == "application/problem+json"
    assert set(r.json()["available"]) == {media for media, _ in GRAPH_FORMATS}


def test_a_huge_accept_header_is_still_answered(server, http):
    # ~8 KB, about what gunicorn lets through: hundreds of ranges that fit nothing, then one that does.
    accept = ", ".join(f"image/x-{i};q=0.9" for i in range(400)) + ", text/csv;q=0.1"
    assert len(accept) < 8000
    r = _get(server, http, "ASK {}", accept)
    assert r.headers["Content-Type"].startswith(CSV)
