"""A resource's incoming links, page by page, over real HTTP (``/doc/{slug}?incoming=N``).

A small generated dataset is loaded with ``kg load`` into a data directory of its own: a hub linked from
250 others by two properties (and from one blank node), and a quiet resource with three links. Every
expected value (how many links, which links, in which order, which labels) is computed here from the
generated triples, never read back from the service. The order pages follow is the documented one: by
property IRI, then by linking IRI, as strings (``docs/linked-data.md``, "Incoming links, page by page").
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from kg.config import DEFAULT_NAMESPACE
from tests.support.server import ROOT, ServerProcess

ID = DEFAULT_NAMESPACE + "id/"
EX = "http://example.org/"
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
PREF_LABEL = URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")
HUB, QUIET = "syn-hub", "syn-quiet"

#: (property IRI, linking slug) of every link to the hub: 220 by linksTo, 30 of those also by cites.
#: Slugs are not zero-padded, so the documented string order differs from the numeric one.
HUB_LINKS = sorted(
    [(EX + "linksTo", f"syn-linker-{i}") for i in range(220)]
    + [(EX + "cites", f"syn-linker-{i}") for i in range(0, 220, 22)]
    + [(EX + "cites", f"syn-citer-{i}") for i in range(20)],
    key=lambda link: (link[0], ID + link[1]),
)
QUIET_LINKS = [(EX + "linksTo", f"syn-linker-{i}") for i in range(3)]
RDF_FORMATS = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}
#: The page size this server is given (``KG_INCOMING_PAGE_SIZE``; the default, 100, would make 3 pages).
PAGE_SIZE = 60


def generate(path: Path) -> None:
    lines = [f'<{ID}{HUB}> <{PREF_LABEL}> "Hub"@en .', f'<{ID}{QUIET}> <{PREF_LABEL}> "Quiet"@en .']
    linkers = {slug for _, slug in HUB_LINKS}
    lines += [f'<{ID}{slug}> <{PREF_LABEL}> "Label of {slug}"@en .' for slug in sorted(linkers)]
    lines += [f"<{ID}{slug}> <{p}> <{ID}{HUB}> ." for p, slug in HUB_LINKS]
    lines += [f"<{ID}{slug}> <{p}> <{ID}{QUIET}> ." for p, slug in QUIET_LINKS]
    lines.append(f"_:someone <{EX}mentions> <{ID}{HUB}> .")  # no IRI: shown on every page, never counted
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """The service over a data directory holding the generated links (and the shipped ontology)."""
    root = tmp_path_factory.mktemp("incoming")
    data, source = root / "data", root / "links.nt"
    generate(source)
    subprocess.run([sys.executable, "-m", "cli", "load", "--data-dir", str(data), str(source)],
                   cwd=ROOT, check=True, capture_output=True)
    proc = ServerProcess(data_dir=data, env={"KG_INCOMING_PAGE_SIZE": str(PAGE_SIZE)}).start()
    yield proc
    proc.stop()


def expected_pages() -> list[list[tuple[str, str]]]:
    size = PAGE_SIZE
    return [HUB_LINKS[i : i + size] for i in range(0, len(HUB_LINKS), size)]


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=30)


def parse(response: requests.Response, rdflib_format: str) -> Graph:
    assert response.status_code == 200, response.text[:500]
    return Graph().parse(data=response.content, format=rdflib_format)


def links_in(graph: Graph, base: str, slug: str) -> tuple[set[tuple[str, str]], int]:
    """(property, linking slug) of the IRI links to ``slug`` in ``graph``, and how many blank nodes link."""
    target = URIRef(f"{base}/id/{slug}")
    named, blank = set(), 0
    for s, p, _ in graph.triples((None, None, target)):
        if isinstance(s, BNode):
            blank += 1
        elif s != target:
            named.add((str(p), str(s).removeprefix(f"{base}/id/")))
    return named, blank


def header_links(response: requests.Response) -> dict[str, str]:
    return {link["rel"]: link["url"] for link in requests.utils.parse_header_links(response.headers.get("Link", ""))
            if link.get("rel") in ("first", "prev", "next", "last")}


# -- the data's own shape: the test stands on it ---------------------------------------------------------
def test_the_generated_hub_needs_several_pages():
    assert len(HUB_LINKS) == 250 == len(set(HUB_LINKS))
    assert len(expected_pages()) == math.ceil(250 / PAGE_SIZE) == 5


# -- every link once, in order, by following the RDF ----------------------------------------------------
def test_pages_cover_every_link_exactly_once_following_hydra_next(hub_server):
    base, doc = hub_server.url, f"{hub_server.url}/doc/{HUB}"
    pages = expected_pages()
    url, seen = doc + ".nt", []
    for number, expected in enumerate(pages, start=1):
        graph = parse(get(url), "nt")
        named, blank = links_in(graph, base, HUB)
        assert named == set(expected), f"page {number}"
        assert blank == 1, "the blank node's link is on every page"
        view = URIRef(doc if number == 1 else f"{doc}?incoming={number}")
        collection = URIRef(f"{doc}#incoming")
        assert (collection, HYDRA.totalItems, Literal(250)) in graph
        assert (collection, HYDRA.view, view) in graph
        assert graph.value(view, HYDRA.first) == URIRef(doc)
        assert graph.value(view, HYDRA.last) == URIRef(f"{doc}?incoming={len(pages)}")
        assert graph.value(view, HYDRA.previous) == (None if number == 1 else
                                                     URIRef(doc if number == 2 else f"{doc}?incoming={number - 1}"))
        following = graph.value(view, HYDRA.next)
        seen.append(named)
        if number < len(pages):
            assert following == URIRef(f"{doc}?incoming={number + 1}")
            url = f"{doc}.nt?incoming={number + 1}"
        else:
            assert following is None
    flat = [link for page in seen for link in page]
    assert len(flat) == len(set(flat)) == 250, "pages are disjoint"
    assert set(flat) == set(HUB_LINKS)


def test_each_page_holds_the_labels_of_its_own_links_only(hub_server):
    first, second = expected_pages()[:2]
    graph = parse(get(f"{hub_server.url}/doc/{HUB}.ttl?incoming=2"), "turtle")
    labelled = {str(s).removeprefix(f"{hub_server.url}/id/") for s in graph.subjects(PREF_LABEL, None)}
    assert {slug for _, slug in second} <= labelled
    assert not ({slug for _, slug in first} - {slug for _, slug in second}) & labelled


def test_every_format_of_a_page_says_the_same(hub_server):
    graphs = {ext: parse(get(f"{hub_server.url}/doc/{HUB}.{ext}?incoming=2"), fmt) for ext, fmt in RDF_FORMATS.items()}
    for ext, graph in graphs.items():
        assert isomorphic(graph, graphs["nt"]), ext
    negotiated = parse(get(f"{hub_server.url}/doc/{HUB}?incoming=2", Accept="text/turtle"), "turtle")
    assert isomorphic(negotiated, graphs["nt"])


# -- headers ---------------------------------------------------------------------------------------------
def test_link_headers_lead_to_the_other_pages_in_the_same_format(hub_server):
    doc, last = f"{hub_server.url}/doc/{HUB}", len(expected_pages())
    middle = get(f"{doc}.ttl?incoming=2")
    assert header_links(middle) == {"first": f"{doc}.ttl", "prev": f"{doc}.ttl", "next": f"{doc}.ttl?incoming=3",
                                    "last": f"{doc}.ttl?incoming={last}"}
    assert middle.headers["Content-Location"] == f"{doc}.ttl?incoming=2"
    alternates = {link["url"] for link in requests.utils.parse_header_links(middle.headers["Link"])
                  if link.get("rel") == "alternate"}
    assert f"{doc}.jsonld?incoming=2" in alternates and f"{doc}.html?incoming=2" in alternates
    assert "Accept" in middle.headers["Vary"]
    negotiated = get(f"{doc}?incoming=2", Accept="application/n-triples")
    assert header_links(negotiated)["next"] == f"{doc}?incoming=3"
    assert negotiated.headers["Content-Location"] == f"{doc}.nt?incoming=2"
    first = header_links(get(f"{doc}.nt"))
    assert "prev" not in first and first["next"] == f"{doc}.nt?incoming=2"
    final = header_links(get(f"{doc}.nt?incoming={last}"))
    assert "next" not in final and final["prev"] == f"{doc}.nt?incoming={last - 1}"


def test_each_page_has_its_own_etag(hub_server):
    doc = f"{hub_server.url}/doc/{HUB}.ttl"
    one, two = get(doc), get(doc + "?incoming=2")
    assert one.headers["ETag"] != two.headers["ETag"]
    assert get(doc + "?incoming=1").headers["ETag"] == one.headers["ETag"], "page 1 is the document itself"
    assert get(doc + "?incoming=2", **{"If-None-Match": two.headers["ETag"]}).status_code == 304
    assert get(doc + "?incoming=3", **{"If-None-Match": two.headers["ETag"]}).status_code == 200


# -- the page --------------------------------------------------------------------------------------------
def test_the_html_page_shows_the_count_and_links_to_the_neighbouring_pages(hub_server):
    doc = f"{hub_server.url}/doc/{HUB}"
    html = get(doc + "?incoming=2", Accept="text/html").text
    assert f"250 incoming links, showing {PAGE_SIZE + 1}–{2 * PAGE_SIZE}" in html
    assert re.search(rf'<a href="{re.escape(doc)}" rel="prev">', html)
    assert re.search(rf'<a href="{re.escape(doc)}\?incoming=3" rel="next">', html)
    for _, slug in expected_pages()[1]:
        assert f">Label of {slug}<" in html
    first = get(doc + ".html").text
    assert f"250 incoming links, showing 1–{PAGE_SIZE}" in first and 'rel="prev"' not in first


# -- a description that fits on one page -----------------------------------------------------------------
def test_a_description_with_few_links_is_whole_and_says_nothing_of_pages(hub_server):
    doc = f"{hub_server.url}/doc/{QUIET}"
    response = get(doc + ".ttl")
    graph = parse(response, "turtle")
    assert links_in(graph, hub_server.url, QUIET)[0] == set(QUIET_LINKS)
    assert not set(graph.triples((None, HYDRA.totalItems, None)))
    assert header_links(response) == {}
    assert "incoming links, showing" not in get(doc, Accept="text/html").text
    assert get(doc + ".ttl?incoming=1").content == response.content
    assert get(doc + ".ttl?incoming=2").status_code == 404


# -- bad and missing pages -------------------------------------------------------------------------------
@pytest.mark.parametrize("ext, media", [("jsonld", "application/problem+json"), ("html", "text/html"),
                                        ("ttl", "text/plain")])
def test_a_page_past_the_last_is_404_in_the_format_asked_for(hub_server, ext, media):
    last = len(expected_pages())
    response = get(f"{hub_server.url}/doc/{HUB}.{ext}?incoming={last + 1}")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith(media)
    assert f"{hub_server.url}/doc/{HUB}.{ext}?incoming={last}" in response.text, "names the last page"


HOSTILE = {
    "negative": "incoming=-1",
    "exponent": "incoming=1e9",
    "hexadecimal": "incoming=0x10",
    "fullwidth digit": "incoming=%EF%BC%91",
    "arabic-indic digit": "incoming=%D9%A2",
    "empty": "incoming=",
    "bare name": "incoming",
    "zero": "incoming=0",
    "leading zero": "incoming=02",
    "plus sign": "incoming=%2B2",
    "space": "incoming=%202",
    "decimal": "incoming=2.0",
    "nul byte": "incoming=2%00",
    "huge": "incoming=99999999999999999999",
    "repeated": "incoming=1&incoming=2",
    "repeated, same value": "incoming=2&incoming=2",
}


@pytest.mark.parametrize("query", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("ext, media", [("jsonld", "application/problem+json"), ("html", "text/html"),
                                        ("nt", "text/plain")])
def test_a_page_number_that_is_not_one_is_400_in_the_format_asked_for(hub_server, query, ext, media):
    response = get(f"{hub_server.url}/doc/{HUB}.{ext}?{query}")
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"].startswith(media)
    assert "incoming" in response.text
    if ext == "jsonld":
        assert response.json()["status"] == 400


def test_a_percent_encoded_ascii_digit_is_that_digit(hub_server):
    doc = f"{hub_server.url}/doc/{HUB}.nt"
    assert get(doc + "?incoming=%32").content == get(doc + "?incoming=2").content


# -- the command line ------------------------------------------------------------------------------------
def test_kg_describe_prints_the_page_asked_for(hub_server):
    run = [sys.executable, "-m", "cli", "describe", HUB, "--format", "ntriples", "--data-dir", str(hub_server.data_dir)]
    env = {**os.environ, "KG_INCOMING_PAGE_SIZE": str(PAGE_SIZE)}  # the server's setting, read by the CLI too
    done = subprocess.run([*run, "--incoming", "2"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    graph = Graph().parse(data=done.stdout, format="nt")
    canonical = DEFAULT_NAMESPACE.rstrip("/")
    assert links_in(graph, canonical, HUB)[0] == set(expected_pages()[1])
    assert (URIRef(f"{DEFAULT_NAMESPACE}doc/{HUB}#incoming"), HYDRA.totalItems, Literal(250)) in graph
    assert f"250 incoming links, showing {PAGE_SIZE + 1}-{2 * PAGE_SIZE}" in done.stderr.decode()
    past = subprocess.run([*run, "--incoming", str(len(expected_pages()) + 1)], cwd=ROOT, env=env,
                          capture_output=True, timeout=120)
    assert past.returncode != 0 and "does not exist" in past.stderr.decode()
