"""The dry run: what a submission would add, and how it compares with the nearest existing type.

It costs what the submission costs, not what the store holds. The checks are those of a write
(``kg.extension.intake``), reading only what concerns the submission; the nearest type is chosen from
the types' own statements; and the comparison (``kg.domain.compare``) runs on a small store in memory
holding the shipped graphs (in memory already), the submission, and the neighbourhood of the two types
the table reads, each part read with a bounded query. Nothing here takes the write lock or copies the
store: a dry run never waits for a write, nor holds one up.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import Graph, URIRef

from kg.domain.compare import compare
from kg.extension.context import MAX_CONTEXT_ROWS, StoreContext, select, triples, values
from kg.extension.intake import Outcome, admit
from kg.extension.report import short
from kg.store.base import StoreError
from kg.store.embedded import EmbeddedStore
from kg.terms import graph_to_ox

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: The links by which the comparison reaches a type's statements from elsewhere: its evidence records
#: and the stored comparisons that name it.
_INCOMING = ("supportsSubject", "comparedType", "baselineType")


def dry_run(
    kg: KnowledgeGraph,
    data: bytes | str,
    fmt: str,
    *,
    agent: str,
    channel: str = "api",
    replace: str | None = None,
    max_bytes: int | None = None,
) -> Outcome:
    """Check a submission as ``kg.extension.write.add`` would, and show what it would write (Turtle),
    the nearest existing type and the comparison with it. Writes nothing; raises what ``add`` raises."""
    admitted = admit(kg, data, fmt, agent=agent, channel=channel, replace=replace, max_bytes=max_bytes)
    outcome = admitted.outcome(dry_run=True)
    outcome.turtle = _turtle(kg, admitted.data)
    outcome.nearest, outcome.comparison = _nearest(kg, admitted.submitted, admitted.type_iri, admitted.graph_iri)
    return outcome


def _turtle(kg: KnowledgeGraph, g: Graph) -> str:
    for prefix, ns in kg.prefixes.items():
        g.bind(prefix, ns, override=True)
    return g.serialize(format="turtle")


def _nearest(kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str) -> tuple[str | None, Any]:
    """The existing type sharing the largest part of the new type's vocabulary statements with IRI values
    (Jaccard), and the comparison of the two; (None, None) when there is no other type."""
    vocab = kg.config.vocab_ns
    mine = {(str(p), str(o)) for p, o in g.predicate_objects(URIRef(type_iri))
            if str(p).startswith(vocab) and isinstance(o, URIRef)}
    rows = select(kg, """
        SELECT ?t ?p ?o ?own ?vocab WHERE {
          GRAPH ?g { ?t a out:OutsourcingType ; ?p ?o }
          FILTER(isIRI(?o) && ?g != ?own && STRSTARTS(STR(?p), ?vocab))
        }""", max_rows=MAX_CONTEXT_ROWS, own=ox.NamedNode(graph_iri), vocab=ox.Literal(vocab))
    theirs: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        theirs.setdefault(r["t"].value, set()).add((r["p"].value, r["o"].value))
    if not theirs:
        return None, None

    def score(t: str) -> tuple[float, str]:
        union = mine | theirs[t]
        return (len(mine & theirs[t]) / len(union) if union else 0.0, t)

    best = max(theirs, key=score)
    return kg.slug(best), _comparison(kg, g, type_iri, graph_iri, best, theirs[best], mine)


def _comparison(kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str, other: str,
                theirs: set[tuple[str, str]], mine: set[tuple[str, str]]) -> Any:
    """``kg.domain.compare``'s table of the two types; when it cannot be made (a nearest type named
    outside the things' namespace has no slug to compare by; a read ran out of time), the plain
    difference of their statements: the dry run answers all the same."""
    slugs = [kg.slug(type_iri) or type_iri, kg.slug(other) or other]
    try:
        return _compare_in_memory(kg, g, graph_iri, other, slugs)
    except (LookupError, ValueError, StoreError):
        return _difference(kg, slugs, mine, theirs)


def _difference(kg: KnowledgeGraph, slugs: list[str], mine: set[tuple[str, str]],
                theirs: set[tuple[str, str]]) -> dict:
    props = sorted({p for p, _ in mine | theirs})
    shown = kg.prefixes
    return {
        "types": slugs,
        "rows": [
            {
                "property": short(shown, p),
                slugs[0]: sorted(short(shown, o) for q, o in mine if q == p),
                slugs[1]: sorted(short(shown, o) for q, o in theirs if q == p),
                "same": {o for q, o in mine if q == p} == {o for q, o in theirs if q == p},
            }
            for p in props
        ],
    }


def _compare_in_memory(kg: KnowledgeGraph, g: Graph, graph_iri: str, other: str, slugs: list[str]) -> Any:
    """The comparison table, made on a store in memory that holds only what it reads."""
    vocabulary = set(graph_to_ox(kg.ontology.vocabulary))
    facts = set(graph_to_ox(kg.ontology.facts)) - vocabulary
    submitted = set(graph_to_ox(g)) - vocabulary - facts
    # Each triple once: the default graph is the union of the named graphs, and a triple held by two of
    # them would match twice, multiplying the rows of every OPTIONAL that meets it.
    context = _neighbourhood(kg, g, graph_iri, other) - vocabulary - facts - submitted
    small = EmbeddedStore(kg.config, in_memory=True)
    for name, part in (("vocabulary", vocabulary), ("facts", facts), ("extension/dry-run", submitted),
                       ("dry-run/context", context)):
        small.replace_graph(kg.graph(name), part)
    view = dataclasses.replace(kg, store=small)
    try:
        return dataclasses.asdict(compare(view, slugs))
    finally:
        view.close()


def _neighbourhood(kg: KnowledgeGraph, g: Graph, graph_iri: str, other: str) -> set[ox.Triple]:
    """What the comparison reads about the two types besides the shipped graphs: the existing type's
    statements, its values (labels, ranks, quotes, earnings figures), its evidence records and the
    stored comparisons naming it; the things the submission references; the labels one step further
    (who earns a figure, what a comparison measures); and the dimensions compared on."""
    context = StoreContext(kg, graph_iri, ())
    own = ox.NamedNode(graph_iri)
    vocab = kg.config.vocab_ns

    def things(terms: Any) -> set[str]:
        return {t.value for t in terms if isinstance(t, ox.NamedNode) and not t.value.startswith(vocab)}

    referenced = {str(o) for o in g.objects() if isinstance(o, URIRef) and not str(o).startswith(vocab)}
    out = context.statements({other} | referenced)
    out |= context.statements(things(t.object for t in out if t.subject.value == other) - referenced - {other})
    links = " ".join(str(ox.NamedNode(vocab + name)) for name in _INCOMING)
    out |= triples(select(kg, f"""
        SELECT ?s ?p ?o ?own ?type WHERE {{
          VALUES ?link {{ {links} }}
          GRAPH ?h {{ ?s ?link ?type }} GRAPH ?g {{ ?s ?p ?o }}
          FILTER(?g != ?own && ?h != ?own)
        }}""", max_rows=MAX_CONTEXT_ROWS, own=own, type=ox.NamedNode(other)))
    block = values("s", things(t.object for t in out) - things(t.subject for t in out))
    if block is not None:
        out |= triples(select(kg, f"""
            SELECT ?s ?p ?o ?own WHERE {{
              {block}
              GRAPH ?g {{ {{ ?s skos:prefLabel ?o BIND(skos:prefLabel AS ?p) }}
                         UNION {{ ?s rdfs:label ?o BIND(rdfs:label AS ?p) }} }}
              FILTER(?g != ?own)
            }}""", max_rows=MAX_CONTEXT_ROWS, own=own))
    out |= triples(select(kg, """
        SELECT ?s ?p ?o ?own WHERE { GRAPH ?h { ?s a out:Dimension } GRAPH ?g { ?s ?p ?o } FILTER(?g != ?own) }""",
        max_rows=MAX_CONTEXT_ROWS, own=own))
    return out


__all__ = ["dry_run"]
