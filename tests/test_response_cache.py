"""The response cache as a client sees it: a repeated read is replayed byte for byte until the next
write, which every later read sees at once; the editor page and anything credentialed are never
replayed; with the cache off nothing is."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from tests.support.server import ServerProcess

REPLAYED_HEADERS = ("Content-Type", "ETag", "Vary", "Link", "Access-Control-Allow-Origin", "Cache-Control")


def _twice(http, url, **kwargs):
    first = http.get(url, **kwargs)
    second = http.get(url, **kwargs)
    return first, second


@pytest.mark.parametrize("path,accept", [
    ("/doc/kpo.ttl", "text/turtle"),
    ("/doc/bpo", "application/ld+json"),
    ("/api/types", "application/json"),
    ("/api/compare?types=bpo,kpo", "text/csv"),
    ("/", "text/html"),
])
def test_a_repeated_read_is_replayed_unchanged(server, http, path, accept):
    url = f"{server.url}{path}{'&' if '?' in path else '?'}nonce={uuid.uuid4().hex}"
    first, second = _twice(http, url, headers={"Accept": accept})
    assert first.status_code == second.status_code == 200
    assert first.headers["X-KG-Cache"] == "miss" and second.headers["X-KG-Cache"] == "hit"
    assert second.content == first.content
    for name in REPLAYED_HEADERS:
        assert second.headers.get(name) == first.headers.get(name), name
    assert int(second.headers["Content-Length"]) == len(second.content)


def test_head_replays_headers_without_a_body(server, http):
    url = f"{server.url}/doc/kpo.nt?nonce={uuid.uuid4().hex}"
    body = http.get(url).content
    head = http.head(url)
    assert head.headers["X-KG-Cache"] == "hit"
    assert head.content == b"" and int(head.headers["Content-Length"]) == len(body)


def test_sparql_answers_are_replayed_but_the_editor_never(server, http):
    query = f"SELECT ?t WHERE {{ ?t a out:OutsourcingType }} # {uuid.uuid4().hex}"
    first, second = _twice(http, server.url + "/sparql", params={"query": query})
    assert second.headers["X-KG-Cache"] == "hit" and second.content == first.content
    editor = [http.get(server.url + "/sparql", headers={"Accept": "text/html"}) for _ in range(2)]
    assert all(r.status_code == 200 and r.headers.get("X-KG-Cache") != "hit" for r in editor)


def test_a_write_is_seen_by_the_next_read(server, http, admin_token):
    note = f"cache probe {uuid.uuid4().hex}"
    query = "SELECT ?c WHERE { outd:kpo rdfs:comment ?c }"
    before, again = _twice(http, server.url + "/sparql", params={"query": query})
    assert again.headers["X-KG-Cache"] == "hit"
    graph = "https://example.org/cache-probe"
    auth = {"Authorization": f"Bearer {admin_token}"}
    update = f'INSERT DATA {{ GRAPH <{graph}> {{ outd:kpo rdfs:comment "{note}" }} }}'
    assert http.post(server.url + "/sparql", data={"update": update}, headers=auth).status_code == 204
    try:
        after = http.get(server.url + "/sparql", params={"query": query})
        assert after.headers["X-KG-Cache"] == "miss" and note in after.text and note not in before.text
        page = http.get(server.url + "/doc/kpo.ttl")
        assert note in page.text
    finally:
        http.post(server.url + "/sparql", data={"update": f"DROP SILENT GRAPH <{graph}>"}, headers=auth)
    assert note not in http.get(server.url + "/doc/kpo.ttl").text


def _triple_product(side: int) -> str:
    """A read whose time grows with ``side`` cubed; never asked before (the comment), so never cached."""
    return (f"SELECT (COUNT(*) AS ?n) {{ {{ SELECT * {{ ?a ?b ?c }} LIMIT {side} }} "
            f"{{ SELECT * {{ ?d ?e ?f }} LIMIT {side} }} {{ SELECT * {{ ?g ?h ?i }} LIMIT {side} }} }} # "
            + uuid.uuid4().hex)


def _side_for_a_read_of(seconds: float, server, http) -> int:
    """The ``side`` of a triple product that reads for about ``seconds`` on this machine now: a read
    rerun after a write (a remote store) must still end within the time limit on a slow machine, and
    must still outlast the write on a fast one. Measured on small reads, doubling the side until one
    takes a quarter of a second, so the measuring costs about what one such read does."""
    side = 40
    while True:
        started = time.monotonic()
        http.get(server.url + "/sparql", params={"query": _triple_product(side)}, timeout=60)
        took = time.monotonic() - started
        if took >= 0.25 or side >= 400:
            break
        side *= 2
    return max(40, min(400, round(side * (seconds / max(0.05, took)) ** (1 / 3))))


def test_a_read_that_straddles_a_write_leaves_the_new_versions_answers_cached(server, http, admin_token):
    # A read that began before a write and ends after it must not be kept: under the old version
    # nobody asks for it again, and keeping it would empty what the cache holds for the new one.
    side = _side_for_a_read_of(1.5, server, http)
    triple_product = _triple_product(side)
    slow: dict = {}
    reader = threading.Thread(target=lambda: slow.update(
        answer=requests.get(server.url + "/sparql", params={"query": triple_product}, timeout=60)))
    started = time.monotonic()
    reader.start()
    time.sleep(0.3)
    graph = f"https://example.org/straddle-{uuid.uuid4().hex}"
    auth = {"Authorization": f"Bearer {admin_token}"}
    update = f'INSERT DATA {{ GRAPH <{graph}> {{ outd:kpo rdfs:comment "x" }} }}'
    assert http.post(server.url + "/sparql", data={"update": update}, headers=auth).status_code == 204
    try:
        page, again = _twice(http, server.url + "/doc/kpo.ttl")
        assert again.headers["X-KG-Cache"] == "hit"
        assert reader.is_alive(), f"the slow read ended before the write ({time.monotonic() - started:.2f} s)"
        reader.join()
        assert slow["answer"].status_code == 200
        assert http.get(server.url + "/doc/kpo.ttl").headers["X-KG-Cache"] == "hit"
    finally:
        http.post(server.url + "/sparql", data={"update": f"DROP SILENT GRAPH <{graph}>"}, headers=auth)


def test_credentialed_requests_are_never_replayed(server, http, admin_token):
    url = f"{server.url}/api/types?nonce={uuid.uuid4().hex}"
    http.get(url)
    r = http.get(url, headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200 and r.headers.get("X-KG-Cache") != "hit"


def test_nothing_is_replayed_with_the_cache_off(tmp_path):
    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_CACHE": "off"}).start()
    try:
        for path in ("/doc/kpo.ttl", "/api/types", "/sparql?query=ASK%20%7B%7D"):
            answers = [requests.get(proc.url + path, timeout=10) for _ in range(2)]
            assert all(r.status_code == 200 for r in answers)
            assert all(r.headers.get("X-KG-Cache") != "hit" for r in answers), path
    finally:
        proc.stop()


@pytest.mark.parametrize("transport", ["direct", "form"])
def test_posted_queries_are_replayed_by_their_exact_body(server, http, transport):
    # Ordered: the in-memory copy and the disk may list rows in different orders.
    query = f"SELECT ?t WHERE {{ ?t a out:OutsourcingType }} ORDER BY ?t # {uuid.uuid4().hex}"

    def post(text):
        if transport == "direct":
            return http.post(server.url + "/sparql", data=text.encode(),
                             headers={"Content-Type": "application/sparql-query"})
        return http.post(server.url + "/sparql", data={"query": text})

    first, second = post(query), post(query)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-KG-Cache"] == "miss" and second.headers["X-KG-Cache"] == "hit"
    assert second.content == first.content
    # One character more, at either end or inside, is another request: never the stored answer.
    for other in (query + " ", " " + query, query.replace("?t", "?u")):
        answer = post(other)
        assert answer.status_code == 200 and answer.headers["X-KG-Cache"] == "miss", other
    # The same text by GET is not the POST's entry either (and is answered the same).
    by_get = http.get(server.url + "/sparql", params={"query": query})
    assert by_get.headers["X-KG-Cache"] == "miss" and by_get.json() == first.json()


def test_a_repeated_update_is_applied_every_time(server, http, admin_token):
    graph = f"https://example.org/cache-probe/{uuid.uuid4().hex}"
    auth = {"Authorization": f"Bearer {admin_token}"}
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    # A new node each time, named by a fresh UUID: Virtuoso 7.2 does not implement BNODE() (SP031).
    insert = (f"INSERT {{ GRAPH <{graph}> {{ ?b rdfs:label \"n\" }} }} "
              f"WHERE {{ BIND(IRI(CONCAT(\"urn:uuid:\", STRUUID())) AS ?b) }}")
    try:
        for expected in (1, 2, 3):
            assert http.post(server.url + "/sparql", data={"update": insert}, headers=auth).status_code == 204
            # The count is posted too, with the same body each time: a write empties the cache.
            r = http.post(server.url + "/sparql", data={"query": count})
            assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == expected
    finally:
        http.post(server.url + "/sparql", data={"update": f"DROP SILENT GRAPH <{graph}>"}, headers=auth)


def test_bodies_past_the_key_limit_or_without_a_length_are_answered_uncached(server, http):
    from service.cache_key import MAX_KEYED_BODY

    padding = "#" + "x" * MAX_KEYED_BODY + "\n"
    query = padding + "ASK { ?s ?p ?o }"
    answers = [http.post(server.url + "/sparql", data=query.encode(),
                         headers={"Content-Type": "application/sparql-query"}) for _ in range(2)]
    assert all(r.status_code == 200 and r.json()["boolean"] is True for r in answers)
    assert all(r.headers.get("X-KG-Cache") != "hit" for r in answers)
    # Chunked (no Content-Length): Flask reads it under its own limit; nothing is keyed on it.
    chunked = [http.post(server.url + "/sparql", data=iter([b"ASK ", b"{ ?s ?p ?o }"]),
                         headers={"Content-Type": "application/sparql-query"}) for _ in range(2)]
    assert all(r.status_code == 200 and r.json()["boolean"] is True for r in chunked)
    assert all(r.headers.get("X-KG-Cache") != "hit" for r in chunked)


def test_headers_in_cache_keys_count_against_the_caches_byte_limit(tmp_path):
    # A key holds Accept-Language as sent: ninety 8 KB lines over a few bytes of answer. Counted by the
    # body alone, 1,024 such entries held about 800 MB until the next write; counted whole, the cache
    # stays within its 64 MB.
    import http.client
    import subprocess
    from pathlib import Path

    proc = ServerProcess(data_dir=tmp_path / "data", env={"KG_VALIDATE": "0"}).start()
    try:
        worker = int(subprocess.run(["pgrep", "-P", str(proc.proc.pid)], capture_output=True, text=True,
                                    check=True).stdout.split()[0])

        def rss_mb() -> float:
            status = Path(f"/proc/{worker}/status").read_text()
            return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024

        def ask(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=30)
            conn.putrequest("GET", f"/sparql?query=ASK%7B%7D&n={n}")
            for line in range(90):
                conn.putheader("Accept-Language", f"{line:02d}" + "x" * 8000)
            conn.endheaders()
            answer = conn.getresponse()
            answer.read()
            conn.close()
            assert answer.status == 200

        ask(0)
        before = rss_mb()
        for n in range(1, 300):
            ask(n)
        grown = rss_mb() - before
        assert grown < 150, f"the HTTP process grew by {grown:.0f} MB for 300 small answers"
    finally:
        proc.stop()
