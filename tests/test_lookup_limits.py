"""Lookups, the comparison, search and named queries run under the query time limit too: their
queries go to the same killable worker processes as user SPARQL, so a limit too short for them is
answered with a clear 504, and the server keeps serving."""

from __future__ import annotations

import pytest
import requests

from tests.support.server import ServerProcess

ROUTES = [
    "/api/types",
    "/api/types/kpo",
    "/api/skills",
    "/api/activities",
    "/api/search?q=knowledge",
    "/api/compare?types=bpo,kpo",
    "/api/queries/skills-of-type?type=kpo",
]


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory):
    # A limit no query can meet: every route that runs SPARQL must give up at it, not run on.
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("impatient") / "data",
                         env={"KG_QUERY_TIMEOUT": "0.000001", "KG_CACHE": "off"}).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("route", ROUTES)
def test_every_lookup_route_obeys_the_time_limit(impatient_server, route):
    r = requests.get(impatient_server.url + route, headers={"Accept": "application/json"}, timeout=30)
    assert r.status_code in (503, 504), (route, r.status_code, r.text[:200])
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "time limit" in r.json()["detail"]


def test_the_server_keeps_answering_after_lookups_time_out(impatient_server):
    assert requests.get(impatient_server.url + "/healthz", timeout=10).status_code == 200
