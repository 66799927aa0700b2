"""Every HTML page carries the security headers, runs no inline script, and shows user-supplied text
escaped: a type whose label is a script tag, added through the API, renders as text everywhere.
"""

from __future__ import annotations

import re

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
