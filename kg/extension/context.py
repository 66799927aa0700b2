"""What one submission needs to know of the store, read with bounded queries sized by the submission.

The checks and the shapes judge a submission against what the store holds *outside* the type's own
graph (which a replacement overwrites): whether the things it names exist, whether the types it points
to are types, the descriptions of what it references, the lineage above it. Every read here names the
submission's own IRIs (or the few types and dimensions there are), so its cost follows the submission,
not the store: no query scans the store and none copies it. A dry run reads through
``KnowledgeGraph.query`` (a trusted query under the request's time limit, evaluated where a user's
query would be); a write reads the store directly (``select``). The shipped graphs are in memory
(``kg.ontology``) and are read from there.

Values enter the queries as substitutions (single terms) or, for a list of IRIs, as a ``VALUES`` block
of terms rendered by pyoxigraph (``values``), never as text from the submission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from kg.terms import from_ox

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: Most nodes followed up a lineage or hierarchy (far above any real one; a bound on a broken graph).
MAX_ANCESTORS = 10_000
#: Most triples read as the context of one submission (descriptions of the things it references).
MAX_CONTEXT_ROWS = 100_000


def select(kg: KnowledgeGraph, sparql: str, *, bounded: bool = True, max_rows: int | None = None,
           **terms: Any) -> Any:
    """A fixed SELECT; ``terms`` bound by substitution (Oxigraph binds only projected variables, so
    every query here projects its substituted ones).

    ``bounded``: under the request's time limit, through ``KnowledgeGraph.query`` (the dry run);
    otherwise by the store directly, as loading, validation and writes do (``KnowledgeGraph.query``'s
    rule): a write's checks run under the write lock, where a time limit would fail the writes queued
    behind a slow one, and the extensions directory is loaded before anything is served.
    """
    if not bounded:
        return kg.store.query(sparql, prefixes=kg.prefixes, substitutions=terms or None, max_rows=max_rows)
    return kg.query(sparql, prefixes=kg.prefixes, substitutions=terms or None,
                    timeout=kg.config.query_timeout, max_rows=max_rows)


def values(var: str, iris: Iterable[str]) -> str | None:
    """``VALUES ?var { <iri> ... }`` for a list of IRIs, each rendered by pyoxigraph; None when no IRI
    is valid (an IRI pyoxigraph refuses cannot be in the store either).

    >>> values("s", ["https://e.org/b", "https://e.org/a", "not an iri"])
    'VALUES ?s { <https://e.org/a> <https://e.org/b> }'
    """
    terms = []
    for iri in sorted(set(iris)):
        try:
            terms.append(str(ox.NamedNode(iri)))
        except ValueError:
            continue
    return f"VALUES ?{var} {{ {' '.join(terms)} }}" if terms else None


def submission_iris(g: Graph) -> set[str]:
    """Every IRI a submission names as a subject or an object."""
    return {str(t) for s, _, o in g for t in (s, o) if isinstance(t, URIRef)}


class StoreContext:
    """What the store holds, outside the graph ``own``, about the things a submission names.

    Whether each IRI of the submission is used elsewhere, and whether it is a type there, is read
    once, in one query; the rest is read when a check asks.
    """

    def __init__(self, kg: KnowledgeGraph, own: str, iris: Iterable[str], *, bounded: bool = True):
        self.kg, self.own, self.bounded = kg, own, bounded
        self._own, self._meta = ox.NamedNode(own), ox.NamedNode(kg.graph("meta"))
        self._existing: set[str] = set()
        self._types: set[str] = set()
        self._known: set[str] = set()
        self._learn(iris)

    def _select(self, sparql: str, **kwargs: Any) -> Any:
        return select(self.kg, sparql, bounded=self.bounded, **kwargs)

    def _learn(self, iris: Iterable[str]) -> None:
        wanted = set(iris) - self._known
        block = values("s", wanted)
        self._known |= wanted
        if block is None:
            return
        rows = self._select(f"""
            SELECT ?s ?own ?meta WHERE {{
              {block}
              FILTER EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != ?own && ?g != ?meta) }}
            }}""", max_rows=len(wanted) + 1, own=self._own, meta=self._meta)
        existing = {row["s"].value for row in rows}
        self._existing |= existing
        block = values("s", existing)
        if block is None:
            return
        # A query of its own rather than a BIND(EXISTS ...) above: engines disagree on how to write that boolean.
        rows = self._select(f"""
            SELECT ?s ?own WHERE {{
              {block}
              FILTER EXISTS {{ GRAPH ?g {{ ?s a out:OutsourcingType }} FILTER(?g != ?own) }}
            }}""", max_rows=len(existing) + 1, own=self._own)
        self._types |= {row["s"].value for row in rows}

    def exists(self, iri: str) -> bool:
        """Whether anything is said of ``iri`` in another graph than the type's own (or the meta graph)."""
        self._learn([iri])
        return iri in self._existing

    def is_type(self, iri: str) -> bool:
        """Whether another graph says ``iri`` is an outsourcing type."""
        self._learn([iri])
        return iri in self._types

    def instances(self, cls: str, limit: int = 10_000) -> list[str]:
        """Things of class ``cls`` (at most ``limit``), to suggest the one a misspelt reference meant."""
        rows = self._select("SELECT DISTINCT ?x ?c WHERE { ?x a ?c } LIMIT " + str(int(limit)),
                            max_rows=limit, c=ox.NamedNode(cls))
        return [r["x"].value for r in rows if isinstance(r["x"], ox.NamedNode)]

    def type_labels(self, type_iri: str) -> list[tuple[str, str, ox.Literal]]:
        """(type, property, label) of the acronyms and names of every other type."""
        # One branch per property: Oxigraph would otherwise join a VALUES of properties after scanning ?t ?p ?l.
        rows = self._select("""
            SELECT ?t ?p ?l ?own ?me WHERE {
              GRAPH ?g { ?t a out:OutsourcingType .
                         { ?t skos:altLabel ?l BIND(skos:altLabel AS ?p) }
                         UNION { ?t skos:prefLabel ?l BIND(skos:prefLabel AS ?p) } }
              FILTER(?g != ?own && ?t != ?me)
            }""", max_rows=MAX_CONTEXT_ROWS, own=self._own, me=ox.NamedNode(type_iri))
        return [(r["t"].value, r["p"].value, r["l"]) for r in rows if isinstance(r["l"], ox.Literal)]

    def statements(self, iris: Iterable[str]) -> set[ox.Triple]:
        """Every triple other graphs hold about ``iris`` (as subject)."""
        block = values("s", iris)
        if block is None:
            return set()
        rows = self._select(f"SELECT ?s ?p ?o ?own WHERE {{ {block} GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != ?own) }}",
                            max_rows=MAX_CONTEXT_ROWS, own=self._own)
        return triples(rows)

    def descriptions(self, iris: Iterable[str]) -> Graph:
        """``statements`` as an rdflib graph (what the shapes are run on)."""
        out = Graph()
        for t in self.statements(iris):
            out.add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))
        return out

    def parents(self, nodes: Iterable[str], up: str, down: str) -> list[tuple[str, str, bool]]:
        """The edges one step up from ``nodes`` in other graphs: ``(node, parent, True)`` for
        ``node up parent`` and ``(node, parent, False)`` for ``parent down node``."""
        block = values("n", nodes)
        if block is None:
            return []
        rows = self._select(f"""
            SELECT ?n ?parent ?up ?own ?upP ?downP WHERE {{
              {block}
              GRAPH ?g {{ {{ ?n ?upP ?parent BIND(true AS ?up) }} UNION {{ ?parent ?downP ?n BIND(false AS ?up) }} }}
              FILTER(?g != ?own && isIRI(?parent))
            }}""", max_rows=MAX_ANCESTORS, own=self._own, upP=ox.NamedNode(up), downP=ox.NamedNode(down))
        return [(r["n"].value, r["parent"].value, r["up"].value == "true") for r in rows]

    def same_scale(self, scales: Iterable[str]) -> Graph:
        """The members of the ordered scales ``scales`` with their ranks (rank clashes are judged on them)."""
        out = Graph()
        block = values("scale", scales)
        if block is None:
            return out
        rows = self._select(f"SELECT ?x ?scale ?rank WHERE {{ {block} ?x a ?scale ; out:rank ?rank }}",
                            max_rows=MAX_CONTEXT_ROWS)
        rank = URIRef(self.kg.config.vocab_ns + "rank")
        for r in rows:
            x = URIRef(r["x"].value)
            out.add((x, RDF.type, URIRef(r["scale"].value)))
            out.add((x, rank, from_ox(r["rank"])))
        return out

    def referrers(self, *, limit: int | None = None) -> list[tuple[str, str]]:
        """(referrer, node): things in other graphs (not the meta graph) that point at a thing the graph
        ``own`` describes."""
        rows = self._select("""
            SELECT DISTINCT ?x ?n ?own ?meta ?things WHERE {
              GRAPH ?own { ?n ?p0 ?o0 FILTER(STRSTARTS(STR(?n), ?things)) }
              GRAPH ?g { ?x ?p ?n } FILTER(?g != ?own && ?g != ?meta)
            }""" + (f" LIMIT {int(limit)}" if limit else ""),
            max_rows=limit, own=self._own, meta=self._meta, things=ox.Literal(self.kg.config.id_ns))
        return [(r["x"].value, r["n"].value) for r in rows]

    def referenced(self) -> set[str]:
        """The things the graph ``own`` describes that other graphs (not the meta graph) point at."""
        rows = self._select("""
            SELECT DISTINCT ?n ?own ?meta ?things WHERE {
              GRAPH ?own { ?n ?p0 ?o0 FILTER(STRSTARTS(STR(?n), ?things)) }
              FILTER EXISTS { GRAPH ?g { ?x ?p ?n } FILTER(?g != ?own && ?g != ?meta) }
            }""", max_rows=MAX_CONTEXT_ROWS, own=self._own, meta=self._meta,
            things=ox.Literal(self.kg.config.id_ns))
        return {r["n"].value for r in rows}


def graph_exists(kg: KnowledgeGraph, graph_iri: str, *, bounded: bool = True) -> bool:
    """Whether the store holds the named graph ``graph_iri`` (one index lookup, not a count of every graph)."""
    rows = select(kg, "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1", bounded=bounded, max_rows=1,
                  g=ox.NamedNode(graph_iri))
    return any(True for _ in rows)


def triples(rows: Iterable[Any]) -> set[ox.Triple]:
    """The triples of rows that bind ``?s ?p ?o``."""
    return {ox.Triple(r["s"], r["p"], r["o"]) for r in rows}


__all__ = ["MAX_ANCESTORS", "MAX_CONTEXT_ROWS", "StoreContext", "graph_exists", "select", "submission_iris", "triples",
           "values"]
