"""The answer headers layer (service/answer_headers.py) at the WSGI boundary: what it adds to an answer, and
what it leaves alone, whatever the view already set and however the header names are spelled.

Driven through werkzeug's test client around the real middleware; the "view" is a WSGI callable that
answers with the headers each case gives it, so every combination can be tried without a server."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from service.answer_headers import CORS_METHODS, AnswerHeaders


def answering(headers: list[tuple[str, str]], status: str = "200 OK"):
    def app(environ, start_response):
        start_response(status, list(headers))
        return [b"body"]
    return Client(AnswerHeaders(app))


def names(response) -> list[str]:
    return [name.lower() for name, _ in response.headers.to_wsgi_list()]


@pytest.mark.parametrize("path", ["/sparql", "/sparql/x", "/api/types", "/id/kpo", "/doc/kpo.ttl", "/ontology",
                                  "/.well-known/void", "/openapi.json", "/context.jsonld"])
def test_a_data_route_answer_gets_cors_and_security_once(path):
    response = answering([("Content-Type", "application/json")]).get(path, headers={"Origin": "https://x.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "content-security-policy" not in names(response)
    assert len(names(response)) == len(set(names(response)))


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs", "/static/app.css", "/spar", "/identity"])
def test_off_the_data_routes_there_is_no_cors(path):
    response = answering([("Content-Type", "text/html; charset=utf-8")]).get(path)
    assert not [n for n in names(response) if n.startswith("access-control-")]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("content_type", ["text/html", "TEXT/HTML; charset=UTF-8", "text/html;charset=utf-8"])
def test_html_gets_the_page_policy_however_its_type_is_spelled(content_type):
    response = answering([("Content-Type", content_type)]).get("/doc/kpo")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("spelling", ["x-content-type-options", "X-CONTENT-TYPE-OPTIONS", "X-Content-Type-Options"])
def test_a_header_the_view_set_is_kept_and_never_doubled(spelling):
    response = answering([("Content-Type", "text/plain"), (spelling, "view's own"),
                          ("access-control-allow-origin", "https://only.example")]).get("/api/types")
    sent = response.headers.to_wsgi_list()
    assert [v for n, v in sent if n.lower() == "x-content-type-options"] == ["view's own"]
    assert [v for n, v in sent if n.lower() == "access-control-allow-origin"] == ["https://only.example"]


def test_errors_and_other_statuses_get_the_same_headers():
    for status in ("404 NOT FOUND", "406 NOT ACCEPTABLE", "500 INTERNAL SERVER ERROR", "304 NOT MODIFIED"):
        response = answering([("Content-Type", "application/problem+json")], status).get("/sparql")
        assert response.headers["Access-Control-Allow-Origin"] == "*", status
        assert response.headers["X-Content-Type-Options"] == "nosniff", status


@pytest.mark.parametrize("asked", [*CORS_METHODS, "post", " PUT ", "delete"])
def test_a_preflight_for_a_method_the_service_takes_is_answered(asked):
    response = answering([]).options("/api/types", headers={"Access-Control-Request-Method": asked})
    allowed = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert asked.strip().upper() in allowed
    assert response.headers["Access-Control-Max-Age"] == "86400"
    assert {"authorization", "content-type"} <= {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}


@pytest.mark.parametrize("asked", ["PATCH", "TRACE", "CONNECT", "", "GET, POST", "PROPFIND"])
def test_a_preflight_for_any_other_method_is_not(asked):
    response = answering([]).options("/api/types", headers={"Access-Control-Request-Method": asked})
    assert "Access-Control-Allow-Methods" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # a plain answer's CORS, nothing more


def test_an_options_request_that_is_not_a_preflight_gets_no_preflight_headers():
    response = answering([]).options("/sparql")
    assert "Access-Control-Allow-Methods" not in response.headers
