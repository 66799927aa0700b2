"""``kg compare A B``: the difference table of two or more outsourcing types in the terminal.

Every value says what kind of statement it is (quoted, read or editorial), in every format."""

from __future__ import annotations

import json
import sys

import click

from cli.common import config_options, open_graph
from kg.domain import compare as comparing
from kg.domain import compare_formats


@click.command()
@click.argument("types", nargs=-1, required=True)
@click.option("--format", "output", type=click.Choice(["table", "json", "markdown", "csv"]), default="table",
              show_default=True)
@click.option("--lang", default="en", show_default=True, help="Language of labels.")
@config_options
def compare(config, types: tuple[str, ...], output: str, lang: str) -> None:
    """Compare outsourcing types (slugs such as bpo kpo) dimension by dimension."""

    kg = open_graph(config, read_only=True)
    try:
        result = kg.consistent(lambda: comparing.compare(kg, list(types), lang))
    except (comparing.UnknownType, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if output == "json":
        click.echo(json.dumps(compare_formats.to_dict(result), ensure_ascii=False, indent=2))
    elif output == "markdown":
        click.echo(compare_formats.to_markdown(result), nl=False)
    elif output == "csv":
        sys.stdout.write(compare_formats.to_csv(result))
    else:
        _table(result)


def _table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    header, body = compare_formats.table(result)
    table = Table(*header, title=" vs ".join(t.name for t in result.types), show_lines=True)
    for row in body:
        table.add_row(*row)
    console = Console(width=160 if not sys.stdout.isatty() else None)
    console.print(table)
    console.print("Each value is followed by its kind of statement: "
                  + "; ".join(f"{kind}: {text}" for kind, text in comparing.KIND_LEGEND.items()) + ".",
                  markup=False)
    for r in result.earnings_ratios:
        console.print(f"earnings ratio {r.type}/{r.baseline}: {r.ratio:.2f} ({r.currency} per {r.per}; "
                      "computed from the figures, not stated by the source)", markup=False)


command = compare
