"""Fixtures, from cheap to dear: a config, an opened graph, a real server over HTTP.

``server`` is the real service (gunicorn, ``kg serve``) on a free loopback port. It is
parametrised by store kind (``KG_TEST_STORES``, comma-separated: ``embedded``, ``remote`` for the
remote store over Oxigraph server, ``virtuoso`` for the remote store over Virtuoso; by default all
three, Virtuoso when it is installed), so every test that uses it runs once per store the suite is
asked to cover.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from kg.config import Config
from kg.graph import KnowledgeGraph
from tests.support.article import article_text
from tests.support.listener import Listener
from tests.support.remote import remote_store_env, stores_under_test  # noqa: F401
from tests.support.server import ADMIN_TOKEN, ROOT, ServerProcess
from tests.support.virtuoso import virtuoso_server, virtuoso_store_env  # noqa: F401

STORES = stores_under_test()
#: The server-parametrised modules that run over the embedded store only (while it is among the stores
#: under test): the crawl follows the links the service writes into its pages, the same code whichever
#: store answers. Every resource's page and documents over the remote stores are opened by
#: tests/test_linked_data.py; crawling them again there cost 15-20 s.
EMBEDDED_ONLY_MODULES = frozenset({"test_crawl"})


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "virtuoso: runs against a real Virtuoso through the remote store")


def pytest_collection_modifyitems(config, items) -> None:
    """Mark what runs over a remote store and over Virtuoso, and leave out the server tests that run
    over the embedded store only."""
    keep, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("server", "embedded") != "embedded" and \
                "embedded" in STORES and item.module.__name__.rsplit(".", 1)[-1] in EMBEDDED_ONLY_MODULES:
            dropped.append(item)
            continue
        over_virtuoso = callspec is not None and "virtuoso" in callspec.params.values()
        if callspec is not None and {"remote", "virtuoso"} & set(map(str, callspec.params.values())):
            item.add_marker(pytest.mark.remote)
        if over_virtuoso:
            item.add_marker(pytest.mark.virtuoso)
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Config with a fresh data directory; keyword arguments override fields."""

    def make(**overrides) -> Config:
        overrides.setdefault("data_dir", tmp_path / "data")
        return Config.from_env(overrides, environ={})

    return make


@pytest.fixture(scope="session")
def kg(tmp_path_factory) -> Iterator[KnowledgeGraph]:
    """The shipped graph, loaded and validated into an embedded store of its own."""
    config = Config.from_env({"data_dir": tmp_path_factory.mktemp("kg")}, environ={})
    graph = KnowledgeGraph.open(config)
    yield graph
    graph.close()


def _value(term) -> str | None:
    return None if term is None else term.value


@pytest.fixture(scope="session")
def select(kg: KnowledgeGraph) -> Callable[[str], list[dict[str, str]]]:
    """Run a SELECT over the union of all graphs; rows map variable → lexical value."""

    def run(query: str) -> list[dict[str, str]]:
        result = kg.store.query(query, prefixes=kg.prefixes)
        assert isinstance(result, ox.QuerySolutions), "select() takes a SELECT query"
        names = [v.value for v in result.variables]
        return [{n: _value(row[n]) for n in names if row[n] is not None} for row in result]

    return run


@pytest.fixture(scope="session")
def ask(kg: KnowledgeGraph) -> Callable[[str], bool]:
    def run(query: str) -> bool:
        return bool(kg.store.query(query, prefixes=kg.prefixes))

    return run


@pytest.fixture(scope="session", params=STORES)
def server(request, tmp_path_factory) -> Iterator[ServerProcess]:
    """The real service over HTTP on loopback, one per store kind."""
    data_dir = tmp_path_factory.mktemp(f"server-{request.param}") / "data"
    env = {"KG_STORE": "embedded" if request.param == "embedded" else "remote"}
    if request.param == "remote":
        env.update(request.getfixturevalue("remote_store_env"))
    elif request.param == "virtuoso":
        env.update(request.getfixturevalue("virtuoso_store_env"))
    proc = ServerProcess(data_dir=data_dir, env=env).start()
    yield proc
    proc.stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback port that records every connection: the witness that nothing was fetched."""
    probe = Listener()
    yield probe
    probe.close()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="session")
def article() -> str:
    """The source article's text. Asked for before ``server`` or ``kg``, it skips a test that compares
    the graph with the article (``KG_ARTICLE`` unset in a fresh clone) before any server is started."""
    return article_text()


@pytest.fixture(scope="session")
def admin_token() -> str:
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
