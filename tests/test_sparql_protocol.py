"""/sparql speaks the W3C SPARQL 1.1 Protocol: every transport, the dataset parameters, errors, CORS,
the Service Description, the result cache and the query editor, over real HTTP."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
JSON = "application/sparql-results+json"


def _count(response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def _graph_counts(server, http) -> dict[str, int]:
    r = http.get(server.url + "/sparql", params={
        "query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"},
        headers={"Accept": JSON})
    assert r.status_code == 200
    return {b["g"]["value"]: int(b["n"]["value"]) for b in r.json()["results"]["bindings"]}


def test_get_post_form_and_post_direct_agree(server, http, select):
    query = "SELECT ?t ?acronym WHERE { ?t a out:OutsourcingType ; skos:altLabel ?acronym } ORDER BY ?acronym"
    expected = [(row["t"], row["acronym"]) for row in select(query)]
    assert len(expected) >= 2
    answers = [
        http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON}),
        http.post(server.url + "/sparql", data={"query": query}, headers={"Accept": JSON}),
        http.post(server.url + "/sparql", data=query.encode(),
                  headers={"Accept": JSON, "Content-Type": "application/sparql-query"}),
    ]
    results = []
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith(JSON)
        results.append([(b["t"]["value"], b["acronym"]["value"]) for b in r.json()["results"]["bindings"]])
    assert results[0] == results[1] == results[2]
    # The shipped types are there (tests elsewhere may have added more to this server).
    assert set(expected) <= set(results[0])


def test_default_graph_is_the_union_of_named_graphs(server, http):
    counts = _graph_counts(server, http)
    assert len(counts) >= 2
    union = _count(http.get(server.url + "/sparql", params={"query": COUNT}, headers={"Accept": JSON}))
    # Distinct triples of the union can only be fewer than the sum when graphs share triples.
    assert max(counts.values()) <= union <= sum(counts.values())


def test_default_graph_uri_and_named_graph_uri_are_honoured(server, http):
    counts = _graph_counts(server, http)
    graph, size = min(counts.items(), key=lambda kv: kv[1])
    r = http.get(server.url + "/sparql", params={"query": COUNT, "default-graph-uri": graph},
                 headers={"Accept": JSON})
    assert _count(r) == size
    # POST form carries them in the body; direct POST in the URL.
    r = http.post(server.url + "/sparql", data={"query": COUNT, "default-graph-uri": graph},
                  headers={"Accept": JSON})
    assert _count(r) == size
    r = http.post(server.url + "/sparql", params={"default-graph-uri": graph}, data=COUNT,
                  headers={"Accept": JSON, "Content-Type": "application/sparql-query"})
    assert _count(r) == size
    names = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    other = next(g for g in counts if g != graph)
    r = http.get(server.url + "/sparql", params={"query": names, "named-graph-uri": [graph, other]},
                 headers={"Accept": JSON})
    assert r.status_code == 200
    assert {b["g"]["value"] for b in r.json()["results"]["bindings"]} == {graph, other}


def test_from_clause_selects_the_default_graph(server, http):
    counts = _graph_counts(server, http)
    graph, size = max(counts.items(), key=lambda kv: kv[1])
    query = f"SELECT (COUNT(*) AS ?n) FROM <{graph}> WHERE {{ ?s ?p ?o }}"
    assert _count(http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON})) == size
    # The protocol's default-graph-uri overrides FROM (SPARQL 1.1 Protocol 2.1.4).
    small, small_size = min(counts.items(), key=lambda kv: kv[1])
    r = http.get(server.url + "/sparql", params={"query": query, "default-graph-uri": small},
                 headers={"Accept": JSON})
    assert _count(r) == small_size


@pytest.mark.parametrize("query, needle", [
    ("SELECT * WHERE { ?s ?p }", "1:"),
    ("SELECT * WHERE {\n  ?s ?p ?o .\n  FILTER( }", "3:"),
])
def test_malformed_query_is_400_with_line_and_column(server, http, query, needle):
    r = http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON})
    assert r.status_code == 400
    problem = r.json()
    assert problem["status"] == 400 and needle in problem["detail"]
    assert "Traceback" not in r.text


def test_update_sent_as_query_is_400(server, http):
    update = "INSERT DATA { <http://example.org/a> <http://example.org/b> 'c' }"
    for r in (http.get(server.url + "/sparql", params={"query": update}),
              http.post(server.url + "/sparql", data={"query": update})):
        assert r.status_code == 400
        assert "update" in r.text.lower()


def test_two_query_parameters_are_400(server, http):
    r = http.get(server.url + "/sparql?query=ASK%7B%7D&query=ASK%7B%7D")
    assert r.status_code == 400 and "2 queries" in r.text
    r = http.post(server.url + "/sparql?query=ASK%7B%7D", data="ASK {}",
                  headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 400


def test_query_and_update_together_are_400(server, http):
    r = http.post(server.url + "/sparql", data={"query": "ASK {}", "update": "CLEAR SILENT GRAPH <urn:x>"})
    assert r.status_code == 400


def test_oversized_body_is_413(server, http):
    padding = "#" + "x" * 1_100_000 + "\nASK {}"
    r = http.post(server.url + "/sparql", data=padding.encode(),
                  headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 413
    r = http.post(server.url + "/sparql", data={"query": padding})
    assert r.status_code == 413


def test_unknown_body_type_is_415(server, http):
    r = http.post(server.url + "/sparql", data=b"ASK {}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert "application/sparql-query" in r.text


def test_post_without_query_is_400(server, http):
    r = http.post(server.url + "/sparql", data={"nothing": "here"})
    assert r.status_code == 400


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("SELECTASKWHERE{}()?<>\"'#:;.,*$ \n\\aoxpu01")),
                    max_size=80))
def test_arbitrary_text_never_gets_500(server, http, text):
    for r in (http.get(server.url + "/sparql", params={"query": text, "timeout": "2"}),
              http.post(server.url + "/sparql", data=text.encode(),
                        headers={"Content-Type": "application/sparql-query"})):
        assert r.status_code in (200, 400), (r.status_code, r.text)


def test_cors_allows_any_origin_without_credentials(server, http):
    r = http.get(server.url + "/sparql", params={"query": "ASK {}"}, headers={"Origin": "https://example.org"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    pre = http.options(server.url + "/sparql", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert pre.status_code in (200, 204)
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("accept", ["text/turtle", "application/ld+json", "application/rdf+xml", None])
def test_service_description(server, http, accept):
    headers = {"Accept": accept} if accept else {}
    r = http.get(server.url + "/sparql", headers=headers)
    assert r.status_code == 200
    media = r.headers["Content-Type"].split(";")[0]
    assert media == (accept or "text/turtle")
    g = Graph().parse(data=r.text, format={"text/turtle": "turtle", "application/ld+json": "json-ld",
                                            "application/rdf+xml": "xml"}[media])
    service = URIRef(server.url + "/sparql")
    assert (service, RDF.type, SD.Service) in g
    assert (service, SD.endpoint, service) in g
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in g
    assert (service, SD.feature, SD.UnionDefaultGraph) in g
    formats = set(g.objects(service, SD.resultFormat))
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
    assert URIRef("http://www.w3.org/ns/formats/Turtle") in formats
    counts = _graph_counts(server, http)
    described = {}
    for named in g.objects(None, SD.namedGraph):
        name = g.value(named, SD.name)
        described[str(name)] = int(g.value(g.value(named, SD.graph), VOID.triples))
    assert described == counts


def test_result_cache_answers_repeated_requests_from_memory(server, http):
    query = "SELECT ?s WHERE { ?s a out:OutsourcingType } ORDER BY ?s # cache probe"
    first = http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON})
    again = http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON})
    assert first.status_code == again.status_code == 200
    assert again.headers["X-KG-Cache"] == "hit"
    assert again.content == first.content
    other = http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert other.headers["X-KG-Cache"] == "miss"


def test_browser_gets_the_query_editor(server, http, repo_root):
    r = http.get(server.url + "/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "/static/vendor/yasgui.min.js" in r.text and "/static/sparql.js" in r.text
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    for asset in ("/static/vendor/yasgui.min.js", "/static/vendor/yasgui.min.css", "/static/sparql.js"):
        assert http.get(server.url + asset).status_code == 200, asset
    start = r.text.index('id="kg-sparql-config">') + len('id="kg-sparql-config">')
    config = json.loads(r.text[start:r.text.index("</script>", start)])
    shipped = sorted((repo_root / "queries").glob("*.rq"))
    assert len(config["queries"]) == len(shipped) >= 1
    for q in config["queries"]:
        assert q["name"] and q["text"].strip()
    # A browser following a link to a query gets the editor with that query in it.
    r = http.get(server.url + "/sparql", params={"query": "ASK { ?s ?p 'probe' }"},
                 headers={"Accept": "text/html"})
    assert r.status_code == 200 and "ASK { ?s ?p" in r.text


@pytest.mark.browser
def test_editor_runs_a_query_in_a_real_browser_without_outside_calls(server):
    import shutil

    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if not shutil.which("chromedriver"):
        pytest.skip("chromedriver is not installed")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options)
    try:
        driver.get(server.url + "/sparql")
        wait = WebDriverWait(driver, 20)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".yasqe .CodeMirror"))
        driver.execute_script(
            "window.kgYasgui.getTab().setQuery('SELECT ?t WHERE { ?t a out:OutsourcingType }');"
            "window.kgYasgui.getTab().query();")
        wait.until(lambda d: "outsourcing-kg/id/" in d.find_element(By.CSS_SELECTOR, ".yasr").text)
        endpoint = driver.execute_script("return window.kgYasgui.getTab().getEndpoint();")
        assert endpoint == server.url + "/sparql"
        urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
        assert urls and all(u.startswith(server.url) or u.startswith("data:") for u in urls), urls
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    finally:
        driver.quit()
