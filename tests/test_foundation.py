"""The foundation from a user's side: `kg` commands, the SHACL gate on each required property, and a
service that refuses to start on broken data, naming the file and the line.

The source article is not part of the repository: the test that compares the graph's quotes with its
words reads it through ``tests.support.article`` and is skipped, naming ``KG_ARTICLE``, without it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import SKOS

from cli.main import main
from tests.support.article import article_text
from tests.support.server import ROOT, free_port

OUT = Namespace("https://w3id.org/outsourcing-kg/ontology#")
OUTD = Namespace("https://w3id.org/outsourcing-kg/id/")
PROV = Namespace("http://www.w3.org/ns/prov#")
SCHEMA = Namespace("https://schema.org/")
FACTS = "data/bpo-kpo.ttl"


def kg_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real `kg` command in a fresh interpreter, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.fixture
def ontology_copy(tmp_path: Path) -> Path:
    target = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", target)
    return target


def _without(ontology: Path, subject: URIRef, predicate: URIRef) -> None:
    """Remove every (subject, predicate, *) from the facts file, rewriting it as Turtle."""
    path = ontology / FACTS
    graph = Graph().parse(path)
    assert (subject, predicate, None) in graph, f"the shipped data should state {predicate} of {subject}"
    graph.remove((subject, predicate, None))
    path.write_text(graph.serialize(format="turtle"), encoding="utf-8")


def test_kg_query_gives_hourly_earnings_of_bpo_and_kpo_with_their_source(tmp_path):
    query = """SELECT ?acronym ?value ?currency ?unit ?source ?quote WHERE {
        ?type a out:OutsourcingType ; skos:altLabel ?acronym ; out:averageEarnings ?e .
        ?e schema:value ?value ; schema:currency ?currency ; out:perTimeUnit ?unit ;
           prov:wasDerivedFrom ?source ; out:evidenceText ?quote } ORDER BY ?acronym"""
    result = kg_cli("query", query, "--format", "json", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    rows = [{k: v["value"] for k, v in b.items()} for b in json.loads(result.stdout)["results"]["bindings"]]
    by_type = {r["acronym"]: r for r in rows}
    for acronym, amount in (("BPO", 11), ("KPO", 24)):
        row = by_type[acronym]
        assert float(row["value"]) == amount and row["currency"] == "USD"
        assert row["unit"].endswith("/HR")
        assert row["source"] == str(OUTD["source-bpo-vs-kpo"])
        assert f"${amount}" in row["quote"]
    table = kg_cli("query", query, "--data-dir", str(tmp_path / "data"))
    assert table.returncode == 0 and "BPO" in table.stdout and "24" in table.stdout


def test_the_earnings_quotes_are_the_article_words():
    article = " ".join(article_text().split())
    facts = Graph().parse(ROOT / "ontology" / FACTS)
    for slug, amount in (("bpo-earnings", 11), ("kpo-earnings", 24)):
        quotes = [str(q) for q in facts.objects(OUTD[slug], OUT.evidenceText)]
        assert quotes, f"{slug} has no out:evidenceText"
        for quote in quotes:
            assert f"${amount}" in quote
            assert " ".join(quote.split()) in article, f"not in the article: {quote!r}"


def test_kg_validate_accepts_the_shipped_ontology():
    result = kg_cli("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms" in result.stdout


def test_kg_validate_rejects_a_type_missing_its_definition(ontology_copy):
    _without(ontology_copy, OUTD.kpo, SKOS.definition)
    result = kg_cli("validate", "--ontology-dir", str(ontology_copy))
    assert result.returncode == 1
    assert "kpo" in result.stdout and "skos:definition" in result.stdout


REQUIRED = [
    (OUTD.kpo, SKOS.prefLabel, "prefLabel"),
    (OUTD.kpo, SKOS.altLabel, "altLabel"),
    (OUTD.kpo, SKOS.definition, "definition"),
    (OUTD.kpo, SKOS.inScheme, "inScheme"),
    (OUTD.kpo, OUT.requiresSkill, "requiresSkill"),
    (OUTD.kpo, OUT.hasActivityLevel, "hasActivityLevel"),
    (OUTD.kpo, PROV.wasDerivedFrom, "wasDerivedFrom"),
    (OUTD["kpo-earnings"], SCHEMA.currency, "currency"),
    (OUTD["kpo-earnings"], SCHEMA.value, "value"),
    (OUTD["kpo-earnings"], OUT.perTimeUnit, "perTimeUnit"),
]


@pytest.mark.parametrize("subject,predicate,name", REQUIRED, ids=[r[2] for r in REQUIRED])
def test_each_required_property_is_enforced_and_named(ontology_copy, subject, predicate, name):
    _without(ontology_copy, subject, predicate)
    result = CliRunner().invoke(main, ["validate", "--ontology-dir", str(ontology_copy)])
    assert result.exit_code == 1, result.output
    violations = [line for line in result.output.splitlines() if line.strip().startswith("Violation")]
    assert any(name in line and subject.rsplit("/", 1)[-1] in line for line in violations), result.output


def test_a_turtle_syntax_error_is_reported_with_file_and_line(ontology_copy, tmp_path):
    path = ontology_copy / FACTS
    lines = path.read_text(encoding="utf-8").splitlines()
    broken_at = next(i for i, line in enumerate(lines) if line.startswith("outd:kpo ")) + 2
    lines[broken_at - 1] = lines[broken_at - 1] + ' "unterminated'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = kg_cli("validate", "--ontology-dir", str(ontology_copy))
    assert result.returncode == 1
    assert f"bpo-kpo.ttl:{broken_at}:" in result.stdout + result.stderr
    # The service refuses to start on it, saying where.
    serve = kg_cli("serve", "--ontology-dir", str(ontology_copy), "--data-dir", str(tmp_path / "data"),
                   "--port", str(free_port()), timeout=60)
    assert serve.returncode != 0
    assert f"bpo-kpo.ttl:{broken_at}:" in serve.stderr and "syntax error" in serve.stderr


def test_service_refuses_to_start_on_non_conforming_facts(ontology_copy, tmp_path):
    _without(ontology_copy, OUTD.bpo, OUT.hasActivityLevel)
    serve = kg_cli("serve", "--ontology-dir", str(ontology_copy), "--data-dir", str(tmp_path / "data"),
                   "--port", str(free_port()), timeout=60)
    assert serve.returncode == 1
    assert "hasActivityLevel" in serve.stderr and "bpo" in serve.stderr


def test_kg_export_round_trips_every_named_graph(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cli", "export", "--format", "nq", "--data-dir",
                             str(tmp_path / "data")], cwd=ROOT, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from rdflib import Dataset

    ds = Dataset()
    ds.parse(data=result.stdout, format="nquads")
    names = {str(g.identifier) for g in ds.graphs()}
    assert {"https://w3id.org/outsourcing-kg/graph/vocabulary",
            "https://w3id.org/outsourcing-kg/graph/facts"} <= names
    facts = ds.graph(URIRef("https://w3id.org/outsourcing-kg/graph/facts"))
    assert (OUTD.kpo, OUT.isExtensionOf, OUTD.bpo) in facts
