"""Reads of the embedded store are answered by an in-memory copy of the graph, never a stale one:
a write is applied to the copy as it is to the store (no reload), so the next read is answered from
memory and sees it; a runaway query stops the copy without failing the queries beside it, and ``KG_QUERY_ENGINE=disk``
turns the copy off."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import requests

from tests.support.server import ADMIN_TOKEN, ServerProcess

JSON = "application/sparql-results+json"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
COUNT_MARKS = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <urn:kg-test:engine> { ?s ?p ?o } }"
EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def health(proc: ServerProcess) -> dict:
    return requests.get(proc.url + "/healthz", timeout=10).json()


def wait_for_copy(proc: ServerProcess, timeout: float = 30) -> dict:
    """The health document once the in-memory copy holds the store's current version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = health(proc)
        copy = body["query_engine"]["engine"] or {}
        if copy.get("state") == "ready" and copy.get("version") == body["version"]:
            return body
        time.sleep(0.05)
    raise AssertionError(f"the in-memory copy did not catch up: {health(proc)}")


def count(proc: ServerProcess, query: str = COUNT_MARKS) -> int:
    r = requests.get(proc.url + "/sparql", params={"query": query}, headers={"Accept": JSON}, timeout=30)
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def insert_mark(proc: ServerProcess, n: int) -> None:
    update = f"INSERT DATA {{ GRAPH <urn:kg-test:engine> {{ <urn:kg-test:s{n}> <urn:kg-test:p> {n} }} }}"
    r = requests.post(proc.url + "/sparql", data=update, timeout=30,
                      headers={**AUTH, "Content-Type": "application/sparql-update"})
    assert r.status_code == 204, r.text


def start_server(tmp_path_factory, name: str, **env: str) -> ServerProcess:
    data_dir = tmp_path_factory.mktemp(name) / "data"
    return ServerProcess(data_dir=data_dir, env={"KG_CACHE": "off", "KG_VALIDATE": "0", **env}).start()


@pytest.fixture(scope="module")
def memory_server(tmp_path_factory):
    proc = start_server(tmp_path_factory, "engine", KG_QUERY_TIMEOUT="2")
    yield proc
    proc.stop()


def test_reads_are_answered_from_the_in_memory_copy(memory_server):
    body = wait_for_copy(memory_server)
    engine = body["query_engine"]
    assert engine["mode"] == "memory"
    total = count(memory_server, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert engine["engine"]["triples"] == total, "the copy holds every quad of the store"
    before = health(memory_server)["query_engine"]["answered"]
    count(memory_server, "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }")
    after = health(memory_server)["query_engine"]["answered"]
    assert after["memory"] == before["memory"] + 1
    assert after["disk"] == before["disk"]


def test_a_write_is_applied_to_the_copy_not_reloaded(memory_server):
    first = wait_for_copy(memory_server)
    start = count(memory_server)
    for n in range(3):
        insert_mark(memory_server, 1000 + n)
        before = health(memory_server)["query_engine"]["answered"]
        # No wait: the copy took the same update before the write was acknowledged.
        assert count(memory_server) == start + n + 1
        after = health(memory_server)["query_engine"]["answered"]
        assert (after["memory"], after["disk"]) == (before["memory"] + 1, before["disk"]), (before, after)
    body = health(memory_server)
    engine = body["query_engine"]
    assert engine["engine"]["version"] == body["version"] != first["version"]
    assert engine["loads"] == first["query_engine"]["loads"], "no copy was loaded again"
    assert engine["writes_applied"] == first["query_engine"]["writes_applied"] + 3
    quads = count(memory_server, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert engine["engine"]["triples"] == quads


def test_a_stream_of_writes_costs_no_reload(memory_server):
    first = wait_for_copy(memory_server)
    start = count(memory_server)
    for n in range(25):
        insert_mark(memory_server, 2000 + n)
        assert count(memory_server) == start + n + 1  # every read sees every write before it
    body = wait_for_copy(memory_server)
    assert body["query_engine"]["loads"] == first["query_engine"]["loads"]
    assert body["query_engine"]["answered"]["disk"] == first["query_engine"]["answered"]["disk"]
    assert count(memory_server) == start + 25


def test_a_refused_update_leaves_the_version_and_the_copy_as_they_were(memory_server):
    first = wait_for_copy(memory_server)
    for update in ("INSERT DATA { <urn:a> <urn:b> ", "INSERT DATA { <urn:a> <urn:b> <urn:c> } ; ;",
                   "DELETE DATA { ?s <urn:b> <urn:c> }"):
        r = requests.post(memory_server.url + "/sparql", data=update, timeout=30,
                          headers={**AUTH, "Content-Type": "application/sparql-update"})
        assert r.status_code == 400, (update, r.text)
        assert "1:" in r.text  # the position is in the user's text, not in what the store appends
    body = health(memory_server)
    assert body["version"] == first["version"]
    assert body["query_engine"]["engine"]["version"] == first["version"]


def test_a_runaway_query_stops_the_copy_but_not_the_queries_beside_it(memory_server):
    wait_for_copy(memory_server)
    stopped_before = health(memory_server)["query_engine"]["stopped_at_deadline"]
    expected = count(memory_server, "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }")
    outcome: dict = {}

    def explode():
        outcome["response"] = requests.get(memory_server.url + "/sparql", params={"query": EXPLOSIVE},
                                           headers={"Accept": JSON}, timeout=30)

    # A slow-but-finite query is evaluating in the copy when the runaway one is stopped: it must
    # still be answered (retried on disk), not fail with it.
    # (A few tens of milliseconds: when it is retried on disk it must still fit in its time.)
    slow = ("SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType . "
            "{ SELECT (COUNT(*) AS ?x) WHERE { ?a a ?c . ?d a ?f } } }")
    runaway = threading.Thread(target=explode)
    runaway.start()
    answers = []
    while runaway.is_alive():
        answers.append(count(memory_server, slow))
    runaway.join()
    assert outcome["response"].status_code == 503
    assert answers and set(answers) == {expected}
    body = wait_for_copy(memory_server)
    assert body["query_engine"]["stopped_at_deadline"] == stopped_before + 1
    assert count(memory_server, "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }") == expected


def test_the_copy_outlives_a_sigterm_and_ends_with_its_server(tmp_path):
    """SIGTERM to the server's process group (systemd) asks it to finish what it is answering: the
    copy answering must not die first and be loaded again. It ends with its server all the same."""
    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_CACHE": "off", "KG_VALIDATE": "0"}).start()
    try:
        engine = wait_for_copy(proc)["query_engine"]
        pid = engine["engine"]["pid"]
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
        assert count(proc, "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }") > 0
        after = health(proc)["query_engine"]
        assert after["engine"]["pid"] == pid and after["loads"] == engine["loads"]
        assert after["answered"]["disk"] == engine["answered"]["disk"], "answered by the copy, not the disk"
    finally:
        proc.stop(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), "the copy's process outlived its server"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_disk_mode_has_no_copy(tmp_path):
    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_QUERY_ENGINE": "disk", "KG_CACHE": "off",
                                                          "KG_VALIDATE": "0"}).start()
    try:
        assert count(proc, "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }") >= 2
        engine = health(proc)["query_engine"]
        assert engine["mode"] == "disk" and "engine" not in engine
        assert engine["answered"]["disk"] >= 1 and engine["answered"]["memory"] == 0
    finally:
        proc.stop()


def test_an_unknown_engine_is_refused_at_start(tmp_path):
    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_QUERY_ENGINE": "quantum"})
    with pytest.raises(RuntimeError, match="KG_QUERY_ENGINE"):
        proc.start(timeout=30)


# Every read route, answered by each evaluator: the bodies must be identical, since clients cache
# them under one ETag per graph version whichever process evaluated the queries.
SAME_ANSWER_ROUTES = [
    ("/api/types", "application/json"),
    ("/api/types/bpo", "application/json"),
    ("/api/types/kpo", "application/json"),
    ("/api/types/kpo?lang=fr", "application/json"),
    ("/api/skills", "application/json"),
    ("/api/activities", "application/json"),
    ("/api/search?q=knowledge", "application/json"),
    ("/api/compare?types=bpo,kpo", "application/json"),
    ("/api/compare?types=kpo,bpo&format=markdown", "text/markdown"),
    ("/api/compare?types=bpo,kpo&format=html", "text/html"),
    ("/api/queries", "application/json"),
    ("/doc/kpo", "text/turtle"),
    ("/doc/bpo", "application/ld+json"),
    ("/doc/kpo", "text/html"),
    ("/doc/bpo", "application/rdf+xml"),
    ("/", "text/html"),
    ("/ontology.ttl", "text/turtle"),
]


@pytest.fixture(scope="module")
def disk_server(tmp_path_factory):
    proc = start_server(tmp_path_factory, "engine-disk", KG_QUERY_ENGINE="disk")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def fresh_memory_server(tmp_path_factory):
    proc = start_server(tmp_path_factory, "engine-memory")
    wait_for_copy(proc)
    # One query answered from the copy, whichever route a worker runs first (some, such as the list
    # of named queries, evaluate nothing): the test below then checks that none went to the disk.
    count(proc, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    yield proc
    proc.stop()


def _normalised(proc: ServerProcess, body: str) -> str:
    # The two servers differ only in their port (public IRIs) and graph version.
    return body.replace(proc.url, "http://server")


@pytest.mark.parametrize(("path", "accept"), SAME_ANSWER_ROUTES)
def test_the_in_memory_copy_and_the_disk_answer_alike(fresh_memory_server, disk_server, path, accept):
    answers = []
    for proc in (fresh_memory_server, disk_server):
        r = requests.get(proc.url + path, headers={"Accept": accept}, timeout=30)
        assert r.status_code == 200, (path, r.text[:300])
        answers.append(_normalised(proc, r.text))
    memory = health(fresh_memory_server)["query_engine"]["answered"]
    assert memory["memory"] > 0 and memory["disk"] == 0, "the memory server answered from its copy"
    assert answers[0] == answers[1]


def test_a_copy_that_cannot_be_made_leaves_reads_to_the_disk(tmp_path):
    # A hundred query threads (8 MB of stack each) cannot start within 512 MB: the engine says why,
    # and the disk workers, which need far less, answer every read.
    proc = ServerProcess(data_dir=tmp_path / "data", env={
        "KG_QUERY_THREADS": "100", "KG_WORKER_MEMORY": str(512 * 1024 * 1024),
        "KG_CACHE": "off", "KG_VALIDATE": "0"}).start()
    try:
        deadline = time.monotonic() + 30
        while "error" not in health(proc)["query_engine"] and time.monotonic() < deadline:
            time.sleep(0.1)
        engine = health(proc)["query_engine"]
        assert engine["engine"] is None and "KG_WORKER_MEMORY" in engine["error"], engine
        assert count(proc, "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }") >= 2
        answered = health(proc)["query_engine"]["answered"]
        assert answered["disk"] >= 1 and answered["memory"] == 0
    finally:
        proc.stop()


@pytest.mark.parametrize("engine", ["memory", "disk"])
def test_a_batch_of_queries_sees_one_version_while_writes_land(tmp_path, engine):
    # The queries of one request (a comparison, a type's page) travel together and are answered on
    # one version of the graph, however many writes commit meanwhile.
    from kg.config import Config
    from kg.graph import KnowledgeGraph
    from kg.query.trusted import Query

    config = Config(data_dir=tmp_path / "data", validate_on_load=False, cache=False, query_engine=engine)
    kg = KnowledgeGraph.open(config)
    try:
        highest = COUNT_MARKS.replace("(COUNT(*) AS ?n)", "(COALESCE(MAX(?o), 0) AS ?n)")
        counts = [Query(COUNT_MARKS, union_default=False)] * 40 + [Query(highest)]
        kg.query_all(counts, timeout=10)  # started before the writes begin
        stop = threading.Event()

        def write() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                kg.store.update(f"INSERT DATA {{ GRAPH <urn:kg-test:engine> {{ <urn:kg-test:s{n}> "
                                f"<urn:kg-test:p> {n} }} }}")

        writer = threading.Thread(target=write)
        writer.start()
        seen = []
        try:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                answers = kg.query_all(counts, timeout=10)
                values = [int(next(iter(rows))["n"].value) for rows in answers]
                seen.append(values)
        finally:
            stop.set()
            writer.join()
        assert len(seen) > 3 and seen[-1][0] > seen[0][0], seen[:3]  # writes did land during the reads
        # Forty counts and the highest mark: all the same number in every batch (mark n is the n-th write).
        assert all(len(set(values)) == 1 for values in seen), [v for v in seen if len(set(v)) > 1][:5]
    finally:
        kg.close()


@pytest.mark.parametrize("engine", ["memory", "disk"])
def test_a_read_of_two_batches_that_a_write_cuts_across_is_read_again_whole(tmp_path, engine):
    """A view that reads in two batches (a type's page), with a write committing between them: the
    second batch notices, and the view is read again, whole, on the new version (the service runs
    every GET view so, ``KnowledgeGraph.consistent``); never answered half from each version."""
    from kg.config import Config
    from kg.graph import KnowledgeGraph
    from kg.query.trusted import Query, one_version
    from kg.store import GraphMoved

    config = Config(data_dir=tmp_path / "data", validate_on_load=False, cache=False, query_engine=engine)
    kg = KnowledgeGraph.open(config)

    def count() -> int:
        return int(next(iter(kg.query_all([Query(COUNT_MARKS, union_default=False)], timeout=10)[0]))["n"].value)

    def mark(n: int) -> None:
        kg.store.update(f"INSERT DATA {{ GRAPH <urn:kg-test:engine> {{ <urn:kg-test:s{n}> <urn:kg-test:p> {n} }} }}")

    runs: list[int] = []

    def read() -> tuple[int, int]:
        first = count()
        if not runs:
            mark(1)  # lands between the two batches, once
        runs.append(first)
        return first, count()

    try:
        assert kg.consistent(read) == (1, 1)
        assert runs == [0, 1]
        # Without being read again, the same cut is refused rather than answered from two versions.
        with one_version():
            assert count() == 1
            mark(2)
            with pytest.raises(GraphMoved):
                count()
        with one_version():  # and no write between them: nothing to refuse
            assert (count(), count()) == (2, 2)
    finally:
        kg.close()
