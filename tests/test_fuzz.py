"""Fuzzing, bounded to CI time: schemathesis on every write operation of /openapi.json (with the
admin token), hypothesis on the SPARQL endpoint's parameters and on the submission parser.

The property is the same everywhere: whatever comes in, the answer is never a 5xx and never a stack
trace, and the parser either returns triples or raises its own typed error. (GET operations are
fuzzed by tests/test_openapi.py.) ``derandomize=True`` keeps runs reproducible.
"""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.config import Config
from kg.extension.errors import SubmissionError
from kg.extension.form import form_to_graph
from kg.extension.submission import Submission, parse
from kg.formats import formats_for

# rdflib's own parsers call its deprecated ConjunctiveGraph: not this project's warning to raise.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

BOUNDED = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))


def clean(r: requests.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    assert "Traceback" not in r.text


# -- /sparql parameters ---------------------------------------------------------------------------------

FRAGMENTS = ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "?s", "?p", "?o", "<urn:x:a>",
             "out:OutsourcingType", "a", ".", ";", ",", "FILTER(", ")", "OPTIONAL", "UNION", "GRAPH", "LIMIT",
             "1", "-1", "'x'", '"y"@en', "^^xsd:integer", "*", "GROUP BY", "ORDER BY", "COUNT(*)", "AS",
             "BIND(", "VALUES", "PREFIX", "ex:", "BASE", "#", "\n", "SERVICE", "LOAD", "FROM", "NAMED",
             "INSERT DATA", "DELETE", "\\u0041", "\x00", "é", "𝔘"]
QUERY = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join),
    st.text(max_size=200),
)
PARAMS = st.fixed_dictionaries({"query": QUERY}, optional={
    "format": st.sampled_from(["json", "xml", "csv", "tsv", "turtle", "jsonld", "html", "nonsense", ""]),
    "timeout": st.one_of(st.sampled_from(["1", "0", "-3", "nan", "inf", "1e309", ""]), st.text(max_size=8)),
    "default-graph-uri": st.sampled_from(["https://w3id.org/outsourcing-kg/graph/facts", "urn:x:none",
                                          "not an iri", "file:///etc/passwd", ""]),
    "named-graph-uri": st.sampled_from(["https://w3id.org/outsourcing-kg/graph/vocabulary", "", "<>"]),
})
ACCEPT = st.sampled_from(["*/*", "application/sparql-results+json", "text/csv", "text/turtle", "text/html",
                          "application/ld+json", "image/png", "", "text/*;q=0.5, */*;q=0", "garbage/;;q=x"])


def test_sparql_parameters_never_cause_a_5xx(server):
    with requests.Session() as http:

        @BOUNDED
        @given(params=PARAMS, accept=ACCEPT, post=st.booleans())
        def check(params, accept, post):
            headers = {"Accept": accept} if accept else {}
            if post:
                r = http.post(server.url + "/sparql", data=params, headers=headers, timeout=30)
            else:
                r = http.get(server.url + "/sparql", params=params, headers=headers, timeout=30)
            clean(r)
            if r.status_code == 200 and "json" in r.headers["Content-Type"]:
                json.loads(r.text)

        check()


# -- the submission parser --------------------------------------------------------------------------------

CONFIG = Config.from_env(environ={})
FORMATS = sorted(f.key for f in formats_for("submission"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
FORM_KEYS = ["id", "label", "acronym", "definition", "broader", "skills", "activities", "activity_level",
             "source", "evidence", "new", "@context", "@id", "@type", "@graph"]
FORM = st.dictionaries(st.sampled_from(FORM_KEYS), JSON_VALUES, max_size=8)
TURTLE_BITS = ["@prefix", "outd:", "out:", "<urn:x:a>", "a", "out:OutsourcingType", ";", ".", ",", '"x"@en',
               "[", "]", "(", ")", "{", "}", "GRAPH", "_:b", "1.5e3", "'''", "\\u0000", "#", "\n", "@base"]


def _outcome(data: bytes | str, fmt: str) -> None:
    try:
        result = parse(data, fmt, CONFIG)
    except SubmissionError as exc:
        assert exc.message
    else:
        assert isinstance(result, Submission) and len(result.graph) > 0


@BOUNDED
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300)), fmt=st.sampled_from(FORMATS))
def test_parser_raises_only_its_own_error_on_random_input(data, fmt):
    _outcome(data, fmt)


@BOUNDED
@given(bits=st.lists(st.sampled_from(TURTLE_BITS), max_size=30), fmt=st.sampled_from(["turtle", "trig"]))
def test_parser_on_turtle_like_input(bits, fmt):
    _outcome(" ".join(bits), fmt)


@BOUNDED
@given(document=st.one_of(FORM, JSON_VALUES), fmt=st.sampled_from(["json", "json-ld", "yaml"]))
def test_parser_on_json_and_yaml_documents(document, fmt):
    _outcome(json.dumps(document), fmt)  # JSON is YAML too


@BOUNDED
@given(document=FORM)
def test_simple_form_raises_only_its_own_error(document):
    try:
        form_to_graph(document, CONFIG)
    except SubmissionError as exc:
        assert exc.message


# -- schemathesis on the write operations -----------------------------------------------------------------

def _fuzz(operation, base_url: str, headers: dict, failures: list):
    """A hypothesis test of one operation that records every 5xx or trace it meets."""

    @settings(max_examples=6, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code >= 500 or "Traceback" in response.text:
            failures.append((operation.label, case.path_parameters, case.query, str(case.body)[:200],
                             response.status_code, response.text[:200]))

    return check


@pytest.mark.timeout(120)
def test_schemathesis_write_operations_never_5xx(server, admin_token):
    import schemathesis

    spec = requests.get(server.url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(spec)
    failures: list = []
    exercised = []
    headers = {"Authorization": f"Bearer {admin_token}"}
    version = requests.get(server.url + "/healthz", timeout=10).json()["version"]
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "GET":
            continue
        exercised.append(operation.label)

        _fuzz(operation, server.url, headers, failures)()
    writes = {"POST /api/types", "PUT /api/types/{slug}", "DELETE /api/types/{slug}"}
    assert writes <= set(exercised), exercised
    assert not failures, failures
    # Random bodies do not make valid types: the graph is as it was.
    assert requests.get(server.url + "/healthz", timeout=10).json()["version"] == version
