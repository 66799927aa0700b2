"""The hostile-input corpus: whatever a client sends, the answer is a clear 4xx in the format it
negotiated, never a 500 and never a stack trace, and a refused write leaves the graph as it was.

Why a corpus: a public endpoint meets malformed SPARQL, broken bodies, wrong media types and
probes of unknown routes and methods all day. Each row here is one such request with the status a
client may rely on. The SPARQL rows are written from the grammar and the static rules of SPARQL
1.1 (Query §19, Update §3), the same kinds of error the W3C negative-syntax tests exercise.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

# Accept headers of the three kinds of client; each takes anything in the end (*/*), as real ones do,
# so that content negotiation of a success never masks the error under test.
JSON = "application/json, */*;q=0.1"
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # a browser's
TEXT = "text/plain, */*;q=0.1"  # a command-line client: text first, anything else will do
FORM = "application/x-www-form-urlencoded"
ACCEPTS = (JSON, HTML, TEXT)

# -- SPARQL that the grammar or its static rules (SPARQL 1.1 Query §19.8, §18.2) forbid ---------------
BAD_QUERIES = {
    "unclosed-group": "SELECT * WHERE { ?s ?p ?o",
    "extra-brace": "SELECT * WHERE { ?s ?p ?o } }",
    "missing-object": "SELECT * WHERE { ?s ?p }",
    "dangling-subject": "SELECT * WHERE { ?s ?p ?o . ?s }",
    "no-projection": "SELECT WHERE { ?s ?p ?o }",
    "ask-alone": "ASK",
    "describe-alone": "DESCRIBE",
    "expression-without-as": "SELECT (STR(?s)) WHERE { ?s ?p ?o }",
    "as-without-parentheses": "SELECT STR(?s) AS ?x WHERE { ?s ?p ?o }",
    "projected-twice": "SELECT (1 AS ?x) (2 AS ?x) WHERE {}",
    "as-variable-in-scope": "SELECT (?o AS ?s) WHERE { ?s ?p ?o }",
    "bind-variable-in-scope": "SELECT * WHERE { ?s ?p ?o BIND(1 AS ?s) }",
    "bind-twice": "SELECT * WHERE { BIND(1 AS ?x) BIND(2 AS ?x) }",
    "select-star-with-group-by": "SELECT * WHERE { ?s ?p ?o } GROUP BY ?s",
    "ungrouped-variable-projected": "SELECT ?o (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?s",
    "aggregate-without-group": "SELECT ?s (COUNT(?o) AS ?n) WHERE { ?s ?p ?o }",
    "aggregate-in-filter": "SELECT * WHERE { ?s ?p ?o FILTER(COUNT(?o) > 1) }",
    "aggregate-in-bind": "SELECT * WHERE { ?s ?p ?o BIND(SUM(?o) AS ?t) }",
    "negative-limit": "SELECT * WHERE { ?s ?p ?o } LIMIT -1",
    "limit-twice": "SELECT * WHERE { ?s ?p ?o } LIMIT 1 LIMIT 2",
    "limit-word": "SELECT * WHERE { ?s ?p ?o } LIMIT ten",
    "limit-overflow": "SELECT * WHERE { ?s ?p ?o } LIMIT 999999999999999999999999999999",
    "offset-before-where": "SELECT * OFFSET 1 WHERE { ?s ?p ?o }",
    "empty-order-by": "SELECT * WHERE { ?s ?p ?o } ORDER BY",
    "empty-group-by": "SELECT ?s WHERE { ?s ?p ?o } GROUP BY",
    "empty-having": "SELECT ?s WHERE { ?s ?p ?o } GROUP BY ?s HAVING",
    "empty-filter": "SELECT * WHERE { ?s ?p ?o FILTER() }",
    "filter-without-parentheses": "SELECT * WHERE { ?s ?p ?o FILTER ?o }",
    "incomplete-expression": "SELECT * WHERE { ?s ?p ?o FILTER(?o = ) }",
    "unknown-function": "SELECT * WHERE { ?s ?p ?o FILTER(NOSUCHFUNCTION(?o)) }",
    "distinct-and-reduced": "SELECT DISTINCT REDUCED * WHERE { ?s ?p ?o }",
    "undeclared-prefix": "SELECT * WHERE { ?s nosuchprefix:p ?o }",
    "iri-with-space": "SELECT * WHERE { <http://example.org/a b> ?p ?o }",
    "iri-unclosed": "SELECT * WHERE { <http://example.org/a ?p ?o }",
    "string-unclosed": 'SELECT * WHERE { ?s ?p "open }',
    "long-string-unclosed": "SELECT * WHERE { ?s ?p '''open }",
    "bad-escape": 'SELECT * WHERE { ?s ?p "\\q" }',
    "bad-unicode-escape": 'SELECT * WHERE { ?s ?p "\\u00ZZ" }',
    "empty-language-tag": 'SELECT * WHERE { ?s ?p "x"@ }',
    "language-tag-and-datatype": 'SELECT * WHERE { ?s ?p "x"@en^^<http://www.w3.org/2001/XMLSchema#string> }',
    "bad-double": "SELECT * WHERE { ?s ?p 1.0e }",
    "blank-node-label-in-two-groups": "SELECT * WHERE { _:a ?p ?o . { _:a ?q ?r } }",
    "blank-node-label-across-optional": "SELECT * WHERE { _:a ?p ?o OPTIONAL { _:a ?q ?r } }",
    "values-arity": "SELECT * WHERE { VALUES (?a ?b) { (1) } }",
    "values-unclosed": "SELECT * WHERE { VALUES ?a { 1 2 }",
    "optional-without-group": "SELECT * WHERE { OPTIONAL }",
    "minus-without-group": "SELECT * WHERE { ?s ?p ?o MINUS }",
    "union-dangling": "SELECT * WHERE { { ?s ?p ?o } UNION }",
    "graph-without-group": "SELECT * WHERE { GRAPH ?g }",
    "exists-without-group": "SELECT * WHERE { ?s ?p ?o FILTER EXISTS }",
    "in-unclosed": "SELECT * WHERE { ?s ?p ?o FILTER(?o IN (1, 2) }",
    "literal-predicate": 'SELECT * WHERE { ?s "p" ?o }',
    "path-unclosed": "SELECT * WHERE { ?s (<http://e/p>/<http://e/q> ?o }",
    "path-double-modifier": "SELECT * WHERE { ?s <http://e/p>** ?o }",
    "construct-template-filter": "CONSTRUCT { ?s ?p ?o FILTER(true) } WHERE { ?s ?p ?o }",
    "construct-template-graph": "CONSTRUCT { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }",
    "construct-template-optional": "CONSTRUCT { OPTIONAL { ?s ?p ?o } } WHERE { ?s ?p ?o }",
    "construct-where-with-filter": "CONSTRUCT WHERE { ?s ?p ?o FILTER(true) }",
    "two-queries": "ASK {} ASK {}",
    "prefix-after-query": "SELECT * WHERE { ?s ?p ?o } PREFIX ex: <http://example.org/>",
    "prefix-without-iri": "PREFIX ex: http://example.org/ SELECT * WHERE { ?s ?p ?o }",
    "base-without-iri": "BASE example SELECT * WHERE { ?s ?p ?o }",
    "comma-separated-projection": "SELECT ?s, ?o WHERE { ?s ?p ?o }",
    "variable-without-name": "SELECT ?  WHERE { ?s ?p ?o }",
    "language-tag-digit-first": 'SELECT * WHERE { ?s ?p "x"@1en }',
    "not-sparql": "this is not sparql",
    "control-characters": "\x00\x01\x02",
    "update-sent-as-query": "DELETE WHERE { ?s ?p ?o }",
}

# -- SPARQL Update that the grammar or its rules (SPARQL 1.1 Update §3.1, §19.6 notes) forbid ---------
BAD_UPDATES = {
    "variable-in-insert-data": "INSERT DATA { ?s <http://e/p> <http://e/o> }",
    "variable-graph-in-insert-data": "INSERT DATA { GRAPH ?g { <http://e/s> <http://e/p> <http://e/o> } }",
    "blank-node-in-delete-data": "DELETE DATA { _:b <http://e/p> <http://e/o> }",
    "blank-node-in-delete-where": "DELETE WHERE { _:b ?p ?o }",
    "blank-node-in-delete-template": "DELETE { _:b ?p ?o } WHERE { ?x ?p ?o }",
    "unclosed-insert-data": "INSERT DATA { <http://e/s> <http://e/p> <http://e/o> ",
    "insert-without-where": "INSERT { ?s ?p ?o }",
    "clear-without-target": "CLEAR",
    "drop-without-iri": "DROP GRAPH",
    "create-without-iri": "CREATE GRAPH",
    "with-and-insert-data": "WITH <http://e/g> INSERT DATA { <http://e/s> <http://e/p> <http://e/o> }",
    "copy-one-side": "COPY DEFAULT TO",
    "missing-separator": "CLEAR ALL CLEAR ALL",
    "filter-in-insert-data": "INSERT DATA { <http://e/s> <http://e/p> <http://e/o> FILTER(true) }",
    "undeclared-prefix": "INSERT DATA { nope:s nope:p nope:o }",
    "query-sent-as-update": "SELECT * WHERE { ?s ?p ?o }",
    "empty": "   ",
}


# -- helpers ---------------------------------------------------------------------------------------


def expected_type(path: str, accept: str) -> str:
    """The media type an error must come in: problem+json for JSON clients and on /api (unless the
    client prefers HTML), an HTML page for browsers, plain text for the rest (service/errors.py)."""
    if path.startswith("/doc/") and path.rsplit("/", 1)[-1].count(".") == 1:
        # The extension chose the format (.ttl, .jsonld ...): an error cannot be Turtle, so it is text.
        return "text/plain"
    if accept == HTML:
        return "text/html"
    if accept == JSON or path.startswith(("/api", "/openapi.json")):
        return "application/problem+json"
    return "text/plain"


def assert_clean_error(r: requests.Response, status: int | tuple[int, ...], accept: str) -> None:
    """A 4xx in the negotiated format, saying what was wrong, with no trace of the server's insides."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    path = requests.utils.urlparse(r.url).path
    kind = expected_type(path, accept)
    assert r.headers["Content-Type"].split(";")[0].strip() == kind, r.headers
    body = r.text
    for leak in ("Traceback", 'File "/', "site-packages", "Exception:", "werkzeug.exceptions"):
        assert leak not in body, body[:1000]
    if kind == "application/problem+json":
        problem = r.json()
        assert problem["status"] == r.status_code
        assert problem["title"] and problem.get("detail"), problem
    elif kind == "text/html":
        assert str(r.status_code) in body and "<html" in body.lower()
    else:
        assert body.startswith(str(r.status_code)) and len(body.strip()) > len("400 Bad Request")


def version(server) -> str:
    return requests.get(server.url + "/healthz", timeout=10).json()["version"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- SPARQL queries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_QUERIES))
def test_malformed_query_is_400_on_every_transport(server, http, name):
    query = BAD_QUERIES[name]
    url = server.url + "/sparql"
    # Accept rotates over the transports so every case meets each negotiated format somewhere;
    # GET with Accept: text/html is the query editor (a browser following a link), so GET asks JSON/text.
    get_accept = (JSON, TEXT)[len(name) % 2]
    post_accept = ACCEPTS[len(name) % 3]
    r = http.get(url, params={"query": query}, headers={"Accept": get_accept})
    assert_clean_error(r, 400, get_accept)
    r = http.post(url, data={"query": query}, headers={"Accept": post_accept})
    assert_clean_error(r, 400, post_accept)
    r = http.post(url, data=query.encode(),
                  headers={"Accept": JSON, "Content-Type": "application/sparql-query"})
    assert_clean_error(r, 400, JSON)
    if name != "update-sent-as-query":
        # The parser's message says where it stopped (line:column), so a person can fix the query.
        assert re.search(r"\b\d+:\d+\b", r.json()["detail"]), r.json()["detail"]


@pytest.mark.parametrize("name", sorted(BAD_UPDATES))
def test_malformed_update_is_400_and_writes_nothing(server, http, admin_token, name):
    update = BAD_UPDATES[name]
    before = version(server)
    url = server.url + "/sparql"
    accept = ACCEPTS[len(name) % 3]
    r = http.post(url, data={"update": update}, headers={**auth(admin_token), "Accept": accept})
    assert_clean_error(r, 400, accept)
    r = http.post(url, data=update.encode(), headers={**auth(admin_token), "Accept": JSON,
                                                       "Content-Type": "application/sparql-update"})
    assert_clean_error(r, 400, JSON)
    assert version(server) == before


@pytest.mark.parametrize("params", [
    {"query": ["ASK {}", "ASK {}"]},
    {"query": "ASK {}", "update": "CLEAR ALL"},
    {"query": "ASK {}", "timeout": "soon"},
    {"query": "ASK {}", "default-graph-uri": "not an iri"},
    {"query": "SELECT * WHERE { ?s ?p ?o }", "named-graph-uri": "urn:x-no:such-graph"},
    {"update": "CLEAR ALL"},  # an update over GET
], ids=["two-queries", "query-and-update", "bad-timeout", "bad-graph-iri", "unknown-graph",
        "update-over-get"])
def test_bad_protocol_parameters_are_400(server, http, params):
    before = version(server)
    assert_clean_error(http.get(server.url + "/sparql", params=params, headers={"Accept": JSON}), 400, JSON)
    assert version(server) == before


def test_query_body_in_a_wrong_charset_is_400(server, http):
    r = http.post(server.url + "/sparql", data="ASK { ?s ?p 'é' }".encode("latin-1"),
                  headers={"Content-Type": "application/sparql-query; charset=utf-8", "Accept": JSON})
    assert_clean_error(r, 400, JSON)
    assert "utf-8" in r.json()["detail"].lower()


# -- malformed bodies of each format to the write routes ------------------------------------------------

# (body, content type, status, words the message must contain: a line number or the field's path)
BAD_BODIES = {
    "turtle-syntax": ("@prefix x: <http://x/> .\nx:a x:b x:c .\nx:d x:e .\n", "text/turtle", 400, "line 3"),
    "turtle-unclosed-iri": ("@prefix x: <http://x/> .\n\n<http://x/a x:b x:c .\n", "text/turtle", 400,
                            "line"),
    "turtle-undeclared-prefix": ("nope:a nope:b nope:c .\n", "text/turtle", 400, "line 1"),
    "trig-unclosed-graph": ("<urn:x:g> {\n<urn:x:a> <urn:x:b> <urn:x:c> .\n", "application/trig", 400,
                            "line"),
    "jsonld-truncated": ('{"@context": {"x": "http://x/"},\n "@id": ', "application/ld+json", 400, "line 2"),
    "jsonld-trailing-comma": ('{"@id": "urn:x:a",\n\n "urn:x:b": 1,}', "application/ld+json", 400, "line 3"),
    "json-truncated": ('{"id": "zz",\n "label": "Z', "application/json", 400, "line 2"),
    "json-field-of-wrong-type": ('{"id": "zz", "label": 5}', "application/json", 422, "'label'"),
    "json-list-field-of-wrong-type": ('{"id": "zz", "label": "Z", "skills": [{"a": 1}]}', "application/json",
                                      422, "'skills'"),
    "json-nested-too-deep": ('{"id": "zz", "x": ' + "[" * 200 + "]" * 200 + "}", "application/json", 400,
                             "nested"),
    "yaml-syntax": ("id: zz\nlabel: [unclosed\n", "application/yaml", 400, "line"),
    "yaml-alias-bomb": ("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "application/yaml", 400, "aliases"),
    "not-utf8": (b"\xff\xfe<urn:x:a> <urn:x:b> <urn:x:c> .", "text/turtle", 400, "UTF-8"),
    "empty-turtle": ("", "text/turtle", (400, 422), "no triples"),
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_malformed_body_is_4xx_with_a_line_or_path(server, http, admin_token, name, method):
    body, ctype, status, words = BAD_BODIES[name]
    before = version(server)
    path = "/api/types" if method == "POST" else "/api/types/zz"
    accept = (JSON, HTML)[len(name) % 2]
    r = http.request(method, server.url + path, data=body.encode() if isinstance(body, str) else body,
                     headers={**auth(admin_token), "Content-Type": ctype, "Accept": accept})
    assert_clean_error(r, status, accept)
    text = r.text if accept == HTML else r.json()["detail"]
    assert words.lower() in text.lower().replace("&#39;", "'"), text[:500]
    assert version(server) == before


# -- XML is never parsed: RDF/XML (and its entities) are refused by media type -----------------------------

XXE = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:s="http://www.w3.org/2004/02/skos/core#">
  <rdf:Description rdf:about="https://w3id.org/outsourcing-kg/id/zz"><s:prefLabel>&x;</s:prefLabel></rdf:Description>
</rdf:RDF>"""


@pytest.mark.parametrize("ctype", ["application/rdf+xml", "application/xml", "text/xml"])
def test_rdf_xml_is_415_and_never_parsed(server, http, admin_token, ctype):
    before = version(server)
    for method, path in (("POST", "/api/types"), ("PUT", "/api/types/zz")):
        r = http.request(method, server.url + path, data=XXE.encode(),
                         headers={**auth(admin_token), "Content-Type": ctype, "Accept": JSON})
        assert_clean_error(r, 415, JSON)
        assert "root:" not in r.text
        assert "text/turtle" in r.json()["detail"], "the message lists what is accepted"
    assert version(server) == before


# -- 413, 415, 404, 405 ----------------------------------------------------------------------------------

BIG = 1_100_000  # over the default KG_MAX_BODY of 1 000 000 bytes


@pytest.mark.parametrize("method, path, ctype, field", [
    ("POST", "/sparql", "application/sparql-query", None),
    ("POST", "/sparql", "application/sparql-update", None),
    ("POST", "/sparql", "application/x-www-form-urlencoded", "query"),
    ("POST", "/api/types", "text/turtle", None),
    ("PUT", "/api/types/zz", "application/json", None),
    ("POST", "/api/queries/skills-of-type", "application/x-www-form-urlencoded", "type"),
])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_oversized_body_is_413(server, http, admin_token, method, path, ctype, field, framing):
    before = version(server)
    # What the limit would cut, read alone, is a whole request: an update that would be applied in part.
    start = "INSERT DATA { GRAPH <urn:kg-test:cut> { <urn:kg-test:a> <urn:kg-test:b> 'cut' } } ;\n"
    payload = (start if ctype == "application/sparql-update" else "") + "#" * BIG
    data = (f"{field}={payload}" if field else payload).encode()
    # Chunked: no length announced, so the limit can only be found while reading.
    body = data if framing == "length" else (data[i:i + 65536] for i in range(0, len(data), 65536))
    accept = JSON if path.startswith("/api") else TEXT
    r = http.request(method, server.url + path, data=body,
                     headers={**auth(admin_token), "Content-Type": ctype, "Accept": accept})
    assert_clean_error(r, 413, accept)
    assert "limit" in r.text
    assert version(server) == before


@pytest.mark.parametrize("method, path, ctype", [
    ("POST", "/sparql", "text/plain"),
    ("POST", "/sparql", "application/json"),
    ("POST", "/sparql", None),
    ("POST", "/sparql", "application/sparql-query; charset=x-no-such-charset"),
    ("POST", "/sparql", "application/sparql-update; charset=punycode"),
    ("POST", "/sparql", "application/x-www-form-urlencoded; charset=utf-16"),
    ("POST", "/api/types", "text/turtle; charset=latin-1"),
    ("POST", "/api/queries/skills-of-type", "multipart/form-data; boundary=x"),
    ("POST", "/api/types", "text/plain"),
    ("POST", "/api/types", "text/csv"),
    ("POST", "/api/types", None),
    ("PUT", "/api/types/zz", "application/octet-stream"),
    ("POST", "/api/queries/skills-of-type", "application/json"),
])
def test_wrong_content_type_is_415(server, http, admin_token, method, path, ctype):
    before = version(server)
    headers = {**auth(admin_token), "Accept": JSON}
    if ctype:
        headers["Content-Type"] = ctype
    body = b'{"query": "ASK {}"}' if "json" in (ctype or "") else b"ASK {}"
    r = http.request(method, server.url + path, data=body, headers=headers)
    assert_clean_error(r, 415, JSON)
    assert version(server) == before


NOT_FOUND = [
    ("GET", "/no/such/page"),
    ("GET", "/api/no-such-route"),
    ("GET", "/api/types/no-such-type"),
    ("GET", "/api/queries/no-such-query"),
    ("GET", "/doc/no-such-thing"),
    ("GET", "/doc/no-such-thing.ttl"),
    ("GET", "/static/no-such-file.js"),
    ("GET", "/static/../kg/config.py"),
    ("GET", "/ontology.no-such-format"),
    ("DELETE", "/api/types/no-such-type"),
]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("method, path", NOT_FOUND)
def test_unknown_route_is_404_in_the_negotiated_format(server, http, admin_token, method, path, accept):
    r = http.request(method, server.url + path, headers={**auth(admin_token), "Accept": accept},
                     allow_redirects=False)
    assert_clean_error(r, 404, accept)


WRONG_METHOD = [
    ("DELETE", "/sparql"),
    ("PUT", "/sparql"),
    ("PUT", "/api/types"),
    ("DELETE", "/api/types"),
    ("POST", "/api/skills"),
    ("PATCH", "/api/types/bpo"),
    ("POST", "/healthz"),
    ("POST", "/doc/bpo"),
    ("DELETE", "/openapi.json"),
]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("method, path", WRONG_METHOD)
def test_wrong_method_is_405_with_allow(server, http, admin_token, method, path, accept):
    before = version(server)
    r = http.request(method, server.url + path, headers={**auth(admin_token), "Accept": accept},
                     allow_redirects=False)
    assert_clean_error(r, 405, accept)
    assert "GET" in r.headers["Allow"]
    assert version(server) == before


def test_malformed_lookup_parameters_are_400_not_500(server, http):
    for path, params in (("/api/types", {"limit": "lots"}), ("/api/types", {"offset": "-5"}),
                         # Digits of another script, and Python's own spellings of numbers.
                         ("/api/types", {"limit": "\u0661"}), ("/api/types", {"offset": "1_0"}),
                         ("/api/skills", {"limit": "\uff11"}),
                         ("/api/compare", {"types": "bpo"}), ("/api/compare", {"types": "bpo,xpo"}),
                         ("/api/search", {}), ("/api/queries/skills-of-type", {"type": "<x>"}),
                         ("/api/skills", {"limit": "1e9"})):
        r = http.get(server.url + path, params=params, headers={"Accept": JSON})
        assert 400 <= r.status_code < 500, (path, params, r.status_code, r.text[:300])
        assert_clean_error(r, r.status_code, JSON)


# -- the Host header: every document, link and redirect is built on it --------------------------------

BAD_HOSTS = ["[1:2]", "[:::::]", "[::1.2.3.4.5]", "[::1", "[fe80::1%eth0]", "evil<x", "a b", "x@evil.example",
             "\u00e9vil.example", "example.org:0", "example.org:99999", "example.org:80:80", "example.org:x",
             "example.org, other.example", ""]
HOST_ROUTES = ["/", "/doc/bpo", "/id/bpo", "/ontology.html", "/.well-known/void", "/api/types",
               "/sparql?query=ASK%7B%7D"]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_a_host_header_that_names_no_host_is_400_on_every_route(server, host):
    # http.client: requests would not send some of these values as they are.
    import http.client

    for path in HOST_ROUTES:
        for accept in ACCEPTS:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                conn.putrequest("GET", path, skip_host=True)
                conn.putheader("Host", host.encode("utf-8"))
                conn.putheader("Accept", accept)
                conn.endheaders()
                answer = conn.getresponse()
                body = answer.read().decode("utf-8", "replace")
            finally:
                conn.close()
            kind = expected_type(path.split("?")[0], accept)
            assert answer.status == 400, (host, path, answer.status, body[:300])
            assert answer.getheader("Content-Type").split(";")[0] == kind, (host, path, accept)
            assert "Host" in body and "Traceback" not in body


def test_a_request_without_host_is_400_in_http_1_1_and_answered_in_http_1_0(server):
    import socket

    def send(request_line: str) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"{request_line}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return data

    assert send("GET /api/types HTTP/1.1").startswith(b"HTTP/1.1 400 ")
    assert send("GET /api/types HTTP/1.0").split(b"\r\n", 1)[0].endswith(b" 200 OK")


@pytest.mark.parametrize("host", ["[::1]", "127.0.0.1:1", "kg.example.org", "KG.Example.org:8443"])
def test_a_valid_host_is_the_one_documents_name(server, http, host):
    r = http.get(server.url + "/doc/bpo.nt", headers={"Host": host})
    assert r.status_code == 200, r.text[:300]
    assert f"<http://{host.lower()}/id/bpo>".encode() in r.content.lower()


# -- path segments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("method, path", [("GET", "/api/types/" + "k" * 5000), ("DELETE", "/api/types/lpo%0A"),
                                          ("PUT", "/api/types/LPO"), ("DELETE", "/api/types/" + "k" * 300)])
def test_a_path_segment_that_cannot_name_a_resource_is_404_and_is_not_echoed_whole(server, http, admin_token,
                                                                                   method, path, accept):
    before = version(server)
    r = http.request(method, server.url + path, headers={**auth(admin_token), "Accept": accept})
    assert_clean_error(r, 404, accept)
    if accept == JSON:
        assert len(r.json()["detail"]) < 400  # the path is the problem's instance; the detail clips it
    assert version(server) == before


def test_the_problem_document_is_json_even_for_hostile_paths(server, http):
    # A path that carries quotes and markup comes back as data, never as markup or broken JSON.
    path = '/api/types/"><script>alert(1)</script>'
    r = http.get(server.url + path, headers={"Accept": JSON})
    assert_clean_error(r, 404, JSON)
    assert json.loads(r.text)["status"] == 404
    r = http.get(server.url + path, headers={"Accept": HTML})
    assert_clean_error(r, 404, HTML)
    assert "<script>alert(1)</script>" not in r.text


# -- headers and forms too large to weigh --------------------------------------------------------------

@pytest.mark.parametrize("path", ["/sparql?query=ASK%7B%7D", "/doc/kpo", "/api/types", "/no-such-route"])
def test_an_accept_header_too_long_to_weigh_is_431_unweighed(server, path):
    # 431 comes before negotiation: the header is never weighed (it took 0.7-0.9 s a request).
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("GET", path)
        for line in range(90):  # gunicorn joins repeated lines into one header: 720 KB
            conn.putheader("Accept", ", ".join(f"text/x-{line}-{n};q=0.{n % 10}" for n in range(300)))
        conn.endheaders()
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 431, body[:300]
    assert answer.getheader("Content-Type").split(";")[0] in ("text/plain", "application/problem+json"), body[:400]
    assert b"Accept" in body


def test_a_form_with_thousands_of_fields_is_400(server, http):
    data = "query=ASK%7B%7D&" + "&".join(f"format=z{n}" for n in range(20_000))
    r = http.post(server.url + "/sparql", data=data, headers={"Content-Type": FORM, "Accept": JSON})
    assert_clean_error(r, 400, JSON)
    assert "fields" in r.json()["detail"]
    # A form of the protocol's size is read.
    r = http.post(server.url + "/sparql", data={"query": "ASK {}", "format": ["json"] * 50},
                  headers={"Accept": JSON})
    assert r.status_code == 200, r.text
