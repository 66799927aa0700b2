"""The lookup routes of /api over HTTP, checked against the graph itself."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
import requests


def _slugs(body):
    return [item["slug"] for item in body["items"]]


def test_types_lists_every_type_with_its_basics(server, http, select):
    r = http.get(server.url + "/api/types")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    expected = {row["t"].rsplit("/", 1)[-1] for row in select("SELECT ?t WHERE { ?t a out:OutsourcingType }")}
    assert set(_slugs(body)) == expected and body["total"] == len(expected)
    kpo = next(i for i in body["items"] if i["slug"] == "kpo")
    assert kpo["acronym"] == "KPO" and kpo["label"] == "Knowledge Process Outsourcing"
    assert kpo["definition"] and kpo["iri"].endswith("/id/kpo") and kpo["page"] == "/doc/kpo"
    amount = select("SELECT ?v WHERE { outd:kpo out:averageEarnings/schema:value ?v }")[0]["v"]
    assert kpo["earnings"][0]["amount"] == float(amount) and kpo["earnings"][0]["currency"] == "USD"
    # "USD" is our reading of the article's "$": the answer says so.
    assert kpo["earnings"][0]["kind"] == "read"
    assert any('"$"' in note for note in kpo["earnings"][0]["reading_notes"])
    assert kpo["definition_kind"] == "read"


@pytest.mark.parametrize("query, expected", [
    ("activity_level=high", {"kpo"}),
    ("activity_level=activity-level-low", {"bpo"}),
    ("skill=skill-legal-knowledge", {"kpo"}),
    ("skill=legal", {"kpo"}),
    ("activity=data entry", {"bpo"}),
])
def test_type_filters(server, http, query, expected):
    r = http.get(server.url + "/api/types?" + query)
    assert r.status_code == 200, r.text
    assert set(_slugs(r.json())) == expected


def test_bad_filter_is_400_naming_the_parameter(server, http):
    r = http.get(server.url + "/api/types?activity_level=medium")
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["parameter"] == "activity_level" and "activity-level-high" in body["detail"]
    r = http.get(server.url + "/api/types?limit=0")
    assert r.status_code == 400 and r.json()["parameter"] == "limit"


def test_paging(server, http):
    first = http.get(server.url + "/api/types?limit=1").json()
    assert len(first["items"]) == 1 and first["total"] >= 2 and first["next"]
    second = http.get(server.url + first["next"]).json()
    assert second["offset"] == 1 and second["items"][0]["slug"] != first["items"][0]["slug"]


@pytest.mark.parametrize("extra", ["%23x=1", "a%26offset%3D900=1", "q%3D=%26%3D%23", "sp%20ace=%2F%3F"])
def test_the_next_link_carries_each_parameter_as_sent(server, http, extra):
    # A parameter whose name or value holds & = # ? or / stays one parameter in the next page's address.
    first = http.get(server.url + "/api/skills?limit=1&" + extra)
    assert first.status_code == 200, first.text
    nxt = first.json()["next"]
    second = http.get(server.url + nxt)
    assert second.status_code == 200, (nxt, second.text)
    assert second.json()["offset"] == 1
    sent = requests.utils.urlparse(server.url + "/?" + extra).query
    assert dict(parse_qsl(requests.utils.urlparse(nxt).query)) == {**dict(parse_qsl(sent)), "limit": "1",
                                                                   "offset": "1"}


def test_one_type_with_facts_and_provenance(server, http, select):
    r = http.get(server.url + "/api/types/kpo")
    assert r.status_code == 200
    body = r.json()
    facts = {(f["property"].rsplit("#", 1)[-1], f["value"].get("label") or f["value"].get("value")): f
             for f in body["facts"]}
    rows = select("SELECT ?l WHERE { outd:kpo out:requiresSkill/skos:prefLabel ?l FILTER(LANG(?l)='en') }")
    kinds = {r["l"]: r["k"].rsplit("statement-", 1)[-1] for r in select(
        "SELECT ?l ?k WHERE { ?r out:supportsSubject outd:kpo ; out:supportsProperty out:requiresSkill ; "
        "out:supportsValue/skos:prefLabel ?l ; out:statementKind ?k FILTER(LANG(?l)='en') }")}
    for row in rows:
        fact = facts[("requiresSkill", row["l"])]
        assert fact["evidence"] and fact["evidence"][0]["source"].endswith("source-bpo-vs-kpo")
        assert fact["kind"] == kinds[row["l"]] and fact["evidence"][0]["kind"] == fact["kind"]
    assert {f["kind"] for (p, _), f in facts.items() if p == "requiresSkill"} == {"quoted", "read"}
    assert ("hasClientContactFrequency", "frequent contact with international clients") in facts
    assert body["provenance"][0]["text"].startswith("KPO is a rather new term")
    assert body["provenance"][0]["kind"] == "quoted" and body["kind"] == "quoted"


def test_unknown_type_is_404_listing_known_ones(server, http):
    r = http.get(server.url + "/api/types/xpo")
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
    assert {"bpo", "kpo"} <= set(r.json()["known"])


@pytest.mark.parametrize("route, cls", [("/api/skills", "Skill"), ("/api/activities", "Activity")])
def test_skills_and_activities(server, http, select, route, cls):
    body = http.get(server.url + route + "?limit=500").json()
    expected = {r["c"] for r in select(f"SELECT ?c WHERE {{ ?c a out:{cls} }}")}
    assert {i["iri"] for i in body["items"]} == expected
    used = select(f"SELECT ?c ?t WHERE {{ ?t a out:OutsourcingType ; ?p ?c . ?c a out:{cls} }}")
    for row in used:
        item = next(i for i in body["items"] if i["iri"] == row["c"])
        assert row["t"].rsplit("/", 1)[-1] in item["types"]


@pytest.mark.parametrize("q, first", [
    ("KPO", "kpo"), ("kpo", "kpo"), ("SPÉCIALISED knowledge", "skill-specialized-knowledge"),
    ("legal matters", "activity-legal-matters"),
])
def test_search_ranked_case_and_accent_insensitive(server, http, q, first):
    r = http.get(server.url + "/api/search", params={"q": q})
    assert r.status_code == 200
    assert r.json()["items"][0]["slug"] == first


def test_search_needs_text(server, http):
    r = http.get(server.url + "/api/search")
    assert r.status_code == 400 and r.json()["parameter"] == "q"
