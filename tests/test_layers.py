"""The layers, as contracts checked on every run: ``service/`` may use the core; the core (``kg/``)
never imports ``service`` or the web framework; the stores (``kg/store/``) import neither, nor the
query machinery above them. Read from the source (every import statement, function-level ones
included), so a late import cannot slip past."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ("flask", "werkzeug", "flask_cors", "gunicorn", "jinja2")
#: What each part of the tree may not import (prefixes of module names).
CONTRACTS = {
    "kg": ("service", *WEB),
    "kg/store": ("service", *WEB, "kg.sparql", "kg.query_pool", "kg.evaluator", "kg.lookup", "kg.compare",
                 "kg.extend", "kg.describe", "kg.graph", "kg.limits"),
}
#: The one core module allowed to reach the web server: ``kg serve`` starts it (the CLI is the
#: outermost layer, beside ``service/``).
EXEMPT = {"kg/commands/serve.py": ("service", "gunicorn")}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def violations(part: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / part).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        allowed = EXEMPT.get(rel, ())
        for name in imports(path):
            for prefix in forbidden:
                if (name == prefix or name.startswith(prefix + ".")) and prefix not in allowed:
                    found.append(f"{rel} imports {name}")
    return found


@pytest.mark.parametrize("part", sorted(CONTRACTS))
def test_layer_contract(part):
    assert violations(part, CONTRACTS[part]) == []


def test_the_contract_catches_a_core_module_importing_flask(tmp_path, monkeypatch):
    # The witness: a core module with a function-level Flask import is reported.
    fake = tmp_path / "kg"
    fake.mkdir()
    (fake / "bad.py").write_text("def view():\n    from flask import request\n    return request\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("kg", CONTRACTS["kg"]) == ["kg/bad.py imports flask"]
