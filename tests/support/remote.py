"""A real Oxigraph server for the remote store: started on a free loopback port, stopped at the end.

``remote_store_env`` (session) is what ``tests/conftest.py`` asks for when ``KG_TEST_STORES``
includes ``remote``: the service under test then keeps its graph in this server, so the whole
feature suite runs a second time over SPARQL 1.1 Query/Update (``tests/support/virtuoso.py`` is the
same for Virtuoso).
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

from tests.support import virtuoso
from tests.support.server import free_port


def stores_under_test() -> list[str]:
    """``KG_TEST_STORES`` (comma-separated), by default every store this machine can run: the
    embedded one, the remote one over Oxigraph server (``remote``), and over Virtuoso when it is
    installed (``virtuoso``; asked for explicitly and missing, its fixtures fail rather than skip)."""
    default = "embedded,remote" + (",virtuoso" if virtuoso.available() else "")
    return [s.strip() for s in os.environ.get("KG_TEST_STORES", default).split(",") if s.strip()]


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

    @property
    def settings(self) -> dict[str, str]:
        """The same as ``Config`` field overrides."""
        return {"sparql_endpoint": self.url + "/query", "sparql_update_endpoint": self.url + "/update"}

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


def remote_engines() -> list[str]:
    """The engines the remote-store tests run over: Oxigraph server always (it ships with the test
    dependencies), Virtuoso when it is among the stores under test."""
    return ["oxigraph", *(["virtuoso"] if "virtuoso" in stores_under_test() else [])]


def start_engine(name: str) -> OxigraphServer | virtuoso.VirtuosoServer:
    """A fresh, empty endpoint of that engine, started (``stop()`` it)."""
    if name == "virtuoso":
        return virtuoso.VirtuosoServer().start()
    return OxigraphServer().start()


@pytest.fixture(scope="session")
def remote_store_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Environment that points ``kg serve --store remote`` at a durable Oxigraph server of the session.

    Self-contained (conftest imports only this name): the server's default graph is the union of
    the named graphs, as the remote store needs for ``union_default=True``.
    """
    server = OxigraphServer(location=tmp_path_factory.mktemp("oxigraph") / "store").start()
    yield server.env
    server.stop()


class AuthGateway:
    """An HTTP gateway that lets through to an endpoint only requests with the right credentials
    (HTTP Basic, or a bearer token), as the proxies in front of real stores do. Oxigraph server has no
    authentication of its own; this puts the remote store's Basic and bearer support on a real wire.
    Without credentials it lets everything through.

    Every request it saw is kept in ``seen`` as (path, Authorization header or None). With ``lose``,
    a request whose body holds those bytes is passed on, and its answer then lost: the connection is
    closed without one, as by a proxy or a store that fails once the work is done. With ``close``, a
    request whose body or path holds those bytes is answered, and then its kept-alive connection closed, as a
    server closes one it finds idle."""

    def __init__(self, upstream: str, *, user: str | None = None, password: str | None = None,
                 token: str | None = None, lose: bytes | None = None, close: bytes | None = None):
        import base64
        import http.server
        import threading
        import urllib.error
        import urllib.request

        expected: str | None = None
        if token is not None:
            expected = f"Bearer {token}"
        elif user is not None:
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.seen: list[tuple[str, str | None]] = []
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: pytest shows failures, not traffic
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                given = self.headers.get("Authorization")
                gateway.seen.append((self.path, given))
                if expected is not None and given != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="store"' if token is None else "Bearer")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(upstream + self.path, data=body or None, method=self.command)
                for name in ("Content-Type", "Accept"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, headers, data = answer.status, answer.headers, answer.read()
                except urllib.error.HTTPError as exc:
                    status, headers, data = exc.code, exc.headers, exc.read()
                if lose is not None and lose in body:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if close is not None and (close in body or close in self.path.encode()):
                    self.wfile.flush()
                    self.close_connection = True

            do_GET = do_POST = _forward

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
