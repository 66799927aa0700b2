"""The remote store answers like the embedded one, over real engines, and fails clearly.

Each test talks to a real ``oxigraph serve`` on loopback (in memory, started here), and, when
Virtuoso is under test (``KG_TEST_STORES``), to a real ``virtuoso-t``, through ``RemoteStore``;
expected answers come from an embedded store holding the same shipped graph.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import requests

from kg.config import Config
from kg.graph import KnowledgeGraph
from kg.store import StoreError, StoreTimeout, StoreUnavailable
from kg.store import remote as remote_module
from kg.store.embedded import EmbeddedStore
from kg.store.remote import RemoteStore
from kg.store.remote_auth import CredentialsRefused
from kg.store.remote_text import bind_values
from tests.support.remote import AuthGateway, OxigraphServer, remote_engines
from tests.support.server import ServerProcess, free_port
from tests.support.virtuoso import VirtuosoServer

pytestmark = pytest.mark.remote


def _config(server: OxigraphServer | VirtuosoServer, **extra) -> Config:
    return Config.from_env({"store": "remote", "validate_on_load": False, **server.settings, **extra}, environ={})


@pytest.fixture(scope="module", params=["native-union", "protocol-union",
                                        *(["virtuoso"] if "virtuoso" in remote_engines() else [])])
def remote_kg(request, kg):
    """The shipped graph in an Oxigraph server, with its union default graph and without it, and in a
    Virtuoso (whose default graph is the union of every graph, its own system graphs included)."""
    extra = {}
    if request.param == "virtuoso":
        server = VirtuosoServer().start()
        # As docs/remote-stores.md advises for Virtuoso: its probe (KG_SPARQL_TRANSPORT=auto) lands on
        # the form POST (tests/test_virtuoso.py proves it) after 2 s, paid again by every replica below.
        extra = {"sparql_transport": "form"}
    else:
        server = OxigraphServer(union_default_graph=request.param == "native-union").start()
    graph = KnowledgeGraph.open(_config(server, **extra))
    yield graph
    graph.close()
    server.stop()


def _rows(result) -> set[tuple]:
    if isinstance(result, ox.QueryBoolean):
        return {(bool(result),)}
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        return {tuple(str(row[n]) if row[n] is not None else None for n in names) for row in result}
    return {(str(t.subject), str(t.predicate), str(t.object)) for t in result}


QUERIES = [
    "SELECT ?t ?label WHERE { ?t a out:OutsourcingType ; skos:prefLabel ?label }",
    "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n) ?p LIMIT 5",
    "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    "SELECT ?t ?l WHERE { ?t a out:OutsourcingType "
    "OPTIONAL { ?t skos:prefLabel ?l FILTER(lang(?l) = 'en') } }",
    "ASK { ?t a out:OutsourcingType }",
    "ASK { outd:no-such-thing ?p ?o }",
    "CONSTRUCT { ?t skos:prefLabel ?l } WHERE { ?t a out:OutsourcingType ; skos:prefLabel ?l }",
    "DESCRIBE outd:kpo",
]


@pytest.mark.parametrize("query", QUERIES)
def test_remote_answers_equal_embedded(remote_kg, kg, query):
    expected = _rows(kg.store.query(query, prefixes=kg.prefixes))
    got = _rows(remote_kg.store.query(query, prefixes=remote_kg.prefixes))
    assert got == expected
    assert expected  # every query of the list has an answer in the shipped graph


def test_results_are_pyoxigraph_objects(remote_kg):
    result = remote_kg.store.query(
        "SELECT ?s WHERE { ?s a out:OutsourcingType }", prefixes=remote_kg.prefixes
    )
    assert isinstance(result, ox.QuerySolutions)
    # Native serialisation works on what the remote store returns.
    assert result.serialize(format=ox.QueryResultsFormat.JSON).startswith(b'{"head"')
    assert isinstance(remote_kg.store.query("ASK {}"), ox.QueryBoolean)


def test_substitutions_bind_terms_like_the_embedded_store(remote_kg, kg):
    query = "SELECT ?t ?label WHERE { ?t skos:prefLabel ?label }"  # Oxigraph binds projected variables
    for slug in ("bpo", "kpo"):
        subs = {"t": ox.NamedNode(kg.iri(slug))}
        expected = _rows(kg.store.query(query, prefixes=kg.prefixes, substitutions=subs))
        assert expected
        assert (
            _rows(remote_kg.store.query(query, prefixes=remote_kg.prefixes, substitutions=subs)) == expected
        )


def test_substituted_literal_cannot_break_out_of_its_quotes(remote_kg):
    before = remote_kg.store.graphs()
    hostile = ox.Literal('x" } } ; DROP ALL ; SELECT * { "')
    result = remote_kg.store.query(
        "SELECT ?s ?label WHERE { ?s skos:prefLabel ?label }",
        prefixes=remote_kg.prefixes,
        substitutions={"label": hostile},
    )
    assert list(result) == []
    assert remote_kg.store.graphs() == before


@pytest.mark.parametrize(
    "query, expected",
    [
        (
            "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
            "CONSTRUCT { ?s ?p ?o } WHERE { VALUES (?s) { (<http://x/a>) } <http://x/a> ?p ?o }",
        ),
        (
            "SELECT * WHERE { ?s ?p '{' } # {",
            "SELECT * WHERE { VALUES (?s) { (<http://x/a>) } <http://x/a> ?p '{' } # {",
        ),
        ("DESCRIBE ?s", "DESCRIBE ?s\nVALUES (?s) { (<http://x/a>) }"),
    # Nested OPTIONAL filters see the term (as with Oxigraph's substitution); a sub-SELECT keeps its variable.
    ("SELECT ?x { ?x ?p ?o OPTIONAL { ?o ?q ?l OPTIONAL { ?l ?r ?m FILTER(?m = ?s) } } "
     "{ SELECT ?s (COUNT(*) AS ?n) { ?s ?y ?z } GROUP BY ?s } }",
     "SELECT ?x { VALUES (?s) { (<http://x/a>) } ?x ?p ?o OPTIONAL { ?o ?q ?l OPTIONAL { ?l ?r ?m "
     "FILTER(?m = <http://x/a>) } } { SELECT ?s (COUNT(*) AS ?n) { <http://x/a> ?y ?z } GROUP BY ?s } }"),
        (
            "SELECT (EXISTS { ?s ?p ?o } AS ?e) { ?s ?p ?o }",
            "SELECT (EXISTS { ?s ?p ?o } AS ?e) { VALUES (?s) { (<http://x/a>) } <http://x/a> ?p ?o }",
        ),
    ],
)
def test_values_block_goes_into_the_where_group(query, expected):
    assert bind_values(query, {"s": ox.NamedNode("http://x/a")}) == expected


def test_writes_bump_a_version_shared_by_replicas(remote_kg, monkeypatch):
    monkeypatch.setattr(remote_module, "VERSION_TTL", 0.0)
    other = RemoteStore(remote_kg.config)  # a second stateless replica
    try:
        before = remote_kg.store.version()
        assert other.version() == before
        graph = remote_kg.graph("test-remote-write")
        triple = ox.Triple(
            ox.NamedNode(remote_kg.iri("x")), ox.NamedNode(remote_kg.iri("p")), ox.Literal("v")
        )
        remote_kg.store.replace_graph(graph, [triple])
        after = remote_kg.store.version()
        assert after != before and other.version() == after
        assert other.graph_triples(graph) == [triple]
        other.drop_graph(graph)
        assert remote_kg.store.version() not in (before, after)
        assert graph not in remote_kg.store.graphs()
    finally:
        other.close()


def _count_query(graph: str):
    from kg.query.trusted import Query
    return Query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", union_default=False)


def test_a_read_that_a_write_cuts_across_is_read_again_whole(remote_kg):
    """A read of two batches, with a write by another replica landing between them: the second batch
    notices (``GraphMoved``), and ``consistent`` runs the whole read again under the new version, so
    both batches answer from one version (the service runs every GET view so)."""
    from kg.store import GraphMoved

    other = RemoteStore(remote_kg.config)
    graph = remote_kg.graph("test-moved")
    triples = [ox.Triple(ox.NamedNode(remote_kg.iri("moved")), ox.NamedNode(remote_kg.iri("p")), ox.Literal(str(i)))
               for i in range(3)]
    runs = []

    def read() -> tuple[int, int]:
        first = int(remote_kg.query_all([_count_query(graph)], timeout=5)[0][0]["n"].value)
        if not runs:
            other.replace_graph(graph, triples)  # lands between the two batches, once
        runs.append(first)
        second = int(remote_kg.query_all([_count_query(graph)], timeout=5)[0][0]["n"].value)
        return first, second

    try:
        assert remote_kg.consistent(read) == (3, 3)
        assert runs == [0, 3]
        # Without ``consistent``, the same cut is refused rather than answered from two versions.
        with remote_kg.store.request_scope():
            remote_kg.query_all([_count_query(graph)], timeout=5)
            other.drop_graph(graph)
            with pytest.raises(GraphMoved):
                remote_kg.query_all([_count_query(graph)], timeout=5)
    finally:
        other.drop_graph(graph)
        other.close()


def test_writes_landing_in_every_read_end_at_the_time_limit(remote_kg):
    """Writes that land in every run of a read: it is given up at the time limit (``GraphMoved``, or
    ``StoreTimeout`` when the limit falls inside a run; both answered 503 by the service), never
    answered from two versions."""
    import time

    from kg.query import deadline
    from kg.store import GraphMoved

    other = RemoteStore(remote_kg.config)
    graph = remote_kg.graph("test-churn")
    runs = []

    def read() -> None:
        remote_kg.query_all([_count_query(graph)], timeout=5)
        other.replace_graph(graph, [ox.Triple(ox.NamedNode(remote_kg.iri("churn")), ox.NamedNode(remote_kg.iri("p")),
                                              ox.Literal(str(len(runs))))])
        runs.append(1)
        remote_kg.query_all([_count_query(graph)], timeout=5)

    try:
        started = time.monotonic()
        with deadline.within(1.0), pytest.raises((GraphMoved, StoreTimeout)):
            remote_kg.consistent(read)
        assert len(runs) > 1 and time.monotonic() - started < 5
    finally:
        other.drop_graph(graph)
        other.close()


def test_refused_connection_is_store_unavailable(kg):
    port = free_port()
    with pytest.raises(StoreUnavailable):
        RemoteStore(
            Config.from_env(
                {"store": "remote", "sparql_endpoint": f"http://127.0.0.1:{port}/query"}, environ={}
            )
        )


@pytest.fixture(scope="module")
def slow_server():
    """An Oxigraph server with data where a cross product takes long, cut at 1 s by the server."""
    server = OxigraphServer(timeout_s=1).start()
    lines = "".join(f'<http://x/s{i}> <http://x/p> "{i}" .\n' for i in range(3000))
    requests.post(
        server.url + "/store",
        params={"graph": "http://x/g"},
        data=lines.encode(),
        headers={"Content-Type": "application/n-triples"},
        timeout=30,
    ).raise_for_status()
    yield server
    server.stop()


SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?o . ?b ?q ?r . ?c ?x ?y }"


def test_client_timeout_is_store_timeout(slow_server):
    store = RemoteStore(_config(slow_server))
    try:
        with pytest.raises(StoreTimeout):
            store.query(SLOW, timeout=0.3)
        assert bool(store.query("ASK {}"))  # the store is usable again afterwards
    finally:
        store.close()


def test_truncated_answer_of_a_timed_out_oxigraph_is_store_timeout(slow_server):
    store = RemoteStore(_config(slow_server))
    try:
        with pytest.raises(StoreTimeout):
            store.query("SELECT ?a ?b WHERE { ?a ?p ?o . ?b ?q ?r }", timeout=20)
    finally:
        store.close()


def test_service_over_an_unreachable_store_reports_503(tmp_path, http):
    """A replica whose store goes away says so on /healthz (load balancers take it out)."""
    store_server = OxigraphServer().start()
    service = ServerProcess(
        data_dir=tmp_path / "data", env={"KG_STORE": "remote", "KG_VALIDATE": "0", **store_server.env}
    ).start()
    try:
        r = http.get(service.url + "/healthz")
        assert r.json()["engine"] == "remote" and f":{store_server.port}" not in r.text
        store_server.stop()
        r = http.get(service.url + "/healthz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable"
        # A path holding a line break is logged on one line: it cannot write a line of its own.
        forged = "2026-01-01 00:00:00,000 WARNING service.auth: forged"
        r = http.get(service.url + "/api/types/x%0A" + forged.replace(" ", "%20"))
        assert r.status_code == 503
        assert not any(line.startswith(forged) for line in service.log().splitlines()), service.log()[-2000:]
        assert "x\\x0a2026-01-01" in service.log()
    finally:
        service.stop()
        store_server.stop()


@pytest.mark.parametrize("union", [True, False], ids=["native-union", "protocol-union"])
def test_an_uncached_query_costs_the_endpoint_one_request_and_sees_every_write(tmp_path, http, union):
    """A replica reads the graph's version only when a request needs it: an uncached SPARQL query over
    an engine with its own union default graph is one request to the endpoint; without that union (the
    graphs are named on every query, listed per version) the version is read first. Either way, a write
    made through another client is in the very next answer."""
    store_server = OxigraphServer(union_default_graph=union).start()
    token = "count-7f2a"
    gateway = AuthGateway(store_server.url, token=token)
    env = {"KG_STORE": "remote", "KG_VALIDATE": "0", "KG_CACHE": "off", "KG_SPARQL_TOKEN": token,
           "KG_SPARQL_ENDPOINT": gateway.url + "/query", "KG_SPARQL_UPDATE_ENDPOINT": gateway.url + "/update"}
    service = ServerProcess(data_dir=tmp_path / "data", env=env).start()
    writer = RemoteStore(_config(store_server))
    ask = "ASK { <urn:kg-test:counted> ?p ?o }"
    try:
        for n in range(3):
            before = len(gateway.seen)
            r = http.get(service.url + "/sparql", params={"query": ask},
                         headers={"Accept": "application/sparql-results+json"})
            assert r.status_code == 200 and r.json()["boolean"] is (n > 0)
            sent = [path.split("?")[0] for path, _ in gateway.seen[before:]]
            # Without the union: the version, then (after a write) the graph list, then the query.
            assert sent == ["/query"] if union else len(sent) >= 2
            writer.update("INSERT DATA { GRAPH <urn:kg-test:counts> { <urn:kg-test:counted> <urn:kg-test:p> 1 } }")
    finally:
        writer.close()
        service.stop()
        gateway.stop()
        store_server.stop()


def test_embedded_and_remote_agree_on_graph_sizes(remote_kg, kg):
    embedded = {g: n for g, n in kg.store.graphs().items() if not g.endswith(("meta", "test-remote-write"))}
    remote = {g: n for g, n in remote_kg.store.graphs().items() if not g.endswith("meta")}
    assert remote == embedded
    assert isinstance(kg.store, EmbeddedStore)


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_credentials_go_to_both_endpoints_and_wrong_ones_fail_clearly(kind):
    """Basic and bearer credentials through an authenticating gateway in front of a real Oxigraph
    server: sent on queries and updates; wrong or missing ones refused with the settings named and
    no secret in the message, the configuration's repr or the store's."""
    server = OxigraphServer().start()
    secret = f"s3cret-{kind}-7f2a"
    gateway = (AuthGateway(server.url, user="kg", password=secret) if kind == "basic"
               else AuthGateway(server.url, token=secret))

    def config(credentials: dict) -> Config:
        return Config.from_env({"store": "remote", "sparql_endpoint": gateway.url + "/query",
                                "sparql_update_endpoint": gateway.url + "/update", **credentials}, environ={})

    right = {"sparql_user": "kg", "sparql_password": secret} if kind == "basic" else {"sparql_token": secret}
    wrong = {"sparql_user": "kg", "sparql_password": "not-it-91"} if kind == "basic" else {"sparql_token": "not-it-91"}
    try:
        store = RemoteStore(config(right))
        try:
            store.update('INSERT DATA { GRAPH <urn:kg-test:g> { <urn:kg-test:a> <urn:kg-test:b> "c" } }')
            assert len(store.graph_triples("urn:kg-test:g")) == 1
            assert secret not in repr(store.config) and secret not in repr(vars(store))
        finally:
            store.close()
        paths = {path.split("?")[0] for path, authorization in gateway.seen if authorization}
        assert paths == {"/query", "/update"}
        for credentials, says in ((wrong, "not accepted"), ({}, "wants credentials")):
            with pytest.raises(CredentialsRefused) as refused:
                RemoteStore(config(credentials))
            message = str(refused.value)
            assert says in message and "KG_SPARQL" in message
            assert secret not in message and "not-it-91" not in message
    finally:
        gateway.stop()
        server.stop()


def test_a_user_or_password_in_the_endpoint_address_is_refused_without_echoing_it():
    with pytest.raises(StoreError) as refused:
        RemoteStore(Config.from_env({"store": "remote", "sparql_endpoint": "http://kg:hunter2@127.0.0.1:9/query"},
                                    environ={}))
    assert "hunter2" not in str(refused.value) and "KG_SPARQL_USER" in str(refused.value)


def test_an_update_whose_answer_is_lost_is_not_sent_again():
    """A write the endpoint applied but whose answer never came (the connection dropped after the
    work, by a proxy or the store) is reported, never sent again on a new connection: an update that
    is not idempotent (a counter raised) would be applied twice. Reads may be sent again."""
    from kg.store import StoreUnavailable

    server = OxigraphServer().start()
    gateway = AuthGateway(server.url, lose=b"kg-test-lose", close=b"kg-test-close")
    store = RemoteStore(Config.from_env({"store": "remote", "validate_on_load": False,
                                         "sparql_endpoint": gateway.url + "/query",
                                         "sparql_update_endpoint": gateway.url + "/update"}, environ={}))
    count = "SELECT ?n WHERE { GRAPH <urn:x:g> { <urn:x:s> <urn:x:n> ?n } }"
    try:
        store.update("INSERT DATA { GRAPH <urn:x:g> { <urn:x:s> <urn:x:n> 0 } }")  # the connection is kept
        raise_it = ("# kg-test-lose\nDELETE { GRAPH <urn:x:g> { <urn:x:s> <urn:x:n> ?n } } "
                    "INSERT { GRAPH <urn:x:g> { <urn:x:s> <urn:x:n> ?m } } "
                    "WHERE { GRAPH <urn:x:g> { <urn:x:s> <urn:x:n> ?n } BIND(?n + 1 AS ?m) }")
        updates_before = sum(1 for path, _ in gateway.seen if path.startswith("/update"))
        with pytest.raises(StoreUnavailable, match="dropped the connection"):
            store.update(raise_it)
        assert [int(r["n"].value) for r in store.query(count, timeout=10)] == [1]  # applied once
        assert sum(1 for path, _ in gateway.seen if path.startswith("/update")) == updates_before + 1
        store.update(raise_it.replace("kg-test-lose", "answered"))  # the next write finds a new connection
        # A read whose connection the gateway closes once it has answered: the write after it is sent
        # on a new one, not lost with the old.
        assert not store.query("ASK { <urn:x:kg-test-close> ?p ?o }", timeout=10)
        store.update(raise_it.replace("kg-test-lose", "answered again"))
        assert [int(r["n"].value) for r in store.query(count, timeout=10)] == [3]
    finally:
        store.close()
        gateway.stop()
        server.stop()
