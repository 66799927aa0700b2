"""A real Oxigraph server for the remote store: started on a free loopback port, stopped at the end.

``remote_store_env`` (session) is what ``tests/conftest.py`` asks for when ``KG_TEST_STORES``
includes ``remote``: the service under test then keeps its graph in this server, so the whole
feature suite runs a second time over SPARQL 1.1 Query/Update.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.server import free_port


def oxigraph_binary() -> str:
    """The ``oxigraph`` command installed beside this Python (the PyPI package), else on PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    if beside.exists():
        return str(beside)
    found = shutil.which("oxigraph")
    if not found:
        raise RuntimeError("the oxigraph server is not installed: pip install oxigraph")
    return found


@dataclass
class OxigraphServer:
    """``oxigraph serve`` on loopback; in memory unless ``location`` is given."""

    location: Path | None = None
    union_default_graph: bool = True
    timeout_s: int | None = None
    port: int = 0
    proc: subprocess.Popen | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {"KG_SPARQL_ENDPOINT": self.url + "/query", "KG_SPARQL_UPDATE_ENDPOINT": self.url + "/update"}

    def start(self, timeout: float = 30) -> OxigraphServer:
        self.port = self.port or free_port()
        args = [oxigraph_binary(), "serve", "--bind", f"127.0.0.1:{self.port}"]
        if self.location is not None:
            args += ["--location", str(self.location)]
        if self.union_default_graph:
            args.append("--union-default-graph")
        if self.timeout_s:
            args += ["--timeout-s", str(self.timeout_s)]
        # Output goes to a file: a pipe nobody reads would block the server once full.
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [*args, *self.extra], stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.seek(0)
                raise RuntimeError(f"oxigraph serve exited: {self._log.read().decode(errors='replace')}")
            try:
                if requests.get(self.url + "/query", params={"query": "ASK {}"}, timeout=2).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"oxigraph serve did not answer within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        self.proc = None


@pytest.fixture(scope="session")
def remote_store_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Environment that points ``kg serve --store remote`` at a durable Oxigraph server of the session.

    Self-contained (conftest imports only this name): the server's default graph is the union of
    the named graphs, as the remote store needs for ``union_default=True``.
    """
    server = OxigraphServer(location=tmp_path_factory.mktemp("oxigraph") / "store").start()
    yield server.env
    server.stop()
