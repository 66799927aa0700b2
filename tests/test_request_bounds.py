"""Request bodies are bounded by construction, tested the way an attacker varies a request.

- Bodies are UTF-8, always. A ``charset`` parameter naming anything else (a quadratic decoder such as
  punycode, a transform such as rot13, a charset that re-reads the bytes as another query, a name no
  codec has, in any spelling, quoted, repeated) is 415 on every route that reads a body, before the
  body is read; bytes that are not UTF-8 are 400 saying so.
- An update's token is checked before its body is read: a client without it gets 401 at once, however
  large a body it announces.
- A store that cannot be reached is never named: no address, port or socket error in any answer,
  only in the server log.

Everything runs against the real server over HTTP (raw sockets where a client must misbehave).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote_from_bytes

import pytest
import requests

from bench.soak import type_turtle
from tests.support.server import ADMIN_TOKEN, ServerProcess

JSON = "application/json"
HTML = "text/html"
TEXT = "text/plain"
FORM = "application/x-www-form-urlencoded"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GRAPH = "urn:x-test:request-bounds"

# Every route that reads a body: (method, path, content type, a body it accepts). Writes are dry runs
# or touch only GRAPH, so the session's server keeps its state for the other test modules.
TRANSPORTS = {
    "sparql-query": ("POST", "/sparql", "application/sparql-query", b"ASK { ?s ?p ?o }"),
    "sparql-update": ("POST", "/sparql", "application/sparql-update", f"DROP SILENT GRAPH <{GRAPH}>".encode()),
    "sparql-form-query": ("POST", "/sparql", FORM, b"query=ASK+%7B+%3Fs+%3Fp+%3Fo+%7D"),
    "sparql-form-update": ("POST", "/sparql", FORM,
                           b"update=" + quote_from_bytes(f"DROP SILENT GRAPH <{GRAPH}>".encode()).encode()),
    "add-type-turtle": ("POST", "/api/types?dry_run=true", "text/turtle",
                        type_turtle("bounds-lpo", "BDLPO").encode()),
    "add-type-json": ("POST", "/api/types?dry_run=true", JSON,
                      json.dumps({"id": "bounds-xpo", "label": "Bounds XPO"}).encode()),
    "replace-type": ("PUT", "/api/types/bounds-lpo?dry_run=true", "application/ld+json",
                     b'{"@id": "urn:x:a", "urn:x:b": "c"}'),
    "named-query-form": ("POST", "/api/queries/skills-of-type", FORM, b"type=kpo"),
}

# Charsets a client may name that are not UTF-8, each a different way into a decoder.
FOREIGN = ["punycode", "utf-16", "UTF-16LE", "utf-32", "utf-7", "latin-1", "iso-8859-1", "us-ascii", "cp1252",
           "idna", "rot13", "rot_13", "base64", "utf-8-sig", "utf_8", "x-no-such-charset", "", "ut f-8"]
# Ways of writing the parameter so that one parser sees UTF-8 and another does not.
TRICKS = ["; CHARSET=punycode", ";charset=punycode", "; charset = punycode", '; charset="utf-16"',
          "; charset='utf-8'", "; charset=utf-8; charset=punycode", "; charset=punycode; charset=utf-8",
          '; charset="utf-8"; charset=latin-1', "; charset*=utf-8''latin-1", "; charset=utf-8, latin-1",
          "; charset=utf-8\t; charset=rot13", '; charset="utf-8\\"; charset=idna"', "; charset",
          "; charset=utf-8;charset=utf-16"]
# Spellings of UTF-8 that are accepted.
UTF8_SPELLINGS = ["", "; charset=utf-8", "; charset=UTF-8", "; charset=utf8", "; Charset=UTF8", '; charset="Utf-8"',
                  "; charset=utf-8; charset=UTF8", ";charset=utf-8 ", "; charset = utf-8"]

# Byte sequences that are not UTF-8 (RFC 3629 §3 and §10, Unicode Table 3-7).
NOT_UTF8 = {
    "overlong-slash": b"\xc0\xaf",
    "overlong-nul": b"\xc0\x80",
    "overlong-3-bytes": b"\xe0\x80\xaf",
    "overlong-4-bytes": b"\xf0\x80\x80\xaf",
    "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf",
    "surrogate-pair-cesu-8": b"\xed\xa0\xbd\xed\xb8\x80",
    "truncated-2": b"\xc3",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x98",
    "lone-continuation": b"\x80",
    "byte-fe": b"\xfe",
    "byte-ff": b"\xff",
    "above-u10ffff": b"\xf4\x90\x80\x80",
    "five-bytes": b"\xf8\x88\x80\x80\x80",
    "latin-1-e-acute": "é".encode("latin-1"),
}


def version(server: ServerProcess) -> str:
    return requests.get(server.url + "/healthz", timeout=10).json()["version"]


def send(server: ServerProcess, transport: str, params: str = "", body: bytes | None = None,
         accept: str = JSON, headers: dict | None = None) -> requests.Response:
    method, path, ctype, default = TRANSPORTS[transport]
    return requests.request(method, server.url + path, data=default if body is None else body, timeout=30,
                            headers={**AUTH, "Content-Type": ctype + params, "Accept": accept, **(headers or {})})


def assert_problem(r: requests.Response, status: int, *words: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:400])
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    detail = r.json()["detail"]
    for word in words:
        assert word.lower() in detail.lower(), detail


# -- charsets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_every_spelling_of_utf8_is_read(server, transport):
    # Whatever the route makes of the body (2xx, or 422 for a type that does not validate), a UTF-8
    # charset parameter changes nothing.
    baseline = send(server, transport)
    assert baseline.status_code not in (400, 415) and baseline.status_code < 500, baseline.text[:300]
    for params in UTF8_SPELLINGS:
        r = send(server, transport, params)
        assert r.status_code == baseline.status_code, (params, r.status_code, r.text[:300])


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_charset_other_than_utf8_is_415_on_every_route(server, transport):
    before = version(server)
    for params in [f"; charset={name}" for name in FOREIGN] + TRICKS:
        r = send(server, transport, params)
        assert r.status_code == 415, (params, r.status_code, r.text[:300])
        assert_problem(r, 415, "only UTF-8")
    assert version(server) == before


@pytest.mark.parametrize("transport", ["sparql-query", "sparql-form-query"])
def test_a_body_valid_in_another_charset_is_not_read_in_it(server, transport):
    # UTF-16 "ASK {}" is a fine query to a server that obeys the client's charset: here it is refused.
    _, _, ctype, _ = TRANSPORTS[transport]
    text = "ASK { ?s ?p ?o }" if ctype != FORM else "query=ASK+%7B%7D"
    for codec in ("utf-16", "utf-32", "utf-7"):
        r = send(server, transport, f"; charset={codec}", text.encode(codec))
        assert_problem(r, 415, "UTF-8")


@pytest.mark.parametrize("transport", ["sparql-update", "sparql-query", "sparql-form-update", "add-type-turtle"])
def test_a_quadratic_codec_is_refused_before_decoding(server, transport):
    # Punycode decodes in quadratic time: a body at the size limit would hold a worker for minutes.
    body = b"a" * 100 + b"-" + b"9" * 900_000
    started = time.monotonic()
    r = send(server, transport, "; charset=punycode", body)
    assert_problem(r, 415, "UTF-8")
    assert time.monotonic() - started < 2, "the body was decoded"


def test_the_refusal_echoes_at_most_a_short_charset(server):
    r = send(server, "sparql-query", "; charset=" + "x" * 5000)
    assert_problem(r, 415, "UTF-8")
    assert len(r.text) < 1000


def test_multipart_forms_are_refused_on_named_queries(server):
    # Werkzeug decodes multipart fields in the charset each part names; a named query takes a urlencoded form.
    r = requests.post(server.url + "/api/queries/skills-of-type", timeout=30, headers={"Accept": JSON},
                      files={"type": (None, "kpo".encode("utf-16"), "text/plain; charset=utf-16")})
    assert_problem(r, 415, FORM)


# -- bytes that are not UTF-8 ------------------------------------------------------------------------

def _bodies(seq: bytes) -> dict[str, bytes]:
    """Each transport's body with ``seq`` inside a value: raw, and %-escaped in forms."""
    pct = quote_from_bytes(seq).encode()
    return {
        "sparql-query": b'SELECT ?x WHERE { BIND("' + seq + b'" AS ?x) }',
        "sparql-update": b'INSERT DATA { GRAPH <' + GRAPH.encode() + b'> { <urn:x:s> <urn:x:p> "' + seq + b'" } }',
        "sparql-form-query": b"query=ASK+%7B%7D+%23" + seq,
        "sparql-form-query-escaped": b"query=ASK+%7B%7D+%23" + pct,
        "sparql-form-update": b"update=DROP+SILENT+GRAPH+%3Curn%3Ax%3A" + seq + b"%3E",
        "sparql-form-update-escaped": b"update=DROP+SILENT+GRAPH+%3Curn%3Ax%3A" + pct + b"%3E",
        "add-type-turtle": b'<urn:x:a> <urn:x:b> "' + seq + b'" .',
        "named-query-form": b"type=kpo" + seq,
        "named-query-form-escaped": b"type=kpo" + pct,
    }


@pytest.mark.parametrize("name", sorted(NOT_UTF8))
def test_bytes_that_are_not_utf8_are_400(server, name):
    before = version(server)
    for target, body in _bodies(NOT_UTF8[name]).items():
        r = send(server, target.removesuffix("-escaped"), "", body)
        assert_problem(r, 400, "UTF-8")
        assert "Traceback" not in r.text, target
    assert version(server) == before


@pytest.mark.parametrize("name", sorted(NOT_UTF8))
def test_a_query_string_that_is_not_utf8_is_400_on_every_route(server, name):
    # Werkzeug reads such bytes as U+FFFD: the request would run on other text than was sent.
    pct = quote_from_bytes(NOT_UTF8[name])
    for path in (f"/sparql?query=ASK%7B%7D%23{pct}", f"/api/queries/search-concepts?text=a{pct}",
                 f"/api/search?q=kpo{pct}", f"/doc/kpo?x={pct}", f"/api/types?{pct}=1"):
        r = requests.get(server.url + path, headers={"Accept": JSON}, timeout=30)
        assert_problem(r, 400, "UTF-8")
    # The same text in UTF-8 is read.
    r = requests.get(server.url + "/sparql?query=ASK%7B%7D%23%C3%A9", headers={"Accept": JSON}, timeout=30)
    assert r.status_code == 200, r.text


def test_utf8_text_arrives_intact_on_every_query_transport(server):
    text = "é 😀 ﬀ \u2028"
    query = f'SELECT ?x WHERE {{ BIND("{text}" AS ?x) }}'
    answers = [
        send(server, "sparql-query", "", query.encode()),
        send(server, "sparql-query", "; charset=utf-8", query.encode()),
        send(server, "sparql-form-query", "", b"query=" + quote_from_bytes(query.encode()).encode()),
        send(server, "sparql-form-query", "", b"query=" + query.encode()),  # raw UTF-8 bytes in a form
        requests.get(server.url + "/sparql", params={"query": query}, headers={"Accept": JSON}, timeout=30),
    ]
    for r in answers:
        assert r.status_code == 200, r.text[:300]
        assert r.json()["results"]["bindings"][0]["x"]["value"] == text


# -- the token before the body --------------------------------------------------------------------------


def raw_request(server: ServerProcess, method: str, path: str, headers: dict[str, str],
                first: bytes = b"INSERT ", timeout: float = 10) -> tuple[int, dict[str, str], float]:
    """Send a request's head and a few bytes of its body, never the rest; (status, headers, seconds)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(head.encode("latin-1") + b"\r\n" + first)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)  # raises TimeoutError when the server waits for the body
            if not chunk:
                break
            answer += chunk
        elapsed = time.monotonic() - started
    lines = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}, elapsed


UNAUTHORISED = {
    "none": None,
    "wrong": "Bearer not-the-token",
    "empty": "Bearer ",
    "basic": f"Basic {ADMIN_TOKEN}",
    "prefix": f"Bearer {ADMIN_TOKEN[:-1]}",
}


@pytest.mark.parametrize("declared", [50_000_000, 900_000], ids=["50MB", "900KB"])
@pytest.mark.parametrize("who", sorted(UNAUTHORISED))
def test_an_update_without_the_token_is_refused_before_its_body(server, who, declared):
    # 900 KB is under KG_MAX_BODY: a server that read the body first would wait for it, and time out here.
    headers = {"Content-Type": "application/sparql-update", "Content-Length": str(declared), "Accept": JSON}
    if UNAUTHORISED[who] is not None:
        headers["Authorization"] = UNAUTHORISED[who]
    status, answer, elapsed = raw_request(server, "POST", "/sparql", headers)
    assert status == 401 and "bearer" in answer["www-authenticate"].lower()
    assert elapsed < 2


def test_the_token_comes_before_the_charset(server):
    headers = {"Content-Type": "application/sparql-update; charset=punycode", "Content-Length": "900000"}
    status, _, elapsed = raw_request(server, "POST", "/sparql", headers)
    assert status == 401 and elapsed < 2


@pytest.mark.parametrize("ctype", ["application/sparql-update", "application/sparql-query", FORM])
def test_an_announced_body_over_the_limit_is_413_unread(server, ctype):
    headers = {**AUTH, "Content-Type": ctype, "Content-Length": "50000000", "Accept": JSON}
    status, _, elapsed = raw_request(server, "POST", "/sparql", headers)
    assert status == 413 and elapsed < 2


# -- a store that cannot be reached is never named ----------------------------------------------------------


@pytest.fixture
def stopped_store(tmp_path) -> Iterator[tuple]:
    """A service over an Oxigraph server that is then stopped: (store, service)."""
    from kg.store.remote import VERSION_TTL
    from tests.support.remote import OxigraphServer

    store = OxigraphServer(location=tmp_path / "oxigraph").start()
    service = ServerProcess(data_dir=tmp_path / "data",
                            env={"KG_STORE": "remote", "KG_VALIDATE": "0", "KG_CACHE": "off", **store.env}).start()
    try:
        up = requests.get(service.url + "/healthz", timeout=30)
        assert up.status_code == 200
        assert_no_address(up, store)
        store.stop()
        time.sleep(VERSION_TTL + 0.2)  # past the time the service trusts the version it read last
        yield store, service
    finally:
        service.stop()
        store.stop()


def assert_no_address(r: requests.Response, store) -> None:
    """Neither the body nor a header names the store's address, port or the socket's error."""
    texts = [r.text, *(f"{k}: {v}" for k, v in r.headers.items())]
    for text in texts:
        for leak in (store.url, f"127.0.0.1:{store.port}", "Errno", "refused", "SPARQL endpoint"):
            assert leak not in text, (r.request.method, r.url, leak, text[:500])
        assert not re.search(rf"(?<!\d){store.port}(?!\d)", text), (r.url, text[:500])


DOWN_REQUESTS = [
    ("GET", "/api/types", JSON, None, None),
    ("GET", "/api/types", HTML, None, None),
    ("GET", "/api/types/kpo", JSON, None, None),
    ("GET", "/api/queries/skills-of-type", JSON, None, None),
    ("GET", "/doc/kpo", HTML, None, None),
    ("GET", "/doc/kpo", "application/ld+json", None, None),
    ("GET", "/doc/kpo", JSON, None, None),
    ("GET", "/doc/kpo.ttl", "*/*", None, None),
    ("GET", "/", HTML, None, None),
    ("GET", "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D", JSON, None, None),
    ("GET", "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D", "text/csv", None, None),
    ("POST", "/sparql", HTML + ",*/*;q=0.8", FORM, b"query=ASK+%7B%7D"),  # a browser form
    ("POST", "/sparql", JSON, "application/sparql-update", f"DROP SILENT GRAPH <{GRAPH}>".encode()),
    ("POST", "/api/types", JSON, "text/turtle", type_turtle("down-lpo", "DNLPO").encode()),
]


def test_a_store_that_cannot_be_reached_is_not_named(stopped_store):
    store, service = stopped_store
    for method, path, accept, ctype, body in DOWN_REQUESTS:
        headers = {"Accept": accept, **AUTH}
        if ctype:
            headers["Content-Type"] = ctype
        r = requests.request(method, service.url + path, data=body, headers=headers, timeout=60)
        assert r.status_code == 503, (method, path, accept, r.status_code, r.text[:300])
        assert r.headers.get("Retry-After"), (method, path)
        assert "cannot be reached" in r.text, (method, path, r.text[:300])
        assert_no_address(r, store)
    health = requests.get(service.url + "/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert "cannot be reached" in health.json()["error"]
    assert_no_address(health, store)
    # The operator still learns where and why: the server log has the address and the error, at WARNING.
    log = service.log_path.read_text(errors="replace")
    warnings = [line for line in log.splitlines() if " WARNING " in line and f"127.0.0.1:{store.port}" in line]
    assert warnings, log[-3000:]
    assert any("refused" in line.lower() for line in warnings), warnings[:3]
    assert ADMIN_TOKEN not in log


# -- a body that never comes ----------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["1", "2"], ids=["one process", "two processes"])
def quick(request, tmp_path_factory) -> Iterator[ServerProcess]:
    """A server whose requests have 2 s: what a body that never arrives may cost."""
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("quick") / "data", env={
        "KG_VALIDATE": "0", "KG_QUERY_TIMEOUT": "2", "KG_WORKERS": request.param}).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize(("path", "headers", "declared"), [
    ("/sparql", {"Content-Type": FORM}, 100),  # keyed by the answers cache: read before Flask
    ("/sparql", {"Content-Type": "application/sparql-query"}, 200_000),  # read by the view
    ("/sparql", {**AUTH, "Content-Type": "application/sparql-update"}, 100),
    ("/api/queries/skills-of-type", {"Content-Type": FORM}, 500_000),
    ("/api/types", {**AUTH, "Content-Type": "text/turtle"}, 100),
], ids=["form", "query", "update", "named query", "submission"])
def test_a_body_announced_and_never_sent_is_408_at_the_time_limit(quick, path, headers, declared):
    status, answer, elapsed = raw_request(quick, "POST", path, {**headers, "Content-Length": str(declared)},
                                          first=b"q", timeout=15)
    assert status == 408, answer
    assert 1.5 < elapsed < 6


def test_bodies_that_never_come_do_not_keep_others_waiting(quick):
    # Each costs the client one socket; held open past the limit, they would take every greenlet.
    socks = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", quick.port), timeout=10)
            sock.sendall(f"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
                         "Content-Length: 100\r\n\r\nq".encode())
            socks.append(sock)
        time.sleep(3)  # past the limit: each was answered 408 and its reading ended
        assert requests.get(quick.url + "/healthz", timeout=5).status_code == 200
        answered = 0
        for sock in socks:
            try:
                answered += sock.recv(64).startswith(b"HTTP/1.1 408")
            except OSError:
                pass
        assert answered > 250
    finally:
        for sock in socks:
            sock.close()
