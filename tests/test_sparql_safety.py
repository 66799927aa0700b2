"""Nothing in a query or update makes the server connect out or read a file: SERVICE, LOAD and
unknown FROM graphs are refused with a clear 400, and a listener on a loopback port proves that no
connection reaches it. The Python-side root guard (kg.safety.guard) stops rdflib's fetching too."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

JSON = "application/sparql-results+json"


def test_the_listener_does_see_connections(listener):
    # Guard against a test that cannot fail: a real connection is counted.
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2):
        pass
    import time

    deadline = time.monotonic() + 2
    while listener.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listener.connections == 1


@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ {{ SELECT ?s WHERE {{ SeRvIcE <{url}> {{ ?s ?p ?o }} }} }} }}",
    "PREFIX remote: <{url}>\nASK {{ SERVICE remote:sparql {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ BIND(<{url}> AS ?u) SERVICE ?u {{ ?s ?p ?o }} }}",
    "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o . # a comment\n SERVICE<{url}>{{?s ?p ?o}} }}",
    # Glued to what follows or precedes it: the engine needs no word break after a keyword.
    "PREFIX e: <{url}> SELECT * WHERE {{ SERVICEe:sparql {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p ?o SERVICE<{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p trueSERVICE<{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p 1SERVICE<{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p ?o.SERVICE<{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p ?o }} # x\rSERVICE <{url}> {{ }}",
    "PREFIX service: <{url}> PREFIX : <{url}> SELECT * WHERE {{ service:e {{ ?s ?p ?o }} }}",
])
def test_service_is_refused_and_nothing_is_contacted(server, http, listener, template):
    query = template.format(url=listener.url)
    for r in (http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON}),
              http.post(server.url + "/sparql", data=query.encode(),
                        headers={"Accept": JSON, "Content-Type": "application/sparql-query"})):
        assert r.status_code == 400
        assert "SERVICE" in r.json()["detail"]
    assert listener.connections == 0


@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ ?s ?p ?o BIND(1<'>' AS ?y) SERVICE <{url}> {{ ?s ?p ?o }} }} #'",
    "SELECT * WHERE {{ ?s <<(?s?p'>')>> SERVICE <{url}> {{ ?s ?p ?o }} }} #'",
    "SELECT * WHERE {{ FILTER(1<" + "(" * 10_000 + "1" + ")" * 10_000 + "&&1>0) }}",
])
def test_a_less_than_that_hides_code_from_the_scan_is_400_and_contacts_nothing(server, http, listener, template):
    # The scan would read an IRI where the engine reads "less than" (or "<<"), then a SERVICE or brackets
    # nested past the limit: refused as what it is, never handed to an engine.
    query = template.format(url=listener.url)
    r = http.post(server.url + "/sparql", data=query.encode(),
                  headers={"Accept": JSON, "Content-Type": "application/sparql-query"})
    assert r.status_code == 400, r.text
    assert "reads two ways" in r.json()["detail"]
    assert listener.connections == 0


@pytest.mark.parametrize("query", [
    "SELECT ?s WHERE { ?s ?p ?o FILTER(?o = 'SERVICE <http://127.0.0.1:1/> {}') } LIMIT 1",
    "SELECT ?s WHERE { ?s ?p ?o # SERVICE <http://127.0.0.1:1/> { }\n } LIMIT 1",
    "SELECT ?s WHERE { ?s <http://example.org/SERVICE> ?o } LIMIT 1",
    "PREFIX ex: <http://example.org/> SELECT ?service WHERE { ?service ex:p ?load } LIMIT 1",
    'SELECT ?s WHERE { ?s ?p """multi\nline SERVICE LOAD"""  } LIMIT 1',
])
def test_the_word_service_in_strings_iris_comments_and_names_is_fine(server, http, query):
    r = http.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON})
    assert r.status_code == 200, r.text


def test_load_is_refused_and_nothing_is_contacted(server, http, listener, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}"}
    for update in (f"LOAD <{listener.url}data.ttl>", f"LOAD SILENT <{listener.url}x> INTO GRAPH <urn:x:g>",
                   f"LOAD<{listener.url}data.ttl>", f"PREFIX x: <{listener.url}> LOADx:data.ttl",
                   f"INSERT DATA {{ <urn:a> <urn:b> <urn:c> }} ;LOAD<{listener.url}d>",
                   f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"):
        r = http.post(server.url + "/sparql", data={"update": update}, headers={**auth, "Accept": JSON})
        assert r.status_code == 400, r.text
        r = http.post(server.url + "/sparql", data=update.encode(),
                      headers={**auth, "Accept": JSON, "Content-Type": "application/sparql-update"})
        assert r.status_code == 400
    assert listener.connections == 0


@pytest.mark.parametrize("where", ["query", "protocol"])
def test_unknown_graphs_are_refused_not_fetched(server, http, listener, where):
    if where == "query":
        params = {"query": f"SELECT * FROM <{listener.url}g> WHERE {{ ?s ?p ?o }}"}
        named = {"query": f"SELECT * FROM NAMED <{listener.url}g> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"}
    else:
        params = {"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": listener.url + "g"}
        named = {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "named-graph-uri": listener.url + "g"}
    for p in (params, named):
        r = http.get(server.url + "/sparql", params=p, headers={"Accept": JSON})
        assert r.status_code == 400
        assert listener.url + "g" in r.json()["detail"]
    assert listener.connections == 0


def _guarded(code: str, port: int) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the project's guard installed."""
    program = f"from kg.safety import guard\nguard.install()\nPORT = {port}\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)


def test_guard_stops_a_json_ld_remote_context(listener):
    done = _guarded("""
        import json
        from rdflib import Dataset
        doc = {"@context": f"http://127.0.0.1:{PORT}/context.jsonld", "@id": "urn:x:a", "name": "x"}
        try:
            Dataset().parse(data=json.dumps(doc), format="json-ld")
        except Exception as exc:
            print("refused:", type(exc).__name__, exc)
        else:
            print("parsed")
    """, listener.port)
    assert "refused: OutboundRefused" in done.stdout, done.stdout + done.stderr
    assert listener.connections == 0


def test_guard_stops_rdflib_service_and_urllib(listener):
    done = _guarded("""
        import urllib.request
        from rdflib import Graph
        try:
            list(Graph().query(f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{PORT}/> {{ ?s ?p ?o }} }}"))
            print("queried")
        except Exception as exc:
            print("service refused:", type(exc).__name__)
            assert type(exc).__name__ == "OutboundRefused", exc
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=2)
            print("fetched")
        except PermissionError as exc:
            print("urllib refused:", exc)
        try:
            urllib.request.urlopen("file:///etc/hostname")
            print("read a file")
        except PermissionError as exc:
            print("file refused:", exc)
    """, listener.port)
    out = done.stdout + done.stderr
    assert "service refused: OutboundRefused" in out, out
    assert "urllib refused" in out and "file refused" in out, out
    assert listener.connections == 0


def test_guard_allows_the_configured_endpoint_only(listener):
    done = _guarded("""
        import socket
        guard.allow("127.0.0.1", PORT)
        socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
        print("allowed ok")
        with guard.no_network():
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=2)
                print("connected inside no_network")
            except PermissionError:
                print("strict ok")
    """, listener.port)
    assert "allowed ok" in done.stdout and "strict ok" in done.stdout, done.stdout + done.stderr
