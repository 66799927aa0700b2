"""``kg add-type`` / ``kg remove-type`` and the extensions directory, against a real store on disk."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyoxigraph as ox
import pytest

from kg.config import Config
from kg.graph import KnowledgeGraph
from kg.store.embedded import store_path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(data_dir: Path, *args: str):
    # KG_VALIDATE=0 skips re-validating the shipped facts at each open (tested elsewhere); submissions
    # are always validated.
    env = {
        **os.environ,
        "KG_DATA_DIR": str(data_dir),
        "KG_VALIDATE": "0",
        "KG_ONTOLOGY_DIR": str(ROOT / "ontology"),
    }
    # A real process per command, as a user runs it (the store directory allows one writer at a time).
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return SimpleNamespace(exit_code=result.returncode, output=result.stdout + result.stderr)


def content(data_dir: Path) -> bytes:
    """Every quad outside the meta graph (which records the version bumped by each open), sorted."""
    store = ox.Store.read_only(str(store_path(Config.from_env({"data_dir": data_dir}, environ={}))))
    meta = Config.from_env(environ={}).graph_ns + "meta"
    lines = sorted(str(q) for q in store if q.graph_name != ox.NamedNode(meta))
    del store
    gc.collect()
    return "\n".join(lines).encode()


def ask(data_dir: Path, query: str) -> bool:
    store = ox.Store.read_only(str(store_path(Config.from_env({"data_dir": data_dir}, environ={}))))
    answer = bool(store.query(query, use_default_graph_as_union=True))
    del store
    gc.collect()
    return answer


def _initialised(d: Path) -> Path:
    # Any command that opens the graph creates and loads the store; this one then fails harmlessly.
    assert "no added type" in run(d, "remove-type", "no-such-type").output
    return d


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return _initialised(tmp_path / "data")


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory) -> Path:
    """One store for the rejection tests and the dry run: each leaves it unchanged (which is what they
    check)."""
    return _initialised(tmp_path_factory.mktemp("cli") / "data")


def test_add_yaml_form_then_remove(data_dir: Path) -> None:
    result = run(data_dir, "add-type", str(EXAMPLES / "rpo.yaml"))
    assert result.exit_code == 0, result.output
    assert "added rpo" in result.output
    assert ask(
        data_dir,
        "ASK { <https://w3id.org/outsourcing-kg/id/rpo> a "
        "<https://w3id.org/outsourcing-kg/ontology#OutsourcingType> ; "
        '<http://www.w3.org/2004/02/skos/core#altLabel> "RPO"@en }',
    )
    # RPO waits for a source for its activity level (examples/README.md): no level is guessed, the gap is stated.
    assert not ask(data_dir, "ASK { <https://w3id.org/outsourcing-kg/id/rpo> "
                             "<https://w3id.org/outsourcing-kg/ontology#hasActivityLevel> ?level }")
    assert ask(data_dir, "ASK { <https://w3id.org/outsourcing-kg/id/rpo> "
                         "<https://w3id.org/outsourcing-kg/ontology#awaitsSourceFor> "
                         "<https://w3id.org/outsourcing-kg/id/dimension-activity-level> }")
    # who and when, inside the type's own graph
    assert ask(
        data_dir,
        "ASK { GRAPH <https://w3id.org/outsourcing-kg/graph/extension/rpo> { "
        "<https://w3id.org/outsourcing-kg/graph/extension/rpo> "
        "<http://www.w3.org/ns/prov#wasAttributedTo> ?who ; "
        "<http://www.w3.org/ns/prov#generatedAtTime> ?when } }",
    )
    again = run(data_dir, "add-type", str(EXAMPLES / "rpo.yaml"))
    assert again.exit_code == 1 and "already added" in again.output
    removed = run(data_dir, "remove-type", "rpo")
    assert removed.exit_code == 0, removed.output
    assert not ask(data_dir, "ASK { <https://w3id.org/outsourcing-kg/id/rpo> ?p ?o }")


def test_dry_run_writes_nothing_and_names_nearest_type(shared_dir: Path) -> None:
    data_dir = shared_dir  # leaves the store unchanged, which is what it checks
    before = content(data_dir)
    result = run(data_dir, "add-type", "--dry-run", str(EXAMPLES / "lpo.ttl"))
    assert result.exit_code == 0, result.output
    assert "would add lpo" in result.output
    assert "nearest existing type: kpo" in result.output  # LPO states skos:broader outd:kpo and KPO's level
    assert content(data_dir) == before


def test_remove_source_type_is_refused(shared_dir: Path) -> None:
    data_dir = shared_dir
    result = run(data_dir, "remove-type", "bpo")
    assert result.exit_code == 1 and "comes from the source" in result.output


LPO = (EXAMPLES / "lpo.ttl").read_text()

INVALID = {
    # name: (file name, body, words the message must contain)
    "shape": (
        "x.json",
        (EXAMPLES / "ito-incomplete.json").read_text(),
        "Needs at least one out:requiresSkill",
    ),
    "unmarked-fact": (
        "x.ttl",
        LPO.replace("out:typicalActivity outd:activity-legal-matters ;",
                    "out:typicalActivity outd:activity-legal-matters , outd:activity-data-entry ;"),
        "activity-data-entry with no statement record",
    ),
    "article-for-new-type": (
        "x.ttl",
        LPO.replace("out:inferredFrom outd:evidence-lpo-broader-kpo , "
                    "outd:evidence-kpo-typical-activity-legal-matters ;",
                    "prov:wasDerivedFrom outd:source-bpo-vs-kpo ;"),
        "cites outd:source-bpo-vs-kpo, whose statements are already in the shipped graph",
    ),
    "misspelt-property": (
        "x.ttl",
        LPO.replace(
            "out:requiresSkill outd:skill-legal-knowledge", "out:requireSkill outd:skill-legal-knowledge"
        ),
        "did you mean out:requiresSkill",
    ),
    "unknown-skill": (
        "x.ttl",
        LPO.replace(
            "out:requiresSkill outd:skill-legal-knowledge", "out:requiresSkill outd:skill-legal-knowlege"
        ),
        "unknown skill outd:skill-legal-knowlege",
    ),
    "cycle": ("x.ttl", LPO.replace("skos:broader outd:kpo", "skos:broader outd:kpo , outd:lpo"), "cannot be"),
    "duplicate-acronym": (
        "x.ttl",
        LPO.replace('skos:altLabel "LPO"@en', 'skos:altLabel "KPO"@en'),
        'acronym "KPO" is already used by outd:kpo',
    ),
    "duplicate-iri": ("x.ttl", LPO.replace("outd:lpo", "outd:bpo"), "bpo already exists"),
    "touches-source": ("x.ttl", LPO + '\noutd:bpo skos:note "changed"@en .\n', "outd:bpo already exists"),
    "defines-vocabulary": (
        "x.ttl",
        LPO + "\nout:NewClass a <http://www.w3.org/2002/07/owl#Class> .\n",
        "cannot define or change vocabulary terms",
    ),
    "syntax": ("x.ttl", LPO.replace('skos:altLabel "LPO"@en ;', 'skos:altLabel "LPO@en ;'), "line 28"),
    "unknown-form-field": ("x.yaml", "id: zpo\nlabl: Z\n", "did you mean 'label'"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_submission_is_rejected_and_store_unchanged(
    shared_dir: Path, tmp_path: Path, name: str
) -> None:
    data_dir = shared_dir
    file_name, body, words = INVALID[name]
    path = tmp_path / file_name
    path.write_text(body)
    before = content(data_dir)
    result = run(data_dir, "add-type", str(path), "--report", str(tmp_path / "report.ttl"))
    assert result.exit_code == 1, result.output
    assert words in result.output
    assert content(data_dir) == before


def test_report_graph_is_written_for_machines(shared_dir: Path, tmp_path: Path) -> None:
    data_dir = shared_dir
    report = tmp_path / "report.ttl"
    result = run(data_dir, "add-type", str(EXAMPLES / "ito-incomplete.json"), "--report", str(report))
    assert result.exit_code == 1
    from rdflib import Graph
    from rdflib.namespace import SH

    g = Graph().parse(report)
    assert (None, SH.conforms, None) in g
    assert {str(m) for m in g.objects(None, SH.resultMessage)} >= {"Needs at least one out:requiresSkill."}


def test_extensions_directory_loads_reports_and_forgets(tmp_path: Path) -> None:
    onto = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", onto, ignore=shutil.ignore_patterns("extensions"))
    (onto / "extensions").mkdir()
    shutil.copy(EXAMPLES / "lpo.ttl", onto / "extensions" / "lpo.ttl")
    (onto / "extensions" / "broken.ttl").write_text("@prefix x: <http://x/> .\nx:a x:b \n")
    config = Config.from_env(
        {"data_dir": tmp_path / "data", "ontology_dir": onto, "validate_on_load": False}, environ={}
    )
    kg = KnowledgeGraph.open(config)
    try:
        assert [p["file"] for p in kg.problems] == [str(onto / "extensions" / "broken.ttl")]
        assert "line" in kg.problems[0]["error"]
        assert bool(kg.store.query("ASK { outd:lpo a out:OutsourcingType }", prefixes=kg.prefixes))
    finally:
        kg.close()
        del kg
        gc.collect()
    (onto / "extensions" / "lpo.ttl").unlink()
    kg = KnowledgeGraph.open(config)
    try:
        assert not bool(kg.store.query("ASK { outd:lpo ?p ?o }", prefixes=kg.prefixes))
    finally:
        kg.close()
