"""Start the real service (``kg serve``, gunicorn) on a free loopback port and wait until it answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token-6f1c2a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ServerProcess:
        self.port = self.port or free_port()
        env = {**os.environ, "KG_DATA_DIR": str(self.data_dir), "KG_ADMIN_TOKEN": ADMIN_TOKEN,
               "KG_PORT": str(self.port), "KG_HOST": "127.0.0.1", **self.env}
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", *self.args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code in (200, 503):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path else ""

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """End the server and every process it started (its process group), by SIGKILL unless asked.

        Nothing is lost by it: ``kg serve`` runs no shutdown code of its own, and what it acknowledged
        is already on disk (tests/test_faults.py and tests/test_extend_durability.py prove it). A
        graceful stop (SIGTERM) cost 2.5 s a server, up to 10 s, for nothing a test checks: gunicorn
        keeps each kept-alive connection open for its STOP_KEEPALIVE_LINGER (2 s), and any response a
        test still holds keeps one open."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        self.stop(signal.SIGKILL)
