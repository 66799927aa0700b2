"""The two ways a gunicorn worker serves requests (``KG_WORKER_CLASS``): gevent, the default, and threads.

Under gevent every request of the process shares one thread, so anything that waits without yielding
(a pipe read before its answer is there, a socket left blocking) would hold up every other request.
These tests run the real server with each class and check what a user relies on: other requests are
answered while a query runs out its time limit, the runaway is stopped with the same answer, and a
write is in the next read.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.server import ADMIN_TOKEN, ServerProcess

TIME_LIMIT = 4.0
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture(scope="module", params=["gevent", "gthread"])
def served(request, tmp_path_factory) -> ServerProcess:
    env = {"KG_QUERY_TIMEOUT": str(TIME_LIMIT), "KG_CACHE": "off", "KG_VALIDATE": "0"}
    if request.param != "gevent":  # the default is left unset: what a user gets without choosing
        env["KG_WORKER_CLASS"] = request.param
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp(f"worker-{request.param}") / "data", env=env).start()
    proc.worker_class = request.param
    yield proc
    proc.stop()


def test_the_worker_is_of_the_configured_class(served):
    # gunicorn names the class it booted; nothing else in the service says it.
    assert f"Using worker: {served.worker_class}" in Path(served.log_path).read_text()


def test_other_requests_are_answered_while_a_query_runs_out_its_time_limit(served):
    outcome: dict = {}

    def runaway() -> None:
        started = time.monotonic()
        r = requests.get(served.url + "/sparql", params={"query": RUNAWAY}, timeout=60)
        outcome.update(status=r.status_code, body=r.text, elapsed=time.monotonic() - started)

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)  # the runaway is in the evaluator now
    answered: list[float] = []
    for i in range(20):
        # Each one different, each one evaluated (the cache is off): a query, a lookup, a page, health.
        path, params = [("/sparql", {"query": f"ASK {{ ?s ?p {i} }}"}), ("/api/types", {"limit": str(i + 1)}),
                        ("/doc/kpo.ttl", {}), ("/healthz", {})][i % 4]
        started = time.monotonic()
        r = requests.get(served.url + path, params=params, timeout=30)
        answered.append(time.monotonic() - started)
        assert r.status_code == 200, (path, r.text[:300])
    assert thread.is_alive(), "the runaway ended before the other requests were asked"
    assert max(answered) < 1.5, f"a request waited on the runaway: {max(answered):.2f} s"
    thread.join()
    assert outcome["status"] == 503 and "time limit" in outcome["body"], outcome
    assert TIME_LIMIT <= outcome["elapsed"] < TIME_LIMIT + 3


def test_a_write_is_in_the_next_read(served):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    graph = f"urn:test:worker-{served.worker_class}"
    for n in range(3):
        r = requests.post(served.url + "/sparql", data=f'INSERT DATA {{ GRAPH <{graph}> {{ <urn:s> <urn:p> {n} }} }}',
                          headers={**auth, "Content-Type": "application/sparql-update"}, timeout=30)
        assert r.status_code == 204, r.text
        count = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        r = requests.get(served.url + "/sparql", params={"query": count},
                         headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == n + 1


def test_the_largest_updates_the_bounds_accept_leave_the_worker_standing(served):
    # Updates are parsed by Oxigraph in the HTTP worker: under gevent on its main thread's stack, with
    # threads on request threads' own. The pre-check's bounds must keep the deepest one it lets through
    # far from the parser's limit there too (the evaluators' side: tests/test_precheck.py).
    from kg.query.precheck import Bounds
    from tests.unit.test_precheck import CHAINS, NESTINGS

    bounds = Bounds()
    texts = [NESTINGS[name](bounds.max_depth - 2) for name in sorted(NESTINGS)]
    texts += [CHAINS[name](bounds.max_operators - 10) for name in sorted(CHAINS) if name != "paths"]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/sparql-update"}
    for text in texts:
        update = text.replace("SELECT * WHERE ", "DELETE { <urn:test:s> <urn:test:p> <urn:test:o> } WHERE ", 1)
        r = requests.post(served.url + "/sparql", data=update, headers=headers, timeout=60)
        assert r.status_code in (204, 400), (update[:80], r.status_code, r.text[:300])
    assert requests.get(served.url + "/healthz", timeout=10).status_code == 200
    # gunicorn starts a worker again after a crash: one boot means none happened.
    assert Path(served.log_path).read_text().count("Booting worker") == 1
