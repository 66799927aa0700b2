"""``kg load FILE...``: bulk-load RDF files into the store, with a progress bar.

Goes straight to the store's bulk loader (Oxigraph's, for the embedded store) without opening the
whole knowledge graph: no ontology parsing, no SHACL pass, so a million triples load at the speed
of ``oxigraph load``. Bulk-loaded data is trusted (it is the operator's own); submissions from users
go through ``kg add-type`` and its validation instead.

Graph files (N-Triples, Turtle) go into one named graph (``--graph``, default ``data``), so the
default graph (the union) sees them and they can be dropped whole; dataset files (N-Quads, TriG)
keep their own graphs. ``.gz`` files are read through gzip.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import click

from cli.common import config_options
from kg.config import Config
from kg.formats import by_name, rdf_format_for_path
from kg.namespaces import graph_iri
from kg.store import StoreError, open_store

LOADABLE = ("ntriples", "nquads", "turtle", "trig")
DEFAULT_GRAPH = "data"


def resolve_graph(config: Config, name: str) -> str:
    """A graph name (``data``, ``extension/x``) under the project's graph namespace, or a full IRI."""
    if "://" in name or name.startswith("urn:"):
        return name
    return graph_iri(config, name)


def _fd_position(path: Path) -> int | None:
    """How far this process has read ``path``, from /proc (Linux); None where that is not visible.

    Oxigraph's bulk loader reads the file in Rust and offers no callback, but the kernel knows the
    offset of the descriptor it opened.
    """
    target = str(path.resolve())
    try:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == target:
                    with open(f"/proc/self/fdinfo/{fd}") as info:
                        for line in info:
                            if line.startswith("pos:"):
                                return int(line.split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--graph",
    "graph_name",
    default=DEFAULT_GRAPH,
    show_default=True,
    help="Named graph for N-Triples/Turtle files: a name under the graph namespace, or an IRI.",
)
@click.option(
    "--format",
    "fmt_name",
    type=click.Choice(LOADABLE),
    help="Format of every FILE (default: from each file's extension, .gz looked through).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@config_options
def load(config: Config, files: tuple[Path, ...], graph_name: str, fmt_name: str | None, quiet: bool) -> None:
    """Bulk-load RDF FILES (N-Triples, N-Quads, Turtle, TriG; gzipped or not) into the store.

    Stop a running server first when it uses the same embedded data directory (one writer per
    directory); over a remote store the server may keep running.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    plan = []
    for path in files:
        fmt = by_name(fmt_name) if fmt_name else rdf_format_for_path(str(path))
        if fmt is None or fmt.key not in LOADABLE:
            raise click.BadParameter(
                f"{path}: unknown format; name the file .nt/.nq/.ttl/.trig[.gz] or pass --format",
                param_hint="FILES",
            )
        plan.append((path, fmt))
    graph = resolve_graph(config, graph_name)
    try:
        store = open_store(config)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console(stderr=True)
    total = sum(p.stat().st_size for p, _ in plan)
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=False,
        ) as progress:
            task = progress.add_task("loading", total=total)
            done = 0
            for path, fmt in plan:
                progress.update(task, description=path.name)
                _load_one(
                    store,
                    path,
                    fmt,
                    graph,
                    lambda pos, base=done: progress.update(task, completed=base + pos),
                )
                done += path.stat().st_size
                progress.update(task, completed=done)
    except (StoreError, SyntaxError, OSError) as exc:
        raise click.ClickException(f"load failed: {exc}") from exc
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    where = "their own graphs" if all(f.ox_rdf.supports_datasets for _, f in plan) else f"<{graph}>"
    if not quiet:
        console.print(f"loaded {len(plan)} file(s), {total / 1e6:.1f} MB, into {where} in {elapsed:.1f} s")


def _load_one(store, path: Path, fmt, graph: str, report) -> None:
    """One file through the store's bulk loader, reporting the bytes read as it goes."""
    if getattr(store, "path", None) is None:  # remote store: it reports progress itself
        store.bulk_load(str(path), fmt.ox_rdf, graph, progress=report)
        return
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(0.2):
            position = _fd_position(path)
            if position is not None:
                report(position)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        store.bulk_load(str(path), fmt.ox_rdf, graph)
    finally:
        finished.set()
        watcher.join()


command = load
