"""Every named query in queries/ over HTTP, its typed parameters, and `kg query --file`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kg.config import Config
from kg.domain.named_queries import load_queries
from kg.namespaces import prefixes
from tests.support.server import ROOT

QUERIES = load_queries(ROOT / "queries", prefixes(Config.from_env(environ={})))


def _rows(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/sparql-results+json")
    return [{k: v["value"] for k, v in b.items()} for b in r.json()["results"]["bindings"]]


def test_every_query_is_listed_with_typed_parameters(server, http):
    body = http.get(server.url + "/api/queries").json()
    assert {q["name"] for q in body["items"]} == {q.name for q in QUERIES}
    kinds = {p["type"] for q in body["items"] for p in q["parameters"]}
    assert kinds == {"iri", "string", "language", "integer", "decimal"}
    for q in body["items"]:
        assert q["summary"] and q["description"] and q["url"] == f"/api/queries/{q['name']}"


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_every_query_runs_with_its_defaults(server, http, query):
    rows = _rows(http.get(server.url + f"/api/queries/{query.name}"))
    assert rows, f"{query.name} returned nothing with its defaults"
    rows_post = _rows(http.post(server.url + f"/api/queries/{query.name}", data={}))
    assert rows_post == rows


def _ex(select, sparql):
    return {r["x"] for r in select(sparql)}


def test_answers_match_the_graph(server, http, select):
    u = server.url + "/api/queries/"
    rows = _rows(http.get(u + "types-by-activity-level", params={"level": "activity-level-low"}))
    low = "SELECT ?x WHERE { ?x out:hasActivityLevel outd:activity-level-low }"
    assert {r["type"] for r in rows} == _ex(select, low)
    rows = _rows(http.get(u + "skills-of-type", params={"type": "bpo"}))
    assert {r["skill"] for r in rows} == _ex(select, "SELECT ?x WHERE { outd:bpo out:requiresSkill ?x }")
    rows = _rows(http.get(u + "types-requiring-skill", params={"skill": "outd:skill-legal-knowledge"}))
    assert {r["acronym"] for r in rows} == {"KPO"}
    rows = _rows(http.get(u + "requires-but-not", params={"type": "kpo", "other": "bpo"}))
    expected = _ex(select, "SELECT ?x WHERE { outd:kpo out:requiresSkill ?x "
                           "FILTER NOT EXISTS { outd:bpo out:requiresSkill ?x } }")
    assert expected <= {r["requirement"] for r in rows}
    rows = _rows(http.get(u + "extensions-of", params={"base": "bpo"}))
    assert [r["acronym"] for r in rows] == ["KPO"] and rows[0]["evidence"] == "KPO is an extension of BPO"
    rows = _rows(http.get(u + "earnings-by-type", params={"baseline": "bpo"}))
    ratio = {r["acronym"]: float(r["ratio"]) for r in rows}
    assert ratio == {"KPO": round(24 / 11, 2), "BPO": 1.0}
    rows = _rows(http.get(u + "earnings-by-type", params={"min_amount": "12.5"}))
    assert [r["acronym"] for r in rows] == ["KPO"]
    rows = _rows(http.get(u + "types-by-min-activity-rank", params={"min_rank": "2"}))
    assert [r["acronym"] for r in rows] == ["KPO"]
    rows = _rows(http.get(u + "facts-with-sources", params={"subject": "kpo"}))
    assert any(r["evidence"] == "KPO employees engage with international clients often" for r in rows)
    assert all(r.get("source", "").endswith("source-bpo-vs-kpo") for r in rows)
    # Each fact says what kind of statement it is, and where its quote is in the article.
    kinds = {r["kind"].rsplit("statement-", 1)[-1] for r in rows}
    assert kinds == {"quoted", "read"} and all(r.get("passage") for r in rows)
    rows = _rows(http.get(u + "skills-of-type", params={"type": "kpo"}))
    assert {r["label"]: r["kind"].rsplit("statement-", 1)[-1] for r in rows}["investment analysis"] == "read"
    rows = _rows(http.get(u + "earnings-by-type", params={"baseline": "bpo"}))
    assert {r["kind"].rsplit("statement-", 1)[-1] for r in rows} == {"read"}
    rows = _rows(http.get(u + "search-concepts", params={"text": "LEGAL"}))
    assert {r["label"] for r in rows} >= {"knowledge of legal matters", "legal matters"}


@pytest.mark.parametrize("name, params, bad", [
    ("skills-of-type", {"type": "xpo"}, "type"),
    ("skills-of-type", {"type": "skill-english"}, "type"),
    ("skills-of-type", {"lang": "de"}, "lang"),
    ("types-by-min-activity-rank", {"min_rank": "two"}, "min_rank"),
    ("types-by-min-activity-rank", {"min_rank": "1000"}, "min_rank"),
    ("earnings-by-type", {"min_amount": "NaN"}, "min_amount"),
    ("earnings-by-type", {"min_amount": "-1"}, "min_amount"),
])
def test_bad_values_are_400_naming_the_parameter(server, http, name, params, bad):
    r = http.get(server.url + f"/api/queries/{name}", params=params)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["parameter"] == bad and bad in r.json()["detail"]


def test_unknown_query_is_404_listing_known_ones(server, http):
    r = http.get(server.url + "/api/queries/drop-everything")
    assert r.status_code == 404 and "skills-of-type" in r.json()["known"]


def test_csv_results(server, http):
    r = http.get(server.url + "/api/queries/earnings-by-type", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("baseline,currency,min_amount,type")


def test_kg_query_file_binds_parameters(tmp_path):
    env = {"KG_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "cli", "query", "--file", str(ROOT / "queries" / "skills-of-type.rq"),
           "-p", "type=bpo", "--format", "csv"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "skill-english" in out.stdout and "skill-legal-knowledge" not in out.stdout
    out = subprocess.run(cmd[:-4] + ["-p", "type=nope"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0 and "parameter 'type'" in out.stderr


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_a_query_and_its_parameters_class_checks_are_one_trip_to_the_evaluator(server, http):
    """The class checks of a query's parameters travel in the query's batch: one round trip, one version
    of the graph; a value of the wrong class is still refused, naming the parameter."""
    url = server.url + "/api/queries/requires-but-not"
    answered = lambda: http.get(server.url + "/healthz").json()["query_engine"]["answered"]  # noqa: E731
    # Spellings of the same two types no earlier request used, so the answer cache cannot reply.
    for params in ({"type": "outd:kpo", "other": "outd:bpo"},
                   {"type": "<https://w3id.org/outsourcing-kg/id/kpo>", "other": " bpo "}):
        before = answered()
        rows = _rows(http.get(url, params=params))
        after = answered()
        assert rows and after["memory"] + after["disk"] == before["memory"] + before["disk"] + 1
    r = http.get(url, params={"type": "kpo", "other": "skill-english"})
    assert r.status_code == 400 and r.json()["parameter"] == "other" and "known: " in r.json()["detail"]
