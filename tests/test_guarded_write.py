"""A guarded write (``Store.replace_graph(..., unless=...)``) decides and writes in one transaction:
two replicas over one store, or two threads of one, racing to write the same thing give exactly one
write. This is what keeps two ``kg serve`` over one remote store from both accepting one acronym."""

from __future__ import annotations

import threading

import pyoxigraph as ox
import pytest

from kg.config import Config
from kg.store.embedded import EmbeddedStore
from kg.store.remote import RemoteStore
from tests.support.remote import remote_engines, start_engine
from tests.support.virtuoso import VirtuosoServer

LABEL = ox.NamedNode("urn:kg-test:label")


def _triples(n: int) -> list[ox.Triple]:
    return [ox.Triple(ox.NamedNode(f"urn:kg-test:thing{n}"), LABEL, ox.Literal("SAME"))]


def _unless(graph: str) -> str:
    # Another graph already names something "SAME".
    return f'GRAPH ?other {{ ?x {LABEL} "SAME" }} FILTER(?other != {ox.NamedNode(graph)})'


def _race(stores: list, rounds: int = 8) -> list[bool]:
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(stores) * rounds)

    def write(store, n: int) -> None:
        graph = f"urn:kg-test:graph{n}"
        barrier.wait()
        done = store.replace_graph(graph, _triples(n), unless=_unless(graph))
        with lock:
            results.append(done)

    threads = [threading.Thread(target=write, args=(store, i * rounds + r))
               for i, store in enumerate(stores) for r in range(rounds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _holders(store) -> int:
    rows = store.query(f'SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE {{ GRAPH ?g {{ ?x {LABEL} "SAME" }} }}')
    return int(next(iter(rows))["n"].value)


def test_one_write_wins_in_an_embedded_store(tmp_path):
    store = EmbeddedStore(Config.from_env({"data_dir": tmp_path / "data"}, environ={}))
    try:
        results = _race([store])
        assert results.count(True) == 1, results
        assert _holders(store) == 1
        # Unguarded, the same race writes every graph: the guard is what makes the difference.
        for n in range(100, 103):
            assert store.replace_graph(f"urn:kg-test:graph{n}", _triples(n))
        assert _holders(store) == 4
    finally:
        store.close()


@pytest.fixture(scope="module", params=remote_engines())
def engine(request):
    """One endpoint of each engine for the module (Virtuoso takes 2-3 s to start): each test writes
    graphs, slugs and acronyms of its own, and what it leaves does not touch the others' claims."""
    server = start_engine(request.param)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(engine, tmp_path_factory):
    """Two `kg serve` over the module's endpoint, caches on, shared by the tests that need two
    services (each start costs ~2 s): the race below proves one 201 through caches as well, and
    the test after it needs them on."""
    from tests.support.server import ServerProcess

    env = {"KG_STORE": "remote", "KG_VALIDATE": "0", **engine.env}
    base = tmp_path_factory.mktemp("replicas")
    for i in (0, 1):
        (base / f"replica{i}").mkdir()
    pair = [ServerProcess(data_dir=base / f"replica{i}" / "data", env=env) for i in (0, 1)]
    try:
        for replica in pair:
            replica.start()
        yield pair
    finally:
        for replica in pair:
            replica.stop()


@pytest.mark.remote
def test_one_write_wins_across_replicas_of_a_remote_store(tmp_path, engine):
    # The transport is set rather than probed: over Virtuoso the probe (KG_SPARQL_TRANSPORT=auto)
    # costs each store 2 s and lands on the form POST (tests/test_virtuoso.py proves both).
    settings = {**engine.settings, **({"sparql_transport": "form"} if isinstance(engine, VirtuosoServer) else {})}
    config = Config.from_env({"data_dir": tmp_path / "data", "store": "remote", **settings}, environ={})
    replicas = [RemoteStore(config), RemoteStore(config)]  # two services, one store
    try:
        results = _race(replicas)
        assert results.count(True) == 1, results
        assert _holders(replicas[0]) == 1
        # A replaced graph keeps its right to the label: writing it again passes its own guard.
        winner = next(n for n in range(16)
                      if bool(replicas[1].query(f"ASK {{ GRAPH <urn:kg-test:graph{n}> {{ ?s ?p ?o }} }}")))
        graph = f"urn:kg-test:graph{winner}"
        assert replicas[1].replace_graph(graph, _triples(winner), unless=_unless(graph))
    finally:
        replicas[0].update(" ;\n".join(f"DROP SILENT GRAPH <urn:kg-test:graph{n}>" for n in range(16)))
        for store in replicas:
            store.close()


@pytest.mark.remote
def test_two_services_over_one_store_accept_one_acronym_once(replicas):
    """Two `kg serve` over one endpoint (Oxigraph server, Virtuoso), the same acronym submitted through
    both at once: exactly one 201; the other is 409 and wrote nothing. The one added is then answered
    by both."""
    import requests

    from bench.soak import type_turtle
    from tests.support.server import ADMIN_TOKEN

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/turtle"}
    added: list[str] = []
    try:
        for round_, slugs in enumerate((("race-a", "race-b"), ("race-c", "race-c"))):
            acronym = f"RACE{round_}"
            answers: dict[int, requests.Response] = {}
            barrier = threading.Barrier(2)

            def submit(i: int, slug: str, acronym=acronym, answers=answers, barrier=barrier) -> None:
                barrier.wait()
                answers[i] = requests.post(replicas[i].url + "/api/types", headers=headers, timeout=60,
                                           data=type_turtle(slug, acronym).encode())

            threads = [threading.Thread(target=submit, args=(i, slug)) for i, slug in enumerate(slugs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            added += [slug for i, slug in enumerate(slugs) if answers[i].status_code == 201]
            codes = sorted(r.status_code for r in answers.values())
            assert codes == [201, 409], [(r.status_code, r.text[:200]) for r in answers.values()]
            winner = next(slug for i, slug in enumerate(slugs) if answers[i].status_code == 201)
            for replica in replicas:  # both answer for the one that was written, and only it
                listing = requests.get(replica.url + "/api/types", timeout=30).json()
                found = [t for t in listing["items"] if acronym in (t.get("acronym"), *t.get("acronyms", []))]
                assert [t["slug"] for t in found] == [winner], found
    finally:
        for slug in added:  # the replicas are shared: leave the store as the module found it
            requests.delete(f"{replicas[0].url}/api/types/{slug}", headers=headers, timeout=60)


@pytest.mark.remote
def test_a_type_added_through_one_replica_is_answered_by_the_other_at_once(replicas):
    """Two `kg serve` over one endpoint, caches on: the other replica has just answered (and cached)
    the list of types, the type page and a SPARQL count; a type is added through the first; the very
    next requests to the second answer with it, and its removal likewise."""
    import requests

    from bench.soak import type_turtle
    from tests.support.server import ADMIN_TOKEN

    writer, reader = replicas
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    count = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?t a out:OutsourcingType }"}

    def seen_by_reader() -> tuple[bool, int, int]:
        listing = requests.get(reader.url + "/api/types", timeout=30).json()
        page = requests.get(reader.url + "/api/types/seen-at-once", timeout=30)
        n = requests.get(reader.url + "/sparql", params=count, timeout=30).json()
        return (any(t["slug"] == "seen-at-once" for t in listing["items"]), page.status_code,
                int(n["results"]["bindings"][0]["n"]["value"]))

    before = seen_by_reader()
    assert before[:2] == (False, 404)
    assert requests.get(reader.url + "/api/types", timeout=30).headers.get("X-KG-Cache") == "hit"
    added = requests.post(writer.url + "/api/types", data=type_turtle("seen-at-once", "SAO").encode(),
                          headers={**auth, "Content-Type": "text/turtle"}, timeout=60)
    assert added.status_code == 201, added.text
    assert seen_by_reader() == (True, 200, before[2] + 1)
    removed = requests.delete(writer.url + "/api/types/seen-at-once", headers=auth, timeout=60)
    assert removed.status_code in (200, 204), removed.text
    assert seen_by_reader() == before
