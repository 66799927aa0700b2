"""The pre-check (kg/query/precheck.py) as an attacker would try it: keywords glued to names, IRIs,
numbers, strings and comments; escapes; depth and operator chains; texts built to make a scan
re-read itself. Every text it accepts is then evaluated by the real engine, unconfined, next to a
loopback listener: nothing may connect. And what it learns for the caller: the query form, and the
FROM graphs the dataset is built of.

Whether the largest texts the bounds accept are safe for an evaluator's stack is checked in
``tests/test_precheck.py`` (it starts a process per text, and is slow)."""

from __future__ import annotations

import itertools
import time

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.query.precheck import (
    Bounds,
    Malformed,
    PrecheckError,
    Refused,
    TooLarge,
    analyse,
    reaches_out,
    without_trailing_semicolon,
)
from kg.store.remote_text import own_syntax_error
from tests.support.listener import Listener

PREFIXES = {"ex": "http://example.org/", "": "http://example.org/default/"}


@pytest.fixture(scope="module")
def probe():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def store() -> ox.Store:
    """A store where every kind of object the generated texts use has a match, so a SERVICE joined
    after a triple pattern is actually evaluated."""
    s = ox.Store()
    subject, predicate = ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p")
    for obj in (ox.Literal(True), ox.Literal(1), ox.Literal("s"), ox.NamedNode("http://example.org/o"),
                ox.NamedNode("http://example.org/default/e")):
        s.add(ox.Quad(subject, predicate, obj))
    return s


def _accepted(text: str, *, update: bool = False) -> bool:
    try:
        analyse(text, PREFIXES, update=update)
    except PrecheckError:
        return False
    return True


def _evaluate(store: ox.Store, text: str, *, update: bool = False) -> None:
    try:
        if update:
            store.update(text, prefixes=PREFIXES)
        else:
            result = store.query(text, prefixes=PREFIXES)
            if not isinstance(result, ox.QueryBoolean):
                list(result)
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass


# -- keywords in every juxtaposition -------------------------------------------------------------

KEYWORDS = ["SERVICE", "service", "SeRvIcE", "SERVICE SILENT", "SERVICESILENT"]
BEFORE = ["", " ", "\n", "\t", ".", "true", "false", "1", "1.5", "a", "?o", "'s'", '"s"', "<http://example.org/o>",
          "ex:o", "ex:o.", "# c\n", "# c\r", "}", "{ }", ")", "ex:", ":"]
AFTER = ["", " ", "\n", "e", "ex:", ":", ":e", "<{url}>", " <{url}>", "ex:x", "?u", "(", "#x\n<{url}>"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.sampled_from(BEFORE), keyword=st.sampled_from(KEYWORDS), after=st.sampled_from(AFTER),
       prefix_name=st.sampled_from(["e", "service", "trueSERVICE", "x"]))
def test_what_the_scan_accepts_never_reaches_out(probe, store, before, keyword, after, prefix_name):
    url = probe.url
    text = (f"PREFIX {prefix_name}: <{url}> PREFIX e: <{url}>\n"
            f"SELECT * WHERE {{ <http://example.org/s> <http://example.org/p> {before}{keyword}{after.format(url=url)}"
            f" {{ ?a ?b ?c }} }}")
    if _accepted(text):
        before_count = probe.connections
        _evaluate(store, text)
        time.sleep(0.01)
        assert probe.connections == before_count, f"accepted, and the engine connected: {text!r}"
    else:
        with pytest.raises(PrecheckError):
            analyse(text, PREFIXES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from([
    "SERVICE", "LOAD", "load", "<{url}>", "e:", "ex:a", "\\u0053", "'", '"', "'''", "#", "\n", " ", "\\", "{", "}",
    "?s", "a", "true", ".", ";", "INSERT DATA", "INTO GRAPH", "SILENT", "x"]), min_size=1, max_size=12))
def test_no_juxtaposition_of_fragments_reaches_out(probe, store, pieces):
    url = probe.url
    body = "".join(pieces).replace("{url}", url)
    for text, update in ((f"PREFIX e: <{url}> SELECT * WHERE {{ ?s ?p ?o {body} }}", False),
                         (f"PREFIX e: <{url}> {body}", True)):
        if _accepted(text, update=update):
            before_count = probe.connections
            _evaluate(ox.Store() if update else store, text, update=update)
            time.sleep(0.01)
            assert probe.connections == before_count, f"accepted, and the engine connected: {text!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.sampled_from(BEFORE), keyword=st.sampled_from([*KEYWORDS, "LOAD", "load", "LOADSILENT"]),
       after=st.sampled_from(AFTER), update=st.booleans())
def test_the_remote_stores_own_parse_never_reaches_out(probe, before, keyword, after, update):
    # kg.store.remote_text parses a text the remote endpoint rejected by evaluating it on an empty store,
    # in the HTTP process, which nothing confines over a remote store: whatever the text, no connection.
    url = probe.url
    clause = f"{before}{keyword}{after.format(url=url)}"
    text = (f"PREFIX e: <{url}>\n"
            + (f"{clause} ; INSERT {{ ?a ?b ?c }} WHERE {{ {clause} {{ ?a ?b ?c }} }}" if update
               else f"SELECT * WHERE {{ {clause} {{ ?a ?b ?c }} }}"))
    before_count = probe.connections
    own_syntax_error(text, PREFIXES, update=update)
    time.sleep(0.01)
    assert probe.connections == before_count, f"the remote store's own parse connected: {text!r}"


def test_the_probe_does_see_the_engine_connect(probe, store):
    # The witness: the engine does connect when the scan is not asked, so the properties can fail.
    before_count = probe.connections
    _evaluate(store, f"PREFIX e: <{probe.url}> SELECT * WHERE {{ ?s ?p ?o SERVICEe:x {{ ?a ?b ?c }} }}")
    time.sleep(0.2)
    assert probe.connections > before_count


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { SERVICEex:x { } }",
    "SELECT * WHERE { ?s ?p trueSERVICE<http://x/> { } }",
    "SELECT * WHERE { ?s ?p ex:o.SERVICE<http://x/> { } }",
    "SELECT * WHERE { ?s ?p 'o'SERVICE<http://x/> { } }",
    "SELECT * WHERE { ?s ?p ex:a\\'b SERVICE <http://x/> { } }",
    "PREFIX service: <http://x/> SELECT * WHERE { service:e { } }",
    "SELECT * WHERE { ?s ?p ?o } #\rSERVICE <http://x/> { }",
])
def test_service_glued_or_spaced_is_refused(text):
    with pytest.raises(Refused, match="SERVICE"):
        analyse(text, PREFIXES)


@pytest.mark.parametrize("text", [
    "LOAD<http://x/d>", "LOADex:d", "PREFIX d: <http://x/> LOADd:x", "load <http://x/> INTO GRAPH <urn:g>",
    "INSERT DATA { <urn:a> <urn:b> <urn:c> } ;LOAD<http://x/d>", "CLEAR ALL ;\nLoAd SILENT <http://x/>",
])
def test_load_glued_or_spaced_is_refused_in_updates(text):
    with pytest.raises(Refused, match="LOAD"):
        analyse(text, PREFIXES, update=True)


@pytest.mark.parametrize("text", [
    "SELECT ?service WHERE { ?service <http://example.org/SERVICE> 'SERVICE LOAD' } # SERVICE",
    "SELECT ?load WHERE { ?load ?p \"\"\"SERVICE\n<http://x/> {}\"\"\" }",
    "SELECT * WHERE { ?s ?p <http://example.org/a\\u0053ERVICE> }",
])
def test_the_words_inside_strings_iris_comments_and_variables_are_fine(text):
    assert analyse(text, PREFIXES).form == "SELECT"


def test_escapes_outside_strings_and_iris_are_refused():
    with pytest.raises(Malformed, match="escapes"):
        analyse("SELECT * WHERE { \\u0053ERVICE <http://x/> { } }", PREFIXES)


@pytest.mark.parametrize("text", ["SELECT 'abc", 'SELECT "abc\n"', "SELECT '''abc", 'ASK { ?s ?p """x }'])
def test_unterminated_strings_are_refused(text):
    with pytest.raises(Malformed, match="not closed"):
        analyse(text, PREFIXES)


# -- "<": an IRI, "less than", or the start of "<<" --------------------------------------------------

# Each hides what follows its "<" from a scan that reads an IRI there, while the engine reads an operator
# (or "<<") and then code: SERVICE, LOAD, or brackets nested past the limit.
TWO_READINGS = [
    "SELECT * {{ BIND(1<'>' AS ?y) SERVICE <{url}> {{ ?s ?p ?o }} }} #'",
    "SELECT * {{ ?s ?p ?o FILTER(?o<'>') SERVICE <{url}> {{ ?a ?b ?c }} }} #'",
    "SELECT * {{ ?s ?p ?o FILTER(?o<a#>" + "'" * 3 + "\n) SERVICE <{url}> {{ ?a ?b ?c }}\n" + "'" * 3 + ") }}",
    "SELECT * {{ ?s ?p ?o FILTER(1<(1)>0 && 'x'<'>' ) SERVICE <{url}> {{ ?a ?b ?c }} }} #'",
    "SELECT * {{ ?s <<(?s?p'>')>> SERVICE <{url}> {{ ?a ?b ?c }} }} #'",
    "SELECT * {{ ?s ?p ( ?x <a'> ) SERVICE <{url}> {{ ?a ?b ?c }} }} #'",
]


@pytest.mark.parametrize("template", TWO_READINGS)
def test_a_less_than_that_reads_as_an_iri_to_the_scan_is_refused(probe, template):
    text = template.format(url=probe.url)
    with pytest.raises(PrecheckError, match="reads two ways"):
        analyse(text, PREFIXES)
    assert reaches_out(text, PREFIXES)  # never parsed by an unconfined engine either


def test_the_first_reading_does_reach_the_engines_service(probe):
    # The witness: evaluated unconfined, the first text connects, so the scan's refusal is what stops it.
    before_count = probe.connections
    _evaluate(ox.Store(), TWO_READINGS[0].format(url=probe.url))
    time.sleep(0.2)
    assert probe.connections > before_count


def test_an_update_that_hides_load_behind_a_less_than_is_refused():
    text = "INSERT { <a:s> <a:p> ?y } WHERE { BIND(1<'>' AS ?y) } ; LOAD <http://127.0.0.1:9/l> #'"
    with pytest.raises(PrecheckError, match="reads two ways"):
        analyse(text, PREFIXES, update=True)


def test_nesting_and_operators_hidden_behind_a_less_than_are_refused():
    with pytest.raises(PrecheckError):
        analyse("SELECT * { FILTER(1<" + "(" * 10_000 + "1" + ")" * 10_000 + "&&1>0) }", {})
    with pytest.raises(TooLarge):
        analyse("SELECT * { FILTER(1<1" + "+1" * 5000 + ">0) }", {}, bounds=Bounds(max_length=10**6))


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?s <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ?o }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o<3 && ?o < 5 && ?o<=?s && 1<2) }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o = <http://dbpedia.org/resource/Python_(language)>) }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o IN (<http://x.org/a#b>, <http://x.org/c#d>)) }",
    "SELECT * WHERE { <<( ?s <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ?o )>> ?p ?x }",
    "SELECT * WHERE { ?s (<http://x.org/a#b>/<http://x.org/c#d>)* ?o }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?s HAVING (COUNT(*)<3)",
])
def test_iris_and_comparisons_that_read_one_way_pass(text):
    assert analyse(text, PREFIXES).form == "SELECT"


# Every combination: a value, "<" or "<<", what an IRI may hold that code reads otherwise, what follows its
# ">", a SERVICE clause or not, and what may hide the rest of the line from one reader.
LONG_QUOTE = "'" * 3
AROUND_LESS_THAN = list(itertools.product(
    ["1", "?o", "'x'", "(1)"], ["<", "<<"], ["'", "a'", "#", "a#", "(", ")", "?s?p'", "x"],
    ["'", LONG_QUOTE, "", "0"], ["SERVICE <{url}> { ?a ?b ?c }", ""], ["#'", "'", LONG_QUOTE, "#", ""]))


def test_no_text_around_a_less_than_that_the_scan_accepts_reaches_out(probe, store):
    accepted = 0
    for value, less, inside, after, clause, closer in AROUND_LESS_THAN:
        tail = f"{clause.replace('{url}', probe.url)} {closer}\n"
        # BIND, not FILTER: a comparison that fails leaves ?y unbound and the rows there for SERVICE.
        for text in (f"SELECT * WHERE {{ ?s ?p ?o BIND({value}{less}{inside}>{after} AS ?y) {tail}}}",
                     f"SELECT * WHERE {{ ?s ?p ( {value}{less}{inside}>{tail}) }}"):
            if _accepted(text):
                accepted += 1
                before_count = probe.connections
                _evaluate(store, text)
                assert probe.connections == before_count, f"accepted, and the engine connected: {text!r}"
    time.sleep(0.2)
    assert accepted > 100  # the combinations that read one way are evaluated, not refused wholesale


# -- bounds --------------------------------------------------------------------------------------

NESTINGS = {
    "parentheses": lambda n: "SELECT * WHERE { FILTER(" + "(" * n + "1" + ")" * n + ") }",
    "groups": lambda n: "SELECT * WHERE " + "{" * n + "}" * n,
    "blank nodes": lambda n: "SELECT * WHERE { ?s ?p " + "[ ?p " * n + "1" + " ]" * n + " }",
    "collections": lambda n: "SELECT * WHERE { ?s ?p " + "(" * n + "1" + ")" * n + " }",
    "functions": lambda n: "SELECT * WHERE { BIND(" + "CONCAT(" * n + "'a'" + ")" * n + " AS ?x) }",
    "not exists": lambda n: "SELECT * WHERE { " + "FILTER NOT EXISTS { " * n + "}" * n + " }",
    "optionals": lambda n: "SELECT * WHERE { " + "OPTIONAL { " * n + "}" * n + " }",
    "sub-selects": lambda n: "SELECT * WHERE { " + "{ SELECT * WHERE " * n + "{}" + " }" * n + " }",
}
CHAINS = {
    "sums": lambda n: "SELECT * WHERE { FILTER(1" + "+1" * n + ") }",
    "differences": lambda n: "SELECT * WHERE { FILTER(1" + "-1" * n + ") }",
    "negations": lambda n: "SELECT * WHERE { FILTER(" + "!" * n + "true) }",
    "disjunctions": lambda n: "SELECT * WHERE { FILTER(true" + "||true" * n + ") }",
    "unions": lambda n: "SELECT * WHERE { {}" + " UNION {}" * n + " }",
    "filters": lambda n: "SELECT * WHERE { " + "FILTER(true) " * n + "}",
    "paths": lambda n: "SELECT * WHERE { ?s <http://x/p>" + "/<http://x/p>" * n + " ?o }",
}


@pytest.mark.parametrize("name", sorted(NESTINGS))
def test_nesting_is_refused_past_the_depth_limit(name):
    bounds = Bounds(max_depth=64)
    analyse(NESTINGS[name](60), {}, bounds=bounds)
    with pytest.raises(TooLarge, match="KG_MAX_QUERY_DEPTH"):
        analyse(NESTINGS[name](65), {}, bounds=bounds)
    with pytest.raises(TooLarge):
        analyse(NESTINGS[name](20_000), {}, bounds=Bounds(max_length=10**7))


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_operator_chains_are_refused_past_their_limit(name):
    bounds = Bounds(max_depth=64, max_length=10**6)
    with pytest.raises(TooLarge):
        analyse(CHAINS[name](bounds.max_operators + 1), {}, bounds=bounds)


def test_length_is_bounded():
    with pytest.raises(TooLarge, match="characters"):
        analyse("ASK {}" + " " * 200, {}, bounds=Bounds(max_length=100))


# -- linear time ---------------------------------------------------------------------------------

HOSTILE = ['"\\', "'''", "\\'''>{'", "<a", "ex:a\\'", "'\\'", "#", '"""\\"', "((((", "\\"]


def _scan_seconds(text: str) -> float:
    started = time.perf_counter()
    try:
        analyse(text, {}, bounds=Bounds(max_length=10**8, max_depth=10**8))
    except PrecheckError:
        pass
    return time.perf_counter() - started


@pytest.mark.parametrize("unit", HOSTILE)
def test_the_scan_is_linear_in_the_text(unit):
    # A tenfold text may cost about tenfold; a scan that re-reads itself costs a hundredfold.
    small = unit * (20_000 // len(unit)) + " " * 8200  # past the size of the memo of short texts
    large = unit * (200_000 // len(unit)) + " " * 8200
    small_cost = min(_scan_seconds(small) for _ in range(3))
    large_cost = min(_scan_seconds(large) for _ in range(3))
    assert large_cost < max(40 * small_cost, 0.05), (unit, small_cost, large_cost)


def test_trailing_semicolons_are_dropped_before_more_operations_follow():
    assert without_trailing_semicolon("CLEAR ALL ; # the end\n") == "CLEAR ALL "
    assert without_trailing_semicolon("INSERT DATA { <a:a> <a:b> ';' }") == "INSERT DATA { <a:a> <a:b> ';' }"


# -- what the scan tells its caller ----------------------------------------------------------------

def test_a_name_containing_load_is_refused_in_an_update_only():
    # The engine reads LOAD as a keyword only in an update; a query may use the word freely.
    text = "PREFIX ex: <http://example.org/> {} {{ <urn:x:a> ex:Download 1 }}"
    assert analyse(text.format("SELECT * WHERE"), {}).form == "SELECT"
    with pytest.raises(Refused, match="ex:Download"):
        analyse(text.format("INSERT DATA"), {}, update=True)


@pytest.mark.parametrize(("text", "update", "advice"), [
    ("SELECT * WHERE { ?s ?p ?o }", True, "send it as 'query'"),
    ("INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }", False, "send it with POST as 'update'"),
    ("CLEAR ALL", False, "send it with POST as 'update'"),
])
def test_a_query_sent_as_an_update_and_the_reverse_are_told_how_to_send_it(text, update, advice):
    with pytest.raises(Malformed, match=advice):
        analyse(text, {}, update=update)


def test_the_query_form_is_found_past_prologue_and_comments():
    text = ("# ASK\nBASE <http://example.org/>\nPREFIX ex: <http://example.org/>\n"
            "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    assert analyse(text, {}).form == "CONSTRUCT"
    assert analyse("describe <http://example.org/a>", {}).form == "DESCRIBE"


def test_from_graphs_are_resolved_as_the_engine_resolves_them():
    # BASE applies to relative IRIs, declared and configured prefixes expand, \u escapes decode:
    # the dataset the service checks is the one the engine would use.
    text = ("BASE <http://example.org/base/> PREFIX own: <http://example.org/own/>\n"
            "SELECT * FROM <g1> FROM ex:g2 FROM NAMED own:g3 FROM NAMED <http://example.org/\\u00674> WHERE { }")
    analysis = analyse(text, PREFIXES)
    assert analysis.from_graphs == ("http://example.org/base/g1", "http://example.org/g2")
    assert analysis.from_named == ("http://example.org/own/g3", "http://example.org/g4")
    assert analysis.has_dataset
    assert not analyse("SELECT * WHERE { GRAPH <urn:x:g> { ?s ?p ?o } }", PREFIXES).has_dataset


@pytest.mark.parametrize(("text", "message"), [
    ("SELECT * FROM <g> WHERE { }", "relative IRI"),
    ("SELECT * FROM nowhere:g WHERE { }", "undeclared prefix 'nowhere:'"),
])
def test_from_graphs_that_cannot_be_resolved_are_refused(text, message):
    with pytest.raises(Malformed, match=message):
        analyse(text, PREFIXES)
