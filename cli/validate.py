"""``kg validate``: check the shipped graph (and optional extra files) against the shapes."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import config_options
from kg.namespaces import curie
from kg.ontology.loader import LoadError, check, parse_file, read_ontology


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_options
def validate(config, files: tuple[Path, ...]) -> None:
    """Validate the ontology's facts, plus FILES (Turtle/TriG), with SHACL.

    Exits 0 when everything conforms, 1 with a readable report when something does not.
    """
    try:
        ontology = read_ontology(config)
        extra = None
        for path in files:
            graph = parse_file(path, config)
            extra = graph if extra is None else extra + graph
    except LoadError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from exc
    report = check(ontology, extra)
    prefixes = {prefix: str(ns) for prefix, ns in ontology.vocabulary.namespaces()}

    def shorten(iri: str) -> str:
        return curie(iri, prefixes) or f"<{iri}>"

    click.echo(report.text(shorten))
    raise SystemExit(0 if report.conforms else 1)


command = validate
