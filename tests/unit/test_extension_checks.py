"""The checks a new outsourcing type passes, the rules of adding, replacing and removing one, and the
dry run (kg/extension/), against a real graph in memory (the shipped ontology plus synthetic data from
``bench.datagen``, with links into KPO), and no server.

The dry run is shown to be what adding the type then shows: its comparison with the nearest type is
the comparison ``kg.domain.compare`` makes of the two once the type is written (which is what the dry
run used to compute on a copy of the whole store), while it reads only what concerns the submission:
it never copies the store, and it neither waits for nor holds up a write.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from bench import datagen
from bench.soak import type_turtle
from kg.config import Config
from kg.domain.compare import compare
from kg.extension import errors, preview, write
from kg.extension.intake import Outcome
from kg.graph import KnowledgeGraph
from kg.store.embedded import EmbeddedStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LPO = (EXAMPLES / "lpo.ttl").read_text(encoding="utf-8")
#: Things elsewhere in the store that link to KPO: nothing a dry run about a type like KPO should read.
LINKS_TO_KPO = 3_000


@pytest.fixture(scope="module")
def kg(tmp_path_factory) -> Iterator[KnowledgeGraph]:
    config = Config.from_env({"data_dir": tmp_path_factory.mktemp("ext") / "data", "validate_on_load": False},
                             environ={})
    graph = KnowledgeGraph.open(config, store=EmbeddedStore(config, in_memory=True))
    data = tmp_path_factory.mktemp("bench") / "data.nt"
    datagen.generate(20_000, data)
    with data.open("a", encoding="utf-8") as out:
        for i in range(LINKS_TO_KPO):
            out.write(f"<{config.id_ns}syn-linker-{i}> <http://www.w3.org/2004/02/skos/core#related> "
                      f"<{config.id_ns}kpo> .\n")
    graph.store.bulk_load(str(data), ox.RdfFormat.N_TRIPLES, graph=graph.graph("data"))
    yield graph
    graph.close()


def dry(kg: KnowledgeGraph, body: str | bytes, fmt: str = "turtle", **kwargs) -> Outcome:
    return preview.dry_run(kg, body, fmt, agent="tester", **kwargs)


def invalid(kg: KnowledgeGraph, body: str, fmt: str = "turtle") -> errors.Invalid:
    with pytest.raises(errors.Invalid) as caught:
        dry(kg, body, fmt)
    return caught.value


def messages(exc: errors.ExtensionError) -> str:
    return "\n".join(v["message"] for v in exc.violations)


# -- the dry run ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt, slug, nearest", [("lpo.ttl", "turtle", "lpo", "kpo"),
                                                       ("rpo.yaml", "yaml", "rpo", "bpo")])
def test_the_dry_run_shows_what_adding_the_type_then_shows(kg, name, fmt, slug, nearest):
    body = (EXAMPLES / name).read_bytes()
    version = kg.store.version()
    shown = dry(kg, body, fmt)
    assert kg.store.version() == version  # wrote nothing
    assert shown.dry_run and shown.created and shown.nearest == nearest and not shown.warnings
    added = write.add(kg, body, fmt, agent="tester")
    try:
        assert added.triples == shown.triples
        assert shown.comparison == dataclasses.asdict(compare(kg, [slug, nearest]))
        assert [d["status"] for d in shown.comparison["rows"]]  # a real table, not the plain fallback
    finally:
        write.remove(kg, slug)


def test_the_dry_run_compares_with_an_added_type_read_from_the_store(kg):
    # The nearest type here lives only in the store (its own graph), not in the shipped graphs in memory.
    write.add(kg, LPO, "turtle", agent="tester")
    twin = type_turtle("xlpo", "XLPO")
    try:
        shown = dry(kg, twin)
        assert shown.nearest == "lpo"
        write.add(kg, twin, "turtle", agent="tester")
        assert shown.comparison == dataclasses.asdict(compare(kg, ["xlpo", "lpo"]))
        write.remove(kg, "xlpo")
    finally:
        write.remove(kg, "lpo")


def test_a_dry_run_neither_waits_for_nor_holds_up_a_write(kg):
    done: list[Outcome] = []
    with write.write_lock(kg):  # a write in progress
        runner = threading.Thread(target=lambda: done.append(dry(kg, LPO)))
        runner.start()
        runner.join(timeout=60)
        assert not runner.is_alive() and done[0].nearest == "kpo"


def test_a_dry_run_never_copies_the_store(kg, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the dry run dumped the store")

    monkeypatch.setattr(kg.store, "dump", refuse)
    assert dry(kg, LPO).comparison["types"][1]["slug"] == "kpo"


def test_the_dry_run_turtle_is_what_would_be_written(kg):
    from rdflib import Graph, Literal

    shown = dry(kg, LPO)
    g = Graph().parse(data=shown.turtle, format="turtle")
    assert len(g) == shown.triples
    assert Literal("tester") in set(g.objects())  # who added it, inside the type's own graph


# -- the checks ---------------------------------------------------------------------------------------------

CHECKS = {
    # name: (the submission, words a violation must hold)
    "misspelt property": (LPO.replace("out:requiresSkill outd:skill-legal-knowledge",
                                      "out:requireSkill outd:skill-legal-knowledge"),
                          "unknown property out:requireSkill; did you mean out:requiresSkill?"),
    "misspelt class": (LPO + "\noutd:lpo-thing a out:Skil .\n", "unknown class out:Skil; did you mean out:Skill?"),
    "unknown reference": (LPO.replace("out:requiresSkill outd:skill-legal-knowledge",
                                      "out:requiresSkill outd:skill-legal-knowlege"),
                          "unknown skill outd:skill-legal-knowlege: it is neither in the graph nor described in "
                          "this submission; did you mean outd:skill-legal-knowledge?"),
    "vocabulary term": (LPO + "\nout:NewClass a <http://www.w3.org/2002/07/owl#Class> .\n",
                        "a submission cannot define or change vocabulary terms (out:NewClass)"),
    "existing thing": (LPO + '\noutd:bpo skos:note "changed"@en .\n',
                       "outd:bpo already exists; a submission may refer to it but not state anything about it"),
    "outside the namespace": (LPO + '\n<https://example.org/x> skos:note "x"@en .\n',
                              "<https://example.org/x> is outside this graph's namespace"),
    "taken acronym": (LPO.replace('skos:altLabel "LPO"@en', 'skos:altLabel "KPO"@en'),
                      'the acronym "KPO" is already used by outd:kpo'),
    "taken name, in other case": (LPO.replace('"Legal Process Outsourcing"@en', '"knowledge process OUTSOURCING"@en'),
                                  'the name "knowledge process OUTSOURCING" is already used by outd:kpo'),
    "relation to a non-type": (LPO.replace("skos:broader outd:kpo", "skos:broader outd:skill-legal-knowledge"),
                               "skos:broader must point to an existing outsourcing type, not "
                               "<https://w3id.org/outsourcing-kg/id/skill-legal-knowledge>"),
    "relation to itself": (LPO.replace("skos:broader outd:kpo", "skos:broader outd:kpo , outd:lpo"),
                           "outd:lpo cannot be skos:broader itself"),
    # KPO is an extension of BPO in the shipped graph: LPO extending KPO and simpler than BPO closes a loop.
    "lineage cycle through the graph": (LPO.replace("skos:broader outd:kpo ;",
                                                    "skos:broader outd:kpo ; out:isExtensionOf outd:kpo ; "
                                                    "out:isSimplerFormOf outd:bpo ;"),
                                        "these relations would make a lineage cycle: "
                                        "outd:lpo → outd:kpo → outd:bpo → outd:lpo"),
    "hierarchy cycle": (LPO.replace("skos:broader outd:kpo ;", "skos:broader outd:kpo ; skos:narrower outd:kpo ;"),
                        "these relations would make a hierarchy cycle: outd:lpo → outd:kpo → outd:lpo"),
    "the shipped article": (LPO.replace("out:inferredFrom outd:evidence-lpo-broader-kpo , "
                                        "outd:evidence-kpo-typical-activity-legal-matters ;",
                                        "prov:wasDerivedFrom outd:source-bpo-vs-kpo ;"),
                            "whose statements are already in the shipped graph and speak only of outd:bpo, outd:kpo"),
    "a shape": (LPO.replace("out:hasActivityLevel outd:activity-level-high ;", ""),
                "Needs exactly one out:hasActivityLevel"),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_each_check_names_what_is_wrong(kg, name):
    body, words = CHECKS[name]
    version = kg.store.version()
    exc = invalid(kg, body)
    assert words in messages(exc), messages(exc)
    assert all("message" in v and "focus" in v for v in exc.violations)
    assert exc.report is not None and len(exc.report) > 0  # the SHACL report graph, our checks included
    assert "does not conform" in exc.message
    assert kg.store.version() == version


@pytest.mark.parametrize("body, words", [
    (LPO.replace("outd:lpo a out:OutsourcingType", "outd:lpo a out:Skill"), "describes exactly one"),
    (LPO + f"\n<{Config.from_env(environ={}).id_ns}b/c> a out:OutsourcingType .\n", "describes exactly one"),
])
def test_a_submission_describes_one_type_of_its_own(kg, body, words):
    assert words in invalid(kg, body).message


def test_a_type_of_the_source_cannot_be_added_again(kg):
    with pytest.raises(errors.DuplicateType) as caught:
        dry(kg, LPO.replace("outd:lpo", "outd:bpo"))
    assert str(caught.value) == "bpo already exists and comes from the source" and caught.value.slug is None


# -- adding, replacing, removing ----------------------------------------------------------------------------

def test_an_added_type_is_replaced_not_added_twice(kg):
    first = write.add(kg, LPO, "turtle", agent="tester")
    try:
        assert first.created
        with pytest.raises(errors.DuplicateType) as caught:
            write.add(kg, LPO, "turtle", agent="tester")
        assert str(caught.value) == "the type lpo was already added; replace it, or remove it first"
        assert caught.value.slug == "lpo"
        changed = LPO.replace("a form of KPO specific", "a KPO form specific")
        assert not dry(kg, changed, replace="lpo").created
        replaced = write.add(kg, changed, "turtle", agent="tester", replace="lpo")
        assert not replaced.created
        assert bool(kg.store.query('ASK { outd:lpo skos:definition ?d FILTER(CONTAINS(?d, "a KPO form")) }',
                                   prefixes=kg.prefixes))
    finally:
        write.remove(kg, "lpo")


def test_replacing_needs_an_added_type_of_that_slug(kg):
    with pytest.raises(errors.UnknownType) as unknown:
        write.add(kg, type_turtle("zzpo", "ZZP"), "turtle", agent="tester", replace="zzpo")
    assert "no added type 'zzpo' to replace" in str(unknown.value)
    with pytest.raises(errors.ProtectedType):
        write.add(kg, LPO.replace("outd:lpo", "outd:kpo"), "turtle", agent="tester", replace="kpo")
    with pytest.raises(errors.Invalid) as other:
        write.add(kg, LPO, "turtle", agent="tester", replace="rpo")
    assert "the submission describes lpo, but the request replaces rpo" in other.value.message


@pytest.mark.parametrize("slug, error, words", [
    ("bpo", errors.ProtectedType, "bpo comes from the source and cannot be removed"),
    ("no-such-type", errors.UnknownType, "no added type 'no-such-type'"),
    ("Not A Slug", errors.UnknownType, "is not a slug"),
])
def test_what_cannot_be_removed(kg, slug, error, words):
    version = kg.store.version()
    with pytest.raises(error) as caught:
        write.remove(kg, slug)
    assert words in str(caught.value) and kg.store.version() == version


def test_a_type_another_refers_to_stays(kg):
    write.add(kg, LPO, "turtle", agent="tester")
    child = (type_turtle("xpo", "XPO").replace("skos:broader outd:kpo", "skos:broader outd:lpo")
             .replace("out:supportsProperty skos:broader ; out:supportsValue outd:kpo",
                      "out:supportsProperty skos:broader ; out:supportsValue outd:lpo"))
    write.add(kg, child, "turtle", agent="tester")
    try:
        with pytest.raises(errors.TypeInUse) as caught:
            write.remove(kg, "lpo")
        assert "lpo cannot be removed: " in str(caught.value) and "/id/xpo" in str(caught.value)
        assert caught.value.slug == "lpo"
    finally:
        write.remove(kg, "xpo")
        write.remove(kg, "lpo")
    assert not bool(kg.store.query("ASK { outd:lpo ?p ?o }", prefixes=kg.prefixes))


def test_refusals_name_no_route(kg):
    # The core says what to do in the domain's words; the HTTP layer adds its routes.
    write.add(kg, LPO, "turtle", agent="tester")
    try:
        with pytest.raises(errors.ExtensionError) as caught:
            write.add(kg, LPO, "turtle", agent="tester")
        assert "/api/" not in str(caught.value) and not hasattr(caught.value, "status")
    finally:
        write.remove(kg, "lpo")
