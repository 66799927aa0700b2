"""What every ``kg`` sub-command shares: configuration options and opening the graph."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kg.config import Config

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

_OPTIONS = [
    click.option("--data-dir", type=click.Path(path_type=Path), help="Store directory [KG_DATA_DIR]."),
    click.option("--ontology-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
                 help="Ontology directory [KG_ONTOLOGY_DIR]."),
    click.option("--store", "store", type=click.Choice(["embedded", "remote"]), help="Store kind [KG_STORE]."),
    click.option("--endpoint", "sparql_endpoint", help="Remote SPARQL query endpoint [KG_SPARQL_ENDPOINT]."),
    click.option("--update-endpoint", "sparql_update_endpoint",
                 help="Remote SPARQL update endpoint [KG_SPARQL_UPDATE_ENDPOINT]."),
    click.option("--namespace", help="Canonical namespace [KG_NAMESPACE]."),
]


def config_options(func):
    """Add the store options to a command and pass it a ``config`` built from them and KG_*."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        overrides = {name: kwargs.pop(name, None) for name in
                     ("data_dir", "ontology_dir", "store", "sparql_endpoint", "sparql_update_endpoint", "namespace")}
        extra = kwargs.pop("config_overrides", {}) if "config_overrides" in kwargs else {}
        try:
            config = Config.from_env({**overrides, **extra})
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        return func(*args, config=config, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def open_graph(config: Config, *, read_only: bool = False) -> KnowledgeGraph:
    """Open the knowledge graph, or exit with a readable message.

    ``read_only`` commands fall back to reading the store beside a running server when its
    directory is locked (they see the graph as the server last wrote it). A command runs a few
    queries and exits: loading an in-memory copy of the graph would cost more than it saves, so its
    queries go to the disk workers.
    """
    import dataclasses

    # Here, not at the top: ``kg serve`` shares this module and must not hold the graph's code.
    from kg.graph import KnowledgeGraph
    from kg.ontology.loader import LoadError
    from kg.store import StoreError

    config = dataclasses.replace(config, query_engine="disk")
    try:
        return KnowledgeGraph.open(config)
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc
    except StoreError as exc:
        from kg.store.embedded import StoreLocked

        if read_only and isinstance(exc, StoreLocked):
            from kg.ontology.loader import read_ontology
            from kg.store.embedded import EmbeddedStore

            store = EmbeddedStore(config, read_only=True)
            return KnowledgeGraph(config=config, store=store, ontology=read_ontology(config))
        raise click.ClickException(str(exc)) from exc
