"""Linked data over real HTTP: 303s, content negotiation, formats, headers, caching, addresses, VoID.

Every resource the graph holds is dereferenced in every RDF format; each answer is parsed with rdflib,
must describe the deployment's IRI of that resource, and all formats of one resource must be isomorphic.
Only things (``id/``) take the deployment's address; vocabulary terms keep their canonical IRIs
(``tests/test_vocabulary_iris.py`` checks that with outside clients). Expected values are read from the
graph (the ``kg`` and ``select`` fixtures), never written here.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, VOID

from tests.support.server import ROOT, ServerProcess

RDF_EXTENSIONS = {
    "ttl": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdf": ("application/rdf+xml", "xml"),
    "nt": ("application/n-triples", "nt"),
}


def parse(body: bytes, rdflib_format: str) -> Graph:
    return Graph().parse(data=body, format=rdflib_format)


def same_graph(a: Graph, b: Graph) -> bool:
    """Isomorphic. Without blank nodes that is the equality of the two sets of triples, which costs a
    fraction of rdflib's canonical hashing (``isomorphic``, still used when either has one)."""
    if any(isinstance(term, BNode) for g in (a, b) for triple in g for term in triple):
        return isomorphic(a, b)
    return set(a) == set(b)


@pytest.fixture(scope="module")
def slugs(kg, select) -> list[str]:
    """Every thing the shipped graph holds under the canonical id/ namespace."""
    rows = select(
        "SELECT DISTINCT ?s WHERE { { ?s ?p ?o } UNION { ?x ?p ?s } "
        "FILTER(isIRI(?s) && STRSTARTS(STR(?s), STR(outd:))) }"
    )
    found = sorted(kg.slug(r["s"]) for r in rows if kg.slug(r["s"]))
    assert {"bpo", "kpo", "bpo-earnings", "source-bpo-vs-kpo"} <= set(found)
    return found


@pytest.fixture(scope="module")
def one_of_each_kind(kg, select, slugs) -> list[str]:
    """One thing of each set of classes the graph gives its things (the first by slug), and the four
    every reader starts from: a description's query is the same for things of one kind."""
    kinds: dict[str, set[str]] = {slug: set() for slug in slugs}
    for row in select("SELECT ?s ?t WHERE { ?s a ?t FILTER(STRSTARTS(STR(?s), STR(outd:))) }"):
        if kg.slug(row["s"]) in kinds:
            kinds[kg.slug(row["s"])].add(row["t"])
    first: dict[frozenset[str], str] = {}
    for slug in slugs:
        first.setdefault(frozenset(kinds[slug]), slug)
    return sorted(set(first.values()) | {"bpo", "kpo", "bpo-earnings", "source-bpo-vs-kpo"})


# -- every resource, every format ----------------------------------------------------------------------
@pytest.mark.slow
def test_every_resource_in_every_format_describes_it_and_formats_agree(server, slugs, one_of_each_kind):
    # Which triples make a description is the store's part; writing them in each format is the same
    # code whatever the store. Over the embedded store every resource is read in every format (and
    # tests/test_crawl.py opens every page). Over a remote store one thing of each kind is read as
    # N-Triples and Turtle (the second proves the store's answer survives a serializer) and as the HTML
    # page a browser gets: what differs there is the store's answer to a description's query, which is
    # the same query for things of one kind.
    embedded = server.env.get("KG_STORE") == "embedded"
    formats = RDF_EXTENSIONS if embedded else {ext: RDF_EXTENSIONS[ext] for ext in ("nt", "ttl")}
    assert len(one_of_each_kind) > 20, one_of_each_kind

    def check(slug: str) -> list[str]:
        problems = []
        with requests.Session() as http:
            r = http.get(f"{server.url}/id/{slug}", allow_redirects=False)
            if r.status_code != 303 or r.headers["Location"] != f"{server.url}/doc/{slug}":
                return [f"/id/{slug}: {r.status_code} {r.headers.get('Location')}"]
            if not embedded:
                page = http.get(r.headers["Location"], headers={"Accept": "text/html"})
                if page.status_code != 200 or not page.headers["Content-Type"].startswith("text/html"):
                    problems.append(f"/doc/{slug} as HTML: {page.status_code} {page.headers.get('Content-Type')}")
            iri = URIRef(f"{server.url}/id/{slug}")
            graphs = {}
            for ext, (media, rdflib_format) in formats.items():
                r = http.get(f"{server.url}/doc/{slug}.{ext}")
                if r.status_code != 200 or not r.headers["Content-Type"].startswith(media):
                    problems.append(f"/doc/{slug}.{ext}: {r.status_code} {r.headers.get('Content-Type')}")
                    continue
                g = parse(r.content, rdflib_format)
                if (iri, None, None) not in g and (None, None, iri) not in g:
                    problems.append(f"/doc/{slug}.{ext} does not describe {iri}")
                graphs[ext] = g
            reference = graphs.get("nt")
            for ext, g in graphs.items():
                if reference is not None and g is not reference and not same_graph(g, reference):
                    problems.append(
                        f"/doc/{slug}.{ext} differs from the N-Triples ({len(g)} vs {len(reference)})"
                    )
        return problems

    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for found in pool.map(check, slugs if embedded else one_of_each_kind) for p in found]
    assert not problems, "\n".join(problems[:20])


def test_description_holds_facts_incoming_links_labels_and_provenance(server, http, select):
    r = http.get(f"{server.url}/doc/kpo.ttl")
    g = parse(r.content, "turtle")
    ns = server.url + "/id/"

    def public(iri: str) -> URIRef:
        """A thing at this deployment's address; anything else (vocabulary terms) as it is."""
        return URIRef(iri.replace("https://w3id.org/outsourcing-kg/id/", ns))

    out = "https://w3id.org/outsourcing-kg/ontology#"
    kpo = public("https://w3id.org/outsourcing-kg/id/kpo")
    # The earnings node, in full, with its quote.
    for row in select(
        "SELECT ?e ?v ?t WHERE { outd:kpo out:averageEarnings ?e . ?e schema:value ?v ; out:evidenceText ?t }"
    ):
        earnings = public(row["e"])
        assert (kpo, URIRef(out + "averageEarnings"), earnings) in g
        assert float(g.value(earnings, URIRef("https://schema.org/value"))) == float(row["v"])
        assert Literal(row["t"]) in set(g.objects(earnings, URIRef(out + "evidenceText")))
    # Incoming links: the comparisons about KPO, and the type that calls KPO its extension.
    incoming = select("SELECT ?s ?p WHERE { ?s ?p outd:kpo FILTER(?p != out:supportsSubject) }")
    assert incoming
    for row in incoming:
        assert (public(row["s"]), public(row["p"]), kpo) in g
    # Labels of what it links to, and the evidence record (source sentence) of each skill.
    for row in select(
        "SELECT ?skill ?label ?quote WHERE { outd:kpo out:requiresSkill ?skill . "
        "?skill skos:prefLabel ?label FILTER(LANG(?label) = 'en') "
        "?ev out:supportsSubject outd:kpo ; out:supportsValue ?skill ; out:evidenceText ?quote }"
    ):
        assert Literal(row["label"], lang="en") in set(g.objects(public(row["skill"]), None))
        assert Literal(row["quote"]) in set(g.objects(None, URIRef(out + "evidenceText")))
    # BPO's own facts are linked, not copied into KPO's description.
    for row in select("SELECT ?skill WHERE { outd:bpo out:requiresSkill ?skill }"):
        assert (public("https://w3id.org/outsourcing-kg/id/bpo"), None, public(row["skill"])) not in g


def test_skill_description_names_the_types_that_require_it(server, http, select):
    rows = select("SELECT ?type ?skill WHERE { ?type out:requiresSkill ?skill } LIMIT 1")
    skill_slug = rows[0]["skill"].rsplit("/", 1)[-1]
    g = parse(http.get(f"{server.url}/doc/{skill_slug}.nt").content, "nt")
    type_iri = URIRef(rows[0]["type"].replace("https://w3id.org/outsourcing-kg/id/", server.url + "/id/"))
    assert (type_iri, None, URIRef(f"{server.url}/id/{skill_slug}")) in g
    assert any(g.objects(type_iri, URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")))


# -- content negotiation -------------------------------------------------------------------------------
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(
    "accept, expected",
    [
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/ld+json"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("application/n-triples", "application/n-triples"),
        ("text/html", "text/html"),
        (BROWSER, "text/html"),
        ("text/turtle;q=0.5, application/rdf+xml;q=0.9", "application/rdf+xml"),
        ("application/ld+json;q=0.2, text/html;q=0.1", "application/ld+json"),
        ("text/html;q=0, */*;q=0.1", "text/turtle"),
        ("*/*", "text/turtle"),
        (None, "text/turtle"),
    ],
)
def test_negotiation_by_accept(server, http, accept, expected):
    r = http.get(f"{server.url}/doc/kpo", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == expected
    ext = {
        "text/turtle": "ttl",
        "application/ld+json": "jsonld",
        "application/rdf+xml": "rdf",
        "application/n-triples": "nt",
        "text/html": "html",
    }[expected]
    assert r.headers["Content-Location"] == f"{server.url}/doc/kpo.{ext}"
    assert "Accept" in r.headers["Vary"]


@pytest.mark.parametrize(
    "ext, media", [(e, m) for e, (m, _) in RDF_EXTENSIONS.items()] + [("html", "text/html")]
)
def test_extension_wins_over_accept(server, http, ext, media):
    r = http.get(f"{server.url}/doc/kpo.{ext}", headers={"Accept": "image/png"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(media)


def test_unacceptable_accept_is_406_naming_the_formats(server, http):
    r = http.get(f"{server.url}/doc/kpo", headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert "text/turtle" in r.text and "Traceback" not in r.text


def test_link_header_lists_every_other_format_and_each_answers(server, http):
    r = http.get(f"{server.url}/doc/kpo.ttl")
    links = re.findall(r'<([^>]+)>;\s*rel="alternate";\s*type="([^"]+)"', r.headers["Link"])
    assert {media for _, media in links} == {
        "application/ld+json",
        "application/rdf+xml",
        "application/n-triples",
        "text/html",
    }
    for url, media in links:
        answer = http.get(url)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(media), url


def test_head_answers_like_get_without_body(server, http):
    r = http.head(f"{server.url}/id/kpo", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith("/doc/kpo")
    get = http.get(f"{server.url}/doc/kpo.ttl")
    head = http.head(f"{server.url}/doc/kpo.ttl")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert http.head(f"{server.url}/doc/no-such-thing.ttl").status_code == 404
    assert http.head(f"{server.url}/id/no-such-thing").status_code == 404


@pytest.mark.parametrize(
    "path, accept, media",
    [
        ("/id/no-such-thing", "application/ld+json", "application/problem+json"),
        ("/doc/no-such-thing.jsonld", None, "application/problem+json"),
        ("/doc/no-such-thing", "text/html", "text/html"),
        ("/doc/no-such-thing.html", None, "text/html"),
        ("/doc/no-such-thing.ttl", None, "text/plain"),
        ("/doc/no-such-thing", "text/turtle", "text/plain"),
        ("/doc/%3Cscript%3E.html", None, "text/html"),
        ("/ontology.exe", None, "text/plain"),
    ],
)
def test_unknown_resource_is_404_in_the_negotiated_format(server, http, path, accept, media):
    r = http.get(server.url + path, headers={"Accept": accept}, allow_redirects=False)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith(media)
    assert "Traceback" not in r.text and "<script>" not in r.text
    if media == "application/problem+json":
        assert r.json()["status"] == 404 and "no-such-thing" in r.json()["detail"]


#: Paths whose slug tries to reach a header: line breaks (header injection, response splitting), the
#: delimiters of a Link header (``>``, ``;``, ``,``, quotes), non-ASCII and control characters.
HOSTILE_PATHS = [
    "/doc/%0d%0aX-Injected:%201",
    "/id/%0d%0aX-Injected:%201",
    "/doc/%0aX-Injected:%201",
    "/doc/kpo%0d%0aX-Injected:%201.ttl",
    "/id/kpo%0d%0a%0d%0a%3Chtml%3Einjected",
    "/doc/kpo%3E;%20rel=%22describedby%22",
    "/id/kpo%3E;%20rel=%22describedby%22",
    "/doc/a,%20%3Chttp://evil.example/%3E;%20rel=%22alternate%22.ttl",
    "/id/a%22,%20%3Chttp://evil.example/%3E",
    "/doc/kpo%22.jsonld",
    "/doc/kpo'.html",
    "/doc/kpo%3E.ttl",
    "/id/%C3%A9t%C3%A9",
    "/doc/k%C3%B6po.jsonld",
    "/doc/kpo%E2%80%A8X-Injected:%201",
    "/doc/kpo%09x",
    "/id/kpo%00",
    "/doc/..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("accept", [None, "application/ld+json", "text/html"])
@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_a_hostile_slug_never_reaches_a_header(server, http, path, accept):
    r = http.get(server.url + path, headers={"Accept": accept}, allow_redirects=False)
    assert r.status_code in (400, 404), r.status_code
    assert "X-Injected" not in r.headers and "Link" not in r.headers and "Location" not in r.headers
    for name, value in r.headers.items():
        assert all(32 <= ord(c) < 127 for c in value), f"{name}: {value!r}"
        assert "evil.example" not in value and "injected" not in value.lower(), f"{name}: {value!r}"
    assert "Traceback" not in r.text
    if r.headers.get("Content-Type", "").startswith("text/html"):
        assert "<html>injected" not in r.text  # a page shows the path escaped


def test_an_unknown_thing_is_a_404_without_links_to_documents_that_do_not_exist(server, http):
    for path in ("/id/no-such-thing", "/doc/no-such-thing", "/doc/no-such-thing.ttl"):
        r = http.get(server.url + path, allow_redirects=False)
        assert r.status_code == 404 and "Link" not in r.headers, path
    # A known thing still links its formats and the vocabulary document.
    r = http.get(f"{server.url}/id/kpo", allow_redirects=False)
    assert r.status_code == 303 and f"<{server.url}/doc/kpo.ttl>" in r.headers["Link"]


# -- the vocabulary and the context --------------------------------------------------------------------
def test_vocabulary_document_is_served_here_and_keeps_the_canonical_hash_iris(server, http, select, kg):
    rows = select(
        "SELECT DISTINCT ?t WHERE { GRAPH outg:vocabulary { ?t a ?k } FILTER(STRSTARTS(STR(?t), STR(out:))) }"
    )
    r = http.get(f"{server.url}/ontology", headers={"Accept": "text/turtle"})
    assert f'<{kg.config.ontology_iri}>; rel="describes"' in r.headers["Link"]
    g = parse(r.content, "turtle")
    for row in rows:
        term = URIRef(row["t"])  # as the graph and /sparql name it
        assert str(term).split("#")[0] == kg.config.ontology_iri
        assert (term, RDF.type, None) in g
    assert not [t for triple in g for t in triple if str(t).startswith(f"{server.url}/ontology")]
    for ext, (media, rdflib_format) in RDF_EXTENSIONS.items():
        r = http.get(f"{server.url}/ontology.{ext}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(media)
        assert isomorphic(parse(r.content, rdflib_format), g)


def test_context_gives_short_names_to_every_vocabulary_term(server, http, select, kg):
    r = http.get(f"{server.url}/context.jsonld")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/ld+json")
    context = r.json()["@context"]
    rows = select(
        "SELECT DISTINCT ?t WHERE { GRAPH outg:vocabulary { ?t a ?k "
        "VALUES ?k { owl:Class owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty } } "
        "FILTER(STRSTARTS(STR(?t), STR(out:))) }"
    )
    for row in rows:
        name = row["t"].split("#", 1)[1]
        entry = context[name]
        iri = entry["@id"] if isinstance(entry, dict) else entry
        assert iri == row["t"] == kg.config.vocab_ns + name  # the canonical IRI, on every deployment
    document = http.get(f"{server.url}/doc/kpo.jsonld").json()
    assert document["@context"] == context  # embedded by value: nothing to fetch
    assert "requiresSkill" in json.dumps(document)


# -- caching -------------------------------------------------------------------------------------------
def test_etag_last_modified_and_conditional_get(server, http):
    first = http.get(f"{server.url}/doc/kpo.ttl")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert "must-revalidate" in first.headers["Cache-Control"] or "max-age" in first.headers["Cache-Control"]
    again = http.get(f"{server.url}/doc/kpo.ttl", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert http.get(f"{server.url}/doc/kpo.ttl", headers={"If-Modified-Since": modified}).status_code == 304
    assert http.get(f"{server.url}/doc/kpo.ttl", headers={"If-None-Match": '"stale"'}).status_code == 200
    # Each representation has its own tag.
    assert http.get(f"{server.url}/doc/kpo.nt").headers["ETag"] != etag
    for path in ("/ontology.ttl", "/context.jsonld", "/.well-known/void", "/"):
        r = http.get(server.url + path)
        assert http.get(server.url + path, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304, (
            path
        )


@pytest.mark.parametrize("path", ["/doc/no-such-thing", "/doc/no-such-thing.html", "/doc/kpo?incoming=9999",
                                  "/doc/kpo.ttl?incoming=9999"])
@pytest.mark.parametrize("condition", [{"If-None-Match": "*"}, {"If-Modified-Since": "Fri, 31 Dec 2099 23:59:59 GMT"}])
def test_a_condition_on_a_document_that_does_not_exist_is_404_not_304(server, http, path, condition):
    # "*" matches a current representation only (RFC 9110 §13.1.2): there is none to be unmodified.
    assert http.get(server.url + path, headers=condition).status_code == 404
    assert http.get(server.url + path.replace("no-such-thing", "kpo").split("?")[0],
                    headers=condition).status_code == 304


# -- deployment addresses ------------------------------------------------------------------------------
def test_request_host_moves_things_keeps_terms_and_the_canonical_name(server, http, kg):
    r = http.get(f"{server.url}/doc/kpo.nt", headers={"Host": "mirror.example.org:8080"})
    g = parse(r.content, "nt")
    here = URIRef("http://mirror.example.org:8080/id/kpo")
    assert (here, None, None) in g
    assert (here, OWL.sameAs, URIRef(kg.iri("kpo"))) in g
    iris = {str(t) for triple in g for t in triple if isinstance(t, URIRef)}
    leaked = {t for t in iris if t.startswith(kg.config.id_ns)}
    assert leaked == {kg.iri("kpo")}  # only as the object of owl:sameAs
    # Vocabulary terms are never moved: the mirror speaks the same out: as /sparql.
    assert kg.config.vocab_ns + "requiresSkill" in iris
    assert not {t for t in iris if t.startswith("http://mirror.example.org:8080/ontology")}
    r = http.get(f"{server.url}/id/kpo", headers={"Host": "mirror.example.org:8080"}, allow_redirects=False)
    assert r.headers["Location"] == "http://mirror.example.org:8080/doc/kpo"


@pytest.fixture(scope="module")
def public_server(tmp_path_factory):
    """A second deployment, reached through a proxy at KG_PUBLIC_BASE; nothing else writes to it."""
    proc = ServerProcess(
        data_dir=tmp_path_factory.mktemp("public-base") / "data",
        env={"KG_STORE": "embedded", "KG_PUBLIC_BASE": "https://kg.example.net/outsourcing"},
    )
    proc.start()
    yield proc
    proc.stop()


def test_public_base_rewrites_documents_and_redirects(public_server, http):
    base = "https://kg.example.net/outsourcing/"
    r = http.get(f"{public_server.url}/id/kpo", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == base + "doc/kpo"
    doc = http.get(f"{public_server.url}/doc/kpo.ttl")
    g = parse(doc.content, "turtle")
    assert (URIRef(base + "id/kpo"), None, None) in g
    predicates = {str(p) for p in g.predicates(URIRef(base + "id/kpo"))}
    assert "https://w3id.org/outsourcing-kg/ontology#requiresSkill" in predicates
    assert not {p for p in predicates if p.startswith(base)}
    assert f'<{base}ontology>; rel="describedby"' in doc.headers["Link"]
    page = http.get(f"{public_server.url}/doc/kpo.html").text
    assert f'href="{base}id/' in page
    assert f'href="{base}ontology#requiresSkill"' in page  # people browse the terms on this deployment


def test_void_describes_the_dataset(public_server, http, kg, select):
    base = "https://kg.example.net/outsourcing/"
    r = http.get(f"{public_server.url}/.well-known/void", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    g = parse(r.content, "turtle")
    ds = URIRef(base + ".well-known/void#dataset")
    assert (ds, RDF.type, VOID.Dataset) in g
    meta = kg.graph("meta")
    expected = select(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
        f"FILTER(?g != <{meta}>) }} }}"
    )[0]["n"]
    assert int(g.value(ds, VOID.triples)) == int(expected)
    classes = select(
        f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ GRAPH ?g {{ ?s a ?c }} FILTER(?g != <{meta}>) }}"
    )
    assert int(g.value(ds, VOID.classes)) == int(classes[0]["n"])
    properties = select(
        f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{meta}>) }}"
    )
    assert int(g.value(ds, VOID.properties)) == int(properties[0]["n"])
    assert g.value(ds, VOID.sparqlEndpoint) == URIRef(base + "sparql")
    assert URIRef(kg.config.ontology_iri) in set(g.objects(ds, VOID.vocabulary))
    assert URIRef("http://www.w3.org/2004/02/skos/core#") in set(g.objects(ds, VOID.vocabulary))
    license_ = select("SELECT ?l WHERE { ?o a owl:Ontology ; dcterms:license ?l }")[0]["l"]
    assert g.value(ds, URIRef("http://purl.org/dc/terms/license")) == URIRef(license_)
    assert URIRef(base + "id/source-bpo-vs-kpo") in set(
        g.objects(ds, URIRef("http://purl.org/dc/terms/source"))
    )
    for ext_media in ("application/ld+json", "application/rdf+xml", "application/n-triples"):
        other = http.get(f"{public_server.url}/.well-known/void", headers={"Accept": ext_media})
        fmt = {"application/ld+json": "json-ld", "application/rdf+xml": "xml", "application/n-triples": "nt"}
        assert isomorphic(parse(other.content, fmt[ext_media]), g)


def test_added_type_is_served_at_once_and_escaped_in_pages(public_server, http, admin_token):
    slug = "xss-test-outsourcing"
    before = http.get(f"{public_server.url}/").headers["ETag"]
    body = {
        "id": slug,
        "label": "Escaping Test Outsourcing <script>alert(1)</script>",
        "acronym": "ETO",
        "definition": "A made-up type whose name carries markup, to check that pages escape it.",
        "skills": "skill-english",
        "activity_level": "activity-level-low",
        "source": "source-bpo-vs-kpo",
        "evidence": "BPO is today a commonplace word or acronym",
    }
    r = http.post(
        f"{public_server.url}/api/types", json=body, headers={"Authorization": f"Bearer {admin_token}"}
    )
    if r.status_code == 404:
        pytest.fail("POST /api/types is not served: cannot add a type at run time")
    assert r.status_code == 201, r.text
    try:
        assert http.get(f"{public_server.url}/id/{slug}", allow_redirects=False).status_code == 303
        g = parse(http.get(f"{public_server.url}/doc/{slug}.ttl").content, "turtle")
        assert (URIRef(f"https://kg.example.net/outsourcing/id/{slug}"), None, None) in g
        page = http.get(f"{public_server.url}/doc/{slug}.html").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
        home = http.get(f"{public_server.url}/")
        assert home.headers["ETag"] != before and f"/doc/{slug}" in home.text
        skill = parse(http.get(f"{public_server.url}/doc/skill-english.nt").content, "nt")
        assert (
            URIRef(f"https://kg.example.net/outsourcing/id/{slug}"),
            None,
            URIRef("https://kg.example.net/outsourcing/id/skill-english"),
        ) in skill
    finally:
        http.delete(
            f"{public_server.url}/api/types/{slug}", headers={"Authorization": f"Bearer {admin_token}"}
        )
    assert http.get(f"{public_server.url}/doc/{slug}.ttl").status_code == 404


# -- the command line ----------------------------------------------------------------------------------
def test_kg_describe_prints_the_canonical_description(tmp_path: Path, kg, monkeypatch):
    from cli.main import main

    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["describe", "kpo", "--format", "ntriples", "--data-dir", str(tmp_path / "d")],
        env={"KG_DATA_DIR": str(tmp_path / "d")},
    )
    assert result.exit_code == 0, result.output
    g = parse(result.stdout_bytes, "nt")
    from kg.linked_data.description import describe
    from kg.terms import ox_to_graph

    assert isomorphic(g, ox_to_graph(describe(kg, kg.iri("kpo"))))
    missing = runner.invoke(main, ["describe", "no-such-thing", "--data-dir", str(tmp_path / "d")])
    assert missing.exit_code != 0 and "no-such-thing" in missing.output
