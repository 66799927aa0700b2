"""``kg add-type`` and ``kg remove-type``: extend the ontology from a terminal, through ``kg.extension.extend``.

The same checks as ``POST /api/types``; exit 0 when done, 1 with a readable report when the
submission is rejected. They open the store read-write, so they refuse to run beside a server that
holds it (use the HTTP API then).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click

from cli.common import config_options, open_graph
from kg.extension import extend
from kg.extension.submission import FORMAT_NAMES, format_for


def _fail(exc: extend.ExtensionError, report_path: Path | None) -> None:
    click.echo(f"rejected ({exc.status} {exc.title}): {exc.detail}", err=True)
    if exc.line:
        click.echo(f"  at line {exc.line}", err=True)
    for v in exc.violations:
        where = " ".join(x for x in (v.get("focus_short"), v.get("path_short")) if x)
        click.echo(
            f"  {v.get('severity', 'Violation')}: {where + ': ' if where else ''}{v['message']}", err=True
        )
    if report_path and exc.report is not None:
        exc.report.serialize(destination=str(report_path), format="turtle")
        click.echo(f"SHACL report graph written to {report_path}", err=True)
    raise SystemExit(1)


@click.command("add-type")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and show what would be added; write nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted({k for k in FORMAT_NAMES if "/" not in k})),
    help="The file's format (default: from its extension).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the SHACL report graph (Turtle) here when the type is rejected.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@config_options
def add_type(
    config, file: Path, dry_run: bool, fmt: str | None, report_path: Path | None, as_json: bool
) -> None:
    """Add the outsourcing type described in FILE (Turtle, TriG, JSON-LD, or the JSON/YAML form)."""
    kind = fmt or format_for(file.suffix)
    if kind is None:
        raise click.UsageError(f"cannot tell the format of {file.name}; pass --format")
    kg = open_graph(config)
    try:
        with file.open("rb") as handle:
            data = handle.read(extend_limit() + 1)
        outcome = extend.add(
            kg, data, kind, agent=f"cli-{getpass.getuser()}", channel=f"cli:{file.name}", dry_run=dry_run
        )
    except extend.ExtensionError as exc:
        _fail(exc, report_path)
    finally:
        kg.close()
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=1, default=str))
        return
    verb = "would add" if dry_run else ("added" if outcome.created else "replaced")
    click.echo(f"{verb} {outcome.slug} ({outcome.iri}): {outcome.triples} triples in graph {outcome.graph}")
    for w in outcome.warnings:
        click.echo(f"  Warning: {w.get('focus_short', '')} {w.get('path_short', '')}: {w['message']}")
    if dry_run:
        click.echo("\n" + (outcome.turtle or ""))
        if outcome.nearest:
            click.echo(f"nearest existing type: {outcome.nearest}")


def extend_limit() -> int:
    from kg.extension.submission import MAX_BYTES

    return MAX_BYTES


@click.command("remove-type")
@click.argument("slug")
@config_options
def remove_type(config, slug: str) -> None:
    """Remove the added outsourcing type SLUG (types from the source are protected)."""
    kg = open_graph(config)
    try:
        extend.remove(kg, slug)
    except extend.ExtensionError as exc:
        _fail(exc, None)
    finally:
        kg.close()
    click.echo(f"removed {slug}")


commands = [add_type, remove_type]
