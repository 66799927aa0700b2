"""``make bench-versus``: an earlier revision is taken whole from git and started the way it runs.

The comparison itself is a benchmark (``bench/versus.py``, quoted in ``bench/notes.md``); these check the
two steps a wrong answer would hide in: the earlier tree holds that revision's files, and each tree is
started through the command line it has (``kg.cli`` before it moved to ``cli``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import procs, versus

pytestmark = pytest.mark.skipif(not (procs.ROOT / ".git").exists(), reason="needs the project's git history")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=procs.ROOT, check=True, capture_output=True, text=True).stdout


def test_the_earlier_tree_holds_that_revisions_files(tmp_path):
    first = _git("rev-list", "--max-parents=0", "HEAD").split()[0]
    tree = versus._tree(first, tmp_path / "tree")
    expected = set(_git("ls-tree", "-r", "--name-only", first).split("\n")) - {""}
    found = {str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()}
    assert found == expected
    some = sorted(expected)[0]
    assert (tree / some).read_bytes() == subprocess.run(
        ["git", "show", f"{first}:{some}"], cwd=procs.ROOT, check=True, capture_output=True).stdout


def test_each_tree_is_started_through_the_command_line_it_has(tmp_path):
    assert versus._cli(procs.ROOT) == [sys.executable, "-m", "cli"]
    (tmp_path / "kg").mkdir()
    (tmp_path / "kg" / "cli.py").write_text("")
    assert versus._cli(tmp_path) == [sys.executable, "-m", "kg.cli"]


def test_an_unknown_revision_is_refused_before_anything_starts(monkeypatch):
    started = []
    monkeypatch.setattr(versus.datagen, "generate", lambda *a, **k: started.append(a))
    with pytest.raises(SystemExit, match="names no commit"):
        versus.main(["no-such-revision-anywhere"])
    assert started == []
