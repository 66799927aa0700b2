"""``kg export``: the whole graph, every named graph, in a dataset or graph format."""

from __future__ import annotations

import sys

import click

from cli.common import config_options, open_graph
from kg.formats import by_name


@click.command()
@click.option("--format", "output", type=click.Choice(["nq", "trig", "nt", "ttl", "jsonld"]), default="nq",
              show_default=True, help="nq/trig keep the named graphs; nt/ttl/jsonld merge them.")
@config_options
def export(config, output: str) -> None:
    """Write the whole graph to standard output."""
    kg = open_graph(config, read_only=True)
    fmt = by_name(output)
    if fmt.ox_rdf.supports_datasets:
        sys.stdout.buffer.write(kg.store.dump(fmt.ox_rdf))
        return
    from kg.formats import serialize_triples

    triples = kg.store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    sys.stdout.buffer.write(serialize_triples(list(triples), fmt, kg.prefixes))


command = export
