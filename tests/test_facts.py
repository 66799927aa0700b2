"""Every statement of the source article is in the graph, traced back to the article.

One test per fact of the table in ontology/README.md ("Source sentences and where they live"); the table
names these tests. Uses the `select` and `ask` fixtures of tests/conftest.py: SPARQL over the loaded store,
default graph = union of all graphs, prefixes out, outd, skos, schema, prov, dcterms, time, unit, xsd, rdf,
rdfs and owl predeclared; `select` rows map variable names to lexical values (strings).

The queries use only constants of this module, never outside input. Each fact is also checked for its kind of
statement where it matters (quoted, read: ontology/README.md, "Kinds of statement"); tests/test_provenance.py
covers kinds, readings and passages across the whole graph.
"""

from __future__ import annotations

from tests.support.article import article_text

ID = "https://w3id.org/outsourcing-kg/id/"
OUT = "https://w3id.org/outsourcing-kg/ontology#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
UNIT = "http://qudt.org/vocab/unit/"
XSD = "http://www.w3.org/2001/XMLSchema#"
SOURCE = ID + "source-bpo-vs-kpo"
QUOTED, READ = ID + "statement-quoted", ID + "statement-read"


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def objects(select, subject: str, prop: str) -> set[str]:
    """Values of `subject prop ?o` (prefixed names in, lexical values out)."""
    return {r["o"] for r in select(f"SELECT ?o WHERE {{ {subject} {prop} ?o }}")}


def label(select, subject: str, prop: str = "skos:prefLabel", lang: str = "en") -> set[str]:
    q = f'SELECT ?l WHERE {{ {subject} {prop} ?l FILTER(LANG(?l) = "{lang}") }}'
    return {r["l"] for r in select(q)}


def evidence_texts(select, subject: str, prop: str, value: str | None = None) -> list[str]:
    """Quotes of the out:Evidence nodes that support `subject prop value` and derive from the article."""
    value_pattern = f"out:supportsValue {value} ;" if value else ""
    q = f"""SELECT ?text WHERE {{
        ?e a out:Evidence ; out:supportsSubject {subject} ; out:supportsProperty {prop} ; {value_pattern}
           out:evidenceText ?text ; prov:wasDerivedFrom outd:source-bpo-vs-kpo . }}"""
    return [r["text"] for r in select(q)]


def assert_evidence(select, subject: str, prop: str, value: str | None, *fragments: str, kind: str = QUOTED) -> None:
    """The statement has evidence quoting each fragment, and is of ``kind`` (quoted unless said otherwise)."""
    texts = evidence_texts(select, subject, prop, value)
    assert texts, f"no out:Evidence for {subject} {prop} {value}"
    for fragment in fragments:
        assert any(fragment in t for t in texts), f"{fragment!r} not quoted in evidence: {texts}"
    value_pattern = f"out:supportsValue {value} ;" if value else ""
    kinds = {r["k"] for r in select(f"""SELECT ?k WHERE {{ ?e a out:Evidence ; out:supportsSubject {subject} ;
        out:supportsProperty {prop} ; {value_pattern} out:statementKind ?k ;
        prov:wasDerivedFrom outd:source-bpo-vs-kpo }}""")}
    assert kinds == {kind}, f"{subject} {prop} {value} is {kinds}, expected {kind}"


def node_kind(select, node: str) -> str:
    return select(f"SELECT ?k WHERE {{ {node} out:statementKind ?k }}")[0]["k"]


def node_quotes(select, node: str) -> list[str]:
    """out:evidenceText of a fact node that is derived from the article."""
    q = f"SELECT ?t WHERE {{ {node} prov:wasDerivedFrom outd:source-bpo-vs-kpo ; out:evidenceText ?t }}"
    return [r["t"] for r in select(q)]


def assert_node_quotes(select, node: str, *fragments: str) -> None:
    quotes = node_quotes(select, node)
    assert quotes, f"{node} is not derived from the article or has no out:evidenceText"
    for fragment in fragments:
        assert any(fragment in q for q in quotes), f"{fragment!r} not quoted on {node}: {quotes}"


# ---------------------------------------------------------------------------------------------------------
# S1: the title
# ---------------------------------------------------------------------------------------------------------


def test_source_article_title(select, ask):
    assert ask("ASK { outd:source-bpo-vs-kpo a schema:Article , prov:Entity }")
    assert objects(select, "outd:source-bpo-vs-kpo", "dcterms:title") == {"Difference Between BPO and KPO"}
    assert label(select, "outd:source-bpo-vs-kpo") == {"Difference Between BPO and KPO"}
    assert label(select, "outd:source-bpo-vs-kpo", "rdfs:label") == {"Difference Between BPO and KPO"}


# ---------------------------------------------------------------------------------------------------------
# Names, acronyms, definitions (S2, S3, S7, S10, S11, S19)
# ---------------------------------------------------------------------------------------------------------


def test_bpo_full_name(select):
    assert label(select, "outd:bpo") == {"Business Process Outsourcing"}
    assert label(select, "outd:bpo", lang="fr"), "BPO needs a French prefLabel too"
    assert_evidence(select, "outd:bpo", "skos:prefLabel", None, "BPO stands for Business Process Outsourcing")
    rows = select("""SELECT ?l WHERE { ?e out:supportsSubject outd:bpo ; out:supportsProperty skos:prefLabel ;
                                          out:supportsLiteral ?l }""")
    assert [r["l"] for r in rows] == ["Business Process Outsourcing"]


def test_bpo_acronym(select):
    assert label(select, "outd:bpo", "skos:altLabel") == {"BPO"}
    assert_evidence(
        select, "outd:bpo", "skos:altLabel", None,
        "BPO is today a commonplace word or acronym", "BPO stands for Business Process Outsourcing",
    )


def test_bpo_definition(select):
    definition = label(select, "outd:bpo", "skos:definition")
    assert len(definition) == 1
    text = definition.pop()
    for word in ("back-office", "foreign countries"):
        assert word in text
    assert "at home" not in text  # the article does not say cheaper than what
    assert_evidence(
        select, "outd:bpo", "skos:definition", None,
        "refers to handling of back office activities in foreign countries at cheaper rates", kind=READ,
    )


def test_kpo_full_name(select):
    assert label(select, "outd:kpo") == {"Knowledge Process Outsourcing"}
    assert label(select, "outd:kpo", lang="fr"), "KPO needs a French prefLabel too"
    assert_evidence(
        select, "outd:kpo", "skos:prefLabel", None,
        "KPO is a rather new term that refers to Knowledge Process Outsourcing",
        "KPO stands for Knowledge Process Outsourcing",
    )


def test_kpo_acronym(select):
    assert label(select, "outd:kpo", "skos:altLabel") == {"KPO"}
    assert_evidence(select, "outd:kpo", "skos:altLabel", None, "KPO stands for Knowledge Process Outsourcing")


def test_kpo_definition(select):
    definition = label(select, "outd:kpo", "skos:definition")
    assert len(definition) == 1
    text = definition.pop()
    assert "deeper knowledge and expertise" in text
    assert "business experts with long experience" in text
    assert_evidence(
        select, "outd:kpo", "skos:definition", None,
        "KPO involves much deeper knowledge and expertise",
        "business experts having long experience", kind=READ,
    )


def test_types_are_concepts_in_the_scheme(select, ask):
    for t in ("outd:bpo", "outd:kpo"):
        assert ask(f"ASK {{ {t} a out:OutsourcingType ; skos:inScheme outd:outsourcing-types }}")
        assert ask(f"ASK {{ outd:outsourcing-types skos:hasTopConcept {t} }}")
        assert_node_quotes(select, t, "Outsourcing")
    assert ask("ASK { out:OutsourcingType rdfs:subClassOf skos:Concept }")
    assert ask("ASK { outd:outsourcing-types a skos:ConceptScheme }")


# ---------------------------------------------------------------------------------------------------------
# S3, S10: the newer term, its sector, its similarity to BPO
# ---------------------------------------------------------------------------------------------------------


def test_kpo_emerged_in_knowledge_or_information_sector(select, ask):
    assert objects(select, "outd:kpo", "out:emergedInSector") == {ID + "sector-knowledge-information"}
    assert ask("ASK { outd:sector-knowledge-information a out:Sector }")
    assert label(select, "outd:sector-knowledge-information") == {"knowledge or information sector"}
    assert_evidence(
        select, "outd:kpo", "out:emergedInSector", "outd:sector-knowledge-information",
        "emerged in the knowledge or information sector called KPO",
    )


def test_kpo_is_newer_term_than_bpo(select):
    rows = select("""SELECT ?c WHERE {
        ?c a out:Comparison ; out:comparedType outd:kpo ; out:baselineType outd:bpo ;
           out:measure outd:measure-term-emergence ; out:outcome outd:outcome-more-recent . }""")
    assert [r["c"] for r in rows] == [ID + "comparison-newer-term"]
    assert label(select, "outd:measure-term-emergence") == {"emergence of the term"}
    assert label(select, "outd:outcome-more-recent") == {"more recent"}
    assert_node_quotes(select, "outd:comparison-newer-term", "KPO is a rather new term", "of late")
    assert node_kind(select, "outd:comparison-newer-term") == READ  # "rather new" read as "newer than BPO"


def test_kpo_similar_to_bpo(select):
    assert ID + "bpo" in objects(select, "outd:kpo", "skos:related")
    assert ID + "kpo" in objects(select, "outd:bpo", "skos:related")
    assert_evidence(select, "outd:kpo", "skos:related", "outd:bpo",
                    "it is pretty much similar to what BPO stands for")
    assert_evidence(select, "outd:bpo", "skos:related", "outd:kpo", "BPO and KPO might look the same")


# ---------------------------------------------------------------------------------------------------------
# S5, S12, S18: the differences and the comparison dimensions
# ---------------------------------------------------------------------------------------------------------


def test_difference_statement_bpo_kpo(select, ask):
    assert ask("ASK { outd:differences-bpo-kpo a out:DifferenceStatement }")
    assert objects(select, "outd:differences-bpo-kpo", "out:concernsType") == {ID + "bpo", ID + "kpo"}
    rows = select("""SELECT ?prop WHERE { outd:differences-bpo-kpo out:differsOn ?d .
                                          ?d a out:Dimension ; out:dimensionProperty ?prop }""")
    assert {r["prop"] for r in rows} == {
        OUT + "typicalActivity",             # activities
        OUT + "hasEmphasis",                 # emphasis
        OUT + "hasActivityLevel",            # processes
        OUT + "hasClientContactFrequency",   # client contacts
        OUT + "hasSpecializationLevel",      # specialization
    }
    assert_node_quotes(
        select, "outd:differences-bpo-kpo",
        "there are many differences in activities, emphasis, processes, client contacts and specialization",
        "there are many differences between BPO and KPO",
    )
    assert node_kind(select, "outd:differences-bpo-kpo") == READ  # "processes" read as the activity level


def test_comparison_dimensions(select):
    rows = select("""SELECT ?d ?prop ?order ?label WHERE {
        ?d a out:Dimension ; out:dimensionProperty ?prop ; out:displayOrder ?order ;
           skos:inScheme outd:dimensions ; skos:prefLabel ?label FILTER(LANG(?label) = "en") }""")
    props = {r["prop"] for r in rows}
    assert props == {OUT + p for p in (
        "requiresSkill", "typicalActivity", "hasActivityLevel", "hasEmphasis", "hasClientContactFrequency",
        "hasSpecializationLevel", "workforceQualification", "averageEarnings")}
    assert len(rows) == 8, "one English label per dimension"
    orders = [int(r["order"]) for r in rows]
    assert len(set(orders)) == len(orders), "display orders must be distinct"


# ---------------------------------------------------------------------------------------------------------
# S8: when and how the trend started
# ---------------------------------------------------------------------------------------------------------


def test_bpo_trend_started_late_1980s(select, ask):
    assert objects(select, "outd:bpo", "out:trendStarted") == {ID + "period-late-1980s"}
    assert ask("ASK { outd:period-late-1980s a time:ProperInterval }")
    assert label(select, "outd:period-late-1980s") == {"late 1980s"}
    rows = select("""SELECT ?b ?e WHERE { outd:period-late-1980s time:hasBeginning/time:inXSDgYear ?b ;
                                                              time:hasEnd/time:inXSDgYear ?e }""")
    assert [(r["b"], r["e"]) for r in rows] == [("1985", "1989")]
    # The bounds are our reading, not the source's words: each instant says so.
    for instant, year in (("outd:period-late-1980s-start", "1985"), ("outd:period-late-1980s-end", "1989")):
        assert node_kind(select, instant) == READ
        assert any(year in n and "late eighties" in n for n in objects(select, instant, "out:readingNote"))
        assert_node_quotes(select, instant, "late eighties")
    assert_node_quotes(select, "outd:period-late-1980s", "The trend started in late eighties")
    assert node_kind(select, "outd:period-late-1980s") == READ  # "the trend" read as BPO's
    # gYear is compared through a cast (rdflib cannot order xsd:gYear).
    assert ask("""ASK { outd:bpo out:trendStarted/time:hasBeginning/time:inXSDgYear ?y
                        FILTER (xsd:integer(STR(?y)) < 1990) }""")


def test_bpo_trend_origin(select, ask):
    assert objects(select, "outd:bpo", "out:trendOrigin") == {ID + "bpo-trend-origin"}
    assert ask("ASK { outd:bpo-trend-origin a out:TrendOrigin ; time:hasTime outd:period-late-1980s }")
    assert objects(select, "outd:bpo-trend-origin", "out:outsourcingParty") == {ID + "western-countries"}
    assert objects(select, "outd:bpo-trend-origin", "out:hostParty") == {ID + "host-country"}
    assert objects(select, "outd:bpo-trend-origin", "out:outsourcedWork") == {
        ID + "activity-less-critical-operations"}
    assert objects(select, "outd:bpo-trend-origin", "out:locationFactor") == {
        ID + "factor-low-labour-rates", ID + "factor-skilled-workers-available", ID + "factor-lower-wages"}
    assert node_kind(select, "outd:bpo-trend-origin") == READ  # "companies in other countries" → host country
    assert_node_quotes(
        select, "outd:bpo-trend-origin",
        "western countries handed over less critical activities and operations",
        "where labor rates are low",
        "skilled workers are available in large numbers",
        "at much less wages than employees demand in their own countries",
    )


# ---------------------------------------------------------------------------------------------------------
# S9, S13: example activities
# ---------------------------------------------------------------------------------------------------------


def test_bpo_example_activities(select):
    expected = {"activity-data-entry", "activity-employee-payroll", "activity-call-centre"}
    assert objects(select, "outd:bpo", "out:typicalActivity") == {ID + a for a in expected}
    for a in expected:
        assert_evidence(select, "outd:bpo", "out:typicalActivity", f"outd:{a}",
                        "Data entry, employee payroll, call centers are some examples of BPO operations")
    labels = {r["l"] for r in select("""SELECT ?l WHERE { outd:bpo out:typicalActivity/skos:prefLabel ?l
                                                              FILTER(LANG(?l) = "en") }""")}
    assert labels == {"data entry", "employee payroll", "call centre operations"}


def test_kpo_high_level_activities(select):
    expected = {"activity-investments", "activity-legal-matters", "activity-patent-issues"}
    assert objects(select, "outd:kpo", "out:typicalActivity") == {ID + a for a in expected}
    for a in expected:
        assert_evidence(
            select, "outd:kpo", "out:typicalActivity", f"outd:{a}",
            "high level processes such as investments, legal matters, and dealing with patent issues")


# ---------------------------------------------------------------------------------------------------------
# Skills (S9, S15, S16, S20)
# ---------------------------------------------------------------------------------------------------------


def test_bpo_requires_basic_technical_knowledge(select):
    assert ID + "skill-basic-technical-knowledge" in objects(select, "outd:bpo", "out:requiresSkill")
    assert_evidence(select, "outd:bpo", "out:requiresSkill", "outd:skill-basic-technical-knowledge",
                    "though not exactly IT based, require basic technical knowledge")


def test_bpo_requires_english(select):
    assert ID + "skill-english" in objects(select, "outd:bpo", "out:requiresSkill")
    assert label(select, "outd:skill-english") == {"excellent command of English"}
    assert_evidence(select, "outd:bpo", "out:requiresSkill", "outd:skill-english",
                    "excellent command over English language")


def test_bpo_requires_communication_skills(select):
    assert ID + "skill-communication" in objects(select, "outd:bpo", "out:requiresSkill")
    assert_evidence(select, "outd:bpo", "out:requiresSkill", "outd:skill-communication",
                    "BPO requires good communications skills")


def test_bpo_requires_basic_computer_skills(select):
    assert ID + "skill-basic-computer" in objects(select, "outd:bpo", "out:requiresSkill")
    assert_evidence(select, "outd:bpo", "out:requiresSkill", "outd:skill-basic-computer",
                    "basic computer skills are all that can make one successful in BPO sector",
                    "basic computer knowledge")


def test_bpo_skills_complete(select):
    assert objects(select, "outd:bpo", "out:requiresSkill") == {ID + s for s in (
        "skill-english", "skill-communication", "skill-basic-computer", "skill-basic-technical-knowledge")}


def test_kpo_requires_specialised_knowledge(select):
    assert ID + "skill-specialized-knowledge" in objects(select, "outd:kpo", "out:requiresSkill")
    assert label(select, "outd:skill-specialized-knowledge") == {"specialised knowledge"}
    assert_evidence(select, "outd:kpo", "out:requiresSkill", "outd:skill-specialized-knowledge",
                    "KPO requires specialized knowledge")


def test_kpo_requires_investment_and_legal_knowledge(select):
    skills = objects(select, "outd:kpo", "out:requiresSkill")
    for s in ("skill-investment-analysis", "skill-legal-knowledge"):
        assert ID + s in skills
        # both are areas of the broader "specialised knowledge"
        assert objects(select, f"outd:{s}", "skos:broader") == {ID + "skill-specialized-knowledge"}
        # "such as" gives examples of areas: recording them as required skills is our reading.
        assert_evidence(select, "outd:kpo", "out:requiresSkill", f"outd:{s}",
                        "in depth knowledge in specific areas such as investment analysis and legal matters",
                        kind=READ)


# ---------------------------------------------------------------------------------------------------------
# Ordered levels and emphasis (S13, S14, S15, S16, S21)
# ---------------------------------------------------------------------------------------------------------


def test_activity_levels_low_vs_high(select):
    assert objects(select, "outd:bpo", "out:hasActivityLevel") == {ID + "activity-level-low"}
    assert objects(select, "outd:kpo", "out:hasActivityLevel") == {ID + "activity-level-high"}
    assert_evidence(select, "outd:bpo", "out:hasActivityLevel", "outd:activity-level-low",
                    "BPO is simpler involving low level processes")
    assert_evidence(select, "outd:kpo", "out:hasActivityLevel", "outd:activity-level-high",
                    "KPO is involved with high level processes")
    # the ranks order them: KPO works at a higher level than BPO
    rows = select("""SELECT ?t WHERE { outd:bpo out:hasActivityLevel/out:rank ?r0 .
                                       ?t out:hasActivityLevel/out:rank ?r FILTER(?r > ?r0) }""")
    assert [r["t"] for r in rows] == [ID + "kpo"]


def test_level_ranks(select, ask):
    ranks = {r["l"]: int(r["rank"]) for r in select("SELECT ?l ?rank WHERE { ?l out:rank ?rank }")}
    assert ranks.items() >= {
        ID + "activity-level-low": 1, ID + "activity-level-high": 2,
        ID + "contact-rarely": 1, ID + "contact-often": 2,
        ID + "specialization-low": 1, ID + "specialization-high": 2,
    }.items()
    assert ask("ASK { outd:activity-level-low a out:ActivityLevel . "
               "outd:contact-often a out:ClientContactFrequency . "
               "outd:specialization-high a out:SpecializationLevel }")
    assert label(select, "outd:specialization-low") == {"no high specialisation"}
    assert label(select, "outd:specialization-high") == {"in-depth specialised knowledge"}


def test_emphasis_process_vs_knowledge_application(select):
    assert objects(select, "outd:bpo", "out:hasEmphasis") == {ID + "emphasis-process"}
    assert objects(select, "outd:kpo", "out:hasEmphasis") == {ID + "emphasis-knowledge-application"}
    assert label(select, "outd:emphasis-knowledge-application") == {"application of knowledge"}
    assert_evidence(select, "outd:bpo", "out:hasEmphasis", "outd:emphasis-process",
                    "In BPO, it is the process that is emphasized")
    assert_evidence(select, "outd:kpo", "out:hasEmphasis", "outd:emphasis-knowledge-application",
                    "in KPO, it is the application of knowledge")


def test_bpo_no_high_specialisation(select):
    assert objects(select, "outd:bpo", "out:hasSpecializationLevel") == {ID + "specialization-low"}
    assert_evidence(select, "outd:bpo", "out:hasSpecializationLevel", "outd:specialization-low",
                    "High level of specialization is not required in any specific area")


def test_kpo_in_depth_specialisation(select):
    assert objects(select, "outd:kpo", "out:hasSpecializationLevel") == {ID + "specialization-high"}
    assert_evidence(select, "outd:kpo", "out:hasSpecializationLevel", "outd:specialization-high",
                    "required to have in depth knowledge in specific areas")


def test_client_contact_rarely_vs_often(select):
    assert objects(select, "outd:bpo", "out:hasClientContactFrequency") == {ID + "contact-rarely"}
    assert objects(select, "outd:kpo", "out:hasClientContactFrequency") == {ID + "contact-often"}
    assert_evidence(select, "outd:bpo", "out:hasClientContactFrequency", "outd:contact-rarely",
                    "BPO workers rarely deal with international clients")
    assert_evidence(select, "outd:kpo", "out:hasClientContactFrequency", "outd:contact-often",
                    "KPO employees engage with international clients often")


# ---------------------------------------------------------------------------------------------------------
# Workforce (S11, S17)
# ---------------------------------------------------------------------------------------------------------


def test_kpo_workforce_business_experts(select):
    assert ID + "qualification-business-expert" in objects(select, "outd:kpo", "out:workforceQualification")
    assert_evidence(select, "outd:kpo", "out:workforceQualification", "outd:qualification-business-expert",
                    "business experts having long experience")


def test_kpo_workforce_cas_and_mbas(select):
    quals = objects(select, "outd:kpo", "out:workforceQualification")
    assert {ID + "qualification-chartered-accountant", ID + "qualification-mba"} <= quals
    assert label(select, "outd:qualification-chartered-accountant", "skos:altLabel") == {"CA"}
    assert label(select, "outd:qualification-mba", "skos:altLabel") == {"MBA"}
    for q, kind in (("qualification-chartered-accountant", READ), ("qualification-mba", QUOTED)):
        assert_evidence(select, "outd:kpo", "out:workforceQualification", f"outd:{q}",
                        "It is common to see CA\u2019s and MBA\u2019s working in KPO sector", kind=kind)
    assert not objects(select, "outd:bpo", "out:workforceQualification"), "the source names no BPO workforce"


# ---------------------------------------------------------------------------------------------------------
# S22: lineage, not hierarchy
# ---------------------------------------------------------------------------------------------------------


def test_kpo_extension_of_bpo_and_bpo_simpler_form_of_kpo(select, ask):
    assert objects(select, "outd:kpo", "out:isExtensionOf") == {ID + "bpo"}
    assert objects(select, "outd:bpo", "out:isSimplerFormOf") == {ID + "kpo"}
    assert ask("ASK { out:isExtensionOf owl:inverseOf out:isSimplerFormOf ; "
               "rdfs:subPropertyOf skos:related }")
    assert ask("ASK { out:isSimplerFormOf rdfs:subPropertyOf skos:related }")
    # an extension, not a specialisation: no skos:broader between the two
    assert not ask("ASK { { outd:kpo skos:broader outd:bpo } UNION { outd:bpo skos:broader outd:kpo } }")
    assert_evidence(select, "outd:kpo", "out:isExtensionOf", "outd:bpo", "KPO is an extension of BPO")
    assert_evidence(select, "outd:bpo", "out:isSimplerFormOf", "outd:kpo", "BPO is a simpler form of KPO")


# ---------------------------------------------------------------------------------------------------------
# S23, S24, S25: money
# ---------------------------------------------------------------------------------------------------------


def earnings(select, type_: str) -> dict[str, str]:
    rows = select(f"""SELECT ?e ?value ?dt ?currency ?unit ?beneficiary ?statistic WHERE {{
        {type_} out:averageEarnings ?e .
        ?e a out:EarningsRate ; schema:value ?value ; schema:currency ?currency ; out:perTimeUnit ?unit ;
           out:beneficiary ?beneficiary ; out:statistic ?statistic ;
           prov:wasDerivedFrom outd:source-bpo-vs-kpo .
        BIND (DATATYPE(?value) AS ?dt) }}""")
    assert len(rows) == 1, rows
    return rows[0]


def test_bpo_average_earnings(select, ask):
    e = earnings(select, "outd:bpo")
    assert e["e"] == ID + "bpo-earnings"
    assert float(e["value"]) == 11
    assert e["dt"] == XSD + "decimal"
    assert e["currency"] == "USD"
    assert e["unit"] == UNIT + "HR"
    assert e["beneficiary"] == ID + "host-country"
    assert e["statistic"] == ID + "stat-mean"
    assert ask("ASK { out:EarningsRate rdfs:subClassOf schema:MonetaryAmount , prov:Entity }")
    assert_node_quotes(select, "outd:bpo-earnings", "On an average, BPO earns $11 per hour for the country")
    # "$" → USD, "on an average" → mean, "for the country" → the host country: readings, each noted.
    assert node_kind(select, "outd:bpo-earnings") == READ
    assert len(objects(select, "outd:bpo-earnings", "out:readingNote")) == 3


def test_kpo_average_earnings(select):
    e = earnings(select, "outd:kpo")
    assert e["e"] == ID + "kpo-earnings"
    assert float(e["value"]) == 24
    assert e["dt"] == XSD + "decimal"
    assert (e["currency"], e["unit"]) == ("USD", UNIT + "HR")
    assert (e["beneficiary"], e["statistic"]) == (ID + "host-country", ID + "stat-mean")
    assert_node_quotes(select, "outd:kpo-earnings", "KPO makes the country richer by $24 every hour")
    assert node_kind(select, "outd:kpo-earnings") == READ
    assert any("richer by" in n for n in objects(select, "outd:kpo-earnings", "out:readingNote"))


def test_earnings_ratio_is_computed_not_stored(select):
    rows = select("""SELECT ?ratio WHERE {
        outd:kpo out:averageEarnings [ schema:value ?k ; schema:currency ?c ; out:perTimeUnit ?u ] .
        outd:bpo out:averageEarnings [ schema:value ?b ; schema:currency ?c ; out:perTimeUnit ?u ] .
        BIND (ROUND(100 * ?k / ?b) / 100 AS ?ratio) }""")
    assert [float(r["ratio"]) for r in rows] == [2.18]
    # "double" is about profit to developed nations, a different measure: the foreign-currency comparison
    # must not carry a ratio derived from 24/11.
    assert not select("""SELECT ?c WHERE { ?c out:measure outd:measure-foreign-currency-earnings ;
                                              out:ratio ?r }""")


def test_profit_to_developed_nations_double(select):
    rows = select("""SELECT ?c ?ratio ?beneficiary WHERE {
        ?c a out:Comparison ; out:comparedType outd:kpo ; out:baselineType outd:bpo ;
           out:measure outd:measure-profit-to-developed-nations ; out:outcome outd:outcome-higher ;
           out:ratio ?ratio ; out:beneficiary ?beneficiary . }""")
    assert len(rows) == 1
    assert rows[0]["c"] == ID + "comparison-profit-to-developed-nations"
    assert float(rows[0]["ratio"]) == 2.0
    assert rows[0]["beneficiary"] == ID + "developed-nations"
    assert select("""SELECT ?dt WHERE { outd:comparison-profit-to-developed-nations out:ratio ?r
                                        BIND(DATATYPE(?r) AS ?dt) }""")[0]["dt"] == XSD + "decimal"
    assert_node_quotes(select, "outd:comparison-profit-to-developed-nations",
                       "profits to developed nations are double than that in BPO")
    assert node_kind(select, "outd:comparison-profit-to-developed-nations") == QUOTED


def test_kpo_better_foreign_currency_earner(select):
    rows = select("""SELECT ?c ?beneficiary WHERE {
        ?c a out:Comparison ; out:comparedType outd:kpo ; out:baselineType outd:bpo ;
           out:measure outd:measure-foreign-currency-earnings ; out:outcome outd:outcome-better ;
           out:beneficiary ?beneficiary . }""")
    assert [(r["c"], r["beneficiary"]) for r in rows] == [
        (ID + "comparison-foreign-currency-earnings", ID + "host-country")]
    assert_node_quotes(
        select, "outd:comparison-foreign-currency-earnings",
        "From the perspective of developing countries, KPOs are better earners of foreign currency")
    assert node_kind(select, "outd:comparison-foreign-currency-earnings") == READ  # baseline BPO is our reading


# ---------------------------------------------------------------------------------------------------------
# Provenance across the board
# ---------------------------------------------------------------------------------------------------------

# The plain binary facts about a type that must each have an out:Evidence node.
EVIDENCED_PROPERTIES = (
    "out:requiresSkill", "out:typicalActivity", "out:hasActivityLevel", "out:hasEmphasis",
    "out:hasClientContactFrequency", "out:hasSpecializationLevel", "out:workforceQualification",
    "out:isExtensionOf", "out:isSimplerFormOf", "out:emergedInSector", "skos:related",
)


def test_every_type_and_fact_node_derived_from_source(select):
    # Any described source will do here (extensions cite their own); the seed facts cite the article.
    rows = select("""SELECT ?n WHERE {
        VALUES ?k { out:OutsourcingType out:EarningsRate out:Comparison out:DifferenceStatement
                    out:TrendOrigin out:Evidence time:ProperInterval }
        ?n a ?k .
        FILTER NOT EXISTS { ?n prov:wasDerivedFrom ?src ; out:evidenceText ?t . ?src a prov:Entity } }""")
    assert not rows, f"fact nodes without source or quote: {rows}"
    seed = ("outd:bpo", "outd:kpo", "outd:bpo-earnings", "outd:kpo-earnings", "outd:comparison-newer-term",
            "outd:comparison-profit-to-developed-nations", "outd:comparison-foreign-currency-earnings",
            "outd:differences-bpo-kpo", "outd:bpo-trend-origin", "outd:period-late-1980s")
    for node in seed:
        assert node_quotes(select, node), f"{node} is not derived from the article with a quote"


def test_every_binary_fact_has_evidence(select):
    values = " ".join(EVIDENCED_PROPERTIES) + " skos:prefLabel skos:altLabel skos:definition"
    rows = select(f"""SELECT ?t ?p ?o WHERE {{
        VALUES ?p {{ {values} }}
        ?t a out:OutsourcingType ; prov:wasDerivedFrom outd:source-bpo-vs-kpo ; ?p ?o .
        FILTER (!isLiteral(?o) || LANG(?o) = "en")
        FILTER NOT EXISTS {{
            ?e a out:Evidence ; out:supportsSubject ?t ; out:supportsProperty ?p ; out:statementKind ?kind ;
               out:evidenceText ?text ; prov:wasDerivedFrom outd:source-bpo-vs-kpo .
            OPTIONAL {{ ?e out:supportsValue ?v }}
            OPTIONAL {{ ?e out:supportsLiteral ?l }}
            FILTER ((!BOUND(?v) || ?v = ?o) && (!BOUND(?l) || ?l = ?o))
            FILTER (!isIRI(?o) || BOUND(?v))
        }} }}""")
    assert not rows, f"facts without evidence: {rows}"


def test_every_evidence_statement_exists(select):
    rows = select("""SELECT ?e WHERE {
        ?e a out:Evidence ; out:supportsSubject ?s ; out:supportsProperty ?p .
        OPTIONAL { ?e out:supportsValue ?v }
        OPTIONAL { ?e out:supportsLiteral ?l }
        FILTER NOT EXISTS { ?s ?p ?o FILTER ((!BOUND(?v) || ?o = ?v) && (!BOUND(?l) || ?o = ?l)) } }""")
    assert not rows, f"evidence for statements not in the graph: {rows}"


def test_evidence_nodes_are_labelled(select):
    rows = select("""SELECT ?e WHERE { ?e a out:Evidence
                      FILTER NOT EXISTS { ?e rdfs:label ?l FILTER(LANG(?l) = "en") } }""")
    assert not rows


def test_evidence_texts_are_verbatim_quotes(select):
    text = article_text()
    quotes = {r["t"] for r in select("SELECT DISTINCT ?t WHERE { ?n out:evidenceText ?t }")}
    assert quotes
    missing = sorted(q for q in quotes if q not in text)
    assert not missing, f"quotes not found word for word in the source: {missing}"
