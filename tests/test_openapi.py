"""The OpenAPI document: valid, generated from the routes (named queries included), and no 500 on it."""

from __future__ import annotations

import pytest
import requests
from openapi_spec_validator import validate

from kg.config import Config
from kg.domain.named_queries import load_queries
from kg.namespaces import prefixes
from tests.support.server import ROOT


@pytest.fixture(scope="module")
def spec(server) -> dict:
    r = requests.get(server.url + "/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


def test_document_validates(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_route_and_named_query_is_documented(spec):
    for path in ("/api/types", "/api/types/{slug}", "/api/skills", "/api/activities", "/api/search",
                 "/api/compare", "/api/queries"):
        assert "get" in spec["paths"][path], path
    for q in load_queries(ROOT / "queries", prefixes(Config.from_env(environ={}))):
        op = spec["paths"][f"/api/queries/{q.name}"]["get"]
        assert {p["name"] for p in op["parameters"]} >= {p.name for p in q.parameters}
        assert op["summary"] == q.summary


def test_docs_page_is_served_offline(server, http):
    r = http.get(server.url + "/docs")
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    assert "http://" not in r.text.split("<main", 1)[1].split("</main>")[0].replace("https://", "")
    assert "/static/vendor/swagger-ui-bundle.js" in r.text and "/static/docs.js" in r.text
    js = http.get(server.url + "/static/docs.js")
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text
    assert http.get(server.url + "/static/vendor/swagger-ui-bundle.js").status_code == 200


def test_schemathesis_finds_no_server_error(server, spec):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_dict(spec)
    failures = []
    for op_result in schema.get_all_operations():
        operation = op_result.ok()
        if operation.method.upper() != "GET":
            continue
        label = operation.label

        @settings(max_examples=8, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        @given(operation.as_strategy())
        def check(case):
            response = case.call(base_url=server.url, timeout=10)
            if response.status_code >= 500:
                failures.append((label, case.path, case.query, response.status_code))  # noqa: B023

        check()
    assert not failures, failures
