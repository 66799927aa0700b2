"""Add, replace and remove outsourcing types the source does not cover, each as its own named graph.

A type is written in one store transaction: ``Store.replace_graph(..., unless=...)`` makes the graph
``extension/{slug}`` hold exactly the checked triples (``kg.extension.intake``), with who added it and
when inside it, so removing the type removes its provenance too. The checks ran on what this process
saw; another replica over the same store may be writing the same type at that moment, so the store
decides, in the write's own transaction: ``unless`` is a pattern that matches when the type, its
acronym or its name is taken by then (``taken_pattern``), and then nothing is written.

Within one process, checking and writing happen under one lock per store, so two submissions here
cannot both pass a duplicate check; the dry run (``kg.extension.preview``) never takes it.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SKOS

from kg.extension.checks import is_source_type
from kg.extension.context import StoreContext, graph_exists
from kg.extension.errors import DuplicateType, ProtectedType, TypeInUse, UnknownType
from kg.extension.form import SLUG
from kg.extension.intake import Outcome, admit, listing
from kg.terms import graph_to_ox

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: Most referring things read to refuse a removal (enough to name a few and say there are more).
MAX_REFERRERS = 100

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def write_lock(kg: KnowledgeGraph) -> threading.Lock:
    """The lock that serialises checking and writing added types over one store, in this process."""
    with _locks_guard:
        lock = _locks.get(kg.store)
        if lock is None:
            lock = _locks[kg.store] = threading.Lock()
        return lock


def add(
    kg: KnowledgeGraph,
    data: bytes | str,
    fmt: str,
    *,
    agent: str,
    channel: str = "api",
    replace: str | None = None,
    allow_replace: bool = False,
    max_bytes: int | None = None,
) -> Outcome:
    """Check a submission and write it as the named graph of its type (see ``intake.admit`` for the
    arguments). Raises a ``kg.extension.errors.ExtensionError``; writes nothing unless every check passes.

    The checks read the store directly, not under a time limit: they run under the write lock, and
    are sized by the submission (``kg.extension.context``)."""
    with write_lock(kg):
        admitted = admit(kg, data, fmt, agent=agent, channel=channel, replace=replace,
                         allow_replace=allow_replace, max_bytes=max_bytes, bounded=False)
        unless = taken_pattern(kg, admitted.submitted, admitted.type_iri, admitted.graph_iri,
                               creating=not admitted.exists)
        if not kg.store.replace_graph(admitted.graph_iri, list(graph_to_ox(admitted.data)), unless=unless):
            raise DuplicateType(f"the type {admitted.slug}, or its acronym or name, was added by another submission "
                                "at the same moment; nothing of this one was written")
        return admitted.outcome()


def remove(kg: KnowledgeGraph, slug: str) -> None:
    """Drop an added type's graph; source types are protected and a type still referenced stays."""
    if not SLUG.fullmatch(slug):
        raise UnknownType(f"{slug!r} is not a slug")
    with write_lock(kg):
        graph_iri = kg.graph("extension/" + slug)
        if not graph_exists(kg, graph_iri, bounded=False):
            if is_source_type(kg, kg.iri(slug)):
                raise ProtectedType(f"{slug} comes from the source and cannot be removed")
            raise UnknownType(f"no added type {slug!r}")
        pairs = StoreContext(kg, graph_iri, (), bounded=False).referrers(limit=MAX_REFERRERS)
        users = sorted({who for who, _ in pairs})
        if users:
            raise TypeInUse(f"{slug} cannot be removed: {listing(users, more=len(pairs) >= MAX_REFERRERS)} "
                            "still refer to it", slug=slug)
        kg.store.drop_graph(graph_iri)


def taken_pattern(kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str, *, creating: bool) -> str:
    """A SPARQL group pattern that matches when the store already holds what this submission would
    take: its type IRI in another graph, its acronym or English name on another type, or (when it
    is new) its own graph. An update pattern has no substitutions: the terms are rendered by
    pyoxigraph, never pasted from the submission."""
    own, me = ox.NamedNode(graph_iri), ox.NamedNode(type_iri)
    kind = ox.NamedNode(str(RDF.type))
    cls = ox.NamedNode(kg.config.vocab_ns + "OutsourcingType")
    alternatives = [f"{{ GRAPH ?g {{ {me} ?p ?o }} FILTER(?g != {own}) }}"]
    if creating:
        alternatives.append(f"{{ GRAPH {own} {{ ?s ?p ?o }} }}")
    for prop, english_only in ((SKOS.altLabel, False), (SKOS.prefLabel, True)):
        labels = [str(label).strip().lower() for label in g.objects(URIRef(type_iri), prop)
                  if not english_only or (isinstance(label, Literal) and (label.language or "").lower() == "en")]
        if not labels:
            continue
        taken = " ".join(str(ox.Literal(label)) for label in sorted(set(labels)))
        lang = ' && LANGMATCHES(LANG(?l), "en")' if english_only else ""
        alternatives.append(
            f"{{ VALUES ?taken {{ {taken} }} GRAPH ?g {{ ?t {kind} {cls} ; {ox.NamedNode(str(prop))} ?l }} "
            f"FILTER(?g != {own} && ?t != {me} && LCASE(STR(?l)) = ?taken{lang}) }}"
        )
    return " UNION ".join(alternatives)


__all__ = ["add", "remove", "taken_pattern", "write_lock"]
