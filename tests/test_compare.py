"""The comparison, against the facts of the source text, and for a type added to the graph.

What the comparison says is checked on every clone; that its quotes and figures are the source article's
words needs the article, read through ``tests.support.article`` (skipped, naming ``KG_ARTICLE``, without it).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import pytest
from rdflib import Graph

from kg.domain import compare as comparing
from kg.domain import compare_formats
from kg.graph import KnowledgeGraph
from kg.ontology.loader import check
from kg.terms import graph_to_ox
from tests.support.server import ROOT


def _row(body, key):
    return next(d for d in body["dimensions"] if d["key"] == key)


def _labels(row, slug):
    return {v["label"] for v in row["values"][slug]}


def test_bpo_kpo_has_the_six_differences_of_the_source(server, http):
    r = http.get(server.url + "/api/compare?types=bpo,kpo")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    # 1. names
    names = {t["slug"]: t["label"] for t in body["types"]}
    assert names == {"bpo": "Business Process Outsourcing", "kpo": "Knowledge Process Outsourcing"}
    # 2. skills: specialised knowledge vs communication and basic computer skills
    skills = _row(body, "skills")
    assert "specialised knowledge" in _labels(skills, "kpo")
    assert {"good communication skills", "basic computer skills"} <= _labels(skills, "bpo")
    assert skills["status"] == "different"
    # 3. client contact: often vs rarely
    contact = _row(body, "client-contact")
    assert _labels(contact, "kpo") == {"frequent contact with international clients"}
    assert _labels(contact, "bpo") == {"rare contact with international clients"}
    assert "KPO employees engage with international clients often" in \
        contact["values"]["kpo"][0]["evidence"][0]["text"]
    # 4. KPO is an extension of BPO, BPO a simpler form of KPO
    relations = {(r["subject"], r["property"].rsplit("#", 1)[-1], r["object"]): r for r in body["relations"]}
    assert ("kpo", "isExtensionOf", "bpo") in relations and ("bpo", "isSimplerFormOf", "kpo") in relations
    assert relations[("kpo", "isExtensionOf", "bpo")]["evidence"][0]["text"] == "KPO is an extension of BPO"
    # 5. profits to developed nations: double
    profit = next(s for s in body["stored_comparisons"] if s["measure"] == "profit to developed nations")
    assert profit["ratio"] == 2.0 and profit["compared"] == "kpo" and profit["baseline"] == "bpo"
    # 6. earnings: $11 vs $24 per hour, ratio computed
    earnings = _row(body, "earnings")
    assert [v["amount"] for v in earnings["values"]["bpo"]] == [11.0]
    assert [v["amount"] for v in earnings["values"]["kpo"]] == [24.0]
    assert body["earnings_ratios"][0]["ratio"] == pytest.approx(24 / 11, abs=1e-3)


def test_the_comparison_quotes_the_article_and_agrees_with_its_figures(article, server, http):
    text = " ".join(article.split())
    body = http.get(server.url + "/api/compare?types=bpo,kpo").json()
    assert "KPO stands for Knowledge Process Outsourcing" in text
    profit = next(s for s in body["stored_comparisons"] if s["measure"] == "profit to developed nations")
    relations = {(r["subject"], r["property"].rsplit("#", 1)[-1], r["object"]): r for r in body["relations"]}
    for quote in (profit["evidence"][0]["text"], relations[("kpo", "isExtensionOf", "bpo")]["evidence"][0]["text"]):
        assert " ".join(quote.split()) in text
    assert re.search(r"\$11 per hour", text) and re.search(r"\$24 every hour", text)


def test_rows_follow_the_dimensions_of_the_graph(server, http, select):
    body = http.get(server.url + "/api/compare?types=kpo,bpo").json()
    dims = select("SELECT ?d ?o WHERE { ?d a out:Dimension ; out:displayOrder ?o } ORDER BY ?o")
    assert [d["dimension"] for d in body["dimensions"]] == [row["d"] for row in dims]
    assert [t["slug"] for t in body["types"]] == ["kpo", "bpo"]


@pytest.mark.parametrize("accept, fmt, media", [
    ("text/csv", None, "text/csv"), ("text/markdown", None, "text/markdown"),
    ("text/html", None, "text/html"), (None, "csv", "text/csv"), (None, "markdown", "text/markdown"),
])
def test_negotiated_formats(server, http, accept, fmt, media):
    params = {"types": "bpo,kpo", **({"format": fmt} if fmt else {})}
    r = http.get(server.url + "/api/compare", params=params, headers={"Accept": accept} if accept else {})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(media)
    if media == "text/csv":
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0][:3] == ["dimension", "BPO", "KPO"]
        assert any("USD 24 per hour" in cell for row in rows for cell in row)
    elif media == "text/markdown":
        assert "| client contact |" in r.text
    else:
        assert "<svg" in r.text and "USD 24 per hour" in r.text and "<script" not in r.text
        assert "http://" not in r.text.split("<svg", 1)[1].split("</svg>")[0].replace("http://www.w3.org/2000/svg", "")


def test_unknown_type_and_bad_parameters(server, http):
    r = http.get(server.url + "/api/compare?types=bpo,xpo")
    assert r.status_code == 404 and "bpo" in r.json()["known"]
    r = http.get(server.url + "/api/compare?types=bpo")
    assert r.status_code == 400 and r.json()["parameter"] == "types"
    r = http.get(server.url + "/api/compare?types=bpo,kpo", headers={"Accept": "image/png"})
    assert r.status_code == 406


LPO = """
@prefix out: <https://w3id.org/outsourcing-kg/ontology#> .
@prefix outd: <https://w3id.org/outsourcing-kg/id/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix schema: <https://schema.org/> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix dcterms: <http://purl.org/dc/terms/> .

# A made-up type: its own source (not the article), and every fact marked as the fixture's own words.
outd:source-test-fixture a prov:Entity ; dcterms:title "test fixture"@en .

outd:lpo a out:OutsourcingType ;
    skos:prefLabel "Legal Process Outsourcing"@en ;
    skos:altLabel "LPO"@en ;
    skos:definition "Outsourcing of legal work such as research and document review."@en ;
    skos:inScheme outd:outsourcing-types ;
    out:requiresSkill outd:skill-legal-knowledge , outd:skill-english ;
    out:typicalActivity outd:activity-legal-matters ;
    out:hasActivityLevel outd:activity-level-high ;
    out:hasClientContactFrequency outd:contact-often ;
    out:isExtensionOf outd:kpo ;
    out:averageEarnings outd:lpo-earnings ;
    out:statementKind outd:statement-quoted ;
    prov:wasDerivedFrom outd:source-test-fixture ;
    out:evidenceText "test fixture" .

outd:lpo-earnings a out:EarningsRate ;
    schema:value 33.0 ; schema:currency "USD" ; out:perTimeUnit unit:HR ;
    out:beneficiary outd:host-country ; out:statistic outd:stat-mean ;
    out:statementKind outd:statement-quoted ;
    prov:wasDerivedFrom outd:source-test-fixture ; out:evidenceText "test fixture" .

outd:lpo-fact-1 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty skos:definition ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:lpo-fact-2 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty out:requiresSkill ;
    out:supportsValue outd:skill-legal-knowledge ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:lpo-fact-3 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty out:requiresSkill ;
    out:supportsValue outd:skill-english ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:lpo-fact-4 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty out:typicalActivity ;
    out:supportsValue outd:activity-legal-matters ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:lpo-fact-5 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty out:hasActivityLevel ;
    out:supportsValue outd:activity-level-high ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:lpo-fact-6 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty out:hasClientContactFrequency ;
    out:supportsValue outd:contact-often ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:lpo-fact-7 a out:Evidence ; out:supportsSubject outd:lpo ; out:supportsProperty out:isExtensionOf ;
    out:supportsValue outd:kpo ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
"""


@pytest.fixture
def kg_with_lpo(make_config):
    kg = KnowledgeGraph.open(make_config())
    graph = Graph().parse(data=LPO, format="turtle")
    report = check(kg.ontology, graph)
    assert report.conforms, report.text()
    kg.store.replace_graph(kg.graph("extension/lpo"), graph_to_ox(graph))
    yield kg
    kg.close()


def test_comparison_works_for_an_added_type(kg_with_lpo):
    result = comparing.compare(kg_with_lpo, ["kpo", "lpo", "bpo"])
    data = compare_formats.to_dict(result)
    assert [t["acronym"] for t in data["types"]] == ["KPO", "LPO", "BPO"]
    level = _row(data, "activity-level")
    assert _labels(level, "lpo") == {"high-level processes"} and level["status"] == "different"
    skills = _row(data, "skills")
    assert "knowledge of legal matters" in _labels(skills, "lpo")
    ratios = {(r["type"], r["baseline"]): r["ratio"] for r in data["earnings_ratios"]}
    assert ratios[("lpo", "kpo")] == pytest.approx(33 / 24, abs=1e-3)
    assert ratios[("bpo", "kpo")] == pytest.approx(11 / 24, abs=1e-3)
    assert any(r["subject"] == "lpo" and r["object"] == "kpo" for r in data["relations"])
    two = compare_formats.to_dict(comparing.compare(kg_with_lpo, ["lpo", "kpo"]))
    assert _row(two, "activity-level")["status"] == "same"
    assert "activity-level" in two["shared"]
    json.dumps(data)


@pytest.mark.slow
def test_kg_compare_command(tmp_path):
    env = {"KG_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "cli", "compare", "bpo", "kpo", "--format", "markdown"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "# BPO vs KPO" in out.stdout and "USD 11 per hour" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "cli", "compare", "bpo", "nope"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "known types" in bad.stderr
