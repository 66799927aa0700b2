"""An added type cannot present an unsourced statement as sourced (kg/extension/checks.py, kg/extension/marking.py
and ontology/shapes.ttl).

Each rejection must say how to mark what it rejects. The shipped examples behave as examples/README.md says:
LPO's inferences name their premises, RPO waits for a source for its activity level, ITO is rejected.
Against a real embedded store; dry runs write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg.extension import errors, preview
from kg.graph import KnowledgeGraph

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ID = "https://w3id.org/outsourcing-kg/id/"
OUT = "https://w3id.org/outsourcing-kg/ontology#"

KPO_LEVEL_QUOTE = ("KPO is involved with high level processes such as investments, legal matters, "
                   "and dealing with patent issues")
PREFIXES = """
@prefix out: <https://w3id.org/outsourcing-kg/ontology#> .
@prefix outd: <https://w3id.org/outsourcing-kg/id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <https://schema.org/> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
"""

#: A small valid type: its own source, its quote, one fact quoted from it, a definition in our words.
ZPO = PREFIXES + """
outd:source-zpo a prov:Entity ; dcterms:title "ZPO glossary entry"@en .
outd:zpo a out:OutsourcingType ;
    skos:prefLabel "Zany Process Outsourcing"@en ; skos:altLabel "ZPO"@en ;
    skos:definition "Outsourcing of zany processes."@en ;
    skos:inScheme outd:outsourcing-types ;
    out:requiresSkill outd:skill-english ;
    out:hasActivityLevel outd:activity-level-low ;
    out:statementKind outd:statement-quoted ;
    prov:wasDerivedFrom outd:source-zpo ;
    out:evidenceText "ZPO is the outsourcing of zany processes, which needs good English." .
outd:evidence-zpo-definition a out:Evidence ;
    out:supportsSubject outd:zpo ; out:supportsProperty skos:definition ;
    out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .
outd:evidence-zpo-requires-skill-english a out:Evidence ;
    out:supportsSubject outd:zpo ; out:supportsProperty out:requiresSkill ; out:supportsValue outd:skill-english ;
    out:statementKind outd:statement-quoted ;
    out:evidenceText "ZPO is the outsourcing of zany processes, which needs good English." ;
    prov:wasDerivedFrom outd:source-zpo .
outd:evidence-zpo-activity-level-low a out:Evidence ;
    out:supportsSubject outd:zpo ; out:supportsProperty out:hasActivityLevel ;
    out:supportsValue outd:activity-level-low ;
    out:statementKind outd:statement-read ;
    out:readingNote "Zany processes read as low-level processes."@en ;
    out:evidenceText "ZPO is the outsourcing of zany processes, which needs good English." ;
    prov:wasDerivedFrom outd:source-zpo .
"""


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    from kg.config import Config

    graph = KnowledgeGraph.open(Config.from_env({"data_dir": tmp_path_factory.mktemp("ext") / "d"}, environ={}))
    yield graph
    graph.close()


def rejected(kg, body: str, fmt: str = "turtle") -> list[dict]:
    with pytest.raises(errors.Invalid) as caught:
        preview.dry_run(kg, body, fmt, agent="tester")
    return caught.value.violations


def messages(violations: list[dict]) -> str:
    return "\n".join(v["message"] for v in violations)


def test_a_correctly_marked_type_passes(kg):
    outcome = preview.dry_run(kg, ZPO, "turtle", agent="tester")
    assert outcome.dry_run and not [w for w in outcome.warnings if "editorial" in w["message"]]


def test_a_fact_without_a_record_is_rejected_saying_how_to_mark_it(kg):
    body = ZPO.replace("out:requiresSkill outd:skill-english ;", "out:requiresSkill outd:skill-english ;\n"
                       "    out:typicalActivity outd:activity-data-entry ;")
    found = [v for v in rejected(kg, body) if v.get("focus", "").endswith("/zpo")]
    text = messages(found)
    assert "activity-data-entry" in text and "with no statement record" in text
    for how in ("out:Evidence", "outd:statement-quoted", "outd:statement-read", "out:readingNote",
                "outd:statement-editorial", "prov:wasAttributedTo", "leave it out"):
        assert how in text, how


def test_a_type_s_quote_does_not_cover_its_facts(kg):
    # The fault of the old examples: one quote on the type, facts with nothing of their own.
    body = ZPO.split("outd:evidence-zpo-requires-skill-english")[0]
    text = messages(rejected(kg, body))
    assert "requiresSkill" in text and "hasActivityLevel" in text and "no statement record" in text


@pytest.mark.parametrize("mutation, words", [
    (("out:evidenceText \"ZPO is the outsourcing of zany processes, which needs good English.\" ;\n"
      "    prov:wasDerivedFrom outd:source-zpo .\noutd:evidence-zpo-activity-level-low",
      "prov:wasDerivedFrom outd:source-zpo .\noutd:evidence-zpo-activity-level-low"),
     "needs out:evidenceText"),
    (("out:readingNote \"Zany processes read as low-level processes.\"@en ;", ""), "needs an out:readingNote"),
    (("out:statementKind outd:statement-editorial ; prov:wasAttributedTo outd:outsourcing-kg-editors .",
      "out:statementKind outd:statement-editorial ; prov:wasDerivedFrom outd:source-zpo ."),
     "editorial words are ours"),
    (("out:supportsProperty skos:definition ;\n    out:statementKind outd:statement-editorial",
      "out:supportsProperty skos:definition ;\n    out:statementKind outd:statement-unsure"),
     "one of outd:statement-quoted, outd:statement-read and outd:statement-editorial"),
])
def test_a_record_that_claims_more_than_it_shows_is_rejected(kg, mutation, words):
    old, new = mutation
    assert old in ZPO
    assert words in messages(rejected(kg, ZPO.replace(old, new)))


def test_the_article_cannot_be_cited_for_a_new_type_only_inferred_from(kg):
    """What the old LPO example did: quote KPO's sentence as evidence, derived from the article, about LPO."""
    body = ZPO + """
outd:zpo out:typicalActivity outd:activity-legal-matters .
outd:evidence-zpo-typical-activity-legal-matters a out:Evidence ;
    out:supportsSubject outd:zpo ; out:supportsProperty out:typicalActivity ;
    out:supportsValue outd:activity-legal-matters ; out:statementKind outd:statement-quoted ;
    out:evidenceText "QUOTE" ;
    prov:wasDerivedFrom outd:source-bpo-vs-kpo .
""".replace("QUOTE", KPO_LEVEL_QUOTE)
    text = messages(rejected(kg, body))
    assert "outd:source-bpo-vs-kpo" in text and "speak only of outd:bpo, outd:kpo" in text
    assert "out:inferredFrom" in text and "out:readingNote" in text


def test_an_inference_cites_premises_not_sources_and_quotes_only_them(kg):
    inferred = ZPO + """
outd:zpo out:typicalActivity outd:activity-legal-matters .
outd:evidence-zpo-typical-activity-legal-matters a out:Evidence ;
    out:supportsSubject outd:zpo ; out:supportsProperty out:typicalActivity ;
    out:supportsValue outd:activity-legal-matters ; out:statementKind outd:statement-read ;
    out:inferredFrom outd:evidence-kpo-typical-activity-legal-matters ;
    out:evidenceText "QUOTE" ;
    out:readingNote "Inferred: ZPO, like KPO, handles legal matters."@en .
""".replace("QUOTE", KPO_LEVEL_QUOTE)
    outcome = preview.dry_run(kg, inferred, "turtle", agent="tester")
    assert outcome.dry_run
    text = messages(rejected(kg, inferred.replace("out:readingNote", "prov:wasDerivedFrom outd:source-zpo ;\n"
                                                                     "    out:readingNote")))
    assert "an inference rests on its premises" in text
    text = messages(rejected(kg, inferred.replace("legal matters, and dealing with patent issues\" ;",
                                                  "legal matters\" ;")))
    assert "which none of its premises (out:inferredFrom) quotes" in text


def test_the_lpo_example_infers_what_no_source_says_of_lpo_and_says_from_what(kg):
    outcome = preview.dry_run(kg, (EXAMPLES / "lpo.ttl").read_bytes(), "turtle", agent="tester")
    assert outcome.nearest == "kpo" and not outcome.warnings
    from rdflib import Graph, Namespace, URIRef

    g = Graph().parse(EXAMPLES / "lpo.ttl")
    out, prov = Namespace(OUT), Namespace("http://www.w3.org/ns/prov#")
    article = URIRef(ID + "source-bpo-vs-kpo")
    assert (None, prov.wasDerivedFrom, article) not in g, "the article never mentions LPO"
    inferred = {str(r) for r in g.subjects(out.inferredFrom, None)}
    assert inferred == {ID + "evidence-lpo-activity-level-high", ID + "evidence-lpo-requires-skill-legal-knowledge"}
    for record in inferred:
        premises = {str(p) for p in g.objects(URIRef(record), out.inferredFrom)}
        assert ID + "evidence-lpo-broader-kpo" in premises and any("evidence-kpo-" in p for p in premises)
        assert (URIRef(record), out.statementKind, URIRef(ID + "statement-read")) in g
        assert "Inferred" in str(g.value(URIRef(record), out.readingNote))


def test_the_rpo_example_waits_for_a_source_for_its_activity_level(kg):
    outcome = preview.dry_run(kg, (EXAMPLES / "rpo.yaml").read_bytes(), "yaml", agent="tester")
    from rdflib import Graph

    g = Graph().parse(data=outcome.turtle, format="turtle")

    def ask(q: str) -> bool:
        return bool(g.query("PREFIX out: <" + OUT + "> PREFIX outd: <" + ID + "> "
                            "PREFIX prov: <http://www.w3.org/ns/prov#> "
                            "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> ASK { " + q + " }").askAnswer)

    assert not ask("outd:rpo out:hasActivityLevel ?level")
    assert ask("outd:rpo out:awaitsSourceFor outd:dimension-activity-level ; out:statementKind outd:statement-quoted")
    # The skill's quote supports RPO requiring it: read from it, never quoted by the form.
    assert ask("?r out:supportsSubject outd:rpo ; out:supportsProperty out:requiresSkill ; "
               "out:supportsValue outd:skill-recruitment-expertise ; out:statementKind outd:statement-read ; "
               "out:evidenceText 'RPO providers bring specialized recruitment expertise' ; out:readingNote ?n ; "
               "prov:wasDerivedFrom outd:source-recruiteze-rpo")
    # The definition and the new skill's own words are the submitter's.
    assert ask("?r out:supportsSubject outd:rpo ; out:supportsProperty skos:definition ; "
               "out:statementKind outd:statement-editorial ; prov:wasAttributedTo ?agent")
    assert ask("outd:skill-recruitment-expertise out:statementKind outd:statement-editorial ; prov:wasAttributedTo ?a")
    assert not ask("outd:skill-recruitment-expertise prov:wasDerivedFrom ?source")
    assert not ask("?x out:statementKind outd:statement-quoted FILTER(?x != outd:rpo)")


def test_the_ito_example_is_rejected_for_its_missing_skill_not_its_level(kg):
    text = messages(rejected(kg, (EXAMPLES / "ito-incomplete.json").read_bytes(), "json"))
    assert "Needs at least one out:requiresSkill." in text and "hasActivityLevel" not in text


def test_a_form_fact_without_a_quote_is_the_submitter_s_editorial_statement_with_a_warning(kg):
    form = {"id": "wpo", "label": "Widget Process Outsourcing", "acronym": "WPO",
            "definition": "Outsourcing of widget work.", "skills": "skill-english",
            "activity_level": "activity-level-low", "source": "source-wpo",
            "evidence": "WPO is the outsourcing of widget work.",
            "new": {"sources": [{"id": "source-wpo", "title": "WPO note", "url": "https://example.org/wpo"}]}}
    outcome = preview.dry_run(kg, json.dumps(form), "json", agent="tester")
    warned = {w["focus_short"] for w in outcome.warnings if "as editorial" in w["message"]}
    assert warned == {"outd:evidence-wpo-requires-skill-skill-english",
                      "outd:evidence-wpo-has-activity-level-activity-level-low"}
    assert "out:statementKind outd:statement-editorial" in outcome.turtle
    assert "outd:statement-read" not in outcome.turtle and "out:awaitsSourceFor" not in outcome.turtle


def test_a_missing_level_in_turtle_needs_an_explicit_gap(kg):
    without = ZPO.replace("    out:hasActivityLevel outd:activity-level-low ;\n", "").split(
        "outd:evidence-zpo-activity-level-low")[0]
    assert "out:awaitsSourceFor outd:dimension-activity-level" in messages(rejected(kg, without))
    waiting = without.replace("out:requiresSkill outd:skill-english ;",
                              "out:requiresSkill outd:skill-english ;\n"
                              "    out:awaitsSourceFor outd:dimension-activity-level ;")
    assert preview.dry_run(kg, waiting, "turtle", agent="tester").dry_run
    both = ZPO.replace("out:requiresSkill outd:skill-english ;", "out:requiresSkill outd:skill-english ;\n"
                       "    out:awaitsSourceFor outd:dimension-activity-level ;")
    assert "drop out:awaitsSourceFor once a source gives the value" in messages(rejected(kg, both))
