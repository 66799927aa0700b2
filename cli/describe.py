"""``kg describe``: the linked-data description of one resource, as ``/doc/{slug}`` serves it.

Prints canonical IRIs (no deployment address is involved), so the output is the same on every machine.
Like the document, it holds one page of the resource's incoming links (``--incoming N``); when they take
more than one page, the output says so in RDF (Hydra, naming the pages by their canonical document
address, ``{namespace}doc/{slug}?incoming=N``) and on standard error.
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
@click.option(
    "--incoming",
    "page",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Page of the resource's incoming links to include.",
)
@config_options
def describe(config, resource: str, output: str, page: int) -> None:
    """Describe RESOURCE (a slug such as kpo, or a full IRI): its facts, labels, links and sources."""
    from kg.formats import serialize_triples
    from kg.linked_data.description import PageOutOfRange, describe_page, paging_triples
    from kg.linked_data.jsonld_context import build_context, to_jsonld

    kg = open_graph(config, read_only=True)
    try:
        iri = resource if ":" in resource else kg.iri(resource)
        try:
            description = kg.consistent(lambda: describe_page(kg, iri, page))
        except PageOutOfRange as exc:
            raise click.BadParameter(str(exc), param_hint="--incoming") from exc
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="RESOURCE") from exc
        if not description.triples:
            raise click.ClickException(f"the graph knows nothing about {iri}")
        triples = description.triples
        incoming = description.incoming
        if incoming.partial:
            slug = kg.slug(iri)
            if slug is not None:
                doc = f"{kg.config.namespace}doc/{slug}"
                triples = triples + paging_triples(
                    incoming, f"{doc}#incoming", lambda n: doc if n == 1 else f"{doc}?incoming={n}")
            following = f"; the next: --incoming {incoming.next}" if incoming.next else ""
            click.echo(f"{incoming.total} incoming links, showing {incoming.first}-{incoming.last} "
                       f"(page {incoming.page} of {incoming.pages}){following}", err=True)
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
