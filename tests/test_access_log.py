"""The access log: one line per request, in gunicorn's common fields, written in batches
(``service/server.py``, ``AccessLogger``) yet never lost at a normal stop.

What an operator relies on: every request has its line (client, request line, status, bytes, seconds),
lines arrive within a fraction of a second, and a server stopped by SIGTERM (systemd, Ctrl-C) writes
the lines of its last requests before it exits.
"""

from __future__ import annotations

import re
import signal
import time

import requests

from tests.support.server import ServerProcess

LINE = re.compile(r'^127\.0\.0\.1 "GET (\S+) HTTP/1\.1" (\d{3}) (\d+|-) \d+\.\d{6}s$', re.M)


def _lines(server: ServerProcess, marker: str) -> list[tuple[str, str, str]]:
    return [m.groups() for m in LINE.finditer(server.log_path.read_text(errors="replace")) if marker in m.group(1)]


def test_each_request_has_its_line_soon_and_every_line_survives_a_normal_stop(tmp_path):
    server = ServerProcess(data_dir=tmp_path / "data", env={"KG_VALIDATE": "0"}).start()
    try:
        with requests.Session() as http:
            first = http.get(server.url + "/doc/kpo.ttl?m=soon", timeout=30)
            deadline = time.monotonic() + 5
            while not _lines(server, "m=soon") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _lines(server, "m=soon") == [("/doc/kpo.ttl?m=soon", "200", str(len(first.content)))]
            statuses = [http.get(server.url + f"/doc/{slug}?m=last{i}", timeout=30).status_code
                        for i, slug in enumerate(["kpo", "bpo", "no-such-thing"] * 40)]
    finally:
        server.stop(signal.SIGTERM)  # at once after the last answer: its line is still in memory
    logged = _lines(server, "m=last")
    assert len(logged) == len(statuses) == 120
    assert sorted(int(status) for _, status, _ in logged) == sorted(statuses)
    assert {status for _, status, _ in logged} == {"200", "404"}
