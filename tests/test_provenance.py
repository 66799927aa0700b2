"""Provenance that does not overclaim: what the shipped graph credits to the article, and what it does not.

Three kinds of statement (ontology/README.md, "Kinds of statement"): quoted (the article says it, in the words
quoted), read (our interpretation of a quoted passage, with a note) and editorial (our words, attributed to the
editors). These tests hold the shipped data to that: every ``prov:wasDerivedFrom`` the article is backed by a
verbatim quote of the statement it supports, every reading is marked and listed in the README, every editorial
text is marked, and every quote is published as a W3C Web Annotation passage that locates it in the article.

Tests that compare with the article's words read it through ``tests.support.article`` and skip, naming
``KG_ARTICLE``, when it is not there. Uses the ``select``/``ask`` fixtures of tests/conftest.py.
"""

from __future__ import annotations

import re

import pytest

from tests.support.article import article_text
from tests.support.server import ROOT

ID = "https://w3id.org/outsourcing-kg/id/"
OUT = "https://w3id.org/outsourcing-kg/ontology#"
SOURCE = ID + "source-bpo-vs-kpo"
KINDS = {ID + "statement-quoted": "quoted", ID + "statement-read": "read", ID + "statement-editorial": "editorial"}
README = ROOT / "ontology" / "README.md"
PASSAGES = ROOT / "ontology" / "data" / "passages.ttl"

#: The statement classes: every node of these carries its own kind.
STATEMENT_CLASSES = ("out:Evidence", "out:OutsourcingType", "out:EarningsRate", "out:Comparison",
                     "out:DifferenceStatement", "out:TrendOrigin", "time:ProperInterval", "time:Instant")


def slug(iri: str) -> str:
    return iri.rsplit("/", 1)[-1]


def derived_from_article(select) -> dict[str, dict]:
    """Every node derived from the article: its kind, quotes, notes, and the subject it supports."""
    nodes: dict[str, dict] = {}
    for r in select("""SELECT ?n ?kind ?text ?note ?subject WHERE {
            ?n prov:wasDerivedFrom outd:source-bpo-vs-kpo .
            OPTIONAL { ?n out:statementKind ?kind } OPTIONAL { ?n out:evidenceText ?text }
            OPTIONAL { ?n out:readingNote ?note } OPTIONAL { ?n out:supportsSubject ?subject } }"""):
        node = nodes.setdefault(r["n"], {"kinds": set(), "texts": set(), "notes": set(), "subject": None})
        if "kind" in r:
            node["kinds"].add(r["kind"])
        if "text" in r:
            node["texts"].add(r["text"])
        if "note" in r:
            node["notes"].add(r["note"])
        node["subject"] = r.get("subject", node["subject"])
    return nodes


# ---------------------------------------------------------------------------------------------------------
# Every derivation from the article is a quoted or read statement backed by verbatim words
# ---------------------------------------------------------------------------------------------------------


def test_every_derivation_from_the_article_is_backed_by_a_verbatim_quote_of_its_statement(select):
    text = article_text()
    nodes = derived_from_article(select)
    assert len(nodes) > 40
    problems = []
    for node, info in sorted(nodes.items()):
        kinds = {KINDS.get(k) for k in info["kinds"]}
        if kinds not in ({"quoted"}, {"read"}):
            problems.append(f"{slug(node)} is derived from the article but marked {sorted(info['kinds'])}")
        if not info["texts"]:
            problems.append(f"{slug(node)} is derived from the article but quotes nothing")
        problems += [f"{slug(node)}: not in the article: {t!r}" for t in sorted(info["texts"]) if t not in text]
    assert not problems, "\n".join(problems)


def test_each_quote_of_a_fact_about_a_type_names_that_type(select):
    """A quote that never names BPO or KPO cannot, on its own, say something about it (the fault of the old
    LPO example: KPO's sentence given as evidence about LPO). Whole sentences are quoted where needed."""
    rows = select("""SELECT ?e ?acronym ?text WHERE {
        ?e a out:Evidence ; out:supportsSubject ?t ; prov:wasDerivedFrom outd:source-bpo-vs-kpo ;
           out:evidenceText ?text .
        ?t a out:OutsourcingType ; skos:altLabel ?acronym }""")
    quotes: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        quotes.setdefault((r["e"], r["acronym"]), []).append(r["text"])
    assert quotes
    silent = [slug(e) for (e, acronym), texts in quotes.items()
              if not any(re.search(rf"\b{acronym}s?\b", t) for t in texts)]
    assert not silent, f"evidence whose quotes never name the type they are about: {silent}"


def test_no_concept_is_credited_to_the_article(select):
    """Concepts carry our definitions: they are editorial, and the article is credited on the facts that use
    them. (Before, 34 concepts were prov:wasDerivedFrom the article as a whole.)"""
    rows = select("""SELECT ?c WHERE { ?c a/rdfs:subClassOf* skos:Concept ; prov:wasDerivedFrom ?any
                                       FILTER NOT EXISTS { ?c a out:OutsourcingType } }""")
    assert not rows, f"concepts derived from a source: {[slug(r['c']) for r in rows]}"
    rows = select("""SELECT ?c WHERE { ?c a/rdfs:subClassOf* skos:Concept
                        FILTER (STRSTARTS(STR(?c), STR(outd:)))
                        FILTER NOT EXISTS { ?c a out:OutsourcingType }
                        FILTER NOT EXISTS { ?c out:statementKind outd:statement-editorial ;
                                               prov:wasAttributedTo outd:outsourcing-kg-editors } }""")
    assert not rows, f"concepts not marked editorial and attributed to the editors: {[slug(r['c']) for r in rows]}"


# ---------------------------------------------------------------------------------------------------------
# Kinds of statement
# ---------------------------------------------------------------------------------------------------------


def test_every_statement_node_has_exactly_one_kind(select):
    values = " ".join(STATEMENT_CLASSES)
    rows = select(f"""SELECT ?n (COUNT(DISTINCT ?k) AS ?kinds) WHERE {{
        VALUES ?class {{ {values} }} ?n a ?class . OPTIONAL {{ ?n out:statementKind ?k }} }}
        GROUP BY ?n HAVING (COUNT(DISTINCT ?k) != 1)""")
    assert not rows, f"statement nodes without exactly one kind: {rows}"
    used = {r["k"] for r in select("SELECT DISTINCT ?k WHERE { ?n out:statementKind ?k }")}
    assert used == set(KINDS), used


def test_read_statements_say_what_was_read_and_editorial_ones_cite_nothing(select):
    rows = select("""SELECT ?n WHERE { ?n out:statementKind outd:statement-read
                                       FILTER NOT EXISTS { ?n out:readingNote ?note } }""")
    assert not rows, f"read without a reading note: {rows}"
    rows = select("""SELECT ?n WHERE { ?n out:statementKind outd:statement-editorial
                       { ?n prov:wasDerivedFrom ?s } UNION { ?n out:evidenceText ?t }
                       UNION { FILTER NOT EXISTS { ?n prov:wasAttributedTo ?who } } }""")
    assert not rows, f"editorial statements that cite a source, quote one, or name no author: {rows}"


def test_the_issue_s_readings_are_marked_in_the_data(select, ask):
    # "$" is not "USD": the earnings are read, and their notes say so, and say what "for the country" means.
    for node in ("outd:bpo-earnings", "outd:kpo-earnings"):
        assert ask(f"ASK {{ {node} out:statementKind outd:statement-read ; schema:currency 'USD' }}")
        notes = " ".join(r["n"] for r in select(f"SELECT ?n WHERE {{ {node} out:readingNote ?n }}"))
        assert '"$" read as US dollars' in notes and "not a wage" in notes and "arithmetic mean" in notes
    kpo_notes = " ".join(r["n"] for r in select("SELECT ?n WHERE { outd:kpo-earnings out:readingNote ?n }"))
    assert "makes the country richer by $24 every hour" in kpo_notes
    # "such as investment analysis and legal matters": read, not a universal requirement stated by the source.
    for skill in ("investment-analysis", "legal-knowledge"):
        row = select(f"""SELECT ?note WHERE {{ outd:evidence-kpo-requires-skill-{skill}
                            out:statementKind outd:statement-read ; out:readingNote ?note }}""")
        assert row and '"such as"' in row[0]["note"]
    # The host country is not "typically a developing one", and its one-concept reading is explained.
    definition = select("SELECT ?d WHERE { outd:host-country skos:definition ?d }")[0]["d"]
    assert "developing" not in definition
    assert ask("ASK { outd:host-country skos:scopeNote ?n FILTER(CONTAINS(?n, 'our reading')) }")
    # BPO's definition adds nothing the article does not say, and says it is our wording.
    definition = select("SELECT ?d WHERE { outd:bpo skos:definition ?d FILTER(LANG(?d) = 'en') }")[0]["d"]
    assert "at home" not in definition and "at cheaper rates" in definition
    assert ask("ASK { outd:evidence-bpo-definition out:statementKind outd:statement-read ; out:readingNote ?n }")
    # The definitions the issue quoted are editorial now, and no longer claim what the article does not say.
    for concept, claim in (("activity-level-low", "expert judgement"),
                           ("activity-less-critical-operations", "core business"),
                           ("skill-specialized-knowledge", "long experience")):
        row = select(f"SELECT ?d ?k WHERE {{ outd:{concept} skos:definition ?d ; out:statementKind ?k }}")[0]
        assert claim not in row["d"] and row["k"] == ID + "statement-editorial", concept


# ---------------------------------------------------------------------------------------------------------
# Every editorial text is marked
# ---------------------------------------------------------------------------------------------------------

#: Texts whose kind a reader needs: names, definitions and notes.
TEXTS = "skos:prefLabel skos:altLabel skos:definition skos:scopeNote skos:editorialNote rdfs:comment " \
        "dcterms:description vann:usageNote"


def test_every_editorial_text_is_marked(select):
    """Each name, definition and note of a thing of the graph has a kind a reader can see: a statement record
    of its own (quoted, read or editorial), or the kind of its node (an outsourcing type's texts need records:
    a type's own kind is that of its quote only), or a rule stated in the data (notes and translations are
    editorial)."""
    candidates = select(f"""SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?p {{ {TEXTS} }}
                            ?s ?p ?text FILTER (STRSTARTS(STR(?s), STR(outd:))) }}""")
    assert int(candidates[0]["n"]) > 200
    rows = select(f"""SELECT ?s ?p ?text WHERE {{
        VALUES ?p {{ {TEXTS} }}
        ?s ?p ?text . FILTER (STRSTARTS(STR(?s), STR(outd:)))
        FILTER NOT EXISTS {{ ?s out:statementKind ?own FILTER NOT EXISTS {{ ?s a out:OutsourcingType }} }}
        FILTER NOT EXISTS {{ ?r out:supportsSubject ?s ; out:supportsProperty ?p ; out:statementKind ?k .
                             OPTIONAL {{ ?r out:supportsLiteral ?l }} FILTER (!BOUND(?l) || ?l = ?text) }}
        FILTER (?p NOT IN (skos:scopeNote, skos:editorialNote, rdfs:comment, vann:usageNote))
        FILTER (LANG(?text) = "" || LANGMATCHES(LANG(?text), "en")) }}""")
    assert not rows, f"texts that are neither marked nor editorial by rule: {rows}"
    # The rules themselves are data, not only documentation.
    rule = select("SELECT ?n WHERE { outd:statement-editorial vann:usageNote ?n }")[0]["n"]
    for part in ("skos:scopeNote", "rdfs:label", "translations", "skos:inScheme"):
        assert part in rule


def test_the_period_s_label_is_a_reading(select):
    # The one statement node with a name of its own: "late 1980s" for the article's "late eighties".
    row = select("SELECT ?k ?note WHERE { outd:period-late-1980s out:statementKind ?k ; out:readingNote ?note }")
    assert row and row[0]["k"] == ID + "statement-read" and "late 1980s" in row[0]["note"]


# ---------------------------------------------------------------------------------------------------------
# The README lists every reading
# ---------------------------------------------------------------------------------------------------------


def test_the_readme_lists_every_reading_and_why(select):
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Every reading we made, and why", 1)[1].split("\n## ", 1)[0]
    read = {slug(r["n"]) for r in select("""SELECT ?n WHERE { ?n out:statementKind outd:statement-read ;
                                                                prov:wasDerivedFrom outd:source-bpo-vs-kpo }""")}
    assert len(read) >= 10
    missing = sorted(n for n in read if f"`outd:{n}`" not in section)
    assert not missing, f"readings the README does not list: {missing}"
    rows = [line for line in section.splitlines() if re.match(r"\| R\d+ \|", line)]
    assert rows and all(line.rstrip().endswith("|") and len(line.split("|")) >= 7 for line in rows)


# ---------------------------------------------------------------------------------------------------------
# Quotes as W3C Web Annotation passages
# ---------------------------------------------------------------------------------------------------------

CONTEXT = 32


def expected_selector(text: str, exact: str) -> tuple[str, str]:
    """oa:prefix and oa:suffix of ``exact`` at its first occurrence: up to 32 characters each, widened until
    prefix + exact + suffix occurs once (the rule stated in ontology/data/passages.ttl)."""
    start = text.find(exact)
    width = CONTEXT
    while True:
        prefix = text[max(0, start - width):start]
        suffix = text[start + len(exact):start + len(exact) + width]
        if text.count(prefix + exact + suffix) == 1 or width > len(text):
            return prefix, suffix
        width += 16


def _turtle_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_every_quote_has_a_passage_of_its_statement(select):
    rows = select("""SELECT ?n ?text WHERE { ?n prov:wasDerivedFrom outd:source-bpo-vs-kpo ; out:evidenceText ?text
        FILTER NOT EXISTS { ?n out:quotedPassage ?p . ?p oa:hasSource outd:source-bpo-vs-kpo ;
                                                      oa:hasSelector [ a oa:TextQuoteSelector ; oa:exact ?text ] } }""")
    assert not rows, f"quotes without a Web Annotation passage: {rows}"
    rows = select("""SELECT ?n ?p WHERE { ?n out:quotedPassage ?p . ?p oa:hasSelector/oa:exact ?exact
                                          FILTER NOT EXISTS { ?n out:evidenceText ?exact } }""")
    assert not rows, f"passages that are not one of their statement's quotes: {rows}"


def test_every_passage_locates_its_quote_in_the_article(select):
    text = article_text()
    rows = select("""SELECT ?p ?exact ?prefix ?suffix WHERE {
        ?p a oa:SpecificResource ; oa:hasSource outd:source-bpo-vs-kpo ; oa:hasSelector ?s .
        ?s a oa:TextQuoteSelector ; oa:exact ?exact ; oa:prefix ?prefix ; oa:suffix ?suffix }""")
    assert len(rows) >= 30
    wrong = []
    for r in rows:
        whole = r["prefix"] + r["exact"] + r["suffix"]
        if text.count(whole) != 1:
            wrong.append(f"{slug(r['p'])}: prefix + exact + suffix occurs {text.count(whole)} times")
            continue
        expected = expected_selector(text, r["exact"])
        if (r["prefix"], r["suffix"]) != expected:
            wrong.append(f"{slug(r['p'])} is out of date; expected:\n    oa:prefix {_turtle_string(expected[0])} ;\n"
                         f"    oa:suffix {_turtle_string(expected[1])} .")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("passage, sentence", [("passage-s07", 7), ("passage-s17", 17), ("passage-s25", 25)])
def test_passage_slugs_follow_the_readme_s_sentence_numbers(select, passage, sentence):
    readme = README.read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith(f"| S{sentence} |"))
    exact = select(f"SELECT ?e WHERE {{ outd:{passage} oa:hasSelector/oa:exact ?e }}")[0]["e"]
    assert f'"{exact}"' in row or f'"• {exact}"' in row
