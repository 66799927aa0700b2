"""HTML pages over real HTTP: what a person reads on the KPO page, the ontology page and the home page.

Values are read from the graph (``select``) and looked for in the parsed page. The one comparison with
the source article reads it through ``tests.support.article`` (skipped, naming ``KG_ARTICLE``, without it).
"""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest


class Page(HTMLParser):
    """Visible text (outside <code>, <script>, <style>), links and element ids of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, link text)
        self.ids: set[str] = set()
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._link: list | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag in ("code", "script", "style"):
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if tag == "a" and attrs.get("href"):
            self._link = [attrs["href"], ""]

    def handle_endtag(self, tag):
        if tag in ("code", "script", "style"):
            self._skip -= 1
        if tag == "title":
            self._in_title = False
        if tag == "a" and self._link is not None:
            self.links.append((self._link[0], " ".join(self._link[1].split())))
            self._link = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._skip:
            return
        self.text.append(data)
        if self._link is not None:
            self._link[1] += data

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def kpo_page(server) -> Page:
    import requests

    r = requests.get(f"{server.url}/doc/kpo", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    return Page(r.text)


def test_kpo_page_shows_label_acronym_definition_and_money(kpo_page, select):
    row = select(
        "SELECT ?label ?acronym ?definition ?value ?currency WHERE { outd:kpo skos:prefLabel ?label ; "
        "skos:altLabel ?acronym ; skos:definition ?definition ; out:averageEarnings ?e . "
        "?e schema:value ?value ; schema:currency ?currency FILTER(LANG(?label) = 'en') }"
    )[0]
    text = kpo_page.words
    assert row["label"] in kpo_page.title and row["label"] in text
    assert row["acronym"] in text
    assert row["definition"] in text
    assert row["currency"] == "USD"
    assert f"${Decimal(row['value']):.0f} per hour" in text  # "$24 per hour", not "24.0 USD unit:HR"


KPO_QUOTES = (
    "SELECT DISTINCT ?q WHERE { { outd:kpo out:averageEarnings ?n } UNION "
    "{ ?n out:supportsSubject outd:kpo } UNION { BIND(outd:kpo AS ?n) } ?n out:evidenceText ?q }"
)


def test_kpo_page_quotes_the_source_sentence_under_each_fact(kpo_page, select):
    quotes = select(KPO_QUOTES)
    assert quotes
    for row in quotes:
        assert row["q"] in kpo_page.words  # the page shows each quote of the graph


def test_the_quotes_on_the_kpo_page_are_the_article_words(article, select):
    source = " ".join(article.split())
    quotes = select(KPO_QUOTES)
    assert quotes
    for row in quotes:
        assert " ".join(row["q"].split()) in source  # the graph quotes the source verbatim


def test_kpo_page_labels_properties_and_values_never_raw_iris(kpo_page, select):
    text = kpo_page.words
    for row in select(
        "SELECT DISTINCT ?plabel ?vlabel WHERE { outd:kpo ?p ?v . ?p rdfs:label ?plabel . "
        "?v skos:prefLabel ?vlabel FILTER(LANG(?plabel) = 'en' && LANG(?vlabel) = 'en') }"
    ):
        assert row["plabel"] in text and row["vlabel"] in text
    assert "http://" not in text and "https://" not in text  # IRIs appear only inside <code>
    link_texts = [t for _, t in kpo_page.links]
    assert not [t for t in link_texts if t.startswith(("http:", "https:", "_:"))]


def test_kpo_page_links_to_other_formats_and_to_a_sparql_query(server, kpo_page, http, kg):
    hrefs = [h for h, _ in kpo_page.links]
    for ext, media in (
        ("ttl", "text/turtle"),
        ("jsonld", "application/ld+json"),
        ("rdf", "application/rdf+xml"),
        ("nt", "application/n-triples"),
    ):
        assert f"{server.url}/doc/kpo.{ext}" in hrefs
        r = http.get(f"{server.url}/doc/kpo.{ext}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(media)
    sparql = [h for h in hrefs if h.startswith("/sparql?")]
    assert len(sparql) == 1
    query = parse_qs(urlsplit(sparql[0]).query)["query"][0]
    assert f"<{kg.iri('kpo')}>" in query  # SPARQL speaks canonical IRIs


def test_incoming_links_name_the_types_that_require_a_skill(server, http, select):
    row = select(
        "SELECT ?skill ?tlabel WHERE { ?t out:requiresSkill ?skill ; skos:altLabel ?a ; "
        "skos:prefLabel ?tlabel FILTER(LANG(?tlabel) = 'en') } LIMIT 1"
    )[0]
    slug = row["skill"].rsplit("/", 1)[-1]
    page = Page(http.get(f"{server.url}/doc/{slug}.html").text)
    assert "Referenced by" in page.words and row["tlabel"] in page.words


def test_ontology_page_documents_every_class_and_property(server, http, select):
    r = http.get(f"{server.url}/ontology", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = Page(r.text)
    rows = select(
        "SELECT ?t (SAMPLE(?l) AS ?label) (SAMPLE(?d) AS ?definition) WHERE { GRAPH outg:vocabulary { "
        "?t a ?k ; rdfs:label ?l OPTIONAL { ?t skos:definition ?d } "
        "VALUES ?k { owl:Class owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty } } "
        "FILTER(STRSTARTS(STR(?t), STR(out:)) && LANG(?l) = 'en') } GROUP BY ?t"
    )
    assert len(rows) > 20
    for row in rows:
        name = row["t"].split("#", 1)[1]
        assert name in page.ids, name  # /ontology#name lands on the term
        assert row["label"] in page.words
        if row.get("definition"):
            assert row["definition"] in page.words
    title = select("SELECT ?t WHERE { ?o a owl:Ontology ; dcterms:title ?t FILTER(LANG(?t) = 'en') }")[0]["t"]
    assert title in page.title


def test_pages_link_to_each_other(server, http):
    home = Page(http.get(f"{server.url}/").text)
    hrefs = {h for h, _ in home.links}
    assert {"/ontology", "/sparql", "/doc/kpo"} <= hrefs
    ontology = Page(http.get(f"{server.url}/ontology.html").text)
    assert "/" in {h for h, _ in ontology.links}


def test_void_page_for_people(server, http):
    r = http.get(f"{server.url}/.well-known/void", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "Outsourcing knowledge graph" in Page(r.text).words
