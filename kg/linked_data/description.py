"""Resource descriptions: what ``/doc/{slug}`` and ``kg describe`` answer about one IRI.

A bare Concise Bounded Description stops at IRI objects, so it would leave out the very things a reader
wants (BPO's earnings are a node of their own, the quote behind "KPO requires specialised knowledge" is
an evidence record pointing at KPO). A description here is therefore:

1. the resource's own triples (and the blank nodes below them, as in a CBD);
2. its fact nodes, in full: nodes it links to, or that link to it, that carry their own provenance
   (``out:evidenceText``) and are not concepts with a page of their own: earnings, comparisons,
   difference statements, evidence records, the period a trend started;
3. incoming links (which types require this skill), without following ``prov:wasDerivedFrom`` into every
   fact of a source;
4. the labels of everything mentioned (values, properties, classes), so a client can render it alone.

Every format (Turtle, JSON-LD, RDF/XML, N-Triples, HTML) is made from this one list of triples. Queries are
fixed text; the only IRI placed in them is rendered by pyoxigraph from a validated ``NamedNode``.
"""

from __future__ import annotations

import pyoxigraph as ox

from kg.graph import KnowledgeGraph

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT_TITLE = "http://purl.org/dc/terms/title"
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"

#: Properties that name a thing, copied for every IRI a description mentions.
LABEL_PROPERTIES = (RDFS_LABEL, SKOS + "prefLabel", SKOS + "altLabel", DCT_TITLE)

#: How deep blank nodes below the resource and its fact nodes are followed (submitted data may nest them).
BLANK_DEPTH = 3


def exists(kg: KnowledgeGraph, iri: str) -> bool:
    """Whether the graph says anything about ``iri`` or links to it."""
    r = _node(iri)
    return bool(kg.store.query(f"ASK {{ {{ {r} ?p ?o }} UNION {{ ?s ?p {r} }} }}"))


def describe(kg: KnowledgeGraph, iri: str) -> list[ox.Triple]:
    """The description of ``iri`` (canonical), sorted; empty when the graph knows nothing of it.

    Raises ``ValueError`` when ``iri`` is not a valid IRI.
    """
    r = _node(iri)
    # Parts 1-3 in one query, then the labels of what they mention in a second: a query costs a parse,
    # a plan and (over a remote store) a round trip, more than these small lookups themselves.
    found: set[ox.Triple] = set(
        _construct(kg, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {' UNION '.join(_parts(kg, r))} }}")
    )

    # Labels of every IRI mentioned: values, subjects of incoming links, properties and classes.
    mentioned = {
        t
        for triple in found
        for t in (triple.subject, triple.predicate, triple.object)
        if isinstance(t, ox.NamedNode) and t != r
    }
    if mentioned:
        values = " ".join(str(t) for t in sorted(mentioned, key=lambda n: n.value))
        props = ", ".join(str(ox.NamedNode(p)) for p in LABEL_PROPERTIES)
        found.update(
            _construct(
                kg,
                # A FILTER on the property rather than a second VALUES list: the engine then walks each
                # subject's triples instead of joining two lists (measured: a third of the time).
                f"CONSTRUCT {{ ?x ?l ?v }} WHERE {{ VALUES ?x {{ {values} }} ?x ?l ?v "
                f"FILTER(?l IN ({props})) }}",
            )
        )
    return sorted(found, key=_sort_key)


def _parts(kg: KnowledgeGraph, r: ox.NamedNode) -> tuple[str, ...]:
    """Graph patterns binding ?s ?p ?o to the triples of each part of the description of ``r``:
    its own triples; incoming links; its fact nodes in full; blank nodes below it or its fact nodes.

    A fact node carries its own quote and is not itself a concept (a type, skill or level that has a
    page of its own: its description is linked, not copied). Blank nodes are followed CBD-style, to
    BLANK_DEPTH.
    """
    evidence = ox.NamedNode(kg.config.vocab_ns + "evidenceText")
    derived = ox.NamedNode(PROV_DERIVED)
    # The concept classes are listed rather than reached by a property path from every candidate
    # node: the path is evaluated per candidate and was half the cost of a description.
    concepts = ", ".join(str(c) for c in _concept_classes(kg))
    is_fact = (
        f"(EXISTS {{ ?n {evidence} ?t }} || EXISTS {{ ?n a <{kg.config.vocab_ns}Evidence> }}) && "
        f"NOT EXISTS {{ ?n a ?class FILTER(?class IN ({concepts})) }}"
    )
    fact_nodes = (
        f"{{ {r} ?x ?n FILTER(isBlank(?n) || ({is_fact})) }} UNION "
        f"{{ ?n ?x {r} FILTER(?x != {derived} && {is_fact}) }}"
    )
    chains = []
    for depth in range(1, BLANK_DEPTH + 1):
        # The last step binds ?b itself: the same pattern as a BIND at the end, but a BIND of a variable
        # under a FILTER trips Virtuoso's compiler ("equiv replaces filter"; docs/remote-stores.md).
        names = [f"?b{i}" for i in range(depth)] + ["?b"]
        steps = " ".join(f"{names[i - 1]} ?y{i} {names[i]} FILTER(isBlank({names[i]}))" for i in range(1, depth + 1))
        chains.append(f"{{ {steps} }}")
    roots = f"{{ {fact_nodes} BIND(?n AS ?b0) }} UNION {{ BIND({r} AS ?b0) }}"
    # Each part stands alone: the engine evaluates a UNION branch bottom-up, so a part that took its
    # roots from another would scan every triple (measured: ten times slower).
    return (
        f"{{ {r} ?p ?o BIND({r} AS ?s) }}",
        f"{{ ?s ?p {r} BIND({r} AS ?o) }}",
        f"{{ {{ {fact_nodes} }} ?n ?p ?o BIND(?n AS ?s) }}",
        f"{{ {{ {roots} }} {{ {' UNION '.join(chains)} }} ?b ?p ?o BIND(?b AS ?s) }}",
    )


def _concept_classes(kg: KnowledgeGraph) -> tuple[ox.NamedNode, ...]:
    """skos:Concept and its subclasses, computed once per graph version (extensions may add some)."""
    def build() -> tuple[ox.NamedNode, ...]:
        concept = ox.NamedNode(SKOS + "Concept")
        rows = kg.store.query(f"SELECT DISTINCT ?c WHERE {{ ?c {ox.NamedNode(RDFS_SUBCLASS)}* {concept} }}")
        found = {row["c"] for row in rows if isinstance(row["c"], ox.NamedNode)}
        return tuple(sorted(found | {concept}, key=lambda n: n.value))

    return kg.per_version("concept classes", build)


def _node(iri: str) -> ox.NamedNode:
    try:
        return ox.NamedNode(iri)
    except ValueError as exc:
        raise ValueError(f"not a valid IRI: {iri!r}") from exc


def _construct(kg: KnowledgeGraph, sparql: str) -> list[ox.Triple]:
    # Under the time limit, like user SPARQL: a description of a hub node can be as large as the
    # graph. With the embedded store this also evaluates it in the in-memory copy.
    return list(kg.query(sparql, timeout=kg.config.query_timeout))


def _sort_key(t: ox.Triple) -> tuple[str, str, str]:
    return (str(t.subject), str(t.predicate), str(t.object))


OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"


def about_query(iri: str, label: str) -> str:
    """A SPARQL query that lists what the graph says about ``iri`` (pages link to the editor with it).

    The IRI is rendered by pyoxigraph from a validated ``NamedNode``; the label only enters a comment,
    with its line breaks folded so it cannot end the comment.
    """
    comment = " ".join(label.split())
    return (f"# What the graph says about {comment}\n"
            f"SELECT ?property ?value WHERE {{\n  {_node(iri)} ?property ?value\n}}")


def published(triples: list[ox.Triple], iri: str, public_iri: str) -> list[ox.Triple]:
    """A description as a deployment serves it: its triples with the things' IRIs moved to the deployment
    (``kg.linked_data.rewrite``; vocabulary terms keep their canonical IRIs), plus ``owl:sameAs`` the canonical IRI of
    the described thing, so a client reading a mirror knows its stable name."""
    if public_iri == iri:
        return triples
    return [*triples, ox.Triple(_node(public_iri), ox.NamedNode(OWL_SAME_AS), _node(iri))]
