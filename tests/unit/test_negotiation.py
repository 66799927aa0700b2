"""Content negotiation without a server: werkzeug's real Accept parser, Flask's request context.

The expected answers come from RFC 9110 §12.5.1 (media ranges, q-values, "the most specific reference
has precedence", q=0 means "not acceptable"), worked out by hand for each header; where the RFC leaves
the choice to the server (ties, a field with nothing valid in it, another name of a format) the test
says which rule of ``service/negotiation.py`` it holds the service to. Headers are written the way
odd clients and attackers write them: huge, repeated, badly spaced, in capitals, with parameters and
invalid weights.
"""

from __future__ import annotations

import time

import pytest
from flask import Flask, Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from kg.formats import BY_KEY, NotAcceptable
from service import errors, negotiation

TURTLE, JSONLD, RDFXML, NTRIPLES, HTML = (BY_KEY[k] for k in ("turtle", "jsonld", "rdfxml", "ntriples", "html"))
JSON, XML, CSV, TSV = (BY_KEY[k] for k in ("json", "xml", "csv", "tsv"))
TRIG, NQUADS, TEXT, PROBLEM = (BY_KEY[k] for k in ("trig", "nquads", "text", "problem"))
#: What a linked-data document is offered in (Turtle is its default).
DOC = (TURTLE, JSONLD, RDFXML, NTRIPLES, HTML)
RESULTS = (JSON, XML, CSV, TSV)
GRAPH = (TURTLE, NTRIPLES, JSONLD, RDFXML, TRIG, NQUADS)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def accept(header: str | None) -> MIMEAccept:
    """The header as werkzeug reads it for ``request.accept_mimetypes``."""
    return parse_accept_header(header, MIMEAccept)


def pick(header: str | None, offered=DOC):
    chosen = negotiation.best(accept(header), offered)
    return None if chosen is None else chosen.key


@pytest.fixture(scope="module")
def app() -> Flask:
    return Flask(__name__)


# -- no preference -----------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "*/*", "*/*;q=0.3"])
def test_no_preference_gets_the_routes_default(header):
    # No Accept: "the user agent will accept any media type"; */* weighs every format alike.
    assert pick(header) == "turtle"
    assert pick(header, RESULTS) == "json"
    assert pick(header, (HTML, TURTLE)) == "html"  # the default is the route's, not the table's


# -- weights -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("application/ld+json", "jsonld"),
    ("text/turtle;q=0.5, application/rdf+xml;q=0.9", "rdfxml"),
    ("application/ld+json;q=0.2, text/html;q=0.1", "jsonld"),
    ("text/turtle;q=0.001, application/ld+json;q=0.000", "turtle"),  # 0.001 is still acceptable
    ("application/n-triples;q=1.000, text/turtle;q=0.999", "ntriples"),
    (BROWSER, "html"),
])
def test_the_heaviest_acceptable_format_wins(header, expected):
    assert pick(header) == expected


@pytest.mark.parametrize("header, expected", [
    ("text/turtle;q=0", None),  # the only format named is refused, nothing else is acceptable
    ("text/turtle;q=0, */*", "jsonld"),  # */* takes everything but Turtle, named with q=0
    ("text/html;q=0, */*;q=0.1", "turtle"),
    ("*/*;q=0, application/rdf+xml", "rdfxml"),
    ("*/*;q=0", None),
    ("text/*;q=0, text/html", "html"),  # the more specific text/html overrides text/*;q=0
    ("text/turtle;q=0.0, text/*", "html"),
])
def test_q_zero_means_not_acceptable_even_under_a_wildcard(header, expected):
    assert pick(header) == expected


def test_the_most_specific_range_decides_a_formats_weight():
    # RFC 9110 §12.5.1's example, read for the formats of this service (each sent as type/subtype with
    # charset=utf-8 when textual): text/plain is 0.7 (text/plain, not text/*), text/html and text/turtle
    # 0.3 (text/*), JSON-LD 0.5 (*/*). The ranges with a format= parameter match nothing sent here.
    header = accept("text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, "
                    "text/plain;format=fixed;q=0.4, */*;q=0.5")
    assert negotiation.weight(header, TEXT) == 0.7
    assert negotiation.weight(header, HTML) == 0.3
    assert negotiation.weight(header, TURTLE) == 0.3
    assert negotiation.weight(header, JSONLD) == 0.5
    # So among Turtle, JSON-LD, RDF/XML and HTML, JSON-LD weighs most...
    assert pick("text/*;q=0.3, text/plain;q=0.7, */*;q=0.5", (TURTLE, JSONLD, RDFXML, HTML)) == "jsonld"
    # ...but with N-Triples offered, text/plain names it exactly (its other media type): 0.7 wins.
    assert pick("text/*;q=0.3, text/plain;q=0.7, */*;q=0.5") == "ntriples"


@pytest.mark.parametrize("header, expected", [
    ("text/*", "turtle"),  # Turtle and HTML are both text/*: the route's order decides
    ("text/*;q=0.9, text/turtle;q=0.1, application/ld+json;q=0.5", "html"),  # HTML 0.9 via text/*
    ("application/*", "jsonld"),
    ("application/*;q=0.2, application/rdf+xml;q=0.1, text/*;q=0.1", "jsonld"),
])
def test_wildcard_subtypes(header, expected):
    assert pick(header) == expected


def test_ties_go_to_the_routes_order_whatever_the_clients_order():
    assert pick("application/ld+json, text/turtle") == pick("text/turtle, application/ld+json") == "turtle"
    assert pick("text/csv;q=0.5, text/tab-separated-values;q=0.5", RESULTS) == "csv"


def test_at_equal_weight_the_format_named_by_its_type_beats_one_taken_by_a_wildcard():
    # Both weigh 1; the client named JSON-LD itself and reached Turtle only through */* (service rule).
    assert pick("*/*, application/ld+json") == "jsonld"


# -- parameters, case and spacing ---------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("text/turtle;charset=utf-8", "turtle"),  # Turtle is sent with charset=utf-8
    ('text/turtle; charset="UTF-8"', "turtle"),  # a quoted value and case do not change it
    ("text/turtle;charset=iso-8859-1", None),  # a Turtle in Latin-1 is not what is sent
    ("text/turtle;charset=iso-8859-1, application/n-triples;q=0.1", "ntriples"),
    ('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"', None),  # not sent with it
    ("text/turtle;charset=utf-8;q=0.2, text/turtle;q=0.9, application/ld+json;q=0.5", "jsonld"),
])
def test_parameters_select_the_representation_sent(header, expected):
    # A range with parameters matches only a representation with them; the more specific range (the one
    # with charset) decides Turtle's weight in the last case: 0.2, below JSON-LD's 0.5.
    assert pick(header) == expected


@pytest.mark.parametrize("header, expected", [
    ("TEXT/TURTLE", "turtle"),
    ("Application/LD+JSON", "jsonld"),
    ("application/n-triples;Q=0.9, text/html;q=0.5", "ntriples"),  # "q" is case-insensitive too
    ("  text/turtle ;q=0.2 ,\tapplication/ld+json ; q=0.3 ", "jsonld"),
    ("text/turtle;q=0.2,,, ,application/rdf+xml;q=0.3,", "rdfxml"),  # empty list elements are allowed
])
def test_case_and_whitespace_do_not_matter(header, expected):
    assert pick(header) == expected


# -- invalid input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["json", "turtle, html", "*/turtle", "text", "/", "text/", ";q=1", ",,,"])
def test_a_field_without_one_valid_media_range_is_disregarded(header):
    # Nothing in it is a media range: the service may disregard the field, as if it were absent.
    assert pick(header) == "turtle"


@pytest.mark.parametrize("header, expected", [
    ("text/turtle;q=2, application/ld+json;q=0.5", "jsonld"),  # q above 1 is not a qvalue
    ("text/turtle;q=abc, application/ld+json;q=0.5", "jsonld"),
    ("text/turtle;q=-1, application/ld+json;q=0.5", "jsonld"),
    ("text/turtle;q=1e0, application/ld+json;q=0.5", "jsonld"),
    ("text/turtle;q=NaN, application/ld+json;q=0.5", "jsonld"),
    ("text/turtle;q=inf, application/ld+json;q=0.5", "jsonld"),
])
def test_an_element_with_an_invalid_weight_counts_for_nothing(header, expected):
    # An invalid element is ignored: it can neither raise Turtle above JSON-LD nor be read as q=1.
    assert pick(header) == expected


def test_an_invalid_element_beside_a_valid_one_leaves_the_valid_one_in_force():
    assert pick("garbage, image/png") is None  # image/png is a real request that nothing here fits
    assert pick("*/html, application/rdf+xml;q=0.1") == "rdfxml"


# -- the other names of a format ------------------------------------------------------------------------

def test_other_media_types_of_a_row_count_when_named_exactly():
    assert pick("application/json") == "jsonld"  # JSON-LD is JSON, for documents
    assert pick("application/json", RESULTS) == "json"  # and SPARQL JSON, for results
    assert pick("text/plain") == "ntriples"
    assert pick("application/xml", RESULTS) == "xml"


def test_other_media_types_are_never_reached_through_a_wildcard():
    # N-Triples is sent as application/n-triples: text/* is not a request for it.
    assert pick("text/*", (NTRIPLES, HTML)) == "html"
    assert pick("text/*", (NTRIPLES,)) is None


def test_a_format_refused_by_another_of_its_names_is_refused():
    # The client excludes application/json by name; */* would take SPARQL JSON, but the named
    # exclusion is more specific (service rule).
    assert pick("application/json;q=0, */*", RESULTS) == "xml"
    # Its own media type, named, outweighs another name at the same specificity.
    assert pick("application/sparql-results+json;q=0.1, application/json;q=0.9", (JSON,)) == "json"
    assert negotiation.weight(accept("application/sparql-results+json;q=0.1, application/json"), JSON) == 0.1


# -- hostile sizes ------------------------------------------------------------------------------------

def _timed(header: str, offered=DOC):
    parsed = accept(header)
    start = time.perf_counter()
    chosen = negotiation.best(parsed, offered)
    return (None if chosen is None else chosen.key), time.perf_counter() - start


@pytest.mark.parametrize("make", [
    lambda i: f"type{i}/sub{i};q=0.5",  # thousands of types nothing here is
    lambda i: f"text/turtle;p={i}",  # thousands of Turtles with a parameter never sent
    lambda i: f"text/turtle;charset=x-{i}",  # thousands of charsets never sent
    lambda i: "text/turtle;q=0.5",  # the same range again and again
    lambda i: f"text/*;p={i};q=0.{i % 9 + 1}",  # thousands of wildcards
], ids=["types", "parameters", "charsets", "repeats", "wildcards"])
def test_thousands_of_ranges_cost_one_pass(make):
    # 20,000 ranges (~0.5 MB, far beyond the 8 KiB a header may have behind gunicorn): weighing them
    # must stay linear. A pass per format and name over all of them took seconds.
    header = ", ".join(make(i) for i in range(20_000)) + ", application/ld+json;q=0.01"
    chosen, elapsed = _timed(header)
    assert chosen in ("jsonld", "turtle", "html")
    assert elapsed < 1.0, f"{elapsed:.2f} s to weigh {len(header)} bytes"


def test_a_huge_header_still_gives_the_rfc_answer():
    noise = ", ".join(f"image/x-{i};q=0.9" for i in range(5000))
    assert _timed(noise + ", text/html;q=0.2, application/rdf+xml;q=0.3")[0] == "rdfxml"
    assert _timed(noise)[0] is None
    assert _timed("," * 100_000)[0] == "turtle"  # nothing but separators: no preference


# -- choose(): the request, names from the URL, NotAcceptable, Vary ------------------------------------

def test_choose_reads_the_requests_accept_and_adds_vary(app):
    with app.test_request_context(headers={"Accept": "application/rdf+xml"}):
        assert negotiation.choose(DOC) is RDFXML
        response = app.process_response(Response("x"))
    assert "Accept" in response.vary


def test_a_name_from_the_url_wins_over_accept_and_adds_no_vary(app):
    with app.test_request_context(headers={"Accept": "text/html"}):
        assert negotiation.choose(DOC, "TTL") is TURTLE  # by extension, case-insensitive
        assert negotiation.choose(DOC, ["nope", "jsonld"]) is JSONLD  # the first name offered
        response = app.process_response(Response("x"))
    assert "Accept" not in response.vary


def test_a_name_not_offered_is_not_acceptable_listing_what_is(app):
    with app.test_request_context():
        with pytest.raises(NotAcceptable) as raised:
            negotiation.choose(DOC, "csv")
    assert raised.value.offered == list(DOC) and raised.value.asked == "csv"


def test_nothing_acceptable_names_the_header_and_what_is_available(app):
    with app.test_request_context(headers={"Accept": "image/png, text/turtle;q=0"}):
        with pytest.raises(NotAcceptable) as raised:
            negotiation.choose(DOC)
    assert raised.value.asked == "image/png, text/turtle;q=0"
    assert "text/turtle" in str(raised.value) and "text/html" in str(raised.value)


@pytest.mark.parametrize("offered, requested, header, expected", [
    (GRAPH, ["xml"], None, "rdfxml"),  # SPARQLWrapper's format=xml for a CONSTRUCT
    (GRAPH, ["json"], None, "jsonld"),
    (RESULTS, ["xml"], None, "xml"),
    (RESULTS, ["json"], "text/csv", "json"),
    (RESULTS, ["not-a-format"], "text/csv", "csv"),  # unknown spellings are ignored: Accept decides
    (GRAPH, ["csv", "ntriples"], None, "ntriples"),  # the first one the answer can use
    (GRAPH, [" ", ""], "application/n-quads", "nquads"),
])
def test_for_query_reads_format_values_then_accept(app, offered, requested, header, expected):
    with app.test_request_context(headers={"Accept": header} if header else {}):
        assert negotiation.for_query(offered, requested).key == expected


def test_for_query_refuses_a_known_format_the_answer_cannot_use(app):
    with app.test_request_context():
        with pytest.raises(NotAcceptable) as raised:
            negotiation.for_query(GRAPH, ["csv"])
    assert raised.value.asked == "csv" and TURTLE in raised.value.offered


# -- what an error is told in ------------------------------------------------------------------------

@pytest.mark.parametrize("path, header, expected", [
    ("/doc/x", None, TEXT),
    ("/doc/x", "*/*", TEXT),
    ("/doc/x", "text/turtle", TEXT),  # an error cannot be Turtle: text, never a 406
    ("/doc/x", "image/png", TEXT),
    ("/doc/x", BROWSER, HTML),
    ("/doc/x", "application/ld+json", PROBLEM),  # JSON clients read a problem document
    ("/sparql", "application/sparql-results+json", PROBLEM),
    ("/sparql", "application/json, */*;q=0.1", PROBLEM),
    ("/sparql", "text/plain, */*;q=0.1", TEXT),
    ("/api/types", None, PROBLEM),  # the API answers JSON unless a page is preferred
    ("/api/types", "text/plain, */*;q=0.1", PROBLEM),
    ("/api/types", "text/csv", PROBLEM),
    ("/api/types", BROWSER, HTML),
    ("/openapi.json", "*/*", PROBLEM),
])
def test_an_error_is_told_in_the_negotiated_family(app, path, header, expected):
    with app.test_request_context(path, headers={"Accept": header} if header else {}):
        assert errors.representation() is expected


@pytest.mark.parametrize("asked, expected", [
    (JSONLD, PROBLEM), (HTML, HTML), (TURTLE, TEXT), (NTRIPLES, TEXT), (CSV, TEXT), (JSON, PROBLEM),
])
def test_an_error_follows_the_format_the_url_named(app, asked, expected):
    with app.test_request_context("/doc/x.ext", headers={"Accept": "text/html"}):
        assert errors.representation(asked) is expected
