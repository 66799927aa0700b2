"""Where the graph lives: one ``Store`` protocol, an embedded and a remote implementation.

Everything above this package (loader, SPARQL runner, describe, compare, extend) talks to a
``Store``; only ``open_store`` knows which one a deployment runs.
"""

from __future__ import annotations

from kg.config import Config
from kg.store.base import GraphMoved, QueryResult, Store, StoreError, StoreTimeout, StoreUnavailable, UpdateStopped

__all__ = ["Store", "StoreError", "GraphMoved", "StoreUnavailable", "StoreTimeout", "UpdateStopped", "QueryResult",
           "open_store"]


def open_store(config: Config) -> Store:
    """The store this configuration asks for, opened and ready."""
    if config.store == "remote":
        from kg.store.remote import RemoteStore

        return RemoteStore(config)
    from kg.store.embedded import EmbeddedStore

    return EmbeddedStore(config)
