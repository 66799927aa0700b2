"""The layers, as contracts checked on every run, read from the source (every import statement,
function-level ones included, so a late import cannot slip past):

- the CLI (``cli/``) and ``service/`` are the outermost layer, side by side; ``service/`` never uses the CLI;
- the core (``kg/``) never imports ``service``, the CLI or the web framework;
- the stores (``kg/store/``) import nothing of the core but the settings, the prefixes, term conversion, the
  media-type table and its writers, the request deadline, the pre-check's text helpers and how a child
  process starts;
- domain logic, linked data and extension reach the engine only through ``kg.graph`` and ``kg.query.trusted``,
  never the evaluator processes.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ("flask", "werkzeug", "gunicorn", "jinja2")
EVALUATORS = ("kg.query.pool", "kg.query.evaluator", "kg.query.evaluator_process", "kg.query.evaluation")
#: What each part of the tree may not import (prefixes of module names).
CONTRACTS = {
    "kg": ("service", "cli", *WEB),
    "service": ("cli",),
    "kg/domain": EVALUATORS,
    "kg/linked_data": EVALUATORS,
    "kg/extension": EVALUATORS,
}
#: The only modules of the core a store may import (``kg.offload`` imports nothing of the project;
#: ``kg.children`` the settings and, in a child, the confinement).
STORE_MAY_USE = ("kg.config", "kg.store", "kg.namespaces", "kg.terms", "kg.formats", "kg.query.deadline",
                 "kg.query.precheck", "kg.offload", "kg.children")


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from kg.query import deadline`` uses kg.query.deadline, not the whole package.
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def violations(part: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / part).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name in imports(path):
            for prefix in forbidden:
                if (name == prefix or name.startswith(prefix + ".")):
                    found.append(f"{rel} imports {name}")
    return found


@pytest.mark.parametrize("part", sorted(CONTRACTS))
def test_layer_contract(part):
    assert violations(part, CONTRACTS[part]) == []


def test_stores_use_only_what_lies_below_them():
    found = [f"{path.relative_to(ROOT).as_posix()} imports {name}"
             for path in sorted((ROOT / "kg/store").rglob("*.py")) for name in imports(path)
             if (name == "kg" or name.startswith("kg.")) and not name.startswith(STORE_MAY_USE)]
    assert found == []


def test_the_contract_catches_a_core_module_importing_flask(tmp_path, monkeypatch):
    # The witness: a core module with a function-level Flask import is reported.
    fake = tmp_path / "kg"
    fake.mkdir()
    (fake / "bad.py").write_text("def view():\n    from flask import request\n    return request\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("kg", CONTRACTS["kg"]) == ["kg/bad.py imports flask.request"]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere (function-level included), except under
    ``if TYPE_CHECKING:``, which never runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """Groups of project modules that import each other, directly or through others (Tarjan)."""
    paths = {_module_name(p, root): p for part in ("kg", "cli", "service") for p in (root / part).rglob("*.py")}
    modules = set(paths)
    edges = {name: _project_imports(path, modules) - {name} for name, path in paths.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for name in sorted(modules):
        if name not in index:
            visit(name)
    return cycles


def test_no_module_imports_itself_through_others():
    assert import_cycles(ROOT) == []


def test_the_cycle_check_catches_a_late_import(tmp_path):
    # The witness: two modules that reach each other, one through a function-level import.
    (tmp_path / "kg").mkdir()
    (tmp_path / "kg" / "a.py").write_text("from kg import b\n")
    (tmp_path / "kg" / "b.py").write_text("def f():\n    from kg.a import x\n")
    (tmp_path / "kg" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kg import a\n")
    for part in ("cli", "service"):
        (tmp_path / part).mkdir()
    assert import_cycles(tmp_path) == [["kg.a", "kg.b"]]
