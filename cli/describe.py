"""``kg describe``: the linked-data description of one resource, as ``/doc/{slug}`` serves it.

Prints canonical IRIs (no deployment address is involved), so the output is the same on every machine.
"""

from __future__ import annotations

import sys

import click

from cli.common import config_options, open_graph
from kg.formats import BY_KEY

FORMATS = ("turtle", "jsonld", "ntriples", "rdfxml")


@click.command()
@click.argument("resource")
@click.option(
    "--format",
    "output",
    type=click.Choice(FORMATS),
    default="turtle",
    show_default=True,
    help="RDF format of the description.",
)
@config_options
def describe(config, resource: str, output: str) -> None:
    """Describe RESOURCE (a slug such as kpo, or a full IRI): its facts, labels, links and sources."""
    from kg.formats import serialize_triples
    from kg.linked_data.description import describe as describe_resource
    from kg.linked_data.jsonld_context import build_context, to_jsonld

    kg = open_graph(config, read_only=True)
    try:
        iri = resource if ":" in resource else kg.iri(resource)
        try:
            triples = describe_resource(kg, iri)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="RESOURCE") from exc
        if not triples:
            raise click.ClickException(f"the graph knows nothing about {iri}")
        fmt = BY_KEY[output]
        if fmt.key == "jsonld":
            body = to_jsonld(triples, build_context(kg))
        else:
            body = serialize_triples(triples, fmt, kg.prefixes)
        sys.stdout.buffer.write(body)
    finally:
        # A store opened read-only beside a running server has nothing to flush (and refuses to).
        if not getattr(kg.store, "read_only", False):
            kg.close()


command = describe
