"""``kg load`` puts every triple of the given files into the store, in the graphs the user expects.

The command runs as a user runs it (a subprocess); the store is then opened read-only and compared
with what a parser reads from the same files.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from bench.datagen import generate
from kg.config import Config
from kg.store.remote import RemoteStore
from tests.support.remote import OxigraphServer
from tests.support.server import ROOT

GRAPHS = "https://w3id.org/outsourcing-kg/graph/"


def kg_load(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "KG_DATA_DIR": str(data_dir), "KG_STORE": "embedded", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli", "load", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("load-files")
    nt = root / "synthetic.nt"
    generate(2_000, nt)
    gz = root / "synthetic-copy.nt.gz"
    with open(nt, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read().replace(b"/id/syn-", b"/id/gz-syn-"))
    trig = root / "two-graphs.trig"
    trig.write_text(
        "@prefix ex: <http://example.org/> .\n"
        'ex:g1 { ex:a ex:p "one"@en , "un"@fr . }\n'
        "ex:g2 { ex:b ex:p 2.5 . ex:b ex:q ex:a . }\n",
        encoding="utf-8",
    )
    return {"nt": nt, "gz": gz, "trig": trig}


def _quads(path: Path) -> set[ox.Quad]:
    opener = gzip.open if path.suffix == ".gz" else open
    name = path.name.removesuffix(".gz")
    fmt = ox.RdfFormat.TRIG if name.endswith(".trig") else ox.RdfFormat.N_TRIPLES
    with opener(path, "rb") as handle:
        parsed = list(ox.parse(handle, format=fmt))
    # Through a store of its own: Oxigraph stores literals canonically ("10.00"^^xsd:decimal is 10).
    store = ox.Store()
    store.extend(parsed)
    return set(store)


def _stored(data_dir: Path, graph: str) -> set[ox.Triple]:
    store = ox.Store.read_only(str(data_dir / "oxigraph"))
    return {q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))}


def test_load_graph_files_plain_and_gzipped_into_the_data_graph(tmp_path, files):
    result = kg_load(tmp_path / "data", str(files["nt"]), str(files["gz"]))
    assert result.returncode == 0, result.stderr
    expected = {q.triple for q in _quads(files["nt"]) | _quads(files["gz"])}
    assert len(expected) > 2_000
    assert _stored(tmp_path / "data", GRAPHS + "data") == expected
    assert "loaded 2 file(s)" in result.stderr


def test_dataset_files_keep_their_graphs_and_graph_option_names_one(tmp_path, files):
    result = kg_load(tmp_path / "data", str(files["trig"]))
    assert result.returncode == 0, result.stderr
    for graph in ("http://example.org/g1", "http://example.org/g2"):
        expected = {q.triple for q in _quads(files["trig"]) if q.graph_name == ox.NamedNode(graph)}
        assert expected and _stored(tmp_path / "data", graph) == expected
    result = kg_load(tmp_path / "data", "--graph", "imported/2024", str(files["nt"]))
    assert result.returncode == 0, result.stderr
    assert _stored(tmp_path / "data", GRAPHS + "imported/2024") == {q.triple for q in _quads(files["nt"])}


def test_bad_input_is_refused_with_a_message(tmp_path):
    broken = tmp_path / "broken.nt"
    broken.write_text('<http://x/a> <http://x/p> "unterminated .\n', encoding="utf-8")
    result = kg_load(tmp_path / "data", "--quiet", str(broken))
    assert result.returncode != 0
    assert "load failed" in result.stderr and "Traceback" not in result.stderr
    unknown = tmp_path / "data.csv"
    unknown.write_text("a,b\n", encoding="utf-8")
    result = kg_load(tmp_path / "data", str(unknown))
    assert result.returncode == 2 and "unknown format" in result.stderr


def test_load_into_a_remote_store(tmp_path, files):
    server = OxigraphServer().start()
    try:
        result = kg_load(
            tmp_path / "data",
            "--quiet",
            str(files["nt"]),
            str(files["trig"]),
            env={"KG_STORE": "remote", **server.env},
        )
        assert result.returncode == 0, result.stderr
        store = RemoteStore(
            Config.from_env(
                {
                    "store": "remote",
                    "sparql_endpoint": server.env["KG_SPARQL_ENDPOINT"],
                    "sparql_update_endpoint": server.env["KG_SPARQL_UPDATE_ENDPOINT"],
                },
                environ={},
            )
        )
        assert set(store.graph_triples(GRAPHS + "data")) == {q.triple for q in _quads(files["nt"])}
        assert store.graphs()["http://example.org/g2"] == 2
        store.close()
    finally:
        server.stop()
