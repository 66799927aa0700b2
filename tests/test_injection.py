"""No parameter value changes a named query's structure: values are bound as terms, never pasted."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kg.domain import named_queries as queries
from kg.graph import KnowledgeGraph

ECHO = """#+ name: echo
#+ summary: Returns its parameter
#+ params:
#+   - name: text
#+     type: string
#+     default: x
SELECT ?text (STRLEN(?text) AS ?length) WHERE { }
"""

SPARQL_JUNK = ['"> } ; DROP ALL ; #', "' } DELETE WHERE { ?s ?p ?o } #", '\\u0022 } ; CLEAR ALL',
               '""" ) } UNION { ?s ?p ?o } #', "?text", "<http://example.org/x>", "\"\"\"'''", "\\\\\"}"]

values = st.one_of(st.sampled_from(SPARQL_JUNK),
                   st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                           max_size=120),
                   st.lists(st.sampled_from(list('"\'<>{};#\\u?. DROPALL')), max_size=40).map("".join))


@pytest.fixture(scope="module")
def echo(tmp_path_factory) -> queries.NamedQuery:
    path: Path = tmp_path_factory.mktemp("q") / "echo.rq"
    path.write_text(ECHO, encoding="utf-8")
    return queries.parse_query_file(path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
@example(value='"> } ; DROP ALL ; #')
def test_string_values_come_back_unchanged(kg: KnowledgeGraph, echo, value):
    version = kg.store.version()
    solutions = queries.run(kg, echo, {"text": value})
    rows = list(solutions)
    # One row, one value: the structure of the query is what the file says, whatever the value.
    assert len(rows) == 1
    bound = value or "x"  # an empty value means "use the default"
    assert rows[0]["text"].value == bound and int(rows[0]["length"].value) == len(bound)
    assert kg.store.version() == version


@settings(max_examples=50, deadline=None)
@given(value=values)
def test_search_query_filters_only(kg: KnowledgeGraph, value):
    query = queries.find(kg, "search-concepts")
    labels = [r["label"].value for r in kg.store.query(
        "SELECT ?label WHERE { ?c skos:prefLabel|skos:altLabel ?label }", prefixes=kg.prefixes)]
    expected = {label for label in labels if value.lower() in label.lower()}
    if not value:
        return  # the default applies
    got = {r["label"].value for r in queries.run(kg, query, {"text": value})}
    # SPARQL LCASE and Python lower() agree on these alphabets; the answer is the filter, nothing more.
    if value.isascii():
        assert got == expected


@settings(max_examples=30, deadline=None)
@given(value=values)
def test_typed_parameters_refuse_junk_with_a_message(kg: KnowledgeGraph, value):
    query = queries.find(kg, "skills-of-type")
    try:
        rows = list(queries.run(kg, query, {"type": value}))
    except ValueError as exc:
        assert "parameter 'type'" in str(exc)
    else:  # only a real outsourcing type gets through
        assert {r["type"].value for r in rows} <= {kg.iri("bpo"), kg.iri("kpo")}


@pytest.mark.parametrize("value", SPARQL_JUNK)
def test_junk_over_http_is_a_plain_value(server, http, value):
    r = http.get(server.url + "/api/queries/search-concepts", params={"text": value})
    assert r.status_code == 200
    assert r.json()["results"]["bindings"] == []
    assert http.get(server.url + "/api/types").json()["total"] >= 2
