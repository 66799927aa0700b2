"""The verdict on the shipped data is reused only for the very files it was reached on.

``read_checked`` records in the data directory the digest of the files it found conforming, so the
second read of a start (pre-flight, then worker) and every CLI command on the same data skip SHACL.
What a user relies on: a change to any file, to the shapes or to the namespace is checked again, and
a broken file is refused however many times conforming files were read before.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg.config import Config
from kg.ontology.loader import CHECKED_STAMP, LoadError, read_checked
from tests.support.server import ROOT

OUT = "https://w3id.org/outsourcing-kg/ontology#"
#: Facts the shipped shapes refuse: an earnings rate without a value, a currency or a unit.
BREAK_FACTS = f"\n<https://w3id.org/outsourcing-kg/id/broken-rate> a <{OUT}EarningsRate> .\n"
#: A shape the shipped facts fail: every earnings rate needs a property none of them has.
SH = "http://www.w3.org/ns/shacl#"
STRICTER_SHAPE = (f"\n[] a <{SH}NodeShape> ; <{SH}targetClass> <{OUT}EarningsRate> ; "
                  f"<{SH}property> [ <{SH}path> <{OUT}neverStated> ; <{SH}minCount> 1 ] .\n")


@pytest.fixture
def ontology(tmp_path: Path) -> Path:
    copy = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", copy, ignore=shutil.ignore_patterns("extensions"))
    return copy


def config(ontology: Path, data: Path, **extra) -> Config:
    return Config.from_env({"ontology_dir": ontology, "data_dir": data, **extra}, environ={})


def breaks(ontology: Path) -> None:
    facts = sorted((ontology / "data").glob("*.ttl"))[0]
    facts.write_text(facts.read_text(encoding="utf-8") + BREAK_FACTS, encoding="utf-8")


def test_a_verdict_is_reused_only_for_the_files_it_was_reached_on(ontology: Path, tmp_path: Path):
    cfg = config(ontology, tmp_path / "data")
    read_checked(cfg)
    stamp = (tmp_path / "data" / CHECKED_STAMP).read_text()
    other = tmp_path / "other"  # the verdict copied to a second data directory, as if reached there
    other.mkdir()
    (other / CHECKED_STAMP).write_text(stamp)
    breaks(ontology)
    for data in (tmp_path / "data", other, tmp_path / "data"):  # the last: a refusal is never recorded
        with pytest.raises(LoadError, match="do not conform"):
            read_checked(config(ontology, data))
    assert (tmp_path / "data" / CHECKED_STAMP).read_text() == stamp


def test_a_verdict_does_not_outlive_the_shapes_it_was_reached_with(ontology: Path, tmp_path: Path):
    """Conforming facts recorded, then a stricter shape they fail: the recorded verdict must not let them by."""
    cfg = config(ontology, tmp_path / "data")
    read_checked(cfg)
    shapes = ontology / "shapes.ttl"
    shapes.write_text(shapes.read_text(encoding="utf-8") + STRICTER_SHAPE, encoding="utf-8")
    with pytest.raises(LoadError, match="do not conform"):
        read_checked(cfg)


def test_a_data_directory_that_cannot_be_written_still_starts(ontology: Path, tmp_path: Path):
    """Where the verdict cannot be written, the files are read all the same (and checked every time)."""
    data = tmp_path / "data"
    (data / CHECKED_STAMP).mkdir(parents=True)  # where the stamp would go, a directory: writing it fails
    assert len(read_checked(config(ontology, data)).facts) > 0
