"""An admin's SPARQL Update runs under the time limit and the memory limit, like a query.

Oxigraph cannot stop an update, so the embedded store applies each one in a process the server
kills (``kg.store.update_process``). What a user relies on: a runaway update is answered 503 at the
limit and keeps nothing, not even the operations before it in the same request; reads go on while
it runs; the next write is taken; and after a crash the store holds what was acknowledged and
nothing of what was stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest

from tests.support.server import ServerProcess

LIMIT = 3.0
TOKEN = "update-limits-token"
GRAPH = "https://example.org/update-limits"
#: Three graphs' quads crossed (billions of rows) under a filter that no row passes: CPU, no memory.
SPIN = ('DELETE { GRAPH ?g { ?a ?b ?c } } WHERE { GRAPH ?g { ?a ?b ?c } GRAPH ?h { ?d ?e ?f } '
        'GRAPH ?k { ?x ?y ?z } FILTER(STRLEN(CONCAT(STR(?a), STR(?d), STR(?x))) < 0) }')
#: Two graphs' quads crossed into millions of new triples, each with a long literal: memory.
SWELL = (f'INSERT {{ GRAPH <{GRAPH}> {{ ?a ?b ?n }} }} WHERE {{ GRAPH ?g {{ ?a ?b ?c }} GRAPH ?h {{ ?d ?e ?f }} '
         'BIND(CONCAT(STR(?c), STR(?f), STR(?a), STR(?d)) AS ?n) }')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("update-limits") / "data", env={
        "KG_ADMIN_TOKEN": TOKEN, "KG_VALIDATE": "0", "KG_CACHE": "off", "KG_QUERY_TIMEOUT": str(LIMIT)}).start()
    yield proc
    proc.stop()


def _mark() -> tuple[str, str]:
    """A triple no other test writes, as an INSERT DATA and as an ASK."""
    s = f"<https://example.org/mark/{uuid.uuid4().hex}>"
    triple = f'{s} <https://example.org/p> "mark"'
    return f"INSERT DATA {{ GRAPH <{GRAPH}> {{ {triple} }} }}", f"ASK {{ GRAPH <{GRAPH}> {{ {triple} }} }}"


def _asks(server, http, ask: str) -> bool:
    r = http.get(server.url + "/sparql", params={"query": ask}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def _version(server, http) -> str:
    return http.get(server.url + "/healthz").json()["version"]


def _post(server, http, text: str, *, form: bool = False, params: dict | None = None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if form:
        return http.post(server.url + "/sparql", data={"update": text}, headers=headers, params=params, timeout=180)
    return http.post(server.url + "/sparql", data=text.encode(), params=params, timeout=180,
                     headers={**headers, "Content-Type": "application/sparql-update"})


@pytest.mark.parametrize("shape", ["alone", "form", "after an insert", "before an insert", "asks for 1 s"])
def test_a_runaway_update_is_stopped_at_its_limit_and_keeps_nothing(server, http, shape):
    insert, ask = _mark()
    text = {"after an insert": f"{insert} ;\n{SPIN}", "before an insert": f"{SPIN} ;\n{insert}"}.get(shape, SPIN)
    before = _version(server, http)
    limit = 1.0 if shape == "asks for 1 s" else LIMIT
    started = time.monotonic()
    r = _post(server, http, text, form=shape == "form", params={"timeout": "1"} if shape == "asks for 1 s" else None)
    took = time.monotonic() - started
    assert r.status_code == 503, r.text
    assert "Retry-After" in r.headers and "time limit" in r.text.lower()
    assert limit * 0.9 <= took < limit + 2.5, took
    # Nothing of it: not the operation before the runaway one, not the version bump.
    assert not _asks(server, http, ask)
    assert _version(server, http) == before


def test_reads_go_on_while_an_update_runs_away_and_the_next_write_is_taken(server, http):
    insert, ask = _mark()
    answers = []
    runaway = threading.Thread(target=lambda: answers.append(_post(server, http, SPIN)))
    runaway.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            assert not _asks(server, http, ask)
            assert time.monotonic() - started < 1.5  # not held for the update (up to its 3 s)
    finally:
        runaway.join()
    assert answers[0].status_code == 503
    r = _post(server, http, insert)
    assert r.status_code == 204, r.text
    assert _asks(server, http, ask)


@pytest.fixture(scope="module")
def roomy(tmp_path_factory):
    """A server whose time limit an update outgrowing its memory cannot reach first, however loaded the machine."""
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("update-memory") / "data", env={
        "KG_ADMIN_TOKEN": TOKEN, "KG_VALIDATE": "0", "KG_CACHE": "off",
        "KG_QUERY_TIMEOUT": "120", "KG_WORKER_MEMORY": str(300 * 1024**2)}).start()
    yield proc
    proc.stop()


def test_an_update_that_outgrows_its_memory_is_stopped_and_keeps_nothing(roomy, http):
    server = roomy
    insert, ask = _mark()
    before = _version(server, http)
    r = _post(server, http, f"{insert} ;\n{SWELL}")
    assert r.status_code == 503, r.text
    assert "KG_WORKER_MEMORY" in r.text
    assert not _asks(server, http, ask)
    assert _version(server, http) == before
    assert _post(server, http, insert).status_code == 204
    assert _asks(server, http, ask)


def test_after_a_crash_the_store_holds_what_was_acknowledged_and_nothing_stopped(tmp_path, http):
    # The runaway update asks for 1 s; the server's own limit stays roomy, so that the first reads after
    # the restart (the engine loading the store again) are not cut on a loaded machine.
    env = {"KG_ADMIN_TOKEN": TOKEN, "KG_VALIDATE": "0", "KG_CACHE": "off", "KG_QUERY_TIMEOUT": "30"}
    kept, kept_ask = _mark()
    stopped, stopped_ask = _mark()
    proc = ServerProcess(data_dir=tmp_path / "data", env=env).start()
    try:
        assert _post(proc, http, kept).status_code == 204
        assert _post(proc, http, f"{stopped} ;\n{SPIN}", params={"timeout": "1"}).status_code == 503
        proc.kill()  # SIGKILL: no shutdown code runs
        proc.start()
        assert _asks(proc, http, kept_ask)
        assert not _asks(proc, http, stopped_ask)
        assert _post(proc, http, stopped).status_code == 204  # the store takes writes again
        assert _asks(proc, http, stopped_ask)
    finally:
        proc.stop()


def test_updates_do_not_pile_up_files_in_the_store_directory(server, http):
    # Each update opens the directory read-write twice (its process, then the server again), and
    # RocksDB starts an info log at every such open: 130 KB each, a thousand kept.
    logs = server.data_dir / "oxigraph"
    for _ in range(15):
        insert, _ask = _mark()
        assert _post(server, http, insert).status_code == 204
    assert len(list(logs.glob("LOG.old.*"))) <= 10
    assert sum(f.stat().st_size for f in logs.iterdir() if f.is_file()) < 20 * 1024**2


def _update_processes(server) -> list[int]:
    """The update processes under ``server`` (its gunicorn master), by pid."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    under = {server.proc.pid}
    for _ in range(4):  # master -> worker -> update process
        under |= {int(pid) for pid, ppid, _args in rows if int(ppid) in under}
    return [int(pid) for pid, ppid, args in rows if int(pid) in under and "kg.store.update_process" in args]


def _waiting(server, timeout: float = 10.0) -> list[int]:
    """The update processes under ``server`` once there is exactly one (a process that is ending may
    still be listed for a moment), or whatever there is at ``timeout``."""
    deadline = time.monotonic() + timeout
    while len(found := _update_processes(server)) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_each_update_runs_in_a_process_started_before_it_arrived(server, http):
    # The process the next update will run in is started once an update has finished; the update that
    # takes it does not wait for an interpreter to start. One process, one update.
    insert, ask = _mark()
    assert _post(server, http, insert).status_code == 204
    waiting = _waiting(server)
    assert len(waiting) == 1
    time.sleep(0.5)
    assert _update_processes(server) == waiting  # it waits; it does not end, nor is another started
    second, second_ask = _mark()
    assert _post(server, http, second).status_code == 204
    assert _asks(server, http, ask) and _asks(server, http, second_ask)
    after = _waiting(server)
    assert len(after) == 1 and after != waiting  # the first served its update and ended


def test_a_waiting_update_process_killed_from_outside_does_not_fail_the_next_update(server, http):
    first, _ = _mark()
    assert _post(server, http, first).status_code == 204
    for pid in _waiting(server):
        with contextlib.suppress(ProcessLookupError):  # it may have ended between the listing and now
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    insert, ask = _mark()
    r = _post(server, http, insert)
    assert r.status_code == 204, r.text
    assert _asks(server, http, ask)


def test_what_an_update_stopped_near_its_limit_is_answered_is_what_the_store_holds(tmp_path, http):
    # The limit can fall after the update committed, while its process flushes the store or replies:
    # the answer must say what the store holds, now and after a restart. Limits are swept around the
    # update's own duration, so that some fall in that window on any machine.
    env = {"KG_ADMIN_TOKEN": TOKEN, "KG_VALIDATE": "0", "KG_CACHE": "off", "KG_QUERY_TIMEOUT": "60"}
    facts = "https://w3id.org/outsourcing-kg/graph/facts"

    def cross(graph: str) -> str:  # tens of thousands of new triples: about a second's work
        return (f"INSERT {{ GRAPH <{graph}> {{ ?s <https://example.org/p> ?o }} }} WHERE {{ "
                f"{{ SELECT DISTINCT ?s WHERE {{ GRAPH <{facts}> {{ ?s ?a ?b }} }} }} "
                f"{{ SELECT DISTINCT ?o WHERE {{ GRAPH <{facts}> {{ ?o ?c ?d }} }} }} }}")

    def holds(proc, graph: str) -> bool:
        return _asks(proc, http, f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")

    proc = ServerProcess(data_dir=tmp_path / "data", env=env).start()
    try:
        started = time.monotonic()
        assert _post(proc, http, cross("https://example.org/cross/first")).status_code == 204
        took = time.monotonic() - started
        answered = {}
        for factor in (0.6, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4):
            graph = f"https://example.org/cross/{factor}"
            r = _post(proc, http, cross(graph), params={"timeout": f"{took * factor:.3f}"})
            assert r.status_code in (204, 503), r.text
            answered[graph] = r.status_code == 204
        assert {g: holds(proc, g) for g in answered} == answered
        proc.kill()
        proc.start()
        assert {g: holds(proc, g) for g in answered} == answered
    finally:
        proc.stop()
