"""Quality gates on the vocabulary and the reference data (ROBOT `report` checks, OOPS! pitfalls and the
LOV/Widoco metadata recommendations, ported to SPARQL).

Uses the `select` / `ask` fixtures of tests/conftest.py (union default graph, prefixes predeclared).
"""

from __future__ import annotations

from tests.support.server import ROOT

ONTOLOGY = "https://w3id.org/outsourcing-kg/ontology"
OUT = ONTOLOGY + "#"
ID = "https://w3id.org/outsourcing-kg/id/"

# out: terms declared in the vocabulary (typed and defined by the ontology).
DECLARED = f"""
    VALUES ?kind {{ owl:Class owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty }}
    ?term a ?kind ; rdfs:isDefinedBy <{ONTOLOGY}> .
    FILTER (STRSTARTS(STR(?term), "{OUT}"))
"""


def names(rows, var="term") -> list[str]:
    return sorted(r[var].rsplit("#", 1)[-1].rsplit("/", 1)[-1] for r in rows)


# ---------------------------------------------------------------------------------------------------------
# The ontology header
# ---------------------------------------------------------------------------------------------------------


def test_ontology_metadata(select, ask):
    assert ask(f"ASK {{ <{ONTOLOGY}> a owl:Ontology }}")
    row = select(f"""SELECT ?title ?description ?creator ?license ?created ?modified ?version ?versionIRI
                            ?prefix ?namespace WHERE {{
        <{ONTOLOGY}> dcterms:title ?title ; dcterms:description ?description ; dcterms:creator ?creator ;
            dcterms:license ?license ; dcterms:created ?created ; dcterms:modified ?modified ;
            owl:versionInfo ?version ; owl:versionIRI ?versionIRI ;
            <http://purl.org/vocab/vann/preferredNamespacePrefix> ?prefix ;
            <http://purl.org/vocab/vann/preferredNamespaceUri> ?namespace .
        FILTER (LANG(?title) = "en") }}""")
    assert row, "ontology metadata incomplete"
    m = row[0]
    assert m["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert m["version"] == "0.1.0"
    assert m["versionIRI"] == ONTOLOGY + "/0.1.0"
    assert (m["prefix"], m["namespace"]) == ("out", OUT)
    assert m["created"] == m["modified"] == "2026-11-25"
    assert m["title"] and m["description"] and m["creator"]


# ---------------------------------------------------------------------------------------------------------
# Terms of the vocabulary
# ---------------------------------------------------------------------------------------------------------


def test_vocabulary_is_not_empty(select):
    assert len(select(f"SELECT ?term WHERE {{ {DECLARED} }}")) >= 40


def test_every_term_has_english_label_and_definition(select):
    rows = select(f"""SELECT ?term WHERE {{ {DECLARED}
        FILTER NOT EXISTS {{ ?term rdfs:label ?l FILTER (LANG(?l) = "en") }} }}""")
    assert not rows, f"missing rdfs:label@en: {names(rows)}"
    rows = select(f"""SELECT ?term WHERE {{ {DECLARED}
        FILTER NOT EXISTS {{ ?term skos:definition ?d FILTER (LANG(?d) = "en") }} }}""")
    assert not rows, f"missing skos:definition@en: {names(rows)}"


def test_every_term_has_french_label(select):
    rows = select(f"""SELECT ?term WHERE {{ {DECLARED}
        FILTER NOT EXISTS {{ ?term rdfs:label ?l FILTER (LANG(?l) = "fr") }} }}""")
    assert not rows, f"missing rdfs:label@fr: {names(rows)}"


def test_one_label_and_definition_per_language(select):
    rows = select(f"""SELECT ?term ?p WHERE {{ {DECLARED}
        VALUES ?p {{ rdfs:label skos:definition }}
        ?term ?p ?a , ?b . FILTER (?a != ?b && LANG(?a) = LANG(?b)) }}""")
    assert not rows, f"several labels or definitions in one language: {names(rows)}"


def test_no_two_terms_share_a_label(select):
    rows = select(f"""SELECT ?label WHERE {{ {DECLARED}
        ?term rdfs:label ?l . BIND (CONCAT(LCASE(STR(?l)), "@", LANG(?l)) AS ?label) }}
        GROUP BY ?label HAVING (COUNT(DISTINCT ?term) > 1)""")
    assert not rows, f"labels used by several terms: {[r['label'] for r in rows]}"


def test_properties_have_one_domain_and_at_most_one_range(select):
    rows = select(f"""SELECT ?term WHERE {{ {DECLARED}
        FILTER (?kind IN (owl:ObjectProperty, owl:DatatypeProperty)) }}""")
    assert rows
    bad = select(f"""SELECT ?term (COUNT(DISTINCT ?d) AS ?domains) (COUNT(DISTINCT ?r) AS ?ranges) WHERE {{
        {DECLARED} FILTER (?kind IN (owl:ObjectProperty, owl:DatatypeProperty))
        OPTIONAL {{ ?term rdfs:domain ?d }} OPTIONAL {{ ?term rdfs:range ?r }} }}
        GROUP BY ?term HAVING (COUNT(DISTINCT ?d) != 1 || COUNT(DISTINCT ?r) > 1)""")
    assert not bad, f"OOPS! P11/P19: {names(bad)}"


def test_classes_used_by_data_are_concepts_or_entities(ask):
    # Reference values are SKOS concepts; fact nodes are PROV entities (so they carry provenance).
    for cls in ("OutsourcingType", "Skill", "Activity", "Qualification", "Emphasis", "OrderedLevel",
                "Dimension", "Sector", "LocationFactor"):
        assert ask(f"ASK {{ out:{cls} rdfs:subClassOf+ skos:Concept }}"), cls
    for cls in ("EarningsRate", "Comparison", "DifferenceStatement", "Evidence", "TrendOrigin"):
        assert ask(f"ASK {{ out:{cls} rdfs:subClassOf prov:Entity }}"), cls
    for cls in ("ActivityLevel", "ClientContactFrequency", "SpecializationLevel"):
        assert ask(f"ASK {{ out:{cls} rdfs:subClassOf out:OrderedLevel }}"), cls
    assert ask("ASK { out:ActivityLevel owl:disjointWith out:ClientContactFrequency , "
               "out:SpecializationLevel . "
               "out:ClientContactFrequency owl:disjointWith out:SpecializationLevel }")


def test_functional_properties(ask):
    for prop in ("hasActivityLevel", "hasClientContactFrequency", "hasSpecializationLevel", "rank"):
        assert ask(f"ASK {{ out:{prop} a owl:FunctionalProperty }}"), prop
    # lineage is neither transitive nor symmetric (OOPS! P28/P29)
    assert not ask("ASK { VALUES ?p { out:isExtensionOf out:isSimplerFormOf } "
                   "?p a ?k FILTER (?k IN (owl:TransitiveProperty, owl:SymmetricProperty)) }")


def test_the_vocabulary_stays_within_owl2_dl(select):
    # Properties whose values are properties (punning) declare no range: rdfs:range rdf:Property is not DL.
    rows = select(f"""SELECT ?term ?range WHERE {{ GRAPH outg:vocabulary {{ ?term rdfs:range ?range }}
        FILTER (?range IN (rdf:Property, rdfs:Class, rdfs:Resource, owl:ObjectProperty, owl:Class))
        FILTER (STRSTARTS(STR(?term), "{OUT}")) }}""")
    assert not rows, f"ranges outside OWL 2 DL: {rows}"
    # A term is an annotation property or an object/datatype property, never both.
    rows = select("""SELECT ?term WHERE { GRAPH outg:vocabulary { ?term a owl:AnnotationProperty ;
                                                                      a ?other }
        FILTER (?other IN (owl:ObjectProperty, owl:DatatypeProperty)) }""")
    assert not rows, rows
    # An object property is never stated on the ontology IRI (ontology annotations must be annotation properties).
    rows = select(f"""SELECT ?p WHERE {{ GRAPH outg:vocabulary {{ <{ONTOLOGY}> ?p ?o }}
                                        GRAPH outg:vocabulary {{ ?p a owl:ObjectProperty }} }}""")
    assert not rows, rows


def test_rules_of_use_are_data_not_comments(select):
    notes = {r["term"].rsplit("#", 1)[-1]: r["note"] for r in select(f"""SELECT ?term ?note WHERE {{
        GRAPH outg:vocabulary {{ ?term vann:usageNote|skos:scopeNote ?note }}
        FILTER (STRSTARTS(STR(?term), "{OUT}")) }}""")}
    assert "only when the source gives the number" in notes["ratio"]
    assert "not skos:broader" in notes["isExtensionOf"]
    assert "awaitsSourceFor" in notes["hasActivityLevel"]
    assert "punning" in notes["dimensionProperty"] and "punning" in notes["supportsProperty"]
    assert len(notes) >= 15
    comments = [line for line in (ROOT / "ontology" / "outsourcing.ttl").read_text(encoding="utf-8").splitlines()
                if line.lstrip().startswith("#")]
    for rule in ("Only stated when the source gives the number", "deliberately NOT skos:broader"):
        assert not any(rule in line for line in comments), f"a rule left in a comment: {rule}"


def test_statement_kinds_are_declared_and_described(select, ask):
    assert ask("ASK { out:statementKind a owl:ObjectProperty ; rdfs:range out:StatementKind . "
               "out:readingNote a owl:AnnotationProperty . out:inferredFrom rdfs:subPropertyOf prov:wasDerivedFrom . "
               "out:quotedPassage rdfs:range oa:SpecificResource }")
    rows = select("""SELECT ?k ?label WHERE { ?k a out:StatementKind ; skos:inScheme outd:statement-kinds ;
                                               skos:prefLabel ?label ; skos:definition ?d ; vann:usageNote ?u
                                               FILTER (LANG(?label) = "en") }""")
    assert {r["label"] for r in rows} == {"quoted", "read", "editorial"}


def test_no_undeclared_out_terms(select):
    rows = select(f"""SELECT DISTINCT ?term WHERE {{
        {{ ?term ?p ?o }} UNION {{ ?s ?term ?o }} UNION {{ ?s ?p ?term }}
        FILTER (isIRI(?term) && STRSTARTS(STR(?term), "{OUT}"))
        FILTER NOT EXISTS {{
            VALUES ?kind {{ owl:Class owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty }}
            ?term a ?kind ; rdfs:isDefinedBy <{ONTOLOGY}> }} }}""")
    assert not rows, f"out: terms used but not declared in the vocabulary: {names(rows)}"


# ---------------------------------------------------------------------------------------------------------
# Individuals and concepts
# ---------------------------------------------------------------------------------------------------------


def test_every_outd_individual_has_a_label(select):
    rows = select(f"""SELECT DISTINCT ?x WHERE {{
        {{ ?x ?p ?o }} UNION {{ ?s ?p ?x }}
        FILTER (isIRI(?x) && STRSTARTS(STR(?x), "{ID}"))
        FILTER NOT EXISTS {{ ?x rdfs:label|skos:prefLabel ?l FILTER (LANG(?l) = "en") }} }}""")
    assert not rows, f"outd: resources without an English label: {names(rows, 'x')}"


def test_no_two_resources_share_an_english_preflabel(select):
    rows = select("""SELECT ?label WHERE { ?s skos:prefLabel ?l FILTER (LANG(?l) = "en")
                                         BIND (LCASE(STR(?l)) AS ?label) }
                     GROUP BY ?label HAVING (COUNT(DISTINCT ?s) > 1)""")
    assert not rows, f"shared English prefLabels: {[r['label'] for r in rows]}"


def test_no_two_resources_share_an_english_rdfs_label(select):
    rows = select("""SELECT ?label WHERE { ?s rdfs:label ?l FILTER (LANG(?l) = "en")
                                         BIND (LCASE(STR(?l)) AS ?label) }
                     GROUP BY ?label HAVING (COUNT(DISTINCT ?s) > 1)""")
    assert not rows, f"shared English rdfs:labels: {[r['label'] for r in rows]}"


def test_one_preflabel_per_language(select):
    rows = select("""SELECT DISTINCT ?s WHERE { ?s skos:prefLabel ?a , ?b
                                                FILTER (?a != ?b && LANG(?a) = LANG(?b)) }""")
    assert not rows, f"SKOS S14 broken: {names(rows, 's')}"


def test_no_duplicate_definitions(select):
    rows = select("""SELECT ?d WHERE { ?s skos:definition ?d } GROUP BY ?d HAVING (COUNT(DISTINCT ?s) > 1)""")
    assert not rows, f"definitions used by several resources: {[r['d'] for r in rows]}"


def test_labels_and_definitions_are_language_tagged(select):
    rows = select("""SELECT ?s ?p WHERE {
        VALUES ?p { skos:prefLabel skos:altLabel skos:definition rdfs:label }
        ?s ?p ?l FILTER (LANG(?l) = "") }""")
    assert not rows, f"untagged labels drop out of lang() filters: {rows}"


def test_labels_have_no_stray_whitespace(select):
    rows = select("""SELECT ?l WHERE { VALUES ?p { skos:prefLabel skos:altLabel rdfs:label skos:definition }
                                       ?s ?p ?l FILTER (REGEX(STR(?l), "^\\\\s|\\\\s$|\\\\s\\\\s")) }""")
    assert not rows, f"ROBOT label_whitespace: {[r['l'] for r in rows]}"


def test_every_concept_is_defined_and_in_a_scheme(select):
    rows = select(f"""SELECT DISTINCT ?c WHERE {{
        ?c a/rdfs:subClassOf* skos:Concept . FILTER (STRSTARTS(STR(?c), "{ID}"))
        FILTER NOT EXISTS {{ ?c skos:definition ?d FILTER (LANG(?d) = "en")
                             ?c skos:inScheme ?scheme . ?scheme a skos:ConceptScheme }} }}""")
    assert not rows, f"concepts without an English definition or a scheme: {names(rows, 'c')}"


def test_concept_schemes_are_labelled_and_defined(select):
    rows = select("""SELECT ?s WHERE { ?s a skos:ConceptScheme
        FILTER NOT EXISTS { ?s skos:prefLabel ?l FILTER (LANG(?l) = "en")
                            ?s skos:definition ?d FILTER (LANG(?d) = "en") } }""")
    assert not rows, names(rows, "s")


def test_fixed_reference_iris_exist(ask):
    # IRIs other components code against.
    for slug in ("outsourcing-types", "activity-level-low", "activity-level-high", "contact-rarely",
                 "contact-often", "specialization-low", "specialization-high", "emphasis-process",
                 "emphasis-knowledge-application", "host-country", "stat-mean", "period-late-1980s",
                 "source-bpo-vs-kpo", "bpo", "kpo", "bpo-earnings", "kpo-earnings", "statement-quoted",
                 "statement-read", "statement-editorial", "outsourcing-kg-editors", "dimension-activity-level"):
        assert ask(f"ASK {{ <{ID}{slug}> ?p ?o }}"), slug


def test_slugs_are_lowercase_kebab_case(select):
    rows = select(f"""SELECT DISTINCT ?x WHERE {{ {{ ?x ?p ?o }} UNION {{ ?s ?p ?x }}
        FILTER (isIRI(?x) && STRSTARTS(STR(?x), "{ID}"))
        FILTER (!REGEX(STRAFTER(STR(?x), "{ID}"), "^[a-z0-9]+(-[a-z0-9]+)*$")) }}""")
    assert not rows, f"slugs not in lowercase kebab-case: {names(rows, 'x')}"


def test_ranks_unique_within_each_scale(select):
    rows = select("""SELECT ?scale ?rank WHERE {
                         ?l a ?scale ; out:rank ?rank . ?scale rdfs:subClassOf out:OrderedLevel }
                     GROUP BY ?scale ?rank HAVING (COUNT(DISTINCT ?l) > 1)""")
    assert not rows


def test_sources_are_described(select):
    rows = select("""SELECT DISTINCT ?src WHERE { ?n prov:wasDerivedFrom ?src
        FILTER NOT EXISTS { ?src a prov:Entity ; dcterms:title ?t } }""")
    assert not rows, f"prov:wasDerivedFrom targets that are not described sources: {rows}"


def test_schema_org_uses_https(select):
    rows = select("""SELECT DISTINCT ?x WHERE { { ?x ?p ?o } UNION { ?s ?x ?o } UNION { ?s ?p ?x }
                     FILTER (isIRI(?x) && STRSTARTS(STR(?x), "http://schema.org/")) }""")
    assert not rows, f"http://schema.org/ IRIs (this project uses https): {rows}"
