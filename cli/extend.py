"""``kg add-type`` and ``kg remove-type``: extend the ontology from a terminal, through ``kg.extension``.

The same checks as ``POST /api/types``; exit 0 when done, ``REFUSED`` (1) with a readable report when
the submission or the request is refused, whatever the reason (``REASONS`` names it), 2 for a usage
error (click's). They open the store read-write, so they refuse to run beside a server that holds it
(use the HTTP API then).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click

from cli.common import config_options, open_graph
from kg.extension import errors, preview, write
from kg.extension.submission import MAX_BYTES
from kg.formats import for_submission, submission_names

#: The exit code of every refusal: a script tells done (0) from refused (1) from misused (2).
REFUSED = 1
#: Each refusal of kg.extension in a word, for the first line of the report. The first class an error
#: is an instance of wins.
REASONS: dict[type[errors.ExtensionError], str] = {
    errors.TooLarge: "too large",
    errors.UnsupportedFormat: "unsupported format",
    errors.Malformed: "unreadable",
    errors.Invalid: "invalid type",
    errors.DuplicateType: "type exists",
    errors.TypeInUse: "type in use",
    errors.ProtectedType: "protected type",
    errors.UnknownType: "no such added type",
}


def _fail(exc: errors.ExtensionError, report_path: Path | None) -> None:
    reason = next(word for cls, word in REASONS.items() if isinstance(exc, cls))
    click.echo(f"rejected ({reason}): {exc.detail}", err=True)
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
    raise SystemExit(REFUSED)


@click.command("add-type")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and show what would be added; write nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(submission_names()),
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
    row = for_submission(fmt or file.suffix)
    if row is None:
        raise click.UsageError(f"cannot tell the format of {file.name}; pass --format")
    kg = open_graph(config)
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # one byte over the limit is enough to refuse it as too large
        run = preview.dry_run if dry_run else write.add
        outcome = run(kg, data, row.key, agent=f"cli-{getpass.getuser()}", channel=f"cli:{file.name}")
    except errors.ExtensionError as exc:
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


@click.command("remove-type")
@click.argument("slug")
@config_options
def remove_type(config, slug: str) -> None:
    """Remove the added outsourcing type SLUG (types from the source are protected)."""
    kg = open_graph(config)
    try:
        write.remove(kg, slug)
    except errors.ExtensionError as exc:
        _fail(exc, None)
    finally:
        kg.close()
    click.echo(f"removed {slug}")


commands = [add_type, remove_type]
