"""Closed-loop HTTP load with ``wrk`` (Debian package), which a Python client cannot match.

A Python client with threads tops out near 1-2k requests/s on two cores, below what the fastest
routes serve, so it would measure itself. ``wrk`` (C, event loop) cycles through the request list
given in a generated Lua script, keeps ``connections`` requests in flight, and reports latency
percentiles and error counts as JSON from the script's ``done`` hook.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.mix import Request

_LUA = r"""
local reqs = {%(requests)s}
local counter = 0
local offset = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 7
end
function init(args)
  offset = tonumber(offset) or 0
end
local i = 0
function request()
  i = i + 1
  local r = reqs[((i + offset) %% #reqs) + 1]
  return wrk.format("GET", r[1], {["Accept"] = r[2]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH-JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, ' ..
    '"errors_connect": %%d, "errors_read": %%d, "errors_write": %%d, ' ..
    '"errors_status": %%d, "errors_timeout": %%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    """The ``wrk`` binary; installed from Debian's packages when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    import os

    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk",
            shell=True,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("the benchmark needs wrk (Debian package 'wrk'): apt-get install wrk")


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def check(base: str, reqs: list[Request]) -> dict[str, int]:
    """Send each request once; return the status of every request name that did not answer 2xx."""
    bad: dict[str, int] = {}
    with requests.Session() as session:
        for r in reqs:
            status = session.get(base + r.path, headers={"Accept": r.accept}, timeout=60).status_code
            if not 200 <= status < 300:
                bad[r.name] = status
    return bad


def run(
    base: str,
    reqs: list[Request],
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 2,
    warmup: float = 1.0,
) -> Result:
    """Closed-loop load on ``base`` cycling through ``reqs``; returns throughput and latency."""
    wrk = ensure_wrk()
    body = ",\n".join("{" + _lua_string(r.path) + ", " + _lua_string(r.accept) + "}" for r in reqs)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA % {"requests": body})
    try:
        if warmup > 0:
            subprocess.run(
                [
                    wrk,
                    "-t",
                    str(threads),
                    "-c",
                    str(connections),
                    "-d",
                    f"{warmup:g}s",
                    "-s",
                    script.name,
                    base,
                ],
                capture_output=True,
                text=True,
                timeout=warmup + 60,
            )
        out = subprocess.run(
            [
                wrk,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds:g}s",
                "--timeout",
                "30s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 90,
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    data = json.loads(line[len("BENCH-JSON ") :])
    errors = sum(v for k, v in data.items() if k.startswith("errors_"))
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1e3,
        p95_ms=data["p95_us"] / 1e3,
        errors=errors,
    )
