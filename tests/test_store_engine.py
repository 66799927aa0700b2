"""Queries run in Oxigraph's engine, never silently in rdflib's pure-Python evaluator.

rdflib stays in the project for parsing submissions and SHACL; a query that slipped into its
evaluator would still answer correctly, only 20-25x slower (``docs/engine-facts.md``: oxrdflib hands a
query prepared with rdflib back to rdflib's own engine). So these tests watch rdflib's evaluator and
assert that it is never entered while the store answers, and check the positive control: the watch
does see rdflib's engine when it runs.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib
import rdflib.plugins.sparql.evaluate as rdflib_evaluate
import rdflib.plugins.sparql.processor as rdflib_processor

from kg.store.embedded import EmbeddedStore


@pytest.fixture
def rdflib_engine_calls(monkeypatch) -> list[str]:
    """Every entry into rdflib's SPARQL evaluator while the test runs (a recording wrapper)."""
    calls: list[str] = []
    original = rdflib_evaluate.evalQuery

    def recording(graph, query, *args, **kwargs):
        calls.append(str(query.algebra.name))
        return original(graph, query, *args, **kwargs)

    # The processor imported the function by name: watch both references.
    monkeypatch.setattr(rdflib_evaluate, "evalQuery", recording)
    monkeypatch.setattr(rdflib_processor, "evalQuery", recording)
    return calls


MIX = [
    "SELECT ?t ?l WHERE { ?t a out:OutsourcingType ; skos:prefLabel ?l FILTER(lang(?l) = 'en') }",
    "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n)",
    "ASK { outd:kpo a out:OutsourcingType }",
    "CONSTRUCT { outd:kpo ?p ?o } WHERE { outd:kpo ?p ?o }",
    "DESCRIBE outd:bpo",
]


@pytest.mark.parametrize("query", MIX)
def test_embedded_store_evaluates_in_oxigraph(kg, rdflib_engine_calls, query):
    assert isinstance(kg.store, EmbeddedStore)
    assert kg.store.engine == "oxigraph-embedded"
    assert isinstance(kg.store._store, ox.Store)
    result = kg.store.query(query, prefixes=kg.prefixes)
    assert isinstance(result, ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples)
    answer = bool(result) if isinstance(result, ox.QueryBoolean) else list(result)
    assert answer
    assert rdflib_engine_calls == []


def test_substitutions_are_bound_by_oxigraph(kg, rdflib_engine_calls):
    rows = list(
        kg.store.query(
            "SELECT ?t ?l WHERE { ?t skos:prefLabel ?l }",
            prefixes=kg.prefixes,
            substitutions={"t": ox.NamedNode(kg.iri("kpo"))},
        )
    )
    assert rows and all(row["t"] == ox.NamedNode(kg.iri("kpo")) for row in rows)
    assert rdflib_engine_calls == []


def test_the_watch_sees_rdflibs_engine_when_it_runs(rdflib_engine_calls):
    graph = rdflib.Graph()
    graph.add((rdflib.URIRef("http://x/a"), rdflib.URIRef("http://x/p"), rdflib.Literal(1)))
    assert len(list(graph.query("SELECT ?s WHERE { ?s ?p ?o }"))) == 1
    assert rdflib_engine_calls == ["SelectQuery"]


def test_results_serialise_natively(kg):
    """SPARQL results leave the store as Oxigraph objects that serialise themselves (no rdflib)."""
    result = kg.store.query("SELECT ?t WHERE { ?t a out:OutsourcingType }", prefixes=kg.prefixes)
    tsv = result.serialize(format=ox.QueryResultsFormat.TSV).decode()
    types = {
        str(r["t"])
        for r in kg.store.query("SELECT ?t WHERE { ?t a out:OutsourcingType }", prefixes=kg.prefixes)
    }
    assert set(tsv.splitlines()[1:]) == types


def test_service_reports_the_oxigraph_engine(server, http):
    engine = http.get(server.url + "/healthz").json()["engine"]
    # A remote store is named by its kind; whether its address is shown is /healthz's own business.
    assert engine == "oxigraph-embedded" or engine.split(":", 1)[0] == "remote"
