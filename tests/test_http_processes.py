"""Several HTTP processes over the embedded store (``KG_WORKERS=2``): one holds the store, the other
answers from its cache or hands requests to it (service/front.py).

What a user relies on: the service answers the same whichever process takes a connection; a write
acknowledged through any of them is in the very next read through every one of them (no process
serves a cached answer from before it); the graph is held in memory once, not once per process; and
when the process holding the store dies, another takes its place with every acknowledged write.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.server import ROOT, ServerProcess

LPO = (ROOT / "examples" / "lpo.ttl").read_bytes()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _ready(server: ServerProcess, timeout: float = 60) -> dict:
    """/healthz once the process holding the store answers and its copy of the graph is loaded."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = requests.get(server.url + "/healthz", timeout=5, headers={"Connection": "close"})
            health = r.json()
            engine = (health.get("query_engine") or {}).get("engine") or {}
            if r.status_code == 200 and engine.get("state") == "ready" and engine.get("version") == health["version"]:
                return health
        except (requests.RequestException, ValueError, KeyError):
            pass
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def _fresh(method: str, url: str, **kwargs) -> requests.Response:
    """One request on a connection of its own: the kernel hands each new connection to either process."""
    headers = {"Connection": "close", **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


def _from_both(url: str, at_least: int = 20, **kwargs) -> list[requests.Response]:
    """Fresh-connection requests until both processes answered some (a front marks its answers with
    Via) and at least ``at_least`` were made: which process takes a connection is the kernel's choice."""
    answers: list[requests.Response] = []
    while len(answers) < at_least or len({r.headers.get("Via") for r in answers}) < 2:
        assert len(answers) < 400, "one of the two processes took no connection in 400"
        answers.append(_fresh("GET", url, **kwargs))
    return answers


@pytest.fixture
def two(tmp_path: Path, admin_token: str) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir=tmp_path / "data", env={"KG_WORKERS": "2", "KG_MAX_BODY": "20000"}).start()
    try:
        _ready(server)
        yield server
    finally:
        server.stop()


def _owner_and_front(server: ServerProcess) -> tuple[int, int]:
    workers = _children(server.proc.pid)
    assert len(workers) == 2, workers
    owners = [w for w in workers if any("kg.query.evaluator_process" in _cmdline(c) for c in _children(w))]
    assert len(owners) == 1, "exactly one HTTP process holds the store and its evaluators"
    return owners[0], next(w for w in workers if w != owners[0])


def test_the_graph_is_held_once_and_both_processes_answer(two):
    owner, front = _owner_and_front(two)
    memory_copies = [c for c in _children(owner)
                     if "kg.query.evaluator_process" in _cmdline(c) and "--dump" not in _cmdline(c)]
    assert len(memory_copies) == 1
    assert _children(front) == []  # no store, no evaluator of its own
    # Nor the engine's code, nor the app's: each front would hold them for nothing.
    mapped = Path(f"/proc/{front}/maps").read_text()
    assert "pyoxigraph" not in mapped and "pyoxigraph" in Path(f"/proc/{owner}/maps").read_text()
    answers = _from_both(two.url + "/api/types", at_least=60)
    assert len({r.content for r in answers}) == 1  # the same answer whichever process took the connection
    assert {r.headers.get("Via") for r in answers} == {None, "1.1 kg-front"}


def test_a_write_through_either_process_is_in_the_next_read_of_both(two, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert not any("lpo" in r.text for r in _from_both(two.url + "/api/types"))
    # Both processes now hold the list in their caches.
    assert {r.headers.get("X-KG-Cache") for r in _from_both(two.url + "/api/types")} == {"hit"}
    created = _fresh("POST", two.url + "/api/types", data=LPO, headers={**auth, "Content-Type": "text/turtle"})
    assert created.status_code == 201, created.text
    assert all("lpo" in r.text for r in _from_both(two.url + "/api/types"))
    assert _fresh("DELETE", two.url + "/api/types/lpo", headers=auth).status_code == 204
    assert not any("lpo" in r.text for r in _from_both(two.url + "/api/types"))


def test_requests_are_handed_over_whole(two):
    query = "SELECT ?t WHERE { ?t a <https://w3id.org/outsourcing-kg/ontology#OutsourcingType> } ORDER BY ?t"
    answers: set = set()
    seen: dict[str, set] = {"form": set(), "direct": set(), "too big": set()}  # who answered each kind
    rounds = 0
    while any(len(vias) < 2 for vias in seen.values()):
        assert rounds < 400, f"a kind of request met only one process in 400 rounds: {seen}"
        rounds += 1
        form = _fresh("POST", two.url + "/sparql", data={"query": query},
                      headers={"Accept": "application/sparql-results+json"})
        direct = _fresh("POST", two.url + "/sparql", data=query.encode(),
                        headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"})
        # Past KG_MAX_BODY: refused by the process holding the store, whichever took the connection.
        too_big = _fresh("POST", two.url + "/sparql", data=b"x" * 30_000,
                         headers={"Content-Type": "application/sparql-query"})
        assert (form.status_code, direct.status_code, too_big.status_code) == (200, 200, 413), too_big.text
        answers.add((form.content, direct.content))
        for kind, r in (("form", form), ("direct", direct), ("too big", too_big)):
            seen[kind].add(r.headers.get("Via"))
    assert len(answers) == 1
    rows = answers.pop()[1].decode().splitlines()
    assert rows[0] == "t" and len(rows) >= 3
    document = _fresh("GET", two.url + "/doc/kpo.ttl")
    for _ in range(10):
        etag = document.headers["ETag"]
        assert _fresh("GET", two.url + "/doc/kpo.ttl", headers={"If-None-Match": etag}).status_code == 304
        head = _fresh("HEAD", two.url + "/doc/kpo.ttl")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Type"] == document.headers["Content-Type"]


def test_a_head_through_either_process_leaves_the_gets_after_it_whole(two):
    """A HEAD is answered without a body; the GET of the same address, which shares its cache key, must
    still get the whole body from either process, and either process's HEAD the GET's length."""
    for path in ("/api/types?asked=by-head", "/doc/kpo.ttl?asked=by-head", "/?asked=by-head"):
        heads: list[requests.Response] = []
        while len({r.headers.get("Via") for r in heads}) < 2:  # a HEAD first through each process
            assert len(heads) < 400, "one of the two processes took no connection in 400"
            heads.append(_fresh("HEAD", two.url + path))
        gets = _from_both(two.url + path)
        bodies = {r.content for r in gets}
        assert len(bodies) == 1 and len(next(iter(bodies))) > 0, [(r.headers.get("Via"), len(r.content)) for r in gets]
        length = str(len(bodies.pop()))
        assert {r.headers["Content-Length"] for r in gets} == {length}
        for head in (*heads, *(_fresh("HEAD", two.url + path) for _ in range(20))):
            assert head.status_code == 200 and head.content == b""
            assert head.headers["Content-Length"] == length, (path, head.headers)


def _head_only(server: ServerProcess, head: str) -> tuple[int, dict[str, str]]:
    """Send a request's head and none of the body it announces; the status and headers that come
    back (a socket timeout fails the test: the answer waited for the body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}


def test_what_the_store_holder_refuses_on_the_headers_is_refused_before_the_body_by_either(two):
    """A body announced past KG_MAX_BODY, and a write without the admin token, are answered at once
    by whichever process takes the connection, without waiting for a byte of the body: a front
    refuses the same requests on their headers as the process holding the store."""
    host = f"Host: 127.0.0.1:{two.port}"
    heads = [
        (f"POST /sparql HTTP/1.1\n{host}\nContent-Type: application/sparql-update\nContent-Length: 15000\n", 401),
        (f"POST /sparql HTTP/1.1\n{host}\nContent-Type: application/sparql-update; charset=utf-8\n"
         "Authorization: Bearer wrong\nContent-Length: 15000\n", 401),
        (f"POST /api/types HTTP/1.1\n{host}\nContent-Type: text/turtle\nContent-Length: 15000\n", 401),
        (f"PUT /api/types/lpo HTTP/1.1\n{host}\nContent-Type: text/turtle\nAuthorization: bearer x\n"
         "Transfer-Encoding: chunked\n", 401),
        (f"DELETE /api/types/kpo HTTP/1.1\n{host}\nContent-Length: 15000\n", 401),
        (f"POST /sparql HTTP/1.1\n{host}\nContent-Type: application/sparql-query\nContent-Length: 900000000\n", 413),
    ]
    seen: set[str | None] = set()
    rounds = 0
    while len(seen) < 2:
        assert rounds < 100, "one of the two processes took no connection in 100 rounds"
        rounds += 1
        for head, expected in heads:
            status, headers = _head_only(two, head)
            assert status == expected, (head, status, headers)
            assert headers.get("x-content-type-options") == "nosniff", headers
            seen.add(headers.get("via"))
    assert _fresh("GET", two.url + "/api/types/kpo").status_code == 200  # nothing was written


def test_when_the_process_holding_the_store_dies_another_takes_over_with_every_write(two, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}", "Content-Type": "text/turtle"}
    assert _fresh("POST", two.url + "/api/types", data=LPO, headers=auth).status_code == 201
    owner, _front = _owner_and_front(two)
    os.kill(owner, signal.SIGKILL)
    statuses = set()
    deadline = time.monotonic() + 60
    while True:
        r = _fresh("GET", two.url + "/api/types")
        statuses.add(r.status_code)
        # What a front says by itself while no process holds the store carries the app's headers too.
        assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
        if r.status_code == 503:
            assert r.headers.get("Retry-After")
        if r.status_code == 200 and "lpo" in r.text:
            break
        assert r.status_code in (200, 503), r.text
        assert time.monotonic() < deadline, two.log()
        time.sleep(0.1)
    _ready(two)
    new_owner, _ = _owner_and_front(two)
    assert new_owner != owner
    assert all("lpo" in r.text for r in _from_both(two.url + "/api/types"))


def test_a_front_that_leaves_is_replaced_and_the_store_stays_reachable(two):
    _owner, front = _owner_and_front(two)
    os.kill(front, signal.SIGTERM)  # a graceful exit runs the exit handlers the worker inherited
    deadline = time.monotonic() + 30
    while front in _children(two.proc.pid) or len(_children(two.proc.pid)) < 2:
        assert time.monotonic() < deadline, two.log()
        time.sleep(0.1)
    _ready(two)
    # Misses (each URL is new) on every connection: the new front hands them over as the old one did.
    answers: list[requests.Response] = []
    while len(answers) < 20 or not any(r.headers.get("Via") for r in answers):
        assert len(answers) < 400, "the new front took no connection in 400"
        answers.append(_fresh("GET", two.url + f"/api/search?q=outsourcing{len(answers)}"))
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers if r.status_code != 200][:1]


def test_many_requests_handed_over_at_once_are_all_answered(two):
    """Every front thread may hand a request over at the same moment, each POST on a connection of its
    own: none is turned away (a Unix socket refuses past its queue of waiting connections)."""
    from concurrent.futures import ThreadPoolExecutor

    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"

    def ask(i: int) -> tuple[int, str | None]:
        # Each query new (a comment tells them apart): no front answers one from its cache.
        r = _fresh("POST", two.url + "/sparql", data={"query": f"{query} # {i}"},
                   headers={"Accept": "application/sparql-results+json"})
        return r.status_code, r.headers.get("Via")

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(ask, range(400)))
    assert {status for status, _ in answers} == {200}, [a for a in answers if a[0] != 200][:3]
    assert any(via for _, via in answers)


def test_a_server_killed_outright_leaves_nothing_behind_and_starts_again_on_its_data(tmp_path):
    # The owner's socket lives in the data directory, private to the service's user; a server stopped by
    # SIGKILL (no exit handler runs) leaves no directory in the temporary folder, and the next server
    # on the same data binds the socket again.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    data = tmp_path / "data"
    for _ in range(2):
        server = ServerProcess(data_dir=data, env={"KG_WORKERS": "2", "TMPDIR": str(scratch)}).start()
        try:
            _ready(server)
            socket_dir = data / "http"
            assert (socket_dir / "owner.sock").is_socket()
            assert socket_dir.stat().st_mode & 0o777 == 0o700
            answers = _from_both(server.url + "/api/types")
            assert {r.status_code for r in answers} == {200}
        finally:
            server.stop(signal.SIGKILL)
        assert [p.name for p in scratch.iterdir() if p.name.startswith("kg-http-")] == []


def test_a_data_directory_too_deep_for_a_socket_path_gets_a_temporary_one_removed_at_exit(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    data = tmp_path / ("d" * 60) / ("e" * 60) / "data"
    data.parent.mkdir(parents=True)
    server = ServerProcess(data_dir=data, env={"KG_WORKERS": "2", "TMPDIR": str(scratch)}).start()
    try:
        _ready(server)
        made = [p for p in scratch.iterdir() if p.name.startswith("kg-http-")]
        assert len(made) == 1 and (made[0] / "owner.sock").is_socket()
        assert made[0].stat().st_mode & 0o777 == 0o700
        assert {r.status_code for r in _from_both(server.url + "/api/types")} == {200}
        assert not (data / "http").exists()
    finally:
        server.stop(signal.SIGTERM)
    assert [p.name for p in scratch.iterdir() if p.name.startswith("kg-http-")] == []
