"""Faults the service survives: SIGKILL in the middle of a write, a remote store that goes away and
comes back, and broken files in ontology/extensions/.

- A write is one store transaction (the data and the version bump together): after a SIGKILL at any
  moment and a restart, the store opens and holds all of the write or none of it.
- A remote store that stops answering gives 503 with a message saying so on every route (never the
  store's address: that goes to the server log), /healthz reports it, and the service recovers by
  itself when the store returns (no restart).
- An evaluator that dies under a read (killed from outside) gives 503 "Query stopped" on every route,
  the same as on ``/sparql``; when it was the in-memory copy, the read is answered from the disk.
- An unreadable or corrupt extension file does not stop the service: it starts, serves the rest,
  and names the file on /healthz.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from bench.soak import graph_count_query, type_turtle
from kg.config import DEFAULT_NAMESPACE
from tests.support.server import ADMIN_TOKEN, ROOT, ServerProcess

RESULTS = "application/sparql-results+json"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BULK_GRAPH = "urn:x-test:bulk"
BULK_TRIPLES = 12_000


def count(proc: ServerProcess, query: str) -> int:
    r = requests.get(proc.url + "/sparql", params={"query": query}, headers={"Accept": RESULTS}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def bulk_update() -> bytes:
    rows = "\n".join(f"<urn:x:s{i}> <urn:x:p> {i} ." for i in range(BULK_TRIPLES))
    return f"INSERT DATA {{ GRAPH <{BULK_GRAPH}> {{\n{rows}\n}} }}".encode()


def _post_in_background(url: str, data: bytes, headers: dict) -> threading.Thread:
    def send() -> None:
        try:
            requests.post(url, data=data, headers=headers, timeout=60)
        except requests.RequestException:
            pass  # the server was killed under it: expected

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_sigkill_during_writes_leaves_all_or_nothing(tmp_path: Path):
    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_VALIDATE": "0", "KG_CACHE": "off"}).start()
    slug = "fault-lpo"
    type_body = type_turtle(slug, "FLPO").encode()
    type_headers = {**AUTH, "Content-Type": "text/turtle"}
    update_headers = {**AUTH, "Content-Type": "application/sparql-update"}
    bulk = bulk_update()
    bulk_count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{BULK_GRAPH}> {{ ?s ?p ?o }} }}"
    type_count = graph_count_query(DEFAULT_NAMESPACE, slug)
    try:
        # Calibrate: how long each write takes here, and what "all of it" is.
        started = time.monotonic()
        r = requests.post(proc.url + "/api/types", data=type_body, headers=type_headers, timeout=60)
        type_seconds = time.monotonic() - started
        assert r.status_code == 201, r.text[:300]
        full_type = r.json()["triples"]
        assert requests.delete(f"{proc.url}/api/types/{slug}", headers=AUTH, timeout=30).status_code == 204
        started = time.monotonic()
        r = requests.post(proc.url + "/sparql", data=bulk, headers=update_headers, timeout=60)
        bulk_seconds = time.monotonic() - started
        assert r.status_code == 204, r.text[:300]
        assert count(proc, bulk_count) == BULK_TRIPLES
        r = requests.post(proc.url + "/sparql", data=f"DROP GRAPH <{BULK_GRAPH}>".encode(),
                          headers=update_headers, timeout=30)
        assert r.status_code == 204

        outcomes = {"type": set(), "bulk": set()}
        # Kill at points spread over each write's duration (the store write comes last in both).
        for fraction in (0.5, 0.8, 0.95):
            _post_in_background(proc.url + "/api/types", type_body, type_headers)
            _post_in_background(proc.url + "/sparql", bulk, update_headers)
            time.sleep(max(type_seconds, bulk_seconds) * fraction)
            proc.kill()
            proc.start()
            n_type, n_bulk = count(proc, type_count), count(proc, bulk_count)
            assert n_type in (0, full_type), f"half a type survived: {n_type} of {full_type} triples"
            assert n_bulk in (0, BULK_TRIPLES), f"half an update survived: {n_bulk} of {BULK_TRIPLES} triples"
            listed = requests.get(f"{proc.url}/api/types/{slug}", timeout=30)
            assert listed.status_code == (200 if n_type else 404)
            outcomes["type"].add(n_type)
            outcomes["bulk"].add(n_bulk)
            # Back to a clean slate for the next round.
            if n_type:
                requests.delete(f"{proc.url}/api/types/{slug}", headers=AUTH, timeout=30)
            requests.post(proc.url + "/sparql", data=f"DROP SILENT GRAPH <{BULK_GRAPH}>".encode(),
                          headers=update_headers, timeout=30)
        assert requests.get(proc.url + "/healthz", timeout=10).json()["status"] == "ok"
    finally:
        proc.stop()


@pytest.fixture
def remote_service(tmp_path):
    """The service over a durable Oxigraph server that the test may stop and start again."""
    from tests.support.remote import OxigraphServer

    store = OxigraphServer(location=tmp_path / "oxigraph").start()
    service = ServerProcess(data_dir=tmp_path / "data",
                            env={"KG_STORE": "remote", "KG_VALIDATE": "0", "KG_CACHE": "off",
                                 **store.env}).start()
    yield store, service
    service.stop()
    store.stop()


ROUTES = ["/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D", "/api/types", "/api/types/kpo", "/api/skills",
          "/api/search?q=legal", "/api/compare?types=bpo,kpo", "/api/queries/skills-of-type", "/doc/kpo.ttl",
          "/doc/kpo", "/"]


def test_remote_store_down_is_503_everywhere_and_recovers_without_restart(remote_service):
    store, service = remote_service
    for path in ROUTES:
        assert requests.get(service.url + path, timeout=30).status_code == 200, path
    store.stop()
    # Answers cached per graph version may be served while the version itself is trusted (the remote
    # store re-reads it after kg.store.remote.VERSION_TTL); after that, every route must say 503.
    from kg.store.remote import VERSION_TTL

    time.sleep(VERSION_TTL + 0.2)
    for path in ROUTES:
        for accept in ("application/json", "text/html"):
            if path.startswith("/sparql") and accept == "text/html":
                continue  # a browser gets the query editor there, which needs no store
            r = requests.get(service.url + path, headers={"Accept": accept}, timeout=60)
            assert r.status_code == 503, (path, accept, r.status_code, r.text[:300])
            assert "Traceback" not in r.text
            assert "store cannot be reached" in r.text.lower(), (path, r.text[:300])
            assert r.headers["Retry-After"] and f":{store.port}" not in r.text, (path, r.text[:300])
    r = requests.post(service.url + "/api/types", data=type_turtle("down-lpo", "DLPO").encode(),
                      headers={**AUTH, "Content-Type": "text/turtle", "Accept": "application/json"},
                      timeout=60)
    assert r.status_code == 503, r.text[:300]
    health = requests.get(service.url + "/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert "cannot be reached" in health.json()["error"] and f":{store.port}" not in health.text
    pid = service.proc.pid
    store.start()  # same port, same data
    deadline = time.monotonic() + 20
    while requests.get(service.url + "/healthz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the service did not notice that its store came back"
        time.sleep(0.2)
    for path in ROUTES:
        assert requests.get(service.url + path, timeout=30).status_code == 200, path
    assert service.proc.pid == pid and service.proc.poll() is None, "recovered without a restart"


def test_broken_extension_files_are_reported_and_the_rest_is_served(tmp_path):
    ontology = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", ontology)
    ext = ontology / "extensions"
    (ext / "good.ttl").write_text(type_turtle("good-lpo", "GDLPO"))
    (ext / "corrupt.ttl").write_bytes(os.urandom(2048) + b"\x00 not turtle {")
    (ext / "truncated.ttl").write_text(type_turtle("cut-lpo", "CTLPO")[:1500])
    (ext / "unreadable.ttl").mkdir()  # exists, lists as a .ttl, cannot be read (even by root)
    (ext / "dangling.ttl").symlink_to(tmp_path / "no-such-file.ttl")
    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_ONTOLOGY_DIR": str(ontology),
                                                           "KG_VALIDATE": "0"}).start()
    try:
        health = requests.get(proc.url + "/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        problems = {Path(p["file"]).name: p["error"] for p in health.json()["extension_problems"]}
        assert set(problems) == {"corrupt.ttl", "truncated.ttl", "unreadable.ttl", "dangling.ttl"}, problems
        assert all(problems.values())
        assert "line" in problems["truncated.ttl"] or "syntax" in problems["truncated.ttl"]
        types = {t["slug"] for t in requests.get(proc.url + "/api/types", timeout=10).json()["items"]}
        assert {"bpo", "kpo", "good-lpo"} <= types and "cut-lpo" not in types
        assert requests.get(proc.url + "/doc/good-lpo", timeout=10).status_code == 200
    finally:
        proc.stop()


CRASH_ROUTES = [("/api/types", "application/json"), ("/api/compare?types=bpo,kpo", "application/json"),
                ("/doc/kpo", "text/html"), ("/api/queries/skills-of-type", "text/csv"),
                ("/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D", "application/sparql-results+json")]


@pytest.fixture(scope="module", params=["disk", "memory"])
def engine_server(request, tmp_path_factory):
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp(f"crash-{request.param}") / "data", env={
        "KG_QUERY_ENGINE": request.param, "KG_CACHE": "off", "KG_VALIDATE": "0", "KG_QUERY_TIMEOUT": "60"}).start()
    yield request.param, proc
    proc.kill()


def _evaluator_pid(proc: ServerProcess, source: str) -> int:
    """The pid of the ready evaluator of ``source`` (the disk's starts on a query's first need)."""
    deadline = time.monotonic() + 30
    while True:
        requests.get(proc.url + "/sparql", params={"query": "ASK {}"}, timeout=30)
        engine = requests.get(proc.url + "/healthz", timeout=30).json()["query_engine"]
        found = engine.get("engine" if source == "memory" else "disk") or {}
        if found.get("state") == "ready":
            return found["pid"]
        assert time.monotonic() < deadline, f"no {source} evaluator became ready: {engine}"
        time.sleep(0.1)


@pytest.mark.parametrize(("path", "accept"), CRASH_ROUTES)
def test_an_evaluator_killed_under_a_read_is_a_503_on_every_route_or_is_retried(engine_server, path, accept):
    """An evaluator that dies under a request (killed from outside here: the system's out-of-memory
    killer, an operator) gives that request the same answer on every route: 503 "Query stopped" with
    Retry-After, in the negotiated format, or, when it was the in-memory copy, the answer itself,
    from the disk. Frozen first, so that the request is surely waiting on it when it dies."""
    source, proc = engine_server
    pid = _evaluator_pid(proc, source)
    os.kill(pid, signal.SIGSTOP)
    answers: list[requests.Response] = []
    asker = threading.Thread(target=lambda: answers.append(
        requests.get(proc.url + path, headers={"Accept": accept}, timeout=90)))
    asker.start()
    time.sleep(1.0)  # the request reaches the frozen evaluator in milliseconds
    os.kill(pid, signal.SIGKILL)
    asker.join(90)
    r = answers[0]
    if source == "memory":
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    else:
        assert r.status_code == 503, (path, r.status_code, r.text[:300])
        assert r.headers["Retry-After"] and "Traceback" not in r.text
        told_in = ("text/html" if "html" in accept else "application/problem+json"
                   if "json" in accept or path.startswith("/api/") else "text/plain")
        assert r.headers["Content-Type"].startswith(told_in), r.headers["Content-Type"]
        assert "Query stopped" in r.text and "killed from outside" in r.text, r.text[:300]
    again = requests.get(proc.url + path, headers={"Accept": accept}, timeout=90)
    assert again.status_code == 200, (path, again.text[:300])
