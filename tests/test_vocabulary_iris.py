"""One vocabulary on every interface, as clients that this project did not write see it.

rdflib dereferences a thing over HTTP (its own content negotiation, following the 303) and reads the
description in Turtle and in JSON-LD; SPARQLWrapper asks the deployment's ``/sparql``. The same query,
written with the project's published ``out:`` namespace, must give the same answer on both, once the
deployment's ``/id/`` addresses in the description are mapped to their canonical IRIs the way a linked-data
client does it: by dereferencing each one and reading its ``owl:sameAs``.

Nothing here rewrites anything: the published namespace is written out as a client would have it, and
expected answers come from the endpoint, never from this file.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
import requests
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, VOID
from SPARQLWrapper import JSON, SPARQLWrapper

#: The project's vocabulary as it is published; a client writes it from the documentation.
OUT = "https://w3id.org/outsourcing-kg/ontology#"
ONTOLOGY = "https://w3id.org/outsourcing-kg/ontology"
CANONICAL_ID = "https://w3id.org/outsourcing-kg/id/"
PROLOGUE = (
    f"PREFIX out: <{OUT}>\n"
    "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    "PREFIX schema: <https://schema.org/>\n"
)

#: (name, query about {kpo}); each must find something on both interfaces.
QUERIES = [
    ("skills", "SELECT ?skill WHERE { {kpo} out:requiresSkill ?skill }"),
    ("classes", "SELECT ?class WHERE { {kpo} a ?class }"),
    ("properties", "SELECT DISTINCT ?p WHERE { {kpo} ?p ?o FILTER(?p != owl:sameAs) }"),
    ("earnings", "SELECT ?value ?unit WHERE { {kpo} out:averageEarnings ?e . "
                 "?e schema:value ?value ; out:perTimeUnit ?unit }"),
    ("incoming", "SELECT ?s ?p WHERE { ?s ?p {kpo} FILTER(?p != owl:sameAs) }"),
    ("property label", "SELECT ?label WHERE { {kpo} out:requiresSkill ?x . out:requiresSkill rdfs:label ?label }"),
    ("class label", "SELECT ?label WHERE { {kpo} a ?c . ?c rdfs:label ?label }"),
]


def test_the_published_namespace_is_the_configured_one(kg):
    assert kg.config.vocab_ns == OUT and kg.config.ontology_iri == ONTOLOGY


class LinkedDataClient:
    """What a generic client does: dereference with rdflib, map things to canonical IRIs by owl:sameAs."""

    def __init__(self, base: str):
        self.base = base
        self.graphs: dict[str, Graph] = {}

    def dereference(self, iri: str) -> Graph:
        if iri not in self.graphs:
            self.graphs[iri] = Graph().parse(iri)  # rdflib's own Accept header, follows the 303
        return self.graphs[iri]

    def canonical(self, term):
        """A deployment's thing → its canonical IRI, read from its own description."""
        if isinstance(term, URIRef) and str(term).startswith(self.base + "/id/"):
            same = set(self.dereference(str(term)).objects(term, OWL.sameAs))
            assert len(same) == 1, f"{term} states {len(same)} owl:sameAs"
            return same.pop()
        return term


def key(term) -> tuple:
    """A comparable form of an rdflib term (literal equality in rdflib is value-based, too lenient)."""
    if isinstance(term, Literal):
        return ("literal", str(term), term.language, str(term.datatype) if term.datatype else None)
    return (type(term).__name__, str(term))


def from_json(binding: dict) -> tuple:
    if binding["type"] == "uri":
        return key(URIRef(binding["value"]))
    if binding["type"] in ("literal", "typed-literal"):
        return key(Literal(binding["value"], lang=binding.get("xml:lang"), datatype=binding.get("datatype")))
    return ("bnode", binding["value"])


def over_endpoint(url: str, query: str) -> set[tuple]:
    client = SPARQLWrapper(url)
    client.setReturnFormat(JSON)
    client.setQuery(query)
    result = client.query().convert()
    names = result["head"]["vars"]
    return {tuple(from_json(row[n]) for n in names) for row in result["results"]["bindings"]}


def over_description(graph: Graph, query: str, client: LinkedDataClient) -> set[tuple]:
    result = graph.query(query)
    return {tuple(key(client.canonical(term)) for term in row) for row in result}


@pytest.fixture(scope="module")
def client(server) -> LinkedDataClient:
    return LinkedDataClient(server.url)


def test_the_description_answers_a_query_in_the_published_vocabulary_as_the_endpoint_does(server, client):
    here = f"{server.url}/id/kpo"
    description = client.dereference(here)
    # The description names the thing by the address it was dereferenced at, and says its canonical name.
    named = set(description.subjects(OWL.sameAs, URIRef(CANONICAL_ID + "kpo")))
    assert named == {URIRef(here)}
    differences = []
    for name, template in QUERIES:
        local = over_description(description, PROLOGUE + template.replace("{kpo}", f"<{here}>"), client)
        remote = over_endpoint(f"{server.url}/sparql", PROLOGUE + template.replace("{kpo}", f"<{CANONICAL_ID}kpo>"))
        assert remote, f"{name}: the endpoint finds nothing, the comparison would prove nothing"
        if local != remote:
            differences.append(f"{name}: description {sorted(local)} != endpoint {sorted(remote)}")
    assert not differences, "\n".join(differences)


def test_vocabulary_terms_are_canonical_in_every_format_on_every_address(server, http, kg):
    """Turtle, JSON-LD, RDF/XML and N-Triples, reached at two addresses: the terms never move."""
    formats = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}
    graphs = {}
    for host, base in ((None, server.url), ("mirror.example.org:8080", "http://mirror.example.org:8080")):
        for ext, rdflib_format in formats.items():
            r = http.get(f"{server.url}/doc/kpo.{ext}", headers={"Host": host} if host else {})
            assert r.status_code == 200, (host, ext)
            g = Graph().parse(data=r.content, format=rdflib_format)
            used = {str(t) for triple in g for t in triple if isinstance(t, URIRef)}
            assert not {t for t in used if t.startswith(base + "/ontology")}, (host, ext)
            moved = {t for t in used if t.startswith(base + "/")}
            assert moved and all(t.startswith(base + "/id/") for t in moved), (host, ext)
            predicates = {str(p) for p in g.predicates()}
            assert OUT + "requiresSkill" in predicates and OUT + "averageEarnings" in predicates
            graphs[(host, ext)] = g
    # The two deployments' descriptions differ only by the address of the things.
    default, mirror = graphs[(None, "nt")], graphs[("mirror.example.org:8080", "nt")]
    relabelled = Graph()
    for triple in mirror:
        relabelled.add(tuple(
            URIRef(str(t).replace("http://mirror.example.org:8080/", server.url + "/"))
            if isinstance(t, URIRef) else t
            for t in triple
        ))
    assert isomorphic(relabelled, default)


def test_jsonld_read_with_the_published_context_means_what_turtle_says(server, http):
    turtle = Graph().parse(data=http.get(f"{server.url}/doc/kpo.ttl").content, format="turtle")
    document = http.get(f"{server.url}/doc/kpo.jsonld").json()
    embedded = Graph().parse(data=json.dumps(document), format="json-ld")
    assert isomorphic(embedded, turtle)
    # The same document referring to the published context by URL: rdflib fetches it.
    document["@context"] = f"{server.url}/context.jsonld"
    by_reference = Graph().parse(data=json.dumps(document), format="json-ld")
    assert isomorphic(by_reference, turtle)


def test_a_context_key_means_the_same_property_on_every_deployment(server, http):
    contexts = [
        http.get(f"{server.url}/context.jsonld", headers={"Host": host} if host else {}).json()
        for host in (None, "mirror.example.org:8080", "kg.example.net")
    ]
    assert contexts[0] == contexts[1] == contexts[2]
    context = contexts[0]["@context"]
    assert context["out"] == OUT
    assert context["requiresSkill"]["@id"] == OUT + "requiresSkill"
    # A document a third party writes with the short names, read against the published context.
    data = {"@context": f"{server.url}/context.jsonld", "@id": "http://example.org/t",
            "@type": "OutsourcingType", "requiresSkill": "http://example.org/s"}
    g = Graph().parse(data=json.dumps(data), format="json-ld")
    assert (URIRef("http://example.org/t"), URIRef(OUT + "requiresSkill"), URIRef("http://example.org/s")) in g
    assert (URIRef("http://example.org/t"), RDF.type, URIRef(OUT + "OutsourcingType")) in g


def _link(response: requests.Response, rel: str) -> list[dict]:
    return [link for link in requests.utils.parse_header_links(response.headers.get("Link", ""))
            if link.get("rel") == rel]


@pytest.mark.parametrize("ext", ["ttl", "jsonld", "rdf", "nt", "html"])
def test_descriptions_say_where_this_deployment_serves_the_vocabulary(server, http, ext):
    r = http.get(f"{server.url}/doc/kpo.{ext}")
    assert r.status_code == 200
    described_by = _link(r, "describedby")
    assert described_by == [{"url": f"{server.url}/ontology", "rel": "describedby", "anchor": ONTOLOGY}]
    mirror = http.get(f"{server.url}/doc/kpo.{ext}", headers={"Host": "mirror.example.org:8080"})
    assert [link["url"] for link in _link(mirror, "describedby")] == ["http://mirror.example.org:8080/ontology"]


def test_the_linked_vocabulary_document_defines_every_term_a_description_uses(server, http, client):
    r = http.get(f"{server.url}/doc/kpo.ttl")
    description = Graph().parse(data=r.content, format="turtle")
    target = _link(r, "describedby")[0]["url"]
    vocabulary = http.get(target, headers={"Accept": "text/turtle"})
    assert vocabulary.status_code == 200 and vocabulary.headers["Content-Type"].startswith("text/turtle")
    assert _link(vocabulary, "describes") == [{"url": ONTOLOGY, "rel": "describes"}]
    g = Graph().parse(data=vocabulary.content, format="turtle")
    assert (URIRef(ONTOLOGY), RDF.type, OWL.Ontology) in g
    assert not [t for triple in g for t in triple if str(t).startswith(server.url + "/ontology")]
    terms = {p for p in description.predicates() if str(p).startswith(OUT)}
    terms |= {c for c in description.objects(None, RDF.type) if str(c).startswith(OUT)}
    assert len(terms) > 10
    undefined = sorted(str(t) for t in terms if (t, RDF.type, None) not in g)
    assert not undefined, undefined
    # Each term says it is defined by the ontology, by its canonical IRI.
    assert all((t, URIRef("http://www.w3.org/2000/01/rdf-schema#isDefinedBy"), URIRef(ONTOLOGY)) in g
               for t in terms)


def test_void_names_the_vocabulary_by_its_canonical_iri(server, http):
    g = Graph().parse(data=http.get(f"{server.url}/.well-known/void", headers={"Accept": "text/turtle"}).content,
                      format="turtle")
    vocabularies = set(g.objects(None, VOID.vocabulary))
    assert URIRef(ONTOLOGY) in vocabularies
    assert not [v for v in vocabularies if str(v).startswith(server.url)]
    classes = set(g.objects(None, VOID["class"]))
    assert URIRef(OUT + "OutsourcingType") in classes


def test_pages_link_terms_to_this_deployments_documentation_and_name_them_canonically(server, http):
    page = http.get(f"{server.url}/doc/kpo.html").text
    hrefs = {unescape(h) for h in re.findall(r'href="([^"]+)"', page)}
    term_links = {h for h in hrefs if h.startswith(f"{server.url}/ontology#")}
    assert f"{server.url}/ontology#requiresSkill" in term_links
    assert not {h for h in hrefs if h.startswith(OUT)}  # a person is not sent to an address that may not answer
    ontology_page = http.get(f"{server.url}/ontology", headers={"Accept": "text/html"}).text
    anchors = set(re.findall(r'id="([^"]+)"', ontology_page))
    assert {h.split("#", 1)[1] for h in term_links} <= anchors
    shown = set(re.findall(r'<code class="iri">([^<]+)</code>', ontology_page))
    assert ONTOLOGY in shown and OUT + "requiresSkill" in shown
    assert not {s for s in shown if s.startswith(server.url)}
