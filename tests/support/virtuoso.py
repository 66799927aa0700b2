"""A real Virtuoso for the remote store: ``virtuoso-t`` in the foreground on free loopback ports,
with a database of its own in a temporary directory, stopped at the end.

Virtuoso is the second engine the remote store is proven on (Debian's ``virtuoso-opensource``,
7.2). It is set up the way a real deployment guards it: the anonymous ``/sparql`` endpoint answers
queries only, and writes go to ``/sparql-auth`` with HTTP Digest as a user of our own that holds the
``SPARQL_UPDATE`` role and nothing else; the ``dba`` password is changed from the well-known default
before the HTTP port is used. ``virtuoso_store_env`` (session) is what ``tests/conftest.py`` asks
for when ``KG_TEST_STORES`` includes ``virtuoso``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.server import free_port

#: The Debian package that provides ``virtuoso-t`` and ``isql-vt`` (``make virtuoso`` installs it).
PACKAGE = "virtuoso-opensource"


def binaries() -> tuple[str, str] | None:
    """(server, SQL client) commands, or None when Virtuoso is not installed."""
    server = shutil.which("virtuoso-t")
    client = shutil.which("isql-vt") or shutil.which("isql")
    return (server, client) if server and client else None


def available() -> bool:
    return binaries() is not None


def require() -> tuple[str, str]:
    found = binaries()
    if found is None:
        # A failure, not a skip: whoever asked for the Virtuoso runs must learn they did not happen.
        raise RuntimeError(f"Virtuoso is not installed: `make virtuoso` (or apt-get install {PACKAGE})")
    return found


_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
; small buffers: a test database, several of them at once on a two-core machine
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
CheckpointInterval = 60
ThreadsPerQuery = 2
DirsAllowed = .
CaseMode = 2

[HTTPServer]
ServerPort = 127.0.0.1:{port}
ServerRoot = {dir}
ServerThreads = 20
MaxKeepAlives = 20
KeepAliveTimeout = 10
EnabledGzipContent = 0

[SPARQL]
; Above any row cap the service uses: Virtuoso cuts larger answers silently at this count.
ResultSetMaxRows = {max_rows}
MaxQueryExecutionTime = {max_seconds}
MaxQueryCostEstimationTime = 0
"""


@dataclass
class VirtuosoServer:
    """``virtuoso-t`` on loopback over a fresh database in ``directory`` (a temporary one if None)."""

    directory: Path | None = None
    port: int = 0
    sql_port: int = 0
    #: The writer the service logs in as (Digest on /sparql-auth); it holds SPARQL_UPDATE only.
    user: str = "kg-writer"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(10))
    dba_password: str = field(default_factory=lambda: "dba-" + secrets.token_hex(10))
    max_rows: int = 1_000_000
    #: Virtuoso's own limit on a query's run time, in seconds (it then answers what it has so far).
    max_seconds: int = 60
    proc: subprocess.Popen | None = None
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What ``kg serve --store remote`` needs: anonymous queries, authenticated writes, and the
        transport set as docs/remote-stores.md advises for Virtuoso (the probe ``auto`` runs costs a
        replica 2 s at start; ``tests/test_virtuoso.py`` proves it lands on the form POST)."""
        return {
            "KG_SPARQL_TRANSPORT": "form",
            "KG_SPARQL_ENDPOINT": self.url + "/sparql",
            "KG_SPARQL_UPDATE_ENDPOINT": self.url + "/sparql-auth",
            "KG_SPARQL_USER": self.user,
            "KG_SPARQL_PASSWORD": self.password,
            "KG_SPARQL_AUTH": "digest",
        }

    @property
    def settings(self) -> dict[str, str]:
        """The same as ``Config`` field overrides."""
        return {
            "sparql_endpoint": self.url + "/sparql",
            "sparql_update_endpoint": self.url + "/sparql-auth",
            "sparql_user": self.user,
            "sparql_password": self.password,
            "sparql_auth": "digest",
        }

    def start(self, timeout: float = 60) -> VirtuosoServer:
        server, _ = require()
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kg-virtuoso-")
            self.directory = Path(self._tmp.name)
        self.directory.mkdir(parents=True, exist_ok=True)
        fresh = not (self.directory / "virtuoso.db").exists()
        self.port = self.port or free_port()
        self.sql_port = self.sql_port or free_port()
        ini = self.directory / "virtuoso.ini"
        ini.write_text(_INI.format(dir=self.directory, port=self.port, sql_port=self.sql_port,
                                   max_rows=self.max_rows, max_seconds=self.max_seconds))
        self._out = open(self.directory / "stdout.log", "ab")
        self.proc = subprocess.Popen(
            [server, "+foreground", "+configfile", str(ini)], cwd=self.directory,
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        # Stopped when this object goes or the interpreter exits, should a test never call stop():
        # a server outliving its temporary directory would hold its ports and memory for good.
        weakref.finalize(self, _kill_group, self.proc)
        self._wait(timeout)
        if fresh:
            self._secure()
        return self

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited with {self.proc.returncode}:\n{self.log()}")
            try:
                # A form-encoded POST: Virtuoso never answers a direct one (the quirk this proves).
                r = requests.post(self.url + "/sparql", data={"query": "ASK {}"},
                                  headers={"Accept": "application/sparql-results+json"}, timeout=2)
                if r.ok and r.json().get("boolean") is True:
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"virtuoso-t did not answer within {timeout}s:\n{self.log()}")

    def _secure(self) -> None:
        """Change the dba password from the default, and create the service's writer."""
        self.sql(f"USER_CHANGE_PASSWORD('dba', 'dba', '{self.dba_password}');", password="dba")
        self.sql(f"DB.DBA.USER_CREATE('{self.user}', '{self.password}');\n"
                 f'GRANT SPARQL_UPDATE TO "{self.user}";')

    def sql(self, statements: str, *, password: str | None = None) -> str:
        """Run SQL as dba through ``isql-vt`` (statements on stdin, so they stay out of ``ps``)."""
        _, client = require()
        done = subprocess.run(
            [client, f"127.0.0.1:{self.sql_port}", "dba", password or self.dba_password],
            input=statements + "\n", capture_output=True, text=True, timeout=60,
        )
        if done.returncode != 0 or "*** Error" in done.stdout or "*** Error" in done.stderr:
            raise RuntimeError(f"isql failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done.stdout

    def set_password(self, password: str) -> None:
        """Change the writer's password (a rotated secret the service has not been told of)."""
        self.sql(f"USER_SET_PASSWORD('{self.user}', '{password}');")
        self.password = password

    def log(self) -> str:
        parts = []
        for name in ("stdout.log", "virtuoso.log"):
            path = (self.directory or Path(".")) / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "_out", None) is not None:
            self._out.close()
            self._out = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.directory = None


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def virtuoso_server() -> Iterator[VirtuosoServer]:
    """One Virtuoso for the session (its data dies with it)."""
    server = VirtuosoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def virtuoso_store_env(virtuoso_server: VirtuosoServer) -> dict[str, str]:
    """Environment that points ``kg serve --store remote`` at the session's Virtuoso."""
    return virtuoso_server.env
