"""A fresh clone passes its tests: the suite needs nothing beside the repository.

The tree that would be committed is copied into an empty temporary folder with nothing beside it, and
without ``.venv``, ``var`` or caches, as a new user's ``git clone`` would leave it. There, with the
project's interpreter and ``KG_ARTICLE`` unset, the whole suite must collect without an error, and the
tests that compare the graph with the source article must be reported as skipped, naming ``KG_ARTICLE``,
not failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.server import ROOT

#: Never part of a clone: local environments, data, caches, fetched assets, build output.
NOT_IN_A_CLONE = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
                  "build", "test-artifacts", "vendor"}

#: Tests that need the article, by node id; each must skip in a clone.
ARTICLE_TESTS = [
    "tests/test_foundation.py::test_the_earnings_quotes_are_the_article_words",
    "tests/test_pages.py::test_the_quotes_on_the_kpo_page_are_the_article_words",
    "tests/test_compare.py::test_the_comparison_quotes_the_article_and_agrees_with_its_figures",
]


def interpreter() -> str:
    """The project's virtual environment, as ``make test`` uses it (else the one running this test)."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def tracked_files() -> list[Path]:
    """What a commit of the working tree holds: tracked and new (not ignored) files, still present."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True, timeout=30,
        ).stdout.decode("utf-8").split("\0")
        files = [Path(name) for name in listed if name]
    else:  # an exported tree: everything but what a clone never holds
        files = [p.relative_to(ROOT) for p in ROOT.rglob("*") if p.is_file()]
    return [f for f in files
            if (ROOT / f).is_file() and not NOT_IN_A_CLONE.intersection(f.parts) and not f.name.endswith(".pyc")
            and not any(part.endswith(".egg-info") for part in f.parts)]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A copy of the repository alone in an empty folder."""
    target = tmp_path_factory.mktemp("fresh-clone") / "outsourcing-kg"
    for name in tracked_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    assert sorted(p.name for p in target.parent.iterdir()) == ["outsourcing-kg"]  # nothing beside it
    return target


def run(clone: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess:
    """The project's interpreter in the clone, with none of this machine's KG_ settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("KG_", "PYTHON"))}
    environ.update(PYTHONPATH=str(clone), PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run([interpreter(), *args], cwd=clone, env=environ, capture_output=True, text=True,
                          timeout=timeout)


def test_the_clone_imports_its_own_code(clone):
    found = run(clone, "-c", "import kg, service, tests.support.article as a; "
                             "print(kg.__file__); print(service.__file__); print(a.__file__)")
    assert found.returncode == 0, found.stderr
    for line in found.stdout.split():
        assert Path(line).resolve().is_relative_to(clone.resolve()), line


@pytest.mark.slow
def test_the_whole_suite_collects_in_a_fresh_clone(clone):
    result = run(clone, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    summary = output.strip().splitlines()[-1]
    assert "collected" in summary and "error" not in summary, summary
    # "N tests collected", or "N/M tests collected (K deselected)" when some stores' runs are left out.
    assert int(summary.split()[0].split("/")[0]) > 100, summary


@pytest.mark.slow
def test_tests_that_need_the_article_skip_in_a_fresh_clone_naming_the_setting(clone, tmp_path):
    report = tmp_path / "report.xml"
    # One store is enough here: what is checked is the skip, not the store.
    result = run(clone, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", f"--junitxml={report}",
                 *ARTICLE_TESTS, env={"KG_TEST_STORES": "embedded"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {}
    for case in cases:
        skipped = case.find("skipped")
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            "failed" if failed else skipped.get("message", "") if skipped is not None else "passed"
        )
    assert len(outcomes) == len(ARTICLE_TESTS), outcomes
    for name, outcome in outcomes.items():
        assert "KG_ARTICLE" in outcome, f"{name}: {outcome}"
