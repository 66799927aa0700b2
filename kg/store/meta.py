"""The graph's version and modification time, kept in the store itself.

Every write replaces two triples in the meta graph in the same transaction as the write, so the
version is shared by every process and replica that reads the store (stateless replicas over a
remote store agree on ETags), and survives restarts.
"""

from __future__ import annotations

import datetime as _dt
import time
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


#: What starts the version of a write in progress (``in_flight_version``); a finished write's version
#: is a bare hex uuid.
IN_FLIGHT = "~"


def in_flight_version(lease: float) -> str:
    """The version a write announces before it starts, on an engine whose reads may see part of a
    write (read committed): it says that what a reader sees may be half written, until the write's
    own version replaces it or, should the writer die, until ``lease`` seconds have passed."""
    return _in_flight_until(uuid.uuid4().hex, time.time() + lease)


def replacing(until: float) -> str:
    """The version of a store caught replacing its version triple, on an engine whose readers see a
    write's deletions before its insertions (Virtuoso): neither the old triple nor the new one is
    there, which is a write in flight (``in_flight``) until ``until`` (``time.time``)."""
    return _in_flight_until("replacing", until)


def _in_flight_until(label: str, until: float) -> str:
    # The form ``in_flight`` reads: the marker, a label, the marker, the second it expires.
    return f"{IN_FLIGHT}{label}{IN_FLIGHT}{int(until) + 1}"


def in_flight(version: str | None, now: float | None = None) -> bool:
    """Whether ``version`` announces a write still in progress (its lease not yet over).

    >>> in_flight(in_flight_version(60)), in_flight(new_version()[0]), in_flight(None)
    (True, False, False)
    >>> in_flight(in_flight_version(60), now=time.time() + 120)
    False
    """
    if not version or not version.startswith(IN_FLIGHT):
        return False
    try:
        until = int(version.rsplit(IN_FLIGHT, 1)[1])
    except ValueError:
        return False
    return (time.time() if now is None else now) < until


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


#: Predicate of the claim a guarded write leaves on its graph (in the meta graph).
CLAIMED_BY = "https://w3id.org/outsourcing-kg/ontology#claimedBy"


def guarded_replace(graph_ns: str, graph: str, triples, unless: str, token: str) -> str:
    """Update operations that make ``graph`` hold exactly ``triples`` unless the group pattern
    ``unless`` has a match, all in one request (so one transaction on a store that applies a request
    atomically): the check and the write cannot be separated by another writer, on any replica.

    The first operation claims the graph with ``token`` only when nothing matches ``unless``; the
    others act only where the claim holds. ``claimed(...)`` then tells whether the write happened.
    ``unless`` is trusted text whose terms were rendered by pyoxigraph (never raw user strings).
    """
    g, c, p, t = (ox.NamedNode(graph), ox.NamedNode(meta_graph(graph_ns)), ox.NamedNode(CLAIMED_BY),
                  ox.Literal(token))
    body = " .\n".join(f"{x.subject} {x.predicate} {x.object}" for x in triples)
    return (
        f"DELETE {{ GRAPH {c} {{ {g} {p} ?old }} }} INSERT {{ GRAPH {c} {{ {g} {p} {t} }} }}\n"
        f"WHERE {{ OPTIONAL {{ GRAPH {c} {{ {g} {p} ?old }} }} FILTER NOT EXISTS {{ {unless} }} }} ;\n"
        f"DELETE {{ GRAPH {g} {{ ?s ?p ?o }} }} WHERE {{ GRAPH {c} {{ {g} {p} {t} }} GRAPH {g} {{ ?s ?p ?o }} }} ;\n"
        f"INSERT {{ GRAPH {g} {{\n{body}\n}} }} WHERE {{ GRAPH {c} {{ {g} {p} {t} }} }}"
    )


def replace_update(graph_ns: str, graph: str, triples, unless: str | None) -> tuple[str, str | None]:
    """The update that makes ``graph`` hold exactly ``triples`` (guarded by ``unless`` when given),
    and the claim token to look for afterwards (None: unguarded, it always writes)."""
    if unless is None:
        operations = [f"DROP SILENT GRAPH {ox.NamedNode(graph)}", insert_data(graph, triples)]
        return " ;\n".join(op for op in operations if op), None
    token = uuid.uuid4().hex
    return guarded_replace(graph_ns, graph, list(triples), unless, token), token


def claimed(graph_ns: str, graph: str, token: str) -> str:
    """An ASK that is true when the guarded write with ``token`` took place."""
    return (f"ASK {{ GRAPH {ox.NamedNode(meta_graph(graph_ns))} {{ {ox.NamedNode(graph)} "
            f"{ox.NamedNode(CLAIMED_BY)} {ox.Literal(token)} }} }}")
