"""The service starts behind gunicorn, reports its health and lists the types on its home page."""

from __future__ import annotations

from html.parser import HTMLParser


def test_healthz_reports_store_and_version(server, http):
    r = http.get(server.url + "/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["engine"].startswith(("oxigraph", "remote"))
    assert body["version"]


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links += [v for k, v in attrs if k == "href"]


def test_home_page_lists_types_from_the_graph(server, http, select):
    r = http.get(server.url + "/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = _Text()
    page.feed(r.text)
    text = " ".join(page.text)
    rows = select("SELECT ?acronym WHERE { ?t a out:OutsourcingType ; skos:altLabel ?acronym }")
    assert {row["acronym"] for row in rows} >= {"BPO", "KPO"}
    for row in rows:
        assert row["acronym"] in text
    assert "/doc/bpo" in page.links and "/doc/kpo" in page.links


def test_unknown_route_is_404_in_negotiated_format(server, http):
    r = http.get(server.url + "/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["status"] == 404
    r = http.get(server.url + "/no/such/page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "text/html" in r.headers["Content-Type"]
    assert "Traceback" not in r.text


def test_security_headers_on_pages(server, http):
    r = http.get(server.url + "/")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
