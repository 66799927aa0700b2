"""``make bench-versus REV=…``: this tree and an earlier revision, side by side with Oxigraph server.

Why: on a shared machine Oxigraph server answers the same mix at rates that differ by a third from one
minute to the next, so two ``make bench`` pages, hours apart, cannot tell whether a change made the
service slower. Here both trees serve the same data at the same time, and the query mix (cache off,
``bench/mix.py``) runs on each tree and on Oxigraph server in turn, round after round, the order
reversed every round. Each tree's ratio to Oxigraph is the median of its rounds' ratios, each taken
against the Oxigraph round beside it, so a spell that slows the machine weighs on all three alike.
Then ``ASK {}`` (cache off), the cost every request pays, and the service's own routes (documents,
a type, a comparison: ``bench.mix.route_requests``, cache off), run on the two trees in turn the same way.

The earlier revision is taken from git (``git archive``) into a temporary folder and run with this
tree's virtual environment: its own ``kg load`` fills its own store, and its own ``kg serve`` answers.
A revision that needs other dependencies than this tree cannot be compared this way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import datagen, load, mix, procs
from kg.config import DEFAULT_NAMESPACE


def _tree(rev: str, into: Path) -> Path:
    """The files of ``rev`` in ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=procs.ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


#: The request that costs the service the least besides the cache: what every request pays.
ASK = mix.Request("ASK {}", "/sparql?query=ASK%20%7B%7D", mix.RESULTS)


def _cli(tree: Path) -> list[str]:
    """How ``tree`` runs its command line (it moved from ``kg.cli`` to ``cli`` on the way)."""
    module = "cli" if (tree / "cli" / "__main__.py").exists() else "kg.cli"
    return [sys.executable, "-m", module]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.versus", description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--size", type=int, default=100_000, help="triples of synthetic data (default 100k)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the mix on each server (default 6)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of each measurement (default 6)")
    args = parser.parse_args(argv)
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--short", f"{args.rev}^{{commit}}"],
                           cwd=procs.ROOT, capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"bench-versus: {args.rev!r} names no commit of this repository")
    rev = found.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="kg-versus-") as tmp:
        work = Path(tmp)
        data = work / "data.nt"
        triples = datagen.generate(args.size, data)
        trees = {"this tree": procs.ROOT, rev: _tree(args.rev, work / "tree")}
        servers: dict[str, procs.Proc] = {}
        try:
            for name, tree in trees.items():
                store = work / f"store-{len(servers)}"
                subprocess.run([*_cli(tree), "load", "--quiet", str(data)], cwd=tree, check=True,
                               env={**os.environ, "KG_DATA_DIR": str(store), "KG_STORE": "embedded",
                                    "PYTHONPATH": str(tree)})
                servers[name] = procs.service(store, cache=False, tree=tree, cli=_cli(tree)[-1]).start()
                procs.wait_for_query_engine(servers[name])
            servers["Oxigraph"] = procs.oxigraph_holding(data, DEFAULT_NAMESPACE + "graph/")
            mixes = {name: mix.sparql_requests(args.size, "/query" if name == "Oxigraph" else "/sparql")
                     for name in servers}
            for name, proc in servers.items():
                bad = load.check(proc.url, mixes[name])
                if bad:
                    raise SystemExit(f"{name} does not answer the mix: {bad}")
            rates, cpu = _rounds(servers, mixes, args)
            # Then the fixed cost of a request, alone: ``ASK {}`` (cache off) on the two trees in turn.
            trees_only = {name: servers[name] for name in trees}
            ask_rates, ask_cpu = _rounds(trees_only, {name: [ASK] for name in trees_only}, args)
            routes = mix.route_requests(args.size, None)
            route_rates, route_cpu = _rounds(trees_only, {name: routes for name in trees_only}, args)
        finally:
            for proc in servers.values():
                proc.stop()
    _report(rates, cpu, args, triples)
    print("\n`ASK {}`, cache off, the two trees in turn\n")
    _table(ask_rates, ask_cpu, rev)
    print("\nThe service's routes (/doc, /api/types, /api/compare), cache off, the two trees in turn\n")
    _table(route_rates, route_cpu, rev)
    return 0


def _rounds(servers: dict[str, procs.Proc], mixes: dict[str, list[mix.Request]],
            args) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    rates: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, list[float]] = {name: [] for name in servers}
    order = list(servers)
    for round_ in range(args.rounds):
        for name in order if round_ % 2 == 0 else order[::-1]:
            proc = servers[name]
            load.run(proc.url, mixes[name], seconds=1, warmup=0)  # warm, and not counted in the CPU
            before = proc.cpu_seconds()
            result = load.run(proc.url, mixes[name], seconds=args.duration, warmup=0)
            after = proc.cpu_seconds()
            rates[name].append(result.rps)
            cpu[name].append(sum(after[k] - before.get(k, 0.0) for k in after) / max(1, result.requests) * 1e6)
        print(f"  round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:,.0f}" for n, r in rates.items()) + " req/s",
              flush=True)
    return rates, cpu


def _report(rates: dict[str, list[float]], cpu: dict[str, list[float]], args, triples: int) -> None:
    print(f"\n{triples:,} triples, query mix cache off, {args.rounds} rounds of "
          f"{args.duration:g} s ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    _table(rates, cpu, "Oxigraph")


def _table(rates: dict[str, list[float]], cpu: dict[str, list[float]], reference: str) -> None:
    """One row a server: its median rate, the median of its rounds' ratios to ``reference``'s round
    beside them, and its median CPU a request."""
    print(f"| server | median req/s | ratio to {reference} (median of rounds) | CPU µs per request (median) |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        ratios = [mine / theirs for mine, theirs in zip(values, rates[reference], strict=True)]
        print(f"| {name} | {statistics.median(values):,.0f} | {statistics.median(ratios):.3f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}) | {statistics.median(cpu[name]):,.0f} |")


if __name__ == "__main__":
    raise SystemExit(main())
