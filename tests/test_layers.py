"""The layers, as contracts checked on every run, read from the source (every import statement,
function-level ones included, so a late import cannot slip past):

- the CLI (``cli/``) and ``service/`` are the outermost layer, side by side; ``service/`` never uses the CLI;
- the core (``kg/``) never imports ``service``, the CLI or the web framework;
- the stores (``kg/store/``) import nothing of the core but the settings, the prefixes, term conversion, the
  request deadline and the pre-check's text helpers;
- domain logic, linked data and extension reach the engine only through ``kg.graph`` and ``kg.query.trusted``,
  never the evaluator processes.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ("flask", "werkzeug", "flask_cors", "gunicorn", "jinja2")
EVALUATORS = ("kg.query.pool", "kg.query.evaluator", "kg.query.evaluation")
#: What each part of the tree may not import (prefixes of module names).
CONTRACTS = {
    "kg": ("service", "cli", *WEB),
    "service": ("cli",),
    "kg/domain": EVALUATORS,
    "kg/linked_data": EVALUATORS,
    "kg/extension": EVALUATORS,
}
#: The only modules of the core a store may import.
STORE_MAY_USE = ("kg.config", "kg.store", "kg.namespaces", "kg.terms", "kg.query.deadline", "kg.query.precheck")


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
