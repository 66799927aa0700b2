"""The examples in docstrings run, and hold: each is a test here, in both tiers.

Every module of ``kg/``, ``cli/`` and ``service/`` whose source holds a ``>>>`` is imported (none
builds anything at import time) and its examples are collected with the standard library's
``doctest``; a ``>>>`` that doctest would not run (a comment dressed as an example, an example outside
a docstring) fails too, so that no example in the code is only decoration."""

from __future__ import annotations

import doctest
import importlib
import io
from functools import cache

import pytest

from tests.support.server import ROOT

PACKAGES = ("kg", "cli", "service")


def _modules_with_examples() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8"):
                names.append(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    return names


@cache
def _doctests(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [test for test in doctest.DocTestFinder().find(module) if test.examples]


MODULES = _modules_with_examples()
DOCTESTS = [test for name in MODULES for test in _doctests(name)]


@pytest.mark.parametrize("test", DOCTESTS, ids=lambda test: test.name)
def test_the_docstring_examples_hold(test: doctest.DocTest):
    report = io.StringIO()
    result = doctest.DocTestRunner().run(test, out=report.write)
    assert result.failed == 0, report.getvalue()


@pytest.mark.parametrize("module_name", MODULES)
def test_every_example_in_the_source_is_run(module_name: str):
    source = (ROOT / (module_name.replace(".", "/") + ".py"))
    if not source.exists():
        source = source.with_suffix("") / "__init__.py"
    written = sum(line.lstrip().startswith(">>>") for line in source.read_text(encoding="utf-8").splitlines())
    collected = sum(len(test.examples) for test in _doctests(module_name))
    assert collected == written, f"{source}: {written} '>>>' lines, {collected} examples that doctest runs"


def test_the_examples_are_found():
    # Without this, a change that broke the search would leave the tests above with nothing to run.
    assert len(DOCTESTS) >= 15 and any(name.startswith("kg.query") for name in MODULES)
