"""The fast tier: tests that start no server.

Everything collected under this directory is marked ``unit`` (``pytest -m unit`` selects it,
``-m "not unit"`` the rest), so the marker says what the directory promises without each file
repeating it. The promise is kept here too: the ``server`` fixture of ``tests/conftest.py`` is
replaced, for this directory only, by one that fails, so a test that needs the service over HTTP
is moved beside the other server tests instead of slowing this tier down.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest's hook sees every item of the session, not only its directory's: filter by path.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def server():
    pytest.fail("tests/unit starts no server: a test that needs the service over HTTP goes in tests/")
