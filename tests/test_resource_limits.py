"""Resource limits hold on every route that runs SPARQL, not only on /sparql: named queries answer
503 at the time limit and stop at the row cap; lookups page within a fixed maximum; the server keeps
answering other clients while a query runs out its limit; and memory stays bounded when a query asks
for a huge result. (That concurrent readers never see half of a type is tests/test_soak.py.)

/sparql's own limits are tested in tests/test_sparql_limits.py; this module covers the other routes
and the server as a whole (its RSS, read from /proc, across its process group).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import requests

from kg.config import Config
from tests.support.server import ROOT, ServerProcess

JSON = "application/sparql-results+json"
TIME_LIMIT = 1.5
ROW_CAP = 5

# A four-way cross product under an aggregate: it cannot stream, so only the time limit stops it.
RUNAWAY = """#+ name: runaway
#+ summary: A query that never ends (a test of the time limit)
#+ params:
#+   - name: type
#+     type: iri
#+     class: out:OutsourcingType
#+     default: kpo
#+     description: Any type.
SELECT ?type (COUNT(*) AS ?n) WHERE {
  ?type a out:OutsourcingType . ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l
}
GROUP BY ?type
"""

RUNAWAY_SPARQL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"

# A cross product that streams: millions of rows if nothing stopped reading.
EVERYTHING = """#+ name: everything
#+ summary: Every pair of triples (a test of the row cap)
SELECT ?a ?b ?c ?d WHERE { ?a ?b ?c . ?d ?e ?f }
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> ServerProcess:
    """A server with a short time limit, a small row cap, no cache, and two extra named queries."""
    base = tmp_path_factory.mktemp("limits-routes")
    queries_dir = base / "queries"
    shutil.copytree(ROOT / "queries", queries_dir)
    (queries_dir / "runaway.rq").write_text(RUNAWAY)
    (queries_dir / "everything.rq").write_text(EVERYTHING)
    proc = ServerProcess(data_dir=base / "data", env={
        "KG_QUERY_TIMEOUT": str(TIME_LIMIT), "KG_MAX_ROWS": str(ROW_CAP), "KG_CACHE": "off",
        "KG_VALIDATE": "0", "KG_QUERIES_DIR": str(queries_dir)}).start()
    yield proc
    proc.stop()


def test_named_query_is_stopped_at_the_time_limit_while_others_are_served(limited):
    outcome: dict = {}

    def runaway() -> None:
        started = time.monotonic()
        outcome["r"] = requests.get(limited.url + "/api/queries/runaway", timeout=60)
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)  # the runaway is evaluating now
    # Other clients, on every kind of route, are answered promptly meanwhile.
    for path in ("/api/types", "/api/skills", "/api/queries/skills-of-type", "/doc/kpo.ttl", "/healthz",
                 "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D"):
        started = time.monotonic()
        r = requests.get(limited.url + path, timeout=30)
        assert r.status_code == 200, (path, r.text[:300])
        assert time.monotonic() - started < 1.0, f"{path} waited for the runaway query"
    assert thread.is_alive(), "the runaway query ended before the others were asked"
    thread.join()
    r = outcome["r"]
    assert r.status_code == 503, r.text[:500]
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "time limit" in r.json()["detail"]
    assert TIME_LIMIT <= outcome["elapsed"] < TIME_LIMIT + 2.5
    # The server lives on and the next named query is answered.
    assert requests.get(limited.url + "/api/queries/skills-of-type", timeout=30).status_code == 200


@pytest.fixture(scope="module")
def defaults(tmp_path_factory) -> ServerProcess:
    """A server with the default threads, evaluator and cache, and a short time limit."""
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("limits-defaults") / "data", env={
        "KG_QUERY_TIMEOUT": "5", "KG_VALIDATE": "0"}).start()
    yield proc
    proc.stop()


def test_cached_pages_are_answered_while_every_evaluator_thread_runs_out_its_limit(defaults):
    # As many runaway queries as the evaluator has threads (by default) hold them all for the time
    # limit; the request threads beyond them still answer what needs no evaluation.
    busy = Config.from_env(environ={}).query_threads
    page = defaults.url + "/doc/kpo.ttl"
    requests.get(page, timeout=30)
    assert requests.get(page, timeout=30).headers.get("X-KG-Cache") == "hit"
    answers: list = []
    runaways = [threading.Thread(target=lambda i=i: answers.append(requests.get(
        defaults.url + "/sparql", params={"query": f"# {i}\n" + RUNAWAY_SPARQL}, timeout=60)))
        for i in range(busy)]
    for t in runaways:
        t.start()
    time.sleep(1.0)  # every runaway holds an evaluator thread now
    r = requests.get(page, timeout=30)
    assert r.status_code == 200 and r.headers.get("X-KG-Cache") == "hit"
    assert requests.get(defaults.url + "/healthz", timeout=30).status_code == 200
    assert all(t.is_alive() for t in runaways), "the page waited for the runaway queries"
    for t in runaways:
        t.join()
    assert [a.status_code for a in answers] == [503] * busy


@pytest.mark.parametrize("accept, count", [
    ("application/sparql-results+json", lambda r: len(r.json()["results"]["bindings"])),
    ("text/csv", lambda r: len(r.text.strip().splitlines()) - 1),
    ("text/tab-separated-values", lambda r: len(r.text.strip().splitlines()) - 1),
])
def test_named_query_stops_at_the_row_cap_with_a_signal(limited, accept, count):
    started = time.monotonic()
    r = requests.get(limited.url + "/api/queries/everything", headers={"Accept": accept}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert time.monotonic() - started < TIME_LIMIT, "rows are read up to the cap, not all of them"
    assert count(r) == ROW_CAP
    assert r.headers["X-KG-Truncated"] not in ("", "false")
    small = requests.get(limited.url + "/api/queries/extensions-of", timeout=30)
    assert small.status_code == 200 and small.headers.get("X-KG-Truncated", "false") == "false"


@pytest.mark.parametrize("path", ["/api/types", "/api/skills", "/api/activities", "/api/search?q=process"])
def test_lookups_page_within_a_fixed_maximum(server, http, path):
    sep = "&" if "?" in path else "?"
    r = http.get(server.url + path + sep + "limit=100000", headers={"Accept": "application/json"})
    assert r.status_code == 400 and "limit" in r.text
    r = http.get(server.url + path + sep + "limit=2")
    assert r.status_code == 200 and len(r.json()["items"]) <= 2


def _group_rss_kib(leader: int) -> int:
    """Resident memory of every process in the server's process group (gunicorn, its worker, the
    query workers), from /proc/<pid>/status."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
            if pgid != leader:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def test_memory_stays_bounded_when_queries_ask_for_huge_results(server, http, select, request):
    # Virtuoso builds a CONSTRUCT's whole graph before it sends a byte (its ``maxrows`` does not
    # apply there): the time limit ends it, or, on a machine fast enough to build it in time, the
    # answer is cut at the cap as it arrives. Either way the server's memory stays bounded.
    whole_constructs = request.node.callspec.params["server"] == "virtuoso"
    triples = int(select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"])
    huge = [
        # triples³ rows / triples² triples if evaluated whole: far beyond memory; streamed to the cap instead.
        ("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", JSON),
        ("CONSTRUCT { ?a <urn:x:p> ?d } WHERE { ?a ?b ?c . ?d ?e ?f }", "application/ld+json"),
    ]
    assert triples ** 3 > 1_000_000
    leader = server.proc.pid
    http.get(server.url + "/sparql", params={"query": "ASK {}"})
    before = _group_rss_kib(leader)
    assert before > 0
    for round_ in range(2):
        for query, accept in huge:
            # A distinct comment per round: each request is evaluated afresh, not served from the cache.
            if whole_constructs and query.startswith("CONSTRUCT"):
                if round_ == 0:
                    # A limit of its own, shorter than the server's: how long it runs is not what is tested.
                    r = http.get(server.url + "/sparql", params={"query": query, "timeout": "3"},
                                 headers={"Accept": accept}, timeout=60)
                    if r.status_code == 503:
                        assert r.json()["type"].endswith("/time-limit")
                    else:
                        assert r.status_code == 200 and r.headers["X-KG-Truncated"] == "true", r.text[:300]
                        assert len(r.content) < 20_000_000
                continue
            r = http.get(server.url + "/sparql", params={"query": f"# round {round_}\n{query}"},
                         headers={"Accept": accept}, timeout=60)
            assert r.status_code == 200, r.text[:300]
            assert r.headers["X-KG-Truncated"] == "true"
            assert len(r.content) < 20_000_000
    grown_mib = (_group_rss_kib(leader) - before) / 1024
    assert grown_mib < 150, f"the server grew by {grown_mib:.0f} MiB answering capped results"
