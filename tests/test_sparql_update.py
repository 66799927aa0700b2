"""SPARQL Update over the protocol: only with the admin token, refused without one configured,
applied durably (a killed server restarts with the write), and every write invalidates the cache.

These tests write, so they use a server of their own rather than the shared one."""

from __future__ import annotations

import uuid

import pytest

from tests.support.server import ServerProcess

JSON = "application/sparql-results+json"
GRAPH = "https://example.org/test-updates"


@pytest.fixture(scope="module")
def writable(tmp_path_factory):
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("updates") / "data",
                         env={"KG_VALIDATE": "0"}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def tokenless(tmp_path_factory):
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("tokenless") / "data",
                         env={"KG_ADMIN_TOKEN": "", "KG_VALIDATE": "0"}).start()
    yield proc
    proc.stop()


def _insert(value: str) -> str:
    triple = f'<https://example.org/thing> <https://example.org/says> "{value}"'
    return f"INSERT DATA {{ GRAPH <{GRAPH}> {{ {triple} }} }}"


def _values(server, http) -> tuple[set[str], str]:
    r = http.get(server.url + "/sparql", headers={"Accept": JSON}, params={
        "query": f"SELECT ?v WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?v }} }}"})
    assert r.status_code == 200, r.text
    return {b["v"]["value"] for b in r.json()["results"]["bindings"]}, r.headers["X-KG-Cache"]


def test_without_a_configured_token_every_update_is_403(tokenless, http):
    for headers in ({}, {"Authorization": "Bearer anything"}):
        r = http.post(tokenless.url + "/sparql", data={"update": _insert("x")}, headers=headers)
        assert r.status_code == 403
        assert "KG_ADMIN_TOKEN" in r.text
    assert _values(tokenless, http)[0] == set()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
def test_missing_or_wrong_token_is_401(writable, http, headers):
    r = http.post(writable.url + "/sparql", data={"update": _insert("x")}, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "x" not in _values(writable, http)[0]


def test_update_by_form_and_by_body_applies_and_invalidates_the_cache(writable, http, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}"}
    before, _ = _values(writable, http)
    assert _values(writable, http)[1] == "hit"
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    r = http.post(writable.url + "/sparql", data={"update": _insert(first)}, headers=auth)
    assert r.status_code == 204, r.text
    values, cache = _values(writable, http)
    assert cache == "miss" and values == before | {first}
    r = http.post(writable.url + "/sparql", data=_insert(second).encode(),
                  headers={**auth, "Content-Type": "application/sparql-update"})
    assert r.status_code == 204
    assert _values(writable, http)[0] == before | {first, second}


def test_malformed_update_is_400(writable, http, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}"}
    r = http.post(writable.url + "/sparql", data={"update": "INSERT DATA { <a> }"},
                  headers={**auth, "Accept": JSON})
    assert r.status_code == 400 and "1:" in r.json()["detail"]
    r = http.post(writable.url + "/sparql", data={"update": "SELECT * WHERE { ?s ?p ?o }"}, headers=auth)
    assert r.status_code == 400 and "query" in r.text
    r = http.get(writable.url + "/sparql", params={"update": _insert("by-get")}, headers=auth)
    assert r.status_code == 400 and "POST" in r.text


@pytest.mark.parametrize("text", [
    # An error on the second line, and one at the very end (the service appends its version bump there).
    f"{_insert('first')} ;\nINSERT DATA {{ GRAPH <{GRAPH}> {{ <https://example.org/s> }} }}",
    f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <https://example.org/s> <https://example.org/p> 'unclosed' }}",
])
def test_a_malformed_updates_error_is_at_the_users_line_and_column(writable, http, admin_token, text):
    import pyoxigraph as ox

    with pytest.raises(SyntaxError) as parsed:
        ox.Store().update(text)
    before = _values(writable, http)[0]
    r = http.post(writable.url + "/sparql", data=text.encode(), headers={
        "Authorization": f"Bearer {admin_token}", "Accept": JSON, "Content-Type": "application/sparql-update"})
    assert r.status_code == 400
    assert r.json()["detail"] == str(parsed.value)  # the parser's words for the text as sent
    assert _values(writable, http)[0] == before


def test_accepted_updates_survive_a_killed_server(writable, http, admin_token):
    value = uuid.uuid4().hex
    r = http.post(writable.url + "/sparql", data={"update": _insert(value)},
                  headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 204
    writable.kill()  # SIGKILL: no shutdown code runs
    writable.start()
    assert value in _values(writable, http)[0]


def test_a_write_of_fresh_values_reads_the_same_before_and_after_a_restart(writable, http, admin_token):
    # UUID(), RAND() and NOW() take a new value each time they are evaluated: what the server answers
    # after such a write must be what the store wrote, not the same update evaluated again elsewhere.
    auth = {"Authorization": f"Bearer {admin_token}"}
    subject = f"https://example.org/fresh-{uuid.uuid4().hex}"
    update = (f"INSERT {{ GRAPH <{GRAPH}> {{ <{subject}> <https://example.org/id> ?u ; "
              f"<https://example.org/r> ?r ; <https://example.org/at> ?t }} }} "
              "WHERE { BIND(UUID() AS ?u) BIND(RAND() AS ?r) BIND(NOW() AS ?t) }")
    assert http.post(writable.url + "/sparql", data={"update": update}, headers=auth).status_code == 204
    query = {"query": f"SELECT ?p ?v WHERE {{ GRAPH <{GRAPH}> {{ <{subject}> ?p ?v }} }} ORDER BY ?p"}

    def read() -> list:
        r = http.get(writable.url + "/sparql", params=query, headers={"Accept": JSON, "Cache-Control": "no-cache"})
        assert r.status_code == 200, r.text
        return [(b["p"]["value"], b["v"]["value"]) for b in r.json()["results"]["bindings"]]

    before = read()
    assert len(before) == 3
    writable.kill()
    writable.start()
    assert read() == before
