"""The one media-type table without a server: its rows are coherent, names find the right row, and
what a row says it serialises, independent parsers (rdflib, the standard library) read back.

Submissions: the table answers every name the old submission table answered, with the same format,
so ``kg.extension.submission`` can read its formats from here; a Content-Type reaches it as werkzeug
reads it (``request.mimetype``: no parameters, lowercase), the core parsing no header.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pyoxigraph as ox
import pytest
from flask import Flask
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.query import Result

from kg.formats import (
    BY_KEY,
    FORMATS,
    by_name,
    for_submission,
    formats_for,
    rdf_format_for_path,
    serialize_results,
    serialize_triples,
    submission_media_types,
    submission_names,
)

MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


# -- the rows ---------------------------------------------------------------------------------------

def test_keys_media_types_and_extensions_are_unique_and_well_formed():
    keys = [f.key for f in FORMATS]
    assert len(keys) == len(set(keys))
    assert len({f.media_type for f in FORMATS}) == len(FORMATS)
    extensions = [f.extension for f in FORMATS if f.extension]
    assert len(extensions) == len(set(extensions))
    for f in FORMATS:
        assert MEDIA_TYPE.fullmatch(f.media_type), f.media_type
        assert all(MEDIA_TYPE.fullmatch(a) for a in f.media_aliases), f.aliases
        assert f.kinds, f.key


def test_every_kind_of_answer_has_formats():
    for kind in ("results", "graph", "dataset", "page", "data", "error", "submission"):
        assert formats_for(kind), kind
    assert all(f.ox_results is not None for f in formats_for("results"))
    assert all(f.ox_rdf is not None for f in formats_for("graph") + formats_for("dataset"))


def test_content_type_says_utf_8_where_the_media_type_takes_a_charset():
    assert BY_KEY["turtle"].content_type == "text/turtle; charset=utf-8"
    assert BY_KEY["html"].content_type == "text/html; charset=utf-8"
    assert BY_KEY["problem"].content_type == "application/problem+json"  # RFC 9457 defines no charset


def test_the_three_error_answers_are_rows():
    assert [f.media_type for f in formats_for("error")] == ["text/html", "application/problem+json", "text/plain"]
    # Every JSON type the service answers in is one a client can read a problem document as.
    json_types = {f.media_type for f in FORMATS if f.media_type.endswith(("/json", "+json"))} - {
        "application/problem+json"}
    assert json_types <= set(BY_KEY["problem"].media_aliases)


# -- names --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kind, key", [
    ("turtle", None, "turtle"), ("TTL", None, "turtle"), (" text/turtle ", None, "turtle"),
    ("application/x-turtle", None, "turtle"), ("nt", None, "ntriples"), ("application/n-quads", None, "nquads"),
    ("json", None, "json"), ("application/json", None, "json"), ("application/json", "results", "json"),
    ("application/json", "graph", "jsonld"), ("json-ld", None, "jsonld"), ("rdf", None, "rdfxml"),
    ("owl", None, "rdfxml"), ("application/xhtml+xml", None, "html"), ("md", "data", "markdown"),
])
def test_by_name_finds_a_row_by_any_of_its_names(name, kind, key):
    assert by_name(name, kind).key == key


@pytest.mark.parametrize("name, kind", [("image/png", None), ("", None), ("turtle", "results"), ("csv", "graph")])
def test_by_name_finds_nothing_for_other_names(name, kind):
    assert by_name(name, kind) is None


@pytest.mark.parametrize("path, key", [
    ("dump.nq", "nquads"), ("dump.NQ.gz", "nquads"), ("g.ttl", "turtle"), ("g.jsonld", "jsonld"),
    ("vocabulary.owl", "rdfxml"), ("a.b.trig", "trig"), ("x.nt", "ntriples"),
])
def test_rdf_format_of_a_file(path, key):
    assert rdf_format_for_path(path).key == key


@pytest.mark.parametrize("path", ["results.srj", "notes.json", "form.yaml", "README", "page.html", "x.csv"])
def test_files_that_are_not_rdf_have_no_rdf_format(path):
    assert rdf_format_for_path(path) is None


# -- submissions ----------------------------------------------------------------------------------------

#: What each name meant in the submission table this one replaces (kg/extension/submission.py's
#: FORMAT_NAMES): an RDF syntax by its rdflib name, or the form.
BEFORE = {
    "turtle": "turtle", "ttl": "turtle", "text/turtle": "turtle", "application/x-turtle": "turtle",
    "trig": "trig", "application/trig": "trig",
    "jsonld": "json-ld", "json-ld": "json-ld", "application/ld+json": "json-ld",
    "json": "form-json", "application/json": "form-json",
    "yaml": "form-yaml", "yml": "form-yaml", "application/yaml": "form-yaml", "application/x-yaml": "form-yaml",
    "text/yaml": "form-yaml", "text/x-yaml": "form-yaml",
}


@pytest.mark.parametrize("name, meant", sorted(BEFORE.items()))
def test_every_submission_name_means_what_it_meant(name, meant):
    fmt = for_submission(name)
    assert (fmt.rdflib or fmt.key) == meant
    assert for_submission(name.upper()) is fmt
    if "/" not in name:
        assert for_submission("." + name) is fmt  # a file's suffix


def test_submission_lists_cover_the_names_and_only_them():
    assert set(submission_media_types()) == {n for n in BEFORE if "/" in n}
    assert {n for n in BEFORE if "/" not in n} <= set(submission_names())
    assert all(for_submission(n) is not None for n in submission_names() + submission_media_types())


@pytest.mark.parametrize("name", ["application/rdf+xml", "text/xml", "application/n-triples", "text/csv",
                                  "text/plain", "application/octet-stream", "", None, "rdf", ".owl"])
def test_no_submission_format_for_anything_else(name):
    # RDF/XML is refused on purpose: no XML parser sees a submission (no entities to expand).
    assert for_submission(name) is None


@pytest.mark.parametrize("content_type, key", [
    ("text/turtle; charset=utf-8", "turtle"),
    ("Application/LD+JSON;charset=UTF-8", "jsonld"),
    ("application/json ; charset=utf-8", "form-json"),
    ("text/x-yaml", "form-yaml"),
])
def test_a_content_type_reaches_the_table_as_werkzeug_reads_it(content_type, key):
    app = Flask(__name__)
    with app.test_request_context(method="POST", headers={"Content-Type": content_type}):
        from flask import request

        assert for_submission(request.mimetype).key == key


# -- serialisation, read back by independent parsers ----------------------------------------------------

EX = "http://example.org/"
TRIPLES = [
    ox.Triple(ox.NamedNode(EX + "kpo"), ox.NamedNode(EX + "label"),
              ox.Literal('Knowledge, "process"', language="en")),
    ox.Triple(ox.NamedNode(EX + "kpo"), ox.NamedNode(EX + "rate"),
              ox.Literal("24.5", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal"))),
    ox.Triple(ox.NamedNode(EX + "é"), ox.NamedNode(EX + "p"), ox.BlankNode("b1")),
]


def _expected() -> Graph:
    g = Graph()
    g.parse(data="".join(str(t) + " .\n" for t in TRIPLES), format="nt")
    return g


@pytest.mark.parametrize("key", ["turtle", "ntriples", "jsonld", "rdfxml"])
def test_graph_rows_serialise_what_rdflib_reads_back_by_the_rows_rdflib_name(key):
    fmt = BY_KEY[key]
    body = serialize_triples(TRIPLES, fmt, {"ex": EX})
    assert isomorphic(Graph().parse(data=body, format=fmt.rdflib), _expected())


@pytest.mark.parametrize("key", ["trig", "nquads"])
def test_dataset_rows_serialise_quads_rdflib_reads_back(key):
    from rdflib import Dataset

    fmt = BY_KEY[key]
    graph = ox.NamedNode(EX + "g")
    body = serialize_triples([ox.Quad(t.subject, t.predicate, t.object, graph) for t in TRIPLES], fmt)
    ds = Dataset()
    ds.parse(data=body, format=fmt.rdflib)
    assert isomorphic(ds.graph(URIRef(EX + "g")), _expected())


def _results():
    store = ox.Store()
    for t in TRIPLES:
        store.add(ox.Quad(t.subject, t.predicate, t.object))
    return store.query(f"SELECT ?s ?o WHERE {{ ?s <{EX}label> ?o }}")


def test_results_rows_serialise_what_independent_parsers_read_back():
    expected_value = Literal('Knowledge, "process"', lang="en")
    for key in ("json", "xml", "tsv"):
        result = Result.parse(io.BytesIO(serialize_results(_results(), BY_KEY[key])), format=key)
        assert [row[1] for row in result] == [expected_value], key
    doc = json.loads(serialize_results(_results(), BY_KEY["json"]))
    assert doc["head"]["vars"] == ["s", "o"]
    rows = list(csv.reader(io.StringIO(serialize_results(_results(), BY_KEY["csv"]).decode("utf-8"))))
    assert rows == [["s", "o"], [EX + "kpo", 'Knowledge, "process"']]


def test_a_row_refuses_to_serialise_what_it_cannot_carry():
    with pytest.raises(ValueError):
        serialize_triples(TRIPLES, BY_KEY["csv"])
    with pytest.raises(ValueError):
        serialize_results(_results(), BY_KEY["turtle"])
