"""The headers answers carry, over real HTTP.

- Security: every HTML page carries the security headers, runs no inline script, and shows
  user-supplied text escaped: a type whose label is a script tag, added through the API, renders as
  text everywhere.
- CORS: the data routes are readable from any origin as ``*``, never with credentials,
  never echoing the caller's origin; real preflights are answered for the methods and headers the
  service takes, and refused for others; pages and the health check carry no CORS headers.
- Validators and conditional GET (RFC 9110 §13): If-None-Match with lists, ``*`` and weak tags,
  If-Modified-Since only without If-None-Match, 304 without a body and with the same ETag and Vary.
"""

from __future__ import annotations

import hashlib
import re
from email.utils import format_datetime, parsedate_to_datetime

import pytest
import requests

from bench.soak import type_turtle

HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
PAGES = ["/", "/doc/kpo", "/doc/kpo.html", "/doc/skill-legal-knowledge", "/ontology", "/sparql", "/docs",
         "/api/compare?types=bpo,kpo", "/.well-known/void", "/no/such/page", "/api/types/no-such-type"]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)


def csp_directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


@pytest.mark.parametrize("path", PAGES)
def test_every_html_page_has_the_security_headers(server, http, path):
    r = http.get(server.url + path, headers={"Accept": HTML})
    assert r.headers["Content-Type"].startswith("text/html"), (path, r.headers["Content-Type"])
    csp = csp_directives(r.headers["Content-Security-Policy"])
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, csp
    assert "*" not in scripts and not any(s.startswith(("http:", "https:", "data:")) for s in scripts)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    # No inline script at all: every <script> loads a file from this origin.
    for attrs, body in SCRIPT_TAG.findall(r.text):
        if "application/json" in attrs or "application/ld+json" in attrs:
            continue  # data blocks, not scripts (never executed)
        assert "src=" in attrs and not body.strip(), (path, attrs, body[:200])
        src = re.search(r'src="([^"]+)"', attrs).group(1)
        assert src.startswith("/") and not src.startswith("//"), src


def test_data_answers_are_nosniff_too(server, http):
    for path, accept in (("/sparql?query=ASK%7B%7D", "application/sparql-results+json"),
                         ("/doc/kpo.ttl", "text/turtle"), ("/api/types", "application/json")):
        r = http.get(server.url + path, headers={"Accept": accept})
        assert r.status_code == 200 and r.headers["X-Content-Type-Options"] == "nosniff"


XSS_LABEL = "<script>alert(1)</script>"
XSS_DEFINITION = '"><img src=x onerror=alert(2)> & <b>bold</b>'


@pytest.fixture
def hostile_type(server, admin_token):
    slug = "xss-lpo"
    quoted = XSS_DEFINITION.replace('"', '\\"')  # a Turtle string: escape its quotes
    turtle = (type_turtle(slug, "XLPO")
              .replace('"Legal Process Outsourcing XLPO"@en', f'"{XSS_LABEL}"@en')
              .replace('skos:definition "Outsourcing', f'skos:definition "{quoted} Outsourcing'))
    auth = {"Authorization": f"Bearer {admin_token}"}
    r = requests.post(server.url + "/api/types", data=turtle.encode(),
                      headers={**auth, "Content-Type": "text/turtle"}, timeout=60)
    assert r.status_code == 201, r.text[:500]
    yield slug
    requests.delete(f"{server.url}/api/types/{slug}", headers=auth, timeout=30)


def test_a_label_with_markup_renders_escaped_everywhere(server, http, hostile_type):
    slug = hostile_type
    assert http.get(f"{server.url}/api/types/{slug}").json()["label"] == XSS_LABEL, "stored as given"
    for path in ("/", f"/doc/{slug}", f"/api/compare?types={slug},kpo", "/api/compare?types=kpo," + slug,
                 "/sparql?query=SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D"):
        r = http.get(server.url + path, headers={"Accept": HTML})
        assert r.status_code == 200, (path, r.text[:300])
        body = r.text
        assert "<script>alert(1)</script>" not in body, path
        assert "<img src=x" not in body, path
        if path != "/sparql?query=SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, f"{path} does not show the label as text"


# -- CORS ---------------------------------------------------------------------------------------------

ORIGIN = "https://tool.example"
DATA_ROUTES = ["/sparql?query=ASK%7B%7D", "/api/types", "/doc/kpo.ttl", "/id/kpo", "/ontology.ttl",
               "/.well-known/void", "/openapi.json", "/context.jsonld", "/doc/no-such-thing.ttl"]


def preflight(server, path, method, headers=""):
    request_headers = {"Origin": ORIGIN, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return requests.options(server.url + path, headers=request_headers, timeout=10)


def listed(value: str | None) -> set[str]:
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


@pytest.mark.parametrize("path, method, asked", [
    ("/sparql", "POST", "content-type"),
    ("/sparql", "GET", "accept, if-none-match"),
    ("/api/types", "POST", "authorization, content-type"),
    ("/api/types/some-type", "PUT", "Authorization,Content-Type"),
    ("/api/types/some-type", "DELETE", "authorization"),
    ("/doc/kpo", "GET", "if-modified-since"),
])
def test_a_preflight_for_what_the_service_takes_is_allowed(server, path, method, asked):
    r = preflight(server, path, method, asked)
    assert r.status_code in (200, 204), r.text[:300]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert method.lower() in listed(r.headers["Access-Control-Allow-Methods"])
    assert listed(asked) <= listed(r.headers.get("Access-Control-Allow-Headers"))
    assert r.headers["Access-Control-Max-Age"] == "86400"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_a_preflight_for_a_method_the_service_does_not_take_is_not_allowed(server):
    r = preflight(server, "/api/types/some-type", "PATCH")
    assert "Access-Control-Allow-Methods" not in r.headers  # the browser stops there


def test_a_preflight_never_allows_a_header_the_service_does_not_take(server):
    r = preflight(server, "/sparql", "POST", "content-type, x-forwarded-for, cookie")
    allowed = listed(r.headers.get("Access-Control-Allow-Headers"))
    assert "content-type" in allowed and "x-forwarded-for" not in allowed and "cookie" not in allowed


@pytest.mark.parametrize("path", DATA_ROUTES)
def test_data_routes_are_readable_from_any_origin_without_credentials(server, path):
    with_origin = requests.get(server.url + path, headers={"Origin": ORIGIN, "Cookie": "session=x"},
                               timeout=30, allow_redirects=False)
    without = requests.get(server.url + path, timeout=30, allow_redirects=False)
    for r in (with_origin, without):  # the same headers whoever asks: a replayed answer fits everyone
        assert r.headers["Access-Control-Allow-Origin"] == "*", path
        assert "Access-Control-Allow-Credentials" not in r.headers
        assert ORIGIN not in str(r.headers)
        exposed = listed(r.headers["Access-Control-Expose-Headers"])
        assert {"etag", "link", "location", "x-kg-truncated", "retry-after"} <= exposed
        assert "Origin" not in r.headers.get("Vary", "")


ANSWER_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "X-Content-Type-Options",
                  "Referrer-Policy")


@pytest.mark.parametrize("method, path, headers", [
    ("GET", "/sparql?query=SELEC", {}),  # 400, the query's syntax
    ("GET", "/sparql?query=ASK%7B%7D", {"Accept": "image/png"}),  # 406
    ("GET", "/sparql?query=ASK%7B%7D&timeout=abc", {}),  # 400, a parameter
    ("POST", "/sparql", {"Content-Type": "text/plain"}),  # 415
    ("GET", "/api/types/no-such-type", {"Accept": "application/json"}),  # 404 from a lookup
    ("GET", "/doc/kpo.ttl", {}),  # asked twice below: the second may be a replay
    ("GET", "/sparqlx", {}),  # 404 from the router, still under a data prefix
    ("OPTIONS", "/sparql", {"Access-Control-Request-Method": "POST"}),
    ("OPTIONS", "/api/types", {"Access-Control-Request-Method": "post "}),
])
def test_every_data_answer_carries_each_answer_header_once(server, method, path, headers):
    """Errors and replays included, and never twice (a view's own value is never doubled)."""
    for _ in range(2):
        r = requests.request(method, server.url + path, headers={"Origin": ORIGIN, **headers}, timeout=30)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        for name in ANSWER_HEADERS:
            assert len(r.raw.headers.getlist(name)) == 1, (path, r.status_code, name, r.raw.headers.getlist(name))
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        if "html" not in r.headers.get("Content-Type", ""):
            assert "Content-Security-Policy" not in r.headers  # a page's policy, not a data answer's


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs"])
def test_pages_and_the_health_check_carry_no_cors(server, path):
    r = requests.get(server.url + path, headers={"Origin": ORIGIN}, timeout=30)
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]


# -- validators and conditional GET ---------------------------------------------------------------

DOC = "/doc/kpo.ttl"


@pytest.fixture
def current(server, http):
    """The 200 answer of DOC now: its ETag and Last-Modified are the validators a cache holds."""
    r = http.get(server.url + DOC)
    assert r.status_code == 200 and r.headers["ETag"].startswith('"')
    return r


def conditional(server, http, **headers):
    return http.get(server.url + DOC, headers={k.replace("_", "-"): v for k, v in headers.items()})


def test_the_etag_is_still_derived_from_the_graphs_version(server, http, current):
    # Caches that hold an ETag from before keep revalidating: the tag of a document is the first 32 hex
    # digits of SHA-256 over the version and what selects the body, joined by U+001F.
    version = requests.get(server.url + "/healthz", timeout=10).json()["version"]
    variant = "\x1f".join((version, "doc", "kpo", "turtle", server.url + "/"))
    assert current.headers["ETag"] == '"' + hashlib.sha256(variant.encode()).hexdigest()[:32] + '"'


@pytest.mark.parametrize("if_none_match", [
    "{tag}", "W/{tag}", '"other", {tag}', '"a",W/"b" ,  {tag}', "*",
])
def test_if_none_match_naming_the_current_tag_is_304(server, http, current, if_none_match):
    tag = current.headers["ETag"]
    r = conditional(server, http, If_None_Match=if_none_match.format(tag=tag))
    assert r.status_code == 304, if_none_match
    assert r.content == b""
    assert r.headers["ETag"] == tag
    assert r.headers["Cache-Control"] == current.headers["Cache-Control"]
    assert "Accept" in r.headers["Vary"] and r.headers["Link"] == current.headers["Link"]
    assert "Content-Type" not in r.headers  # a 304 describes the stored answer, it does not replace it


@pytest.mark.parametrize("if_none_match", ['"stale"', 'W/"stale", "older"', '"{bare}x"', 'W/"x{bare}"'])
def test_if_none_match_without_the_current_tag_is_the_full_answer(server, http, current, if_none_match):
    bare = current.headers["ETag"].strip('"')
    r = conditional(server, http, If_None_Match=if_none_match.format(bare=bare))
    assert r.status_code == 200 and r.content == current.content


def test_if_modified_since(server, http, current):
    modified = parsedate_to_datetime(current.headers["Last-Modified"])
    at = current.headers["Last-Modified"]
    later = format_datetime(modified.replace(year=modified.year + 1), usegmt=True)
    earlier = format_datetime(modified.replace(year=modified.year - 1), usegmt=True)
    assert conditional(server, http, If_Modified_Since=at).status_code == 304
    assert conditional(server, http, If_Modified_Since=later).status_code == 304
    assert conditional(server, http, If_Modified_Since=earlier).status_code == 200
    assert conditional(server, http, If_Modified_Since="not a date").status_code == 200  # ignored


def test_if_modified_since_is_ignored_beside_if_none_match(server, http, current):
    at = current.headers["Last-Modified"]
    # The date alone would say 304; the tag, which takes precedence, says the copy is stale.
    assert conditional(server, http, If_None_Match='"stale"', If_Modified_Since=at).status_code == 200
    # Even an If-None-Match with no valid tag in it puts the date out of play.
    assert conditional(server, http, If_None_Match=",", If_Modified_Since=at).status_code == 200


def test_if_match_does_not_turn_a_read_into_412(server, http, current):
    # If-Match: * holds whenever the resource exists (RFC 9110 §13.1.1).
    assert conditional(server, http, If_Match="*").status_code == 200


def test_head_is_conditional_too_and_a_post_never_is(server, http, current):
    tag = current.headers["ETag"]
    assert http.head(server.url + DOC, headers={"If-None-Match": tag}).status_code == 304
    # A POST to the SPARQL endpoint is never answered 304, whatever it sends.
    r = http.post(server.url + "/sparql", data={"query": "ASK {}"}, headers={"If-None-Match": "*"})
    assert r.status_code == 200
