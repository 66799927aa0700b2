"""Named queries without HTTP (kg/domain/named_queries.py): a ``.rq`` file's typed parameters turn a
user's text into RDF terms of the declared type, refuse what does not fit with a message naming the
parameter and what it expects, and are bound into the parsed query, so that no value, however
hostile, changes what the query does. A broken file is refused when the queries are loaded, naming it.

The graph is the shipped one (fixture ``kg``); the query files are written here."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.domain import named_queries as queries
from kg.domain.named_queries import BadParameter, QueryFileError

XSD = "http://www.w3.org/2001/XMLSchema#"
OUT = "https://w3id.org/outsourcing-kg/ontology#"

TYPED = """#+ name: typed
#+ summary: One parameter of each type
#+ params:
#+   - {name: text, type: string, default: x}
#+   - {name: lang, type: language, default: en}
#+   - {name: count, type: integer, default: "1", minimum: 1, maximum: 10}
#+   - {name: share, type: decimal, default: "0.5", minimum: 0, maximum: 1}
#+   - {name: level, type: string, default: low, enum: [low, high]}
#+   - {name: type, type: iri, class: "out:OutsourcingType"}
#+   - {name: thing, type: iri, default: kpo}
SELECT ?text ?lang ?count ?share ?level ?type ?thing WHERE { }
"""

ECHO = """#+ name: echo
#+ summary: Its parameter, and the number of rows the graph has for it
#+ params:
#+   - {name: text, type: string}
SELECT ?text (STRLEN(?text) AS ?length) (COUNT(?s) AS ?uses) WHERE { OPTIONAL { ?s ?p ?text } } GROUP BY ?text
"""


def _query(tmp_path: Path, text: str, name: str = "q.rq") -> queries.NamedQuery:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return queries.parse_query_file(path)


@pytest.fixture
def typed(tmp_path: Path) -> queries.NamedQuery:
    return _query(tmp_path, TYPED)


def _term(kg, query: queries.NamedQuery, name: str, raw: str | None):
    return queries.to_term(kg, query.param(name), raw)


# -- typed values ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("text", "l'été \"entre\" <guillemets>", ox.Literal("l'été \"entre\" <guillemets>")),
    ("lang", "EN-gb", ox.Literal("en-gb")),
    ("count", " +7 ", ox.Literal("7", datatype=ox.NamedNode(XSD + "integer"))),
    ("count", "10", ox.Literal("10", datatype=ox.NamedNode(XSD + "integer"))),
    ("share", "0.25", ox.Literal("0.25", datatype=ox.NamedNode(XSD + "decimal"))),
    ("share", "1", ox.Literal("1.0", datatype=ox.NamedNode(XSD + "decimal"))),
    ("share", "5e-1", ox.Literal("0.5", datatype=ox.NamedNode(XSD + "decimal"))),
    ("level", "high", ox.Literal("high")),
])
def test_a_value_becomes_a_term_of_its_declared_type(kg, typed, name, raw, expected):
    assert _term(kg, typed, name, raw) == expected


@pytest.mark.parametrize("raw", ["kpo", "outd:kpo", "https://w3id.org/outsourcing-kg/id/kpo",
                                 "<https://w3id.org/outsourcing-kg/id/kpo>", "  kpo  "])
def test_a_resource_may_be_named_by_slug_prefixed_name_or_iri(kg, typed, raw):
    assert _term(kg, typed, "type", raw) == ox.NamedNode("https://w3id.org/outsourcing-kg/id/kpo")


def test_an_empty_or_missing_value_takes_the_default(kg, typed):
    assert _term(kg, typed, "count", None) == ox.Literal("1", datatype=ox.NamedNode(XSD + "integer"))
    assert _term(kg, typed, "thing", "") == ox.NamedNode("https://w3id.org/outsourcing-kg/id/kpo")


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("count", "0", "an integer >= 1 <= 10"),
    ("count", "11", "an integer >= 1 <= 10"),
    ("count", "2.5", "an integer"),
    ("count", "1e3", "an integer"),
    ("count", "9" * 19, "an integer"),
    ("share", "1.01", "a decimal number >= 0 <= 1"),
    ("share", "NaN", "a decimal number"),
    ("share", "Infinity", "a decimal number"),
    ("share", "half", "a decimal number"),
    # Digits of other scripts and Python's spellings are not numbers of SPARQL or XSD.
    ("count", "\u0661", "an integer"),
    ("count", "1_0", "an integer"),
    ("share", "\u0660.5", "a decimal number"),
    ("share", "0_5", "a decimal number"),
    # Short to send, a billion digits to write out.
    ("share", "1e-999999999", "a decimal number"),
    ("share", "1e-100", "a decimal number"),
    ("lang", "en_GB", "a language tag"),
    ("lang", "en\n", "a language tag"),
    ("level", "medium", "one of low, high"),
    ("text", "x" * 501, "a string of at most 500 characters"),
    ("text", "a\x00b", "NUL characters are not allowed"),
    ("thing", "../etc/passwd", "the slug, prefixed name or IRI of a resource"),
    ("thing", "javascript:alert(1)", "the slug, prefixed name or IRI of a resource"),
    ("thing", "http://example.org/a b", "not a valid IRI"),
])
def test_a_value_that_does_not_fit_is_refused_naming_the_parameter_and_what_it_expects(kg, typed, name, raw,
                                                                                         expected):
    with pytest.raises(BadParameter, match=f"parameter '{name}'") as refused:
        _term(kg, typed, name, raw)
    assert expected in str(refused.value)


def test_a_resource_of_the_wrong_class_is_refused_listing_those_of_the_right_one(kg, typed, select):
    types = sorted(r["t"].rsplit("/", 1)[-1] for r in select(
        "SELECT DISTINCT ?t WHERE { ?t a/rdfs:subClassOf* out:OutsourcingType }"))
    assert "kpo" in types and "bpo" in types
    with pytest.raises(BadParameter, match="parameter 'type'") as refused:
        _term(kg, typed, "type", "out:OutsourcingType")  # the class itself is no instance of it
    assert str(refused.value).endswith(f"(known: {', '.join(types)})")


def test_a_required_parameter_must_be_given(kg, typed):
    with pytest.raises(BadParameter, match="parameter 'type' is required: give the slug"):
        queries.bind(kg, typed, {})


def test_an_unknown_parameter_is_refused_not_ignored(kg, typed):
    with pytest.raises(ValueError, match="unknown parameter 'tpye' for query typed") as refused:
        queries.bind(kg, typed, {"type": "kpo", "tpye": "bpo"})
    assert "text, lang, count, share, level, type, thing" in str(refused.value)


# -- hostile values are values -----------------------------------------------------------------------

HOSTILE = ['"> } ; DROP ALL ; #', "' } DELETE WHERE { ?s ?p ?o } #", '\\u0022 } ; CLEAR ALL',
           '""" ) } UNION { ?s ?p ?o } #', "?text", "<https://w3id.org/outsourcing-kg/id/kpo>", "\"\"\"'''",
           "\\\\\"}", "KPO", "x\n} } SELECT * WHERE { ?s ?p ?o"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_string_is_bound_as_itself_and_changes_nothing(kg, tmp_path, value):
    echo = _query(tmp_path, ECHO)
    version = kg.store.version()
    rows = list(queries.run(kg, echo, {"text": value}))
    # One row, the value itself, and no triple of the graph has it as its object: the query's shape
    # (one group, an optional pattern) is what the file says.
    assert [(r["text"].value, int(r["length"].value), int(r["uses"].value)) for r in rows] == [(value, len(value), 0)]
    assert kg.store.version() == version


def test_a_string_that_is_in_the_graph_is_found_as_a_plain_value(kg, tmp_path, select):
    echo = _query(tmp_path, ECHO)
    # A plain string of the graph (labels carry a language tag; a string parameter never matches those).
    text = select("SELECT ?o WHERE { ?s ?p ?o FILTER(DATATYPE(?o) = xsd:string && STRLEN(?o) > 3) }"
                  " ORDER BY ?o LIMIT 1")[0]["o"]
    uses = len(select(f"SELECT ?s ?p WHERE {{ ?s ?p {ox.Literal(text)} }}"))
    rows = list(queries.run(kg, echo, {"text": text}))
    assert [(r["text"].value, int(r["uses"].value)) for r in rows] == [(text, uses)] and uses > 0


# -- query files -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ("#+ name: Bad Name\nSELECT * WHERE { }\n", "must be lowercase letters"),
    ("#+ name: q\n#+ params: [{name: x, type: date}]\nSELECT ?x WHERE { }\n", "type must be one of"),
    ("#+ name: q\n#+ params: [{name: 'x y', type: string}]\nSELECT * WHERE { }\n", "is not a SPARQL variable name"),
    ("#+ name: q\n#+ params: [{type: string}]\nSELECT * WHERE { }\n", "each parameter needs a name"),
    ("#+ name: [unclosed\nSELECT * WHERE { }\n", "header is not valid YAML"),
    ("#+ name: q\nINSERT DATA { <urn:x:a> <urn:x:b> 1 }\n", "not a SELECT, ASK or CONSTRUCT query"),
])
def test_a_broken_header_is_refused_naming_the_file(tmp_path, text, problem):
    with pytest.raises(QueryFileError, match=problem) as refused:
        _query(tmp_path, text)
    assert str(tmp_path / "q.rq") in str(refused.value)


def test_a_parameter_the_query_does_not_project_is_refused_when_loading(tmp_path):
    # Oxigraph binds a substitution only to a projected variable: the file would silently ignore it.
    _query(tmp_path, "#+ name: hidden\n#+ params: [{name: x, type: string}]\nSELECT ?s WHERE { ?s ?p ?x }\n",
           name="hidden.rq")
    with pytest.raises(QueryFileError, match="hidden.rq"):
        queries.load_queries(tmp_path)


def test_two_files_with_one_name_are_refused_when_loading(tmp_path):
    for file in ("a.rq", "b.rq"):
        (tmp_path / file).write_text("#+ name: same\nASK { }\n", encoding="utf-8")
    with pytest.raises(QueryFileError, match="used twice: same"):
        queries.load_queries(tmp_path)


def test_the_shipped_queries_load(kg):
    names = {q.name for q in queries.load_queries(kg.config.queries_dir, kg.prefixes)}
    assert {p.stem for p in kg.config.queries_dir.glob("*.rq")} == names
