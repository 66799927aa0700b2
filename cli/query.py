"""``kg query``: run SPARQL against the graph and print the answer."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pyoxigraph as ox

from cli.common import config_options, open_graph
from kg.domain.named_queries import run_file
from kg.formats import by_name, serialize_results, serialize_triples
from kg.namespaces import curie

OUTPUTS = ["table", "json", "xml", "csv", "tsv", "turtle", "ntriples", "jsonld", "rdfxml"]


@click.command()
@click.argument("query_text", metavar="QUERY", required=False)
@click.option("--file", "-f", "query_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the query from a file (a named query's parameters come from --param).")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Value of a named query's parameter (repeatable).")
@click.option("--format", "output", type=click.Choice(OUTPUTS), default="table", show_default=True)
@config_options
def query(config, query_text, query_file, params, output) -> None:
    """Run a SPARQL query (SELECT, ASK, CONSTRUCT, DESCRIBE) and print the results.

    The default graph is the union of all named graphs; the project's prefixes (out:, outd:,
    skos:, schema:, prov: ...) are predeclared.
    """
    if bool(query_text) == bool(query_file):
        raise click.UsageError("give a QUERY or --file, not both and not neither")
    if config.store == "embedded":
        _confine(config)
    kg = open_graph(config, read_only=True)
    try:
        result = _evaluate(kg, query_file.read_text(encoding="utf-8") if query_file else query_text,
                           query_file, params)
    except SyntaxError as exc:
        raise click.ClickException(f"malformed query: {exc}") from exc
    _print(result, output, kg.prefixes)


def _confine(config) -> None:
    """This process evaluates the query itself: off the network before it opens the store, as the
    server's evaluators are (``kg.safety.confine``)."""
    from kg.safety import confine

    result = confine.confine()
    if not result.confined:
        if config.require_confinement:
            raise click.ClickException(f"cannot confine this process: {result.reason}")
        click.echo(f"warning: cannot confine this process: {result.reason}", err=True)


def _evaluate(kg, text: str, path: Path | None, params: tuple[str, ...]):
    if path is not None:
        values = {}
        for item in params:
            name, sep, value = item.partition("=")
            if not sep:
                raise click.UsageError(f"--param takes NAME=VALUE, not {item!r}")
            values[name] = value
        try:
            return run_file(kg, path, values)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    if params:
        raise click.UsageError("--param applies to a named query given with --file")
    from kg.query.sparql import SparqlError, check

    try:  # the same refusals as the endpoint: SERVICE, LOAD, unknown graphs
        check(kg, text)
    except SparqlError as exc:
        raise click.ClickException(str(exc)) from exc
    return kg.store.query(text, prefixes=kg.prefixes)


def _print(result, output: str, prefixes: dict[str, str]) -> None:
    out = sys.stdout.buffer
    if isinstance(result, ox.QueryBoolean):
        if output == "table":
            click.echo("true" if bool(result) else "false")
        else:
            out.write(serialize_results(result, by_name(output, "results") or by_name("json")))
        return
    if isinstance(result, ox.QuerySolutions):
        if output == "table":
            _table(result, prefixes)
            return
        fmt = by_name(output, "results")
        if fmt is None:
            raise click.UsageError(f"--format {output} is for graphs; a SELECT prints as table/json/xml/csv/tsv")
        out.write(serialize_results(result, fmt))
        return
    fmt = by_name("turtle" if output == "table" else output, "graph")
    if fmt is None:
        raise click.UsageError(f"--format {output} is for SELECT/ASK; a graph prints as turtle/ntriples/jsonld/rdfxml")
    out.write(serialize_triples(list(result), fmt, prefixes))


def _table(solutions: ox.QuerySolutions, prefixes: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    variables = [v.value for v in solutions.variables]
    table = Table(*variables, show_lines=False)
    count = 0
    for row in solutions:
        table.add_row(*[_short(row[v], prefixes) for v in variables])
        count += 1
    console = Console(width=200 if not sys.stdout.isatty() else None)
    console.print(table)
    console.print(f"{count} row(s)")


def _short(term, prefixes: dict[str, str]) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return curie(term.value, prefixes) or f"<{term.value}>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"{term.value} @{term.language}"
        return term.value
    return str(term)


command = query
