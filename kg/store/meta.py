"""The graph's version and modification time, kept in the store itself.

Every write replaces two triples in the meta graph in the same transaction as the write, so the
version is shared by every process and replica that reads the store (stateless replicas over a
remote store agree on ETags), and survives restarts.
"""

from __future__ import annotations

import datetime as _dt
import uuid

import pyoxigraph as ox

OWL_VERSION_INFO = "http://www.w3.org/2002/07/owl#versionInfo"
DCT_MODIFIED = "http://purl.org/dc/terms/modified"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"


def meta_graph(graph_ns: str) -> str:
    return graph_ns + "meta"


def new_version() -> tuple[str, str]:
    """A fresh (version, modified) pair."""
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return uuid.uuid4().hex, now


def bump_operations(graph_ns: str, version: str, modified: str) -> str:
    """SPARQL Update operations that replace the version triples (appended to a write)."""
    g = ox.NamedNode(meta_graph(graph_ns))
    v = ox.NamedNode(OWL_VERSION_INFO)
    m = ox.NamedNode(DCT_MODIFIED)
    return (
        f"DELETE WHERE {{ GRAPH {g} {{ {g} {v} ?v }} }} ;\n"
        f"DELETE WHERE {{ GRAPH {g} {{ {g} {m} ?m }} }} ;\n"
        f"INSERT DATA {{ GRAPH {g} {{ {g} {v} {ox.Literal(version)} . "
        f"{g} {m} {ox.Literal(modified, datatype=ox.NamedNode(XSD_DATETIME))} }} }}"
    )


def read_query(graph_ns: str) -> str:
    g = ox.NamedNode(meta_graph(graph_ns))
    return (
        f"SELECT ?v ?m WHERE {{ GRAPH {g} {{ OPTIONAL {{ {g} <{OWL_VERSION_INFO}> ?v }} "
        f"OPTIONAL {{ {g} <{DCT_MODIFIED}> ?m }} }} }}"
    )


def read(store: ox.Store, graph_ns: str) -> tuple[str | None, str | None]:
    """(version, modified) as ``store`` (a pyoxigraph store) holds them."""
    for row in store.query(read_query(graph_ns)):
        v, m = row["v"], row["m"]
        return (v.value if v else None, m.value if m else None)
    return None, None


def insert_data(graph: str, triples) -> str:
    """An ``INSERT DATA`` operation for already-parsed terms.

    The text is produced by pyoxigraph's own N-Triples rendering of each term, never from raw user
    strings, so a literal cannot break out of its quotes.
    """
    body = " .\n".join(f"{t.subject} {t.predicate} {t.object}" for t in triples)
    return f"INSERT DATA {{ GRAPH {ox.NamedNode(graph)} {{\n{body}\n}} }}" if body else ""
