"""Soak test: many clients for a while on the query mix and the lookup routes, while a writer adds
and removes an outsourcing type in a loop; zero errors expected, and no reader may see half a type.

Why it exists: the unit tests prove each guarantee once; this proves they hold together under
sustained concurrent load on loopback (issue 8, point 6). Run it as::

    python -m bench.soak --seconds 60 --clients 32 [--url URL --token TOKEN]

Without ``--url`` it starts its own server (``kg serve``, embedded store, a fresh data directory and
a random admin token) and stops it at the end. It prints requests, errors, throughput and the
p50/p95/p99 latency, and exits 1 on any error or any partial read of the type being written.

Every read of the type under churn (``/api/types/{slug}`` and a count of its named graph over
``/sparql``) must be either absent (404, 0 triples) or complete (the JSON read right after it was
added; the triple count the 201 answer reported).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parent.parent
SLUG = "soak-lpo"
ACRONYM = "SLPO"
JSON = "application/json"
RESULTS = "application/sparql-results+json"


def type_turtle(slug: str = SLUG, acronym: str = ACRONYM) -> str:
    """The shipped LPO example (examples/lpo.ttl) as another type, with its own slug and acronym."""
    text = (ROOT / "examples" / "lpo.ttl").read_text(encoding="utf-8")
    return (
        text.replace("outd:lpo", f"outd:{slug}")
        .replace("evidence-lpo-", f"evidence-{slug}-")
        .replace("source-about-lpo", f"source-about-{slug}")
        .replace('"LPO"@en', f'"{acronym}"@en')
        .replace('"Legal Process Outsourcing"@en', f'"Legal Process Outsourcing {acronym}"@en')
    )


def graph_count_query(namespace: str, slug: str) -> str:
    return (f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{namespace}graph/extension/{slug}> "
            "{ ?s ?p ?o } }")


def mix(slug: str) -> list[tuple[str, str]]:
    """(name, path) of the read mix: SPARQL queries, named queries, lookups and documents."""
    sparql = {
        "sparql: types with labels": "SELECT ?t ?l WHERE { ?t a out:OutsourcingType ; skos:prefLabel ?l }",
        "sparql: skills per type": (
            "SELECT ?t (COUNT(?s) AS ?n) WHERE { ?t out:requiresSkill ?s } GROUP BY ?t"),
        "sparql: evidence": "SELECT ?e ?text WHERE { ?e a out:Evidence ; out:evidenceText ?text } LIMIT 50",
        "sparql: ask": "ASK { ?t a out:OutsourcingType }",
        "sparql: construct": "CONSTRUCT { ?t skos:prefLabel ?l } WHERE { ?t skos:prefLabel ?l }",
    }
    out = [(name, "/sparql?query=" + quote(text)) for name, text in sparql.items()]
    out += [
        ("named: skills-of-type", "/api/queries/skills-of-type?type=kpo"),
        ("named: earnings-by-type", "/api/queries/earnings-by-type?baseline=bpo"),
        ("named: search-concepts", "/api/queries/search-concepts?text=legal"),
        ("lookup: types", "/api/types"),
        ("lookup: type", "/api/types/kpo"),
        ("lookup: skills", "/api/skills"),
        ("lookup: activities", "/api/activities"),
        ("lookup: search", "/api/search?q=process"),
        ("lookup: compare", "/api/compare?types=bpo,kpo"),
        ("doc: kpo.ttl", "/doc/kpo.ttl"),
        ("health", "/healthz"),
    ]
    return out


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    type_reads: dict[str, int] = field(default_factory=lambda: {"absent": 0, "complete": 0, "partial": 0})
    writes: int = 0
    partials: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if error:
                self.errors.append(error)


@dataclass
class Reference:
    """What a complete read of the churned type looks like (set by the writer after its first add)."""

    json: dict | None = None
    triples: int | None = None
    ready: threading.Event = field(default_factory=threading.Event)


def _diff(complete: dict | None, seen: dict) -> str:
    """Which top-level fields of a type's JSON differ from the complete read (for the report)."""
    complete = complete or {}
    keys = sorted(k for k in {*complete, *seen} if complete.get(k) != seen.get(k))
    return ", ".join(_field_diff(k, complete.get(k), seen.get(k)) for k in keys[:3])


def _field_diff(key: str, complete, seen) -> str:
    """One field: for a list (a type's facts), how many items and the first that differs each way,
    which is what tells a half-written read from a reordered one."""
    if isinstance(complete, list) and isinstance(seen, list):
        missing = [x for x in complete if x not in seen]
        extra = [x for x in seen if x not in complete]
        return (f"{key}: {len(seen)} items (complete: {len(complete)}); missing {len(missing)}"
                f"{': ' + str(missing[0])[:300] if missing else ''}; unexpected {len(extra)}"
                f"{': ' + str(extra[0])[:300] if extra else ''}")
    return f"{key}: {str(seen)[:200]} (complete: {str(complete)[:200]})"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _writer(url: str, token: str, stop: threading.Event, stats: Stats, ref: Reference) -> None:
    body = type_turtle().encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/turtle", "Accept": JSON}
    with requests.Session() as http:
        http.delete(f"{url}/api/types/{SLUG}", headers=headers, timeout=60)  # a leftover of an earlier run
        while not stop.is_set():
            started = time.perf_counter()
            r = http.post(url + "/api/types", data=body, headers=headers, timeout=60)
            stats.record(time.perf_counter() - started, None if r.status_code == 201 else
                         f"writer POST: {r.status_code} {r.text[:200]}")
            if r.status_code == 201 and not ref.ready.is_set():
                ref.triples = r.json()["triples"]
                ref.json = http.get(f"{url}/api/types/{SLUG}", timeout=60).json()
                ref.ready.set()
            started = time.perf_counter()
            r = http.delete(f"{url}/api/types/{SLUG}", headers=headers, timeout=60)
            stats.record(time.perf_counter() - started, None if r.status_code == 204 else
                         f"writer DELETE: {r.status_code} {r.text[:200]}")
            with stats.lock:
                stats.writes += 1


def _check_type_read(http: requests.Session, url: str, namespace: str, stats: Stats, ref: Reference) -> None:
    """One read of the churned type through the API and one through SPARQL: absent or complete."""
    if not ref.ready.is_set():
        return
    started = time.perf_counter()
    r = http.get(f"{url}/api/types/{SLUG}", headers={"Accept": JSON}, timeout=60)
    error = None
    if r.status_code == 404:
        verdict = "absent"
    elif r.status_code == 200:
        r_json = r.json()
        verdict = "complete" if r_json == ref.json else "partial"
    else:
        verdict, error = "absent", f"type read: {r.status_code} {r.text[:200]}"
    stats.record(time.perf_counter() - started, error)
    started = time.perf_counter()
    r = http.get(url + "/sparql", params={"query": graph_count_query(namespace, SLUG)},
                 headers={"Accept": RESULTS}, timeout=60)
    if r.status_code == 200:
        n = int(r.json()["results"]["bindings"][0]["n"]["value"])
        count_verdict = "absent" if n == 0 else "complete" if n == ref.triples else "partial"
        stats.record(time.perf_counter() - started)
    else:
        count_verdict = "absent"
        stats.record(time.perf_counter() - started, f"graph count: {r.status_code} {r.text[:200]}")
    with stats.lock:
        stats.type_reads[verdict] += 1
        stats.type_reads[count_verdict] += 1
        if verdict == "partial":
            stats.partials.append(f"/api/types/{SLUG} answered 200 with a body that differs from the "
                                  "complete one: " + _diff(ref.json, r_json))
        if count_verdict == "partial":
            stats.partials.append(f"its graph held {n} of {ref.triples} triples")


def _reader(url: str, namespace: str, stop: threading.Event, stats: Stats, ref: Reference,
            offset: int) -> None:
    requests_ = mix(SLUG)
    i = offset
    with requests.Session() as http:
        while not stop.is_set():
            name, path = requests_[i % len(requests_)]
            i += 1
            accept = "text/turtle" if path.endswith(".ttl") else (
                RESULTS if path.startswith("/sparql") and "CONSTRUCT" not in path else "*/*")
            started = time.perf_counter()
            try:
                r = http.get(url + path, headers={"Accept": accept}, timeout=60)
                error = None if r.status_code == 200 else f"{name}: {r.status_code} {r.text[:200]}"
            except requests.RequestException as exc:
                error = f"{name}: {type(exc).__name__} {exc}"
            stats.record(time.perf_counter() - started, error)
            if i % 4 == 0:
                try:
                    _check_type_read(http, url, namespace, stats, ref)
                except requests.RequestException as exc:
                    stats.record(0.0, f"type read: {type(exc).__name__} {exc}")


def _checker(url: str, namespace: str, stop: threading.Event, stats: Stats, ref: Reference) -> None:
    """Reads the churned type back to back, so every run samples it many times whatever the speed
    of the mix (over a remote store a reader's mix may reach the type only a few times a run)."""
    with requests.Session() as http:
        while not stop.is_set():
            if not ref.ready.wait(timeout=0.1):
                continue
            try:
                _check_type_read(http, url, namespace, stats, ref)
            except requests.RequestException as exc:
                stats.record(0.0, f"type read: {type(exc).__name__} {exc}")


@dataclass
class Result:
    requests: int
    errors: list[str]
    seconds: float
    p50: float
    p95: float
    p99: float
    writes: int
    type_reads: dict[str, int]
    partials: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.type_reads["partial"] == 0

    def report(self) -> str:
        lines = [
            f"soak: {self.requests} requests in {self.seconds:.1f} s "
            f"({self.requests / self.seconds:.0f} req/s), {len(self.errors)} errors",
            f"latency: p50 {self.p50 * 1000:.1f} ms, p95 {self.p95 * 1000:.1f} ms, "
            f"p99 {self.p99 * 1000:.1f} ms",
            f"writer: {self.writes} add+remove cycles; reads of the churned type: "
            f"{self.type_reads['complete']} complete, {self.type_reads['absent']} absent, "
            f"{self.type_reads['partial']} partial",
        ]
        lines += [f"  error: {e}" for e in self.errors[:10]]
        lines += [f"  partial: {p}" for p in self.partials[:10]]
        return "\n".join(lines)


def run(url: str, token: str, *, seconds: float, clients: int,
        namespace: str = "https://w3id.org/outsourcing-kg/", min_type_reads: int = 0,
        max_seconds: float = 120.0) -> Result:
    """Closed-loop load for ``seconds``: ``clients`` readers on the mix, one writer churning a type and
    one reader checking that type back to back; returns the figures. With ``min_type_reads`` it runs on
    past ``seconds`` (up to ``max_seconds``) until the churned type has been read that many times and
    the writer has finished a cycle, so a short run on a slow machine still samples what it is for."""
    stats, ref, stop = Stats(), Reference(), threading.Event()
    threads = [threading.Thread(target=_writer, args=(url, token, stop, stats, ref), daemon=True)]
    threads += [threading.Thread(target=_reader, args=(url, namespace, stop, stats, ref, k), daemon=True)
                for k in range(clients)]
    threads.append(threading.Thread(target=_checker, args=(url, namespace, stop, stats, ref), daemon=True))
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    while min_type_reads and time.perf_counter() - started < max_seconds and (
            stats.writes < 1 or sum(stats.type_reads.values()) < min_type_reads):
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.perf_counter() - started
    if not ref.ready.is_set():
        stats.errors.append("the writer never added the type")
    lat = stats.latencies
    return Result(len(lat), stats.errors, elapsed, percentile(lat, 50), percentile(lat, 95),
                  percentile(lat, 99), stats.writes, dict(stats.type_reads), list(stats.partials))


# -- a server of our own, when no URL is given --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnServer:
    """``kg serve`` on a free loopback port with a fresh data directory and a random admin token."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="kg-soak-")
        self.port = _free_port()
        self.token = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> OwnServer:
        env = {**os.environ, "KG_DATA_DIR": str(Path(self.dir.name) / "data"), "KG_ADMIN_TOKEN": self.token,
               "KG_HOST": "127.0.0.1", "KG_PORT": str(self.port)}
        self.log = open(Path(self.dir.name) / "server.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "serve"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the server did not answer within 90 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        self.dir.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--token", default=os.environ.get("KG_ADMIN_TOKEN"),
                        help="its admin token (default: $KG_ADMIN_TOKEN)")
    args = parser.parse_args(argv)
    if args.url:
        if not args.token:
            parser.error("--url needs --token (or KG_ADMIN_TOKEN) for the writer")
        result = run(args.url.rstrip("/"), args.token, seconds=args.seconds, clients=args.clients)
    else:
        with OwnServer() as server:
            result = run(server.url, server.token, seconds=args.seconds, clients=args.clients)
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
