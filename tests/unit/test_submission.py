"""Reading a submission (kg/extension/submission.py, kg/extension/form.py), with no store and no server:
every format a person may send, the limits, the encodings, and hostile input, which must end in one of
the domain's refusals (``kg.extension.errors``) saying what was wrong, and never fetch anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, SKOS

from kg.config import Config
from kg.extension import errors
from kg.extension.form import form_to_graph, resolve_reference
from kg.extension.submission import MAX_DEPTH, MAX_TRIPLES, parse
from tests.support.listener import Listener

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIG = Config.from_env(environ={})
ID = CONFIG.id_ns
OUT = CONFIG.vocab_ns
TYPE = URIRef(OUT + "OutsourcingType")
TURTLE = f"""@prefix out: <{OUT}> . @prefix outd: <{ID}> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
outd:zpo a out:OutsourcingType ; skos:prefLabel "Zany Process Outsourcing"@en ; skos:altLabel "ZPO"@en .
"""


def refused(data: bytes | str, fmt: str, **kwargs) -> errors.SubmissionError:
    with pytest.raises(errors.SubmissionError) as caught:
        parse(data, fmt, CONFIG, **kwargs)
    return caught.value


# -- formats ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["turtle", "ttl", ".ttl", "text/turtle", "text/turtle; charset=utf-8",
                                  "application/x-turtle"])
def test_turtle_is_read_by_any_of_its_names(name):
    submission = parse(TURTLE, name, CONFIG)
    assert submission.format == "turtle"
    assert (URIRef(ID + "zpo"), RDF.type, TYPE) in submission.graph


def test_relative_iris_resolve_inside_the_things_namespace():
    submission = parse(f"<zpo> a <{OUT}OutsourcingType> .", "turtle", CONFIG)
    assert (URIRef(ID + "zpo"), RDF.type, TYPE) in submission.graph


def test_trig_names_the_graphs_it_tries_to_write():
    trig = f"<{CONFIG.graph_ns}vocabulary> {{ <{ID}zpo> a <{OUT}OutsourcingType> }}"
    submission = parse(trig, "application/trig", CONFIG)
    assert submission.format == "trig" and submission.named_graphs == [CONFIG.graph_ns + "vocabulary"]


def test_json_ld_with_an_inline_context():
    doc = {"@context": {"out": OUT, "skos": str(SKOS)}, "@id": ID + "zpo", "@type": "out:OutsourcingType",
           "skos:altLabel": "ZPO"}
    for name in ("application/ld+json", "jsonld", "application/json"):  # JSON that is JSON-LD reads as JSON-LD
        submission = parse(json.dumps(doc), name, CONFIG)
        assert submission.format == "json-ld"
        assert (URIRef(ID + "zpo"), SKOS.altLabel, Literal("ZPO")) in submission.graph


@pytest.mark.parametrize("name, fmt", [("rpo.yaml", "yaml"), ("ito-incomplete.json", "json")])
def test_the_example_forms_read_as_the_simple_form(name, fmt):
    submission = parse((EXAMPLES / name).read_bytes(), fmt, CONFIG)
    slug = name.split(".")[0].split("-")[0]
    assert submission.format == "form"
    assert (URIRef(ID + slug), RDF.type, TYPE) in submission.graph


@pytest.mark.parametrize("name", ["application/rdf+xml", "rdfxml", "text/html", "nt", "", "application/x-python"])
def test_a_format_submissions_cannot_come_in_is_named(name):
    exc = refused("<x/>", name)
    assert isinstance(exc, errors.UnsupportedFormat)
    assert "send Turtle, TriG, JSON-LD, or the JSON/YAML form" in exc.message and "text/turtle" in exc.message


# -- limits -----------------------------------------------------------------------------------------------

def test_too_many_bytes_is_refused_before_parsing():
    exc = refused(b"#" * 101, "turtle", max_bytes=100)  # a comment: valid Turtle, but too long
    assert isinstance(exc, errors.TooLarge) and "101 bytes; the limit is 100" in exc.message


def test_too_many_triples_is_refused():
    lines = "".join(f"<{ID}n{i}> <{OUT}rank> {i} .\n" for i in range(MAX_TRIPLES + 1))
    exc = refused(lines, "turtle", max_bytes=10**7)
    assert isinstance(exc, errors.TooLarge) and f"the limit is {MAX_TRIPLES}" in exc.message


def test_an_empty_submission_says_so():
    exc = refused("# nothing here\n", "turtle")
    assert isinstance(exc, errors.Invalid) and exc.message == "the submission holds no triples"
    assert exc.violations == [{"message": "the submission holds no triples"}]


# -- encodings --------------------------------------------------------------------------------------------

def test_non_ascii_text_survives_in_utf8():
    submission = parse(TURTLE.replace("Zany", "Zäny ☃"), "turtle", CONFIG)
    assert Literal("Zäny ☃ Process Outsourcing", lang="en") in set(submission.graph.objects())


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_body_that_is_not_utf8_names_the_byte(encoding):
    exc = refused(TURTLE.replace("Zany", "Zäny").encode(encoding), "turtle")
    assert isinstance(exc, errors.Malformed) and exc.message.startswith("the submission is not UTF-8 (byte ")


# -- hostile and broken input ----------------------------------------------------------------------------

def test_a_turtle_syntax_error_names_its_line():
    exc = refused('@prefix x: <http://x/> .\nx:a x:b x:c .\nx:d x:e "open .\n', "turtle")
    assert isinstance(exc, errors.Malformed) and exc.line == 3
    assert str(exc).startswith("line 3: syntax error")


def test_a_yaml_syntax_error_names_its_line():
    exc = refused("id: zpo\nlabel: [unclosed\n", "yaml")
    assert isinstance(exc, errors.Malformed) and exc.line == 3 and "YAML syntax error" in exc.message


def test_yaml_aliases_are_refused_before_they_expand():
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    exc = refused(laughs, "yaml")
    assert isinstance(exc, errors.Malformed) and "aliases (*name) are not accepted" in exc.message


def test_yaml_cannot_build_python_objects():
    exc = refused("id: !!python/object/apply:os.system ['echo owned']\n", "yaml")
    assert isinstance(exc, errors.Malformed)


@pytest.mark.parametrize("fmt, nest", [("json", lambda d: json.dumps(d)), ("yaml", lambda d: json.dumps(d))])
def test_deep_nesting_is_refused(fmt, nest):
    document: dict = {"id": "zpo"}
    for _ in range(MAX_DEPTH + 2):
        document = {"_comment": document}
    exc = refused(nest(document), fmt)
    assert isinstance(exc, errors.Malformed) and f"nested deeper than {MAX_DEPTH} levels" in exc.message


def test_json_nested_past_pythons_recursion_is_refused_not_crashed():
    exc = refused("[" * 100_000 + "]" * 100_000, "json", max_bytes=10**6)
    assert isinstance(exc, errors.Malformed)


@pytest.mark.parametrize("context", [
    lambda url: url + "context.jsonld",
    lambda url: [{"out": OUT}, url + "context.jsonld"],
    lambda url: {"@import": url + "context.jsonld", "out": OUT},
    lambda url: {"out": OUT, "scoped": {"@id": OUT + "s", "@context": url + "scoped.jsonld"}},
])
def test_a_remote_json_ld_context_is_refused_and_never_fetched(context):
    listener = Listener()
    try:
        doc = {"@context": context(listener.url), "@id": ID + "zpo", "@type": OUT + "OutsourcingType"}
        exc = refused(json.dumps(doc), "application/ld+json")
        assert isinstance(exc, errors.Invalid) and "remote JSON-LD contexts are not fetched" in exc.message
        assert listener.url in exc.message
        assert listener.quiet()
    finally:
        listener.close()


def test_xml_entities_have_no_way_in():
    billion = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">]><rdf:RDF/>'
    assert isinstance(refused(billion, "application/rdf+xml"), errors.UnsupportedFormat)


# -- the simple form ---------------------------------------------------------------------------------------

def test_the_form_states_a_type_in_its_scheme():
    g = form_to_graph({"id": "zpo", "label": "Zany Process Outsourcing", "acronym": "ZPO", "skills": "skill-english",
                       "lang": "fr"}, CONFIG)
    zpo = URIRef(ID + "zpo")
    assert (zpo, RDF.type, TYPE) in g
    assert (zpo, SKOS.inScheme, URIRef(ID + "outsourcing-types")) in g
    assert (zpo, SKOS.prefLabel, Literal("Zany Process Outsourcing", lang="fr")) in g
    assert (zpo, URIRef(OUT + "requiresSkill"), URIRef(ID + "skill-english")) in g


def test_new_entries_join_their_kind_and_scheme():
    g = form_to_graph({"id": "zpo", "new": {"skills": [{"id": "skill-zany", "label": "zaniness"}]}}, CONFIG)
    skill = URIRef(ID + "skill-zany")
    assert (skill, RDF.type, URIRef(OUT + "Skill")) in g and (skill, SKOS.inScheme, URIRef(ID + "skills")) in g


@pytest.mark.parametrize("document, words", [
    (["not", "a", "mapping"], "the form must be a mapping"),
    ({"label": "no id"}, "the form needs 'id'"),
    ({"id": "Not A Slug"}, "the form needs 'id'"),
    ({"id": "zpo", "lang": "english!"}, "'lang' must be a language tag"),
    ({"id": "zpo", "labl": "x"}, "unknown field 'labl'; did you mean 'label'?"),
    ({"id": "zpo", "label": {"en": "x"}}, "'label': give one string"),
    ({"id": "zpo", "label": ""}, "'label' must be a non-empty string"),
    ({"id": "zpo", "skills": "not a slug!"}, "is not a slug or an IRI of this graph"),
    ({"id": "zpo", "new": []}, "'new' must map skills/activities/qualifications/sources to lists"),
    ({"id": "zpo", "new": {"skils": []}}, "unknown field 'new.skils'; did you mean 'new.skills'?"),
    ({"id": "zpo", "new": {"skills": {}}}, "'new.skills' must be a list"),
    ({"id": "zpo", "new": {"skills": [{"label": "x"}]}}, "'new.skills[0]' needs an 'id' slug"),
])
def test_a_form_mistake_is_named(document, words):
    with pytest.raises(errors.Invalid) as caught:
        form_to_graph(document, CONFIG)
    assert words in caught.value.message


def test_comment_fields_are_skipped():
    assert len(form_to_graph({"id": "zpo", "_comment": "ignored", "_note": [1, 2]}, CONFIG)) == 3


@pytest.mark.parametrize("value, iri", [("bpo", ID + "bpo"), ("outd:bpo", ID + "bpo"), (ID + "bpo", ID + "bpo")])
def test_references_resolve_to_things_of_this_graph(value, iri):
    assert resolve_reference(value, CONFIG) == iri


def test_only_sources_may_be_any_web_iri():
    assert resolve_reference("https://example.org/page", CONFIG, allow_any_iri=True) == "https://example.org/page"
    with pytest.raises(errors.Invalid):
        resolve_reference("https://example.org/page", CONFIG)
    with pytest.raises(errors.Invalid):
        resolve_reference("javascript:alert(1)", CONFIG, allow_any_iri=True)


def test_refusals_carry_no_transport_detail():
    # The core says what was wrong; which HTTP status or exit code that is, the outer layers decide.
    for exc in (refused(b"\xff", "turtle"), refused("x", "application/rdf+xml"), refused("#" * 9, "ttl", max_bytes=8)):
        assert not hasattr(exc, "status") and "/api/" not in str(exc)


@pytest.mark.parametrize("text", [
    '<https://w3id.org/outsourcing-kg/id/x> a <http://outsourcing.about.com/a\\u0020b> .',
    '<https://w3id.org/outsourcing-kg/id/x> <urn:p> "Legal \\uD800 Outsourcing" .',
    '<https://w3id.org/outsourcing-kg/id/x> <urn:p> "x"^^<urn:a\\u0020b> .',
])
def test_a_term_that_parses_but_cannot_be_stored_is_malformed_not_a_failed_write(text):
    # rdflib reads these (with a warning); the store refuses them. Said at parse time, as a 400, rather
    # than as a 500 from the write.
    with pytest.raises(errors.Malformed, match="cannot be stored"):
        parse(text.encode(), "ttl", CONFIG)
