"""The processes that evaluate queries and updates of the embedded store cannot open an internet
socket, whatever the engine parses: the operating system refuses them (``kg.safety.confine``).

Proven from inside: a SERVICE query handed straight to the evaluators (past the pre-check), and a
LOAD handed straight to the process that applies a SPARQL update, make no connection to a loopback
listener, while the same query or update in an unconfined process does; the kernel
reports a seccomp filter on every evaluator of a running server; a system that cannot confine
gets a warning, or a refusal to start when KG_REQUIRE_CONFINEMENT says so.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from kg.config import Config
from kg.graph import KnowledgeGraph
from kg.query.evaluation import Job
from kg.query.evaluator import Evaluator
from kg.query.pool import QueryPool
from kg.safety import confine
from tests.support.evaluators import run_one
from tests.support.server import ROOT, ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="seccomp is a Linux facility")

SERVICE = "SELECT * WHERE {{ ?s ?p ?o SERVICE <{url}> {{ ?a ?b ?c }} }} LIMIT 1"
LOAD = "LOAD <{url}data.ttl> INTO GRAPH <urn:x:loaded>"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    """A store directory with the shipped graph, closed again so evaluators can open it."""
    config = Config.from_env({"data_dir": tmp_path_factory.mktemp("confined") / "data"}, environ={})
    graph = KnowledgeGraph.open(config)
    graph.close()
    return config.data_dir / "oxigraph"


def _settle(listener) -> int:
    time.sleep(0.3)
    return listener.connections


def test_an_unconfined_process_does_connect(listener, store_dir):
    # The witness: without confinement the engine reaches the listener, so the tests below can fail.
    script = textwrap.dedent(f"""
        import pyoxigraph as ox
        store = ox.Store.read_only({str(store_dir)!r})
        try:
            list(store.query({SERVICE.format(url=listener.url)!r}, use_default_graph_as_union=True))
        except Exception as exc:
            print(type(exc).__name__)
    """)
    subprocess.run([sys.executable, "-c", script], timeout=60, check=True, capture_output=True)
    assert _settle(listener) >= 1


def test_a_disk_evaluator_cannot_connect(listener, store_dir):
    init = {"path": str(store_dir), "prefixes": {}, "allow": [], "memory": 0, "graph_ns": Config().graph_ns}
    disk = Evaluator(init, 2, source="disk")
    try:
        outcome = run_one(disk, Job(SERVICE.format(url=listener.url)), time.monotonic() + 30)
        assert outcome.status == "error", outcome
        assert "denied" in outcome.message.lower() or "permission" in outcome.message.lower(), outcome.message
        assert disk.confinement == {"confined": True, "method": "seccomp"}
    finally:
        disk.kill()
    assert _settle(listener) == 0


def test_the_in_memory_engine_cannot_connect(listener, store_dir):
    pool = QueryPool(store_dir, {}, graph_ns=Config().graph_ns, engine="memory", engine_threads=2)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (pool.status().get("engine") or {}).get("state") == "ready":
            time.sleep(0.1)
        engine = pool.status()["engine"]
        assert engine["confinement"] == {"confined": True, "method": "seccomp"}, engine
        outcome = run_one(pool, Job(SERVICE.format(url=listener.url)), 30, version=engine["version"])
        assert outcome.status == "error", outcome
        assert pool.answered["memory"] == 1  # the engine answered, not a disk worker
    finally:
        pool.close()
    assert _settle(listener) == 0


def test_an_update_process_cannot_load_from_the_network(listener, tmp_path):
    # A LOAD handed straight to the process that applies SPARQL updates (past the pre-check): the
    # engine tries, the kernel refuses, and nothing of the update is kept. The witness first: the
    # same update in an unconfined process reaches the listener.
    from kg.store import update_process

    path = str(tmp_path / "store")
    subprocess.run([sys.executable, "-c", f"import pyoxigraph as ox; ox.Store({path!r}).update('INSERT DATA {{ "
                    "<urn:x:s> <urn:x:p> <urn:x:o> }')"], timeout=60, check=True)
    load = LOAD.format(url=listener.url)
    script = f"import pyoxigraph as ox\ntry:\n    ox.Store().update({load!r})\nexcept Exception:\n    pass\n"
    subprocess.run([sys.executable, "-c", script], timeout=60, check=True, capture_output=True)
    assert _settle(listener) >= 1
    before = listener.connections
    request = update_process.Request(path=path, own=load, update=load, prefixes={}, seconds=30.0, memory=0,
                                     require_confinement=True)
    status, message = update_process.apply(request, time.monotonic() + 30)
    assert status == "error", (status, message)
    assert "denied" in message.lower() or "permission" in message.lower(), message
    assert _settle(listener) == before
    import pyoxigraph as ox

    store = ox.Store.read_only(path)
    assert not store.contains_named_graph(ox.NamedNode("urn:x:loaded"))


def test_confinement_reports_itself_from_inside_a_child():
    result = confine.probe()
    assert result.confined, result.reason
    assert result.method == "seccomp"


def test_unix_sockets_and_pipes_still_work_when_confined():
    script = textwrap.dedent("""
        import os, socket
        from kg.safety import confine
        assert confine.confine().confined
        a, b = socket.socketpair()
        a.sendall(b"x"); assert b.recv(1) == b"x"
        r, w = os.pipe(); os.write(w, b"y"); assert os.read(r, 1) == b"y"
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(family)
            except PermissionError:
                continue
            raise SystemExit(f"{family!r} was allowed")
        import threading
        seen = []
        def inner():
            try:
                socket.socket()
            except PermissionError:
                seen.append("refused")
        t = threading.Thread(target=inner); t.start(); t.join()
        assert seen == ["refused"], seen
        import subprocess, sys
        child = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], capture_output=True)
        assert child.returncode != 0 and b"PermissionError" in child.stderr
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stdout + done.stderr


def _seccomp_mode(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Seccomp:"):
            return line.split()[1]
    return ""


def _ready_engine(server: ServerProcess) -> dict:
    """The in-memory evaluator's entry on /healthz, once it is ready."""
    deadline = time.monotonic() + 60
    while True:
        health = requests.get(server.url + "/healthz", timeout=10).json()
        engine = (health.get("query_engine") or {}).get("engine") or {}
        if engine.get("state") == "ready":
            return engine
        assert time.monotonic() < deadline, health
        time.sleep(0.2)


@pytest.mark.slow
def test_every_evaluator_of_a_running_server_is_filtered(tmp_path, listener, admin_token):
    server = ServerProcess(data_dir=tmp_path / "data", env={"KG_QUERY_WORKERS": "1"}).start()
    try:
        engine = _ready_engine(server)
        assert engine["confinement"]["confined"] is True
        assert _seccomp_mode(engine["pid"]) == "2"  # SECCOMP_MODE_FILTER
        # The HTTP worker holding the store (it applies the service's own writes) is filtered too; the master is not.
        workers = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
        assert workers and all(_seccomp_mode(int(pid)) == "2" for pid in workers)
        # An admin update that names a LOAD target glued to the keyword is refused before the engine.
        r = requests.post(server.url + "/sparql", data={"update": f"LOAD<{listener.url}x>"},
                          headers={"Authorization": f"Bearer {admin_token}"}, timeout=10)
        assert r.status_code == 400
    finally:
        server.stop()
    assert _settle(listener) == 0


@pytest.fixture
def no_seccomp(tmp_path) -> dict[str, str]:
    """An environment in which the system offers no way to confine: the seccomp binding is missing."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pyseccomp.py").write_text("raise ImportError('libseccomp is not available on this system')\n")
    return {"PYTHONPATH": f"{shim}:{ROOT}"}


def test_without_a_way_to_confine_the_service_starts_and_warns(tmp_path, no_seccomp):
    server = ServerProcess(data_dir=tmp_path / "data", env=no_seccomp).start()
    try:
        engine = _ready_engine(server)
        assert engine["confinement"]["confined"] is False
        assert "libseccomp is not available" in engine["confinement"]["reason"]
        assert "cannot be kept off the network" in server.log()
    finally:
        server.stop()


def test_a_deployment_that_requires_confinement_refuses_to_start_without_it(tmp_path, no_seccomp):
    env = {**no_seccomp, "KG_REQUIRE_CONFINEMENT": "true"}
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(data_dir=tmp_path / "data", env=env).start(timeout=60)
    assert "KG_REQUIRE_CONFINEMENT" in str(failed.value)

