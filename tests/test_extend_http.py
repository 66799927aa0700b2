"""POST /api/types, PUT and DELETE /api/types/{slug} over HTTP, against the real server.

Each test adds types under its own slugs and removes them, so the shared server's graph is back to
the shipped one afterwards.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bench.soak import type_turtle as renamed  # the LPO example as another type

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LPO = (EXAMPLES / "lpo.ttl").read_text()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def state(server) -> tuple[str, str]:
    """The graph's version (bumped by every write) and a digest of every quad, via SPARQL."""
    version = requests.get(server.url + "/healthz", timeout=10).json()["version"]
    r = requests.get(
        server.url + "/sparql",
        params={
            "query": "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } FILTER(!STRENDS(STR(?g), '/meta')) }"
        },
        headers={"Accept": "text/csv"},
        timeout=30,
    )
    rows = sorted(r.text.splitlines()) if r.status_code == 200 else []
    return version, "\n".join(rows)


def post(server, body: str | bytes, token: str | None, ctype: str = "text/turtle", **params):
    headers = {"Content-Type": ctype, **(auth(token) if token else {})}
    return requests.post(
        server.url + "/api/types",
        data=body.encode() if isinstance(body, str) else body,
        headers=headers,
        params=params,
        timeout=60,
    )


def delete(server, slug: str, token: str):
    return requests.delete(f"{server.url}/api/types/{slug}", headers=auth(token), timeout=30)


def test_added_type_is_visible_everywhere_at_once(server, admin_token) -> None:
    before_types = requests.get(server.url + "/api/types", timeout=10)
    etag = before_types.headers.get("ETag")
    r = post(server, renamed("xlpo", "XLPO"), admin_token)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/api/types/xlpo"
    try:
        listed = requests.get(server.url + "/api/types", timeout=10)
        assert "xlpo" in listed.text
        if etag:
            assert listed.headers.get("ETag") != etag
        q = requests.get(
            server.url + "/sparql",
            params={"query": "ASK { outd:xlpo skos:altLabel 'XLPO'@en }"},
            headers={"Accept": "application/sparql-results+json"},
            timeout=10,
        )
        assert q.status_code == 200 and q.json()["boolean"] is True
        see_other = requests.get(server.url + "/id/xlpo", allow_redirects=False, timeout=10)
        assert see_other.status_code == 303
        doc = requests.get(server.url + "/doc/xlpo", headers={"Accept": "text/turtle"}, timeout=10)
        assert doc.status_code == 200 and "Legal Process Outsourcing XLPO" in doc.text
        page = requests.get(server.url + "/doc/xlpo", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 200 and "XLPO" in page.text
        compared = requests.get(server.url + "/api/compare", params={"types": "xlpo,kpo"}, timeout=10)
        assert compared.status_code == 200 and "xlpo" in compared.text
        prov = requests.get(
            server.url + "/sparql",
            params={
                "query": (
                    "SELECT ?who ?when WHERE { GRAPH outg:extension\\/xlpo { outg:extension\\/xlpo "
                    "prov:wasAttributedTo/rdfs:label ?who ; prov:generatedAtTime ?when } }"
                )
            },
            headers={"Accept": "application/sparql-results+json"},
            timeout=10,
        )
        assert prov.status_code == 200 and len(prov.json()["results"]["bindings"]) == 1
    finally:
        assert delete(server, "xlpo", admin_token).status_code == 204
    assert requests.get(server.url + "/api/types/xlpo", timeout=10).status_code == 404


def test_json_ld_and_put_replace(server, admin_token) -> None:
    from rdflib import Graph

    g = Graph().parse(data=renamed("jlpo", "JLPO"), format="turtle")
    body = g.serialize(format="json-ld", context={"skos": "http://www.w3.org/2004/02/skos/core#"})
    r = post(server, body, admin_token, "application/ld+json")
    assert r.status_code == 201, r.text
    try:
        replaced = requests.put(
            server.url + "/api/types/jlpo",
            data=renamed("jlpo", "JLPO").replace("a form of KPO", "a KPO form"),
            headers={"Content-Type": "text/turtle", **auth(admin_token)},
            timeout=60,
        )
        assert replaced.status_code == 200, replaced.text
        doc = requests.get(server.url + "/doc/jlpo", headers={"Accept": "text/turtle"}, timeout=10)
        assert "a KPO form" in doc.text and "a form of KPO specific" not in doc.text
    finally:
        assert delete(server, "jlpo", admin_token).status_code == 204


def test_dry_run_writes_nothing(server, admin_token) -> None:
    before = state(server)
    r = post(server, renamed("dlpo", "DLPO"), admin_token, dry_run="1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["nearest"] == "kpo" and "outd:dlpo" in body["turtle"]
    assert state(server) == before


REJECTED = {
    # name: (body, content type, status, words in the answer)
    "shape": (
        renamed("s1", "SA").replace("out:hasActivityLevel outd:activity-level-high ;", ""),
        "text/turtle",
        422,
        "Needs exactly one out:hasActivityLevel",
    ),
    "misspelt-property": (
        renamed("s2", "SB").replace("skos:definition", "skos:defintion"),
        "text/turtle",
        422,
        "did you mean skos:definition",
    ),
    "unknown-skill": (
        renamed("s3", "SC").replace("outd:skill-legal-knowledge ;", "outd:skill-lega ;"),
        "text/turtle",
        422,
        "unknown skill outd:skill-lega",
    ),
    "cycle": (
        renamed("s4", "SD").replace("skos:broader outd:kpo", "skos:broader outd:s4"),
        "text/turtle",
        422,
        "cannot be skos:broader itself",
    ),
    "unmarked-fact": (
        renamed("s9", "SE").replace("out:typicalActivity outd:activity-legal-matters ;",
                                    "out:typicalActivity outd:activity-legal-matters , outd:activity-data-entry ;"),
        "text/turtle",
        422,
        "with no statement record",
    ),
    "article-for-new-type": (
        renamed("s10", "SF").replace(
            "out:inferredFrom outd:evidence-s10-broader-kpo , outd:evidence-kpo-typical-activity-legal-matters ;",
            "prov:wasDerivedFrom outd:source-bpo-vs-kpo ;"),
        "text/turtle",
        422,
        "speak only of outd:bpo, outd:kpo",
    ),
    "duplicate": (LPO.replace("outd:lpo a", "outd:bpo a"), "text/turtle", 409, "bpo already exists"),
    "duplicate-acronym": (renamed("s5", "BPO"), "text/turtle", 422, 'acronym \\"BPO\\" is already used'),
    "syntax": ('@prefix x: <http://x/> .\nx:a x:b x:c .\nx:d x:e "open .\n', "text/turtle", 400, "line 3"),
    "yaml-syntax": ("id: s6\nlabel: [unclosed\n", "application/yaml", 400, "line 3"),
    "remote-context": (
        json.dumps({"@context": "http://127.0.0.1:9/context.jsonld", "@id": "outd:s7"}),
        "application/ld+json",
        422,
        "remote JSON-LD contexts are not fetched",
    ),
    "other-graph": (
        "@prefix outd: <https://w3id.org/outsourcing-kg/id/> .\n"
        "<https://w3id.org/outsourcing-kg/graph/vocabulary> { outd:s8 a "
        "<https://w3id.org/outsourcing-kg/ontology#OutsourcingType> }",
        "application/trig",
        422,
        "may only write its own graph",
    ),
    "unsupported": ("<x/>", "application/rdf+xml", 415, "cannot read a submission"),
    "oversized": ("#" * 1_100_000, "text/turtle", 413, "larger than the limit"),
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_invalid_submission_rejected_store_unchanged(server, admin_token, name) -> None:
    body, ctype, status, words = REJECTED[name]
    before = state(server)
    r = post(server, body, admin_token, ctype)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert words in r.text
    if status == 422 and name not in ("remote-context", "other-graph"):
        problem = r.json()
        assert problem["violations"] and all("message" in v for v in problem["violations"])
        assert "shacl_report" in problem  # the SHACL report graph, JSON-LD
    assert state(server) == before


@pytest.mark.parametrize("token, status", [(None, 401), ("wrong-token", 401)])
def test_writes_need_the_admin_token(server, admin_token, token, status) -> None:
    before = state(server)
    r = post(server, renamed("tlpo", "TLPO"), token)
    assert r.status_code == status
    assert (
        requests.delete(
            server.url + "/api/types/bpo", headers=auth(token) if token else {}, timeout=10
        ).status_code
        == status
    )
    assert state(server) == before


def test_source_types_are_protected(server, admin_token) -> None:
    assert delete(server, "bpo", admin_token).status_code == 403
    r = requests.put(
        server.url + "/api/types/kpo",
        data=LPO.replace("outd:lpo", "outd:kpo"),
        headers={"Content-Type": "text/turtle", **auth(admin_token)},
        timeout=30,
    )
    assert r.status_code == 403
    assert delete(server, "no-such-type", admin_token).status_code == 404


def test_twenty_concurrent_submissions_all_land_complete(server, admin_token) -> None:
    slugs = [f"c{i}po" for i in range(20)]
    bodies = {slug: renamed(slug, f"CC{i}") for i, slug in enumerate(slugs)}
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda s: post(server, bodies[s], admin_token), slugs))
    try:
        assert [r.status_code for r in results] == [201] * 20, [
            r.text for r in results if r.status_code != 201
        ]
        for slug, r in zip(slugs, results, strict=True):
            expected = r.json()["triples"]
            q = requests.get(
                server.url + "/sparql",
                params={
                    "query": (
                        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH outg:extension\\/{slug} {{ ?s ?p ?o }} }}"
                    )
                },
                headers={"Accept": "application/sparql-results+json"},
                timeout=10,
            )
            assert int(q.json()["results"]["bindings"][0]["n"]["value"]) == expected
    finally:
        for slug, r in zip(slugs, results, strict=True):
            if r.status_code == 201:
                delete(server, slug, admin_token)
