"""The benchmark's table: figures, ratios to the reference measured in the same run, targets met."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import Result
from bench.procs import engine_threads, service_serving


@dataclass
class Row:
    size: str
    kind: str
    what: str
    mine: Result | float
    other: Result | float | None
    lower_is_better: bool = False
    target: float | None = None
    note: str = ""
    bad: dict = field(default_factory=dict)  #: request names that did not answer 2xx, with the status
    bad_other: dict = field(default_factory=dict)
    #: An absolute ceiling on ``mine`` (seconds), for measurements that have no reference to compare with.
    limit: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.other is None:
            return None
        a = self.mine.rps if isinstance(self.mine, Result) else self.mine
        b = self.other.rps if isinstance(self.other, Result) else self.other
        return a / b if b else None

    @property
    def errors(self) -> int:
        return self.mine.errors if isinstance(self.mine, Result) else 0

    @property
    def met(self) -> bool | None:
        if self.limit is not None:
            return not self.bad and float(self.mine) < self.limit
        if self.target is None or self.ratio is None:
            return None
        ok = self.ratio <= self.target if self.lower_is_better else self.ratio >= self.target
        return ok and self.errors == 0 and not self.bad


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def _fig(value: Result | float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, Result):
        return f"{value.rps:,.0f} req/s (p50 {value.p50_ms:.1f} ms, p95 {value.p95_ms:.1f} ms)"
    return f"{value:,.3f}" if 0 < value < 1 else f"{value:,.1f}"


def _cells(row: Row) -> list[str]:
    ratio = "–" if row.ratio is None else f"{row.ratio:.2f}x"
    target = "–" if row.target is None else ("≤ " if row.lower_is_better else "≥ ") + f"{row.target:g}x"
    if row.limit is not None:
        target = f"< {row.limit:g} s"
    met = {None: "", True: "yes", False: "**no**"}[row.met]
    errors = str(row.errors) if isinstance(row.mine, Result) else ""
    if row.bad:
        errors += " (" + _failing(row.bad) + ")"
    return [row.size, row.what, _fig(row.mine), _fig(row.other), ratio, target, met, errors, row.note]


def _failing(bad: dict) -> str:
    statuses = set(bad.values())
    if len(bad) > 2 and len(statuses) == 1:
        return f"{len(bad)} kinds of request answer {statuses.pop()}"
    return ", ".join(f"{k}: {v}" for k, v in bad.items())


HEADER = ["size", "measurement", "service / kg", "reference", "ratio", "target", "met", "errors", "note"]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), cpu)
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as info:
            kb = int(next(ln for ln in info if ln.startswith("MemTotal")).split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    versions = []
    for args in (["wrk", "-v"], [os.path.join(os.path.dirname(os.sys.executable), "oxigraph"), "--version"]):
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=10)
            versions.append((out.stdout or out.stderr).strip().splitlines()[0])
        except (OSError, IndexError, subprocess.TimeoutExpired):
            pass
    import pyoxigraph

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, pyoxigraph {pyoxigraph.__version__}; " + "; ".join(versions)
    )


def markdown(rows: list[Row], *, command: str, seconds: float, duration: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/`); every ratio compares figures measured in the same run.",
        "",
        f"- Command: `{command}`",
        f"- Date: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"whole run {seconds / 60:.1f} min",
        f"- Machine: {machine()}",
        f"- Load: wrk, closed loop, 8 connections, 2 threads, {duration:g} s per measurement after 1 s of "
        "warm-up, over loopback. The client shares the 2 cores with the servers it measures.",
        f"- Service: `kg serve` (gunicorn, 1 worker, {service_serving()}, over the embedded store, "
        f"whose reads are evaluated by the in-memory engine, {engine_threads()} threads, measured once it "
        "holds the graph; 2 stateless workers over the remote store). Peak RSS: the sum of each live process's peak "
        "(VmHWM) at the end of the run. "
        "Reference: `oxigraph serve --union-default-graph`, in memory. The cache-off query mix is measured "
        "on the service and on its reference in turn, a few rounds each, and each side's median round is "
        "compared (the round figures are in the row's note), over the embedded store and over each remote "
        "one; the other rows that compare with Oxigraph use its median. At 10k and 100k the mix also runs on "
        "both at the same time, so that both meet the same spell of the machine, and each one's CPU per "
        "request is compared (\"both under load at once\"). `make bench-versus REV=…` serves this tree and "
        "an earlier revision beside Oxigraph, in turns, to tell whether a change made the service slower.",
        "- Query mix: lookup by IRI, list with labels, range filter with ORDER BY/LIMIT, GROUP BY aggregate, "
        "3-way join, OPTIONAL + language filter, text filter, COUNT, ASK, DESCRIBE; 5 variants each, "
        "cycled (`bench/mix.py`). Data: `bench/datagen.py` (deterministic).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    missed = [r for r in rows if r.met is False]
    lines += ["", "## Targets missed", ""]
    if not missed:
        lines.append("None in this run.")
    for r in missed:
        if r.limit is not None:
            lines.append(f"- {r.size} {r.what}: {float(r.mine):.2f} s (target < {r.limit:g} s)"
                         + (f" ({_failing(r.bad)})" if r.bad else ""))
            continue
        lines.append(
            f"- {r.size} {r.what}: {r.ratio:.2f}x (target "
            f"{'≤' if r.lower_is_better else '≥'} {r.target:g}x)"
            + (f", errors {r.errors}" if r.errors else "")
            + (f" ({_failing(r.bad)})" if r.bad else "")
        )
    if missed:
        lines += ["", "What limits each (profiled with py-spy under gunicorn and timed in-process; see the notes "
                  "below). At 1M a 6 s window holds only a few hundred requests of up to seconds each, so "
                  "those ratios vary by up to ±2x between runs:", ""]
        kinds = dict.fromkeys(_limit_kind(r.kind) for r in missed)
        lines += [f"- {kind}: {LIMITS[kind]}" for kind in kinds if kind in LIMITS]
    if NOTES.exists():
        lines += ["", NOTES.read_text(encoding="utf-8").rstrip()]
    lines.append("")
    return "\n".join(lines)


#: Hand-written findings appended to the generated page (profiles, the 1M analysis, design notes).
NOTES = Path(__file__).with_name("notes.md")


def _limit_kind(kind: str) -> str:
    return kind.replace(" cache off", "").replace(" cache on", "") if kind.startswith(("ASK", "/doc")) \
        else kind


LIMITS = {
    "cache off": "at 10k, the fixed cost per request in the one HTTP process (gunicorn, Flask, the protocol, "
    "the hop to the in-memory engine process that makes queries killable): ~0.8 ms of its CPU per request, "
    "where Oxigraph answers a whole request in ~0.3 ms. At 100k, both servers use the two cores to the full, "
    "so the CPU each spends per request (in the row's note) sets the ratio. Measured with both under load at "
    "once, so that both meet the same spell, the engine with the service's caps costs what Oxigraph costs, the "
    "hop to its process ~5% more, and the HTTP worker ~0.45 ms on top, besides making the evaluator 10-20% "
    "dearer (they share the cores and caches): 26-43% more CPU a request; taking turns, a run reads "
    "0.67-0.95x by the spell it meets (notes: where the HTTP worker's time goes, and what was tried). "
    "Reads are evaluated by Oxigraph's in-memory engine, as in "
    "the reference (before it: the on-disk engine, 0.26x at 100k and 0.23x at 1M).",
    "remote": "over Oxigraph an uncached query is one round trip to the endpoint; over Virtuoso three (the "
    "graph's version before and after the query, since one query there can see part of a committing write), "
    "and each query lists the visible graphs as its dataset, which Virtuoso plans worse (the mix's 3-way "
    "join: 11.0 ms against 4.2 ms; its exclusion pragmas, planned better, gave wrong answers: "
    "docs/remote-stores.md). The rest is the service's "
    "own request handling in one Python process, on the same two cores as the endpoint and the load "
    "generator; at 10k the endpoint answers faster than a bare Flask app does (notes).",
    "ASK {}": "cache on, a hit is replayed before Flask and costs about what a bare Flask app costs; "
    "cache off, every request is routed, negotiated and sent to the in-memory engine and back on the gevent "
    "worker's one thread: ~0.35 ms of the HTTP process's CPU, against ~0.7 ms with request threads, which "
    "hand the GIL to each other (notes). Granian, which does the HTTP in Rust, cannot run the confined "
    "worker (notes).",
    "/doc/kpo.ttl": "cache off, the description is rebuilt per request: two queries in the in-memory engine "
    "(~1.5 ms, off the server's core), then ~360 triples handled in Python (public IRIs, sorting, labels) "
    "and serialised, 5-7 ms of the server's CPU; cache on, it is replayed from memory.",
    "cache on": "with one HTTP process (the default), cache hits still pay gunicorn per request (0.2-0.45 ms "
    "of CPU), which caps it near what a bare Flask app serves (2,400-4,300 req/s here), while the reference "
    "varies between runs (Oxigraph at 100k: 158 to 862 req/s in three runs on this shared machine). With "
    "KG_WORKERS=2 (rows 'HTTP processes') the fronts answer hits without Flask on both cores: about 3x, "
    "at the price of uncached requests crossing a second process (docs/deployment.md).",
    "links": "the first request after a write makes the resource's pages of incoming links (all of its "
    "linking IRIs fetched and sorted once per graph version, docs/linked-data.md); every later page "
    "is one page of them and the parts every page holds.",
    "dry run": "a dry run reads what the submission names with bounded queries and validates the "
    "submission alone (docs/extending.md); its cost is the SHACL pass over the submission.",
    "load": "Python start-up and opening the store before Oxigraph's bulk loader runs.",
    "memory": "the in-memory copy (as in the reference) plus the gunicorn master and worker, each a Python "
    "interpreter (~45 and ~80 MB).",
}


def print_table(rows: list[Row]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*HEADER, title="outsourcing-kg benchmark", show_lines=False)
    for r in rows:
        table.add_row(*[c.replace("**", "") for c in _cells(r)])
    Console(width=220).print(table)
