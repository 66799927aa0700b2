"""Every query runs under a time limit and a row cap: a runaway query is stopped (503) while other
requests keep being answered; big results are cut at the cap with a clear signal; memory stays
bounded; the result cache can be turned off."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.support.remote import OxigraphServer, stores_under_test
from tests.support.server import ServerProcess

JSON = "application/sparql-results+json"
# A four-way cross product of the whole graph under an aggregate: it cannot stream, it never ends.
EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
CROSS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """A server configured with a short time limit, a small row cap and no cache."""
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    proc = ServerProcess(data_dir=data_dir, env={
        "KG_QUERY_TIMEOUT": "1.5", "KG_MAX_ROWS": "7", "KG_CACHE": "off", "KG_VALIDATE": "0"}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module", params=[s for s in stores_under_test() if s != "virtuoso"])
def runaway_server(request, tmp_path_factory):
    """A server of its own for queries that never end; over the remote store, with an endpoint of its
    own, stopped with the module.

    Oxigraph server goes on evaluating an aggregate after its client has left, and its ``--timeout-s``
    does not stop it (docs/remote-stores.md, "Timeouts"): sent to the endpoint the whole session
    shares, the two runaways below held one of the machine's two cores until the end of the run.
    """
    data_dir = tmp_path_factory.mktemp(f"runaway-{request.param}") / "data"
    endpoint = None
    env = {}
    if request.param == "remote":
        endpoint = OxigraphServer().start()
        env = {"KG_STORE": "remote", **endpoint.env}
    proc = ServerProcess(data_dir=data_dir, env=env)
    try:
        yield proc.start()
    finally:
        proc.stop()
        if endpoint is not None:
            endpoint.stop()


def test_explosive_query_is_stopped_while_a_simple_one_is_answered(runaway_server):
    server = runaway_server
    outcome: dict = {}

    def explode():
        started = time.monotonic()
        outcome["response"] = requests.get(server.url + "/sparql",
                                           params={"query": EXPLOSIVE, "timeout": "1.5"},
                                           headers={"Accept": JSON}, timeout=30)
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=explode)
    thread.start()
    time.sleep(0.3)  # the explosive query is now evaluating
    started = time.monotonic()
    simple = requests.get(server.url + "/sparql",
                          params={"query": "SELECT ?t WHERE { ?t a out:OutsourcingType }"},
                          headers={"Accept": JSON}, timeout=30)
    simple_elapsed = time.monotonic() - started
    assert thread.is_alive(), "the simple query was answered while the explosive one still ran"
    thread.join()
    assert simple.status_code == 200 and simple.json()["results"]["bindings"]
    assert simple_elapsed < 1.0
    r = outcome["response"]
    assert r.status_code == 503
    assert "time limit" in r.json()["detail"]
    assert 1.5 <= outcome["elapsed"] < 3.5
    # The stopped worker was replaced: the server keeps answering, and stops the next runaway too.
    after = requests.get(server.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=30)
    assert after.status_code == 200
    again = requests.get(server.url + "/sparql", params={"query": EXPLOSIVE, "timeout": "0.5"}, timeout=30)
    assert again.status_code == 503


def test_request_may_lower_the_time_limit_never_raise_it(server, http):
    def limit(value):
        r = http.get(server.url + "/sparql", params={"query": "ASK {}", "timeout": value})
        assert r.status_code == 200
        return float(r.headers["X-KG-Time-Limit"])

    configured = limit("")
    assert configured == 10  # the default of Config.query_timeout
    assert limit("2.5") == 2.5
    assert limit("3600") == configured


@pytest.mark.parametrize("value", ["1e-9", "0.000001", "0.01", "1e-300"])
def test_a_tiny_timeout_is_raised_to_the_floor_and_kills_nothing(server, http, value):
    """timeout=1e-9 used to stop the whole in-memory engine, and every other client's query with it."""
    def kills() -> int:
        engine = http.get(server.url + "/healthz").json().get("query_engine") or {}
        return engine.get("stopped_at_deadline", 0)

    before = kills()
    r = http.get(server.url + "/sparql", params={"query": "ASK { ?s ?p ?o }", "timeout": value},
                 headers={"Accept": JSON})
    assert r.status_code == 200, r.text
    assert float(r.headers["X-KG-Time-Limit"]) == 0.5  # KG_MIN_TIMEOUT's default
    assert r.json()["boolean"] is True
    assert kills() == before


@pytest.mark.parametrize("accept", [JSON, "application/sparql-results+xml", "text/csv", "text/tab-separated-values"])
def test_answers_are_cut_at_the_byte_cap_with_a_signal(bytes_server, http, accept):
    # Each row carries a 4 KB literal made by the query itself: rows are few, bytes are many.
    query = ("SELECT ?s ?big WHERE { ?s ?p ?o BIND(CONCAT(" + ", ".join(["STR(?o)"] * 40) + ", "
             + ", ".join(['"' + "x" * 100 + '"'] * 40) + ") AS ?big) } LIMIT 200")
    r = http.get(bytes_server.url + "/sparql", params={"query": query}, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert len(r.content) <= 20_000
    assert r.headers["X-KG-Truncated"] == "true"
    small = http.get(bytes_server.url + "/sparql", params={"query": "SELECT ?t WHERE { ?t a out:OutsourcingType }"},
                     headers={"Accept": accept})
    assert small.headers["X-KG-Truncated"] == "false"


def test_graph_answers_are_cut_at_the_byte_cap(bytes_server, http):
    r = http.get(bytes_server.url + "/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                 headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and len(r.content) <= 20_000
    assert r.headers["X-KG-Truncated"] == "true"
    import rdflib

    assert len(rdflib.Graph().parse(data=r.content, format="turtle")) > 0  # what was sent still parses


@pytest.fixture(scope="module")
def bytes_server(tmp_path_factory):
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("bytes") / "data",
                         env={"KG_MAX_RESULT_BYTES": "20000", "KG_CACHE": "off", "KG_VALIDATE": "0"}).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan"])
def test_bad_timeout_is_400(server, http, value):
    r = http.get(server.url + "/sparql", params={"query": "ASK {}", "timeout": value})
    assert r.status_code == 400 and "timeout" in r.text


def test_row_cap_cuts_huge_results_with_a_signal(server, http, select):
    triples = int(select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"])
    assert triples * triples > 10_000, "the cross product exceeds the default cap"
    started = time.monotonic()
    r = http.get(server.url + "/sparql", params={"query": CROSS}, headers={"Accept": JSON})
    assert r.status_code == 200
    assert time.monotonic() - started < 5, "rows are read up to the cap, not all of them"
    cap = int(r.headers["X-KG-Row-Cap"])
    assert r.headers["X-KG-Truncated"] == "true"
    assert len(r.json()["results"]["bindings"]) == cap == 10_000
    small = http.get(server.url + "/sparql", params={"query": "SELECT * WHERE { ?s a out:OutsourcingType }"})
    assert small.headers["X-KG-Truncated"] == "false"


def test_configured_limits(small_server, http):
    url = small_server.url + "/sparql"
    r = http.get(url, params={"query": CROSS}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["X-KG-Truncated"] == "true"
    assert len(r.text.strip().splitlines()) == 1 + 7
    r = http.get(url, params={"query": "CONSTRUCT { ?a <urn:x:p> ?d } WHERE { ?a ?b ?c . ?d ?e ?f }"},
                 headers={"Accept": "application/n-triples"})
    assert r.status_code == 200 and r.headers["X-KG-Truncated"] == "true"
    assert len(r.text.strip().splitlines()) <= 7
    started = time.monotonic()
    r = http.get(url, params={"query": EXPLOSIVE})
    assert r.status_code == 503 and time.monotonic() - started < 3.5
    assert http.get(url, params={"query": "ASK {}", "timeout": "99"}).headers["X-KG-Time-Limit"] == "1.5"


@pytest.fixture(scope="module")
def hungry_server(tmp_path_factory):
    """A small memory allowance per query worker and a time limit far beyond what reaching it takes,
    so that the memory limit is what stops a hungry query however slow the machine is that day (with
    1.5 s, a loaded CI machine once reached the time limit first)."""
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("hungry") / "data", env={
        "KG_QUERY_TIMEOUT": "60", "KG_CACHE": "off", "KG_VALIDATE": "0",
        "KG_WORKER_MEMORY": str(250 * 1024 * 1024)}).start()
    yield proc
    proc.stop()


def test_memory_hungry_query_is_stopped_and_the_server_lives_on(hungry_server, http):
    # ORDER BY must hold every row: a three-way cross product outgrows the worker's memory allowance.
    query = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?i"
    r = http.get(hungry_server.url + "/sparql", params={"query": query}, headers={"Accept": JSON})
    assert r.status_code == 503
    assert "memory" in r.json()["detail"], r.text
    assert http.get(hungry_server.url + "/sparql", params={"query": "ASK {}"}).status_code == 200


def test_cache_off_answers_every_request_afresh(small_server, http):
    for _ in range(2):
        r = http.get(small_server.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"})
        assert r.status_code == 200 and r.headers.get("X-KG-Cache") != "hit"
