"""Resource descriptions: what ``/doc/{slug}`` and ``kg describe`` answer about one IRI.

A bare Concise Bounded Description stops at IRI objects, so it would leave out the very things a reader
wants (BPO's earnings are a node of their own, the quote behind "KPO requires specialised knowledge" is
an evidence record pointing at KPO). A description here is therefore:

1. the resource's own triples (and the blank nodes below them, as in a CBD);
2. its fact nodes, in full: nodes it links to, or that link to it, that carry their own provenance
   (``out:evidenceText``) and are not concepts with a page of their own: earnings, comparisons,
   difference statements, evidence records, the period a trend started;
3. its other incoming links (which types require this skill), without following ``prov:wasDerivedFrom``
   into every fact of a source: **one page of them** (``KG_INCOMING_PAGE_SIZE``), with their total count;
4. the labels of everything mentioned (values, properties, classes), so a client can render it alone.

Parts 1, 2 and the links from blank nodes are the same on every page; part 3 is paged, because a resource
can be linked from any number of others (300,000 links to one resource made a description of 10,000
triples, cut without a word, and a page that took 50 to 120 s). The pages follow one fixed order, by property
IRI then by linking IRI, compared as strings, which does not depend on the evaluator (the in-memory copy,
the disk, a remote store): the engine's unsorted order differs between the copy and the disk, and letting
it sort is too slow at that size (measured at 300,000 links: ``ORDER BY`` 2.5 to 3.6 s in memory, 20 to
40 s on disk; a keyset ``FILTER(STR(?s) > …)`` still sorts what passes it, and scanning for the page's
range costs 0.3 s each time). So for a resource with more links than a page, its linking IRIs are fetched
once per graph version (a few ``GROUP_CONCAT`` strings, 0.5 s at 300,000), sorted here (0.2 s) and kept by
``KnowledgeGraph.per_version``, one zlib block per page (1 MB for 300,000 links); a page is then one block
and the parts every page holds. ``Incoming`` says where a page sits; ``paging_triples`` says it in RDF.

Every format (Turtle, JSON-LD, RDF/XML, N-Triples, HTML) is made from this one list of triples. Queries are
fixed text; the only IRIs placed in them are rendered by pyoxigraph from validated terms.

Why the pages live here rather than in a module of their own: which links are paged is decided by what
every page holds (a fact node's link is part of the fact node, never of a page), so the two halves share
their queries and their definition of a fact node.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import pyoxigraph as ox

from kg.graph import KnowledgeGraph
from kg.query.trusted import Query

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT_TITLE = "http://purl.org/dc/terms/title"
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"
HYDRA = "http://www.w3.org/ns/hydra/core#"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"

#: Properties that name a thing, copied for every IRI a description mentions.
LABEL_PROPERTIES = (RDFS_LABEL, SKOS + "prefLabel", SKOS + "altLabel", DCT_TITLE)

#: How deep blank nodes below the resource and its fact nodes are followed (submitted data may nest them).
BLANK_DEPTH = 3

#: Linking IRIs fetched per query when a resource's pages are made: one ``GROUP_CONCAT`` string, 8 MB at
#: 50 bytes an IRI, within the byte cap of one answer (``KG_MAX_RESULT_BYTES``, 16 MiB). Each slice past
#: the first is an OFFSET the engine walks to (0.7 µs a link), so slices are few and large; a slice cut
#: by the cap (IRIs above 100 bytes on average) is fetched again in ``SMALL_CHUNK`` slices.
CHUNK = 150_000
SMALL_CHUNK = 15_000

#: Resources whose pages are kept per graph version (about 3.5 bytes a link: 1 MB for 300,000).
KEPT_RESOURCES = 32


class PageOutOfRange(LookupError):
    """A page of incoming links past the last one."""

    def __init__(self, incoming: Incoming):
        self.incoming = incoming
        super().__init__(
            f"page {incoming.page} of the incoming links does not exist: there "
            f"{'is' if incoming.total == 1 else 'are'} {incoming.total} incoming "
            f"link{'' if incoming.total == 1 else 's'}, {incoming.pages} "
            f"page{'' if incoming.pages == 1 else 's'} of {incoming.size}"
        )


@dataclass(frozen=True)
class Incoming:
    """Where one page of a resource's incoming links sits among all of them (positions count from 1).

    ``total`` counts the links that are paged: every triple ``?s ?p <resource>`` whose subject is an IRI,
    except those that are part of every page (the resource's own, its fact nodes').
    """

    total: int
    page: int
    size: int  #: links on a page (``KG_INCOMING_PAGE_SIZE``)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def partial(self) -> bool:
        """Whether one page does not hold every incoming link."""
        return self.pages > 1

    @property
    def first(self) -> int:
        """Position of the first link on this page (0 on an empty one)."""
        return (self.page - 1) * self.size + 1 if self.last else 0

    @property
    def last(self) -> int:
        """Position of the last link on this page (0 on an empty one)."""
        return max(0, min(self.total, self.page * self.size))

    @property
    def shown(self) -> int:
        return self.last - self.first + 1 if self.last else 0

    @property
    def previous(self) -> int | None:
        return self.page - 1 if 1 < self.page <= self.pages else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


@dataclass(frozen=True)
class Description:
    """One page of the description of ``iri``: its triples (sorted) and where its incoming links sit."""

    iri: str
    triples: list[ox.Triple]
    incoming: Incoming


def exists(kg: KnowledgeGraph, iri: str) -> bool:
    """Whether the graph says anything about ``iri`` or links to it."""
    r = _node(iri)
    return bool(kg.store.query(f"ASK {{ {{ {r} ?p ?o }} UNION {{ ?s ?p {r} }} }}"))


def describe(kg: KnowledgeGraph, iri: str) -> list[ox.Triple]:
    """The description of ``iri`` (canonical) with the first page of its incoming links, sorted; empty when
    the graph knows nothing of it. ``describe_page`` also says whether that is all of them.

    Raises ``ValueError`` when ``iri`` is not a valid IRI.
    """
    return describe_page(kg, iri).triples


def describe_page(kg: KnowledgeGraph, iri: str, page: int = 1) -> Description:
    """Page ``page`` (from 1) of the description of ``iri``: empty triples when the graph knows nothing of it.

    Raises ``ValueError`` for an invalid IRI or a page below 1, ``PageOutOfRange`` past the last page.
    """
    r = _node(iri)
    if page < 1:
        raise ValueError(f"pages are numbered from 1, not {page}")
    size = kg.config.incoming_page_size
    kept = kg.per_version("incoming link pages", _Kept)
    pages = kept.get(r.value)
    if pages is None:
        # One round trip for a resource with few links, as a whole description took before paging: the
        # count, the parts every page holds (fact nodes looked for among the first links only) and the
        # first links. Both are complete when the count says the links fit on a page.
        count_rows, core_result, links_result = _run(kg, [
            f"SELECT ?p (COUNT(*) AS ?n) WHERE {{ ?s ?p {r} }} GROUP BY ?p",
            _core_query(kg, r, many_links=False),
            f"CONSTRUCT {{ ?s ?p {r} }} WHERE {{ {{ SELECT ?s ?p WHERE {{ ?s ?p {r} }} "
            f"LIMIT {size + 1} }} }}",
        ])
        counts = {row["p"].value: int(row["n"].value) for row in count_rows}
        if sum(counts.values()) <= size:
            return _whole(r, page, size, set(core_result), set(links_result), kg)
        with kept.building(r.value):  # requests for one resource after a write wait for the first
            pages = kept.get(r.value)
            if pages is None:
                pages = _make_pages(kg, r, counts)
                kept.put(r.value, pages)
    incoming = Incoming(pages.total, page, size)
    if page > incoming.pages:
        raise PageOutOfRange(incoming)  # known from the count alone
    core_result, *blank = _run(kg, [_core_query(kg, r, many_links=True), *_blank_queries(r, pages)])
    links = [ox.Triple(ox.NamedNode(s), ox.NamedNode(p), r) for p, s in pages.links(page)]
    return Description(r.value, _labelled(kg, r, set(core_result).union(links, *blank)), incoming)


def paging_triples(incoming: Incoming, collection: str, page_iri: Callable[[int], str]) -> list[ox.Triple]:
    """What a partial description says of its paging, in the Hydra vocabulary (W3C Hydra Community Group,
    the terms Triple Pattern Fragments page with): the collection of incoming links (``collection``, an
    IRI) with ``hydra:totalItems``, viewed through this page, a ``hydra:PartialCollectionView`` with its
    first, previous, next and last pages (``page_iri(n)`` names page n). Nothing when one page holds all.
    """
    if not incoming.partial:
        return []
    hydra = {name: ox.NamedNode(HYDRA + name) for name in
             ("Collection", "PartialCollectionView", "totalItems", "view", "first", "previous", "next", "last")}
    rdf_type = ox.NamedNode(RDF_TYPE)
    whole, view = ox.NamedNode(collection), ox.NamedNode(page_iri(incoming.page))
    out = [
        ox.Triple(whole, rdf_type, hydra["Collection"]),
        ox.Triple(whole, hydra["totalItems"], ox.Literal(str(incoming.total), datatype=ox.NamedNode(XSD_INTEGER))),
        ox.Triple(whole, hydra["view"], view),
        ox.Triple(view, rdf_type, hydra["PartialCollectionView"]),
        ox.Triple(view, hydra["first"], ox.NamedNode(page_iri(1))),
        ox.Triple(view, hydra["last"], ox.NamedNode(page_iri(incoming.pages))),
    ]
    for name, number in (("previous", incoming.previous), ("next", incoming.next)):
        if number is not None:
            out.append(ox.Triple(view, hydra[name], ox.NamedNode(page_iri(number))))
    return out


# -- a resource with few links: everything in one batch ------------------------------------------------
def _whole(r: ox.NamedNode, page: int, size: int, core: set[ox.Triple], links: set[ox.Triple],
           kg: KnowledgeGraph) -> Description:
    found = core | links
    if not found:
        return Description(r.value, [], Incoming(0, page, size))
    paged = [t for t in links if isinstance(t.subject, ox.NamedNode) and t not in core]
    incoming = Incoming(len(paged), page, size)
    if page > incoming.pages:
        raise PageOutOfRange(incoming)
    return Description(r.value, _labelled(kg, r, found), incoming)


# -- a resource with many links: its pages, made once per graph version -------------------------------
@dataclass(frozen=True)
class _Pages:
    """One resource's paged incoming links at one graph version, in order, one compressed block per page."""

    total: int  #: links paged
    blocks: tuple[bytes, ...]  #: zlib of ``property TAB linking IRI`` lines, a page each
    blank_predicates: tuple[str, ...]  #: properties by which blank nodes link in (shown on every page)

    def links(self, page: int) -> list[tuple[str, str]]:
        """(property, linking IRI) of the links on ``page``, in order."""
        if page > len(self.blocks):
            return []
        return [tuple(line.split("\t", 1)) for line in zlib.decompress(self.blocks[page - 1]).decode().split("\n")]


class _Kept:
    """The pages of the resources with many links, for one graph version (``KnowledgeGraph.per_version``);
    the most recently used ``KEPT_RESOURCES`` are kept."""

    def __init__(self) -> None:
        self._held: OrderedDict[str, _Pages] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def building(self, iri: str) -> threading.Lock:
        """The lock held while the pages of ``iri`` are made (one resource's do not wait for another's)."""
        with self._lock:
            return self._building.setdefault(iri, threading.Lock())

    def get(self, iri: str) -> _Pages | None:
        with self._lock:
            held = self._held.get(iri)
            if held is not None:
                self._held.move_to_end(iri)
            return held

    def put(self, iri: str, pages: _Pages) -> None:
        with self._lock:
            self._held[iri] = pages
            while len(self._held) > KEPT_RESOURCES:
                self._held.popitem(last=False)


def _make_pages(kg: KnowledgeGraph, r: ox.NamedNode, counts: dict[str, int]) -> _Pages:
    """Fetch, order and cut into pages the links to ``r`` that are not part of every page.

    The linking IRIs of each property come in slices of the engine's own order, all in one batch (one
    version of the graph, one evaluator, the same text but the offset), so the slices neither overlap
    nor miss a link; the batch also holds the parts every page holds, whose links are not paged.
    """
    core_result, *slices = _run(kg, [_core_query(kg, r, many_links=True), *_slice_queries(r, counts, CHUNK)])
    linking = _linking(counts, CHUNK, slices)
    cut = [p for p, iris in linking.items() if iris is None]
    if cut:  # a slice longer than an answer may be: those properties again, in smaller slices
        again = {p: counts[p] for p in cut}
        linking.update(_linking(again, SMALL_CHUNK, _run(kg, _slice_queries(r, again, SMALL_CHUNK))))
        if any(linking[p] is None for p in cut):
            raise RuntimeError(f"the IRIs linking to {r.value} are too long to be paged")
    in_core: dict[str, set[str]] = {}
    for t in core_result:
        if t.object == r:
            in_core.setdefault(t.predicate.value, set()).add(t.subject.value)
    ordered: list[str] = []  #: linking IRIs, by property then IRI
    runs: list[tuple[str, int]] = []  #: (property, where its IRIs start in ``ordered``)
    blank = []
    for p in sorted(counts):
        iris = linking[p] or []
        if counts[p] > len(iris):  # the rows the IRI-only slices left out link from blank nodes
            blank.append(p)
        kept = sorted(set(iris) - in_core.get(p, set()))
        if kept:
            runs.append((p, len(ordered)))
            ordered.extend(kept)
    return _Pages(total=len(ordered), blocks=_blocks(ordered, runs, kg.config.incoming_page_size),
                  blank_predicates=tuple(blank))


def _blocks(ordered: list[str], runs: list[tuple[str, int]], size: int) -> tuple[bytes, ...]:
    """``ordered`` cut into pages of ``property TAB IRI`` lines, each compressed (zlib level 1: the
    fastest; a page of IRIs that share most of their text still shrinks fifteenfold). Lines are joined
    per run of one property, not one by one: 300,000 links in 0.05 s."""
    blocks = []
    ends = [start for _, start in runs[1:]] + [len(ordered)]
    for low in range(0, len(ordered), size):
        high = min(low + size, len(ordered))
        parts = [f"{p}\t" + f"\n{p}\t".join(ordered[max(low, start) : min(high, end)])
                 for (p, start), end in zip(runs, ends, strict=True) if start < high and end > low]
        blocks.append(zlib.compress("\n".join(parts).encode(), 1))
    return tuple(blocks)


def _slice_queries(r: ox.NamedNode, counts: dict[str, int], chunk: int) -> list[str]:
    """Per property, its linking IRIs in ``chunk``-sized slices, one ``GROUP_CONCAT`` string each."""
    return [
        f'SELECT (GROUP_CONCAT(STR(?s); separator="\\n") AS ?all) WHERE {{ {{ SELECT ?s WHERE {{ '
        f"?s {ox.NamedNode(p)} {r} FILTER(isIRI(?s)) }} LIMIT {chunk} OFFSET {offset} }} }}"
        for p in sorted(counts)
        for offset in range(0, counts[p], chunk)
    ]


def _linking(counts: dict[str, int], chunk: int, slices: list[list]) -> dict[str, list[str] | None]:
    """The linking IRIs of each property from the answers to ``_slice_queries`` (with repeats: a link
    stated in two graphs comes twice); None for a property one of whose slices was cut. An aggregate
    always answers one row, so an answer without one was cut by the byte cap."""
    spans = [p for p in sorted(counts) for _ in range(0, counts[p], chunk)]
    linking: dict[str, list[str] | None] = {p: [] for p in counts}
    for p, rows in zip(spans, slices, strict=True):
        held = linking[p]
        if held is None:
            continue
        if not rows:
            linking[p] = None
            continue
        text = rows[0]["all"].value if rows[0]["all"] is not None else ""
        held.extend(text.split("\n") if text else [])
    return linking


def _blank_queries(r: ox.NamedNode, pages: _Pages) -> list[str]:
    """Links from blank nodes, on every page: they have no IRI to be ordered by."""
    return [f"CONSTRUCT {{ ?s {ox.NamedNode(p)} {r} }} WHERE {{ ?s {ox.NamedNode(p)} {r} FILTER(isBlank(?s)) }}"
            for p in pages.blank_predicates]


# -- the parts every page holds -------------------------------------------------------------------------
def _core_query(kg: KnowledgeGraph, r: ox.NamedNode, *, many_links: bool) -> str:
    """CONSTRUCT of the parts of the description of ``r`` that every page holds: its own triples, its fact
    nodes in full, the blank nodes below it or its fact nodes.

    A fact node carries its own quote and is not itself a concept (a type, skill or level that has a
    page of its own: its description is linked, not copied). Blank nodes are followed CBD-style, to
    BLANK_DEPTH. With ``many_links`` the fact nodes that link to ``r`` are found from the quoting
    nodes' side (the few nodes that carry a quote or are evidence records, each asked whether it links
    to ``r``) rather than by testing every link: measured at 300,000 links, 0.4 ms instead of 0.3 s in
    memory and 4 s on disk. Without it, from the link side, which is cheaper while the links are few
    (the quoting nodes grow with the graph), and only among the first ``KG_INCOMING_PAGE_SIZE`` + 1.
    """
    evidence = ox.NamedNode(kg.config.vocab_ns + "evidenceText")
    record = ox.NamedNode(kg.config.vocab_ns + "Evidence")
    derived = ox.NamedNode(PROV_DERIVED)
    # The concept classes are listed rather than reached by a property path from every candidate
    # node: the path is evaluated per candidate and was half the cost of a description.
    concepts = ", ".join(str(c) for c in _concept_classes(kg))
    not_concept = f"NOT EXISTS {{ ?n a ?class FILTER(?class IN ({concepts})) }}"
    is_fact = f"(EXISTS {{ ?n {evidence} ?t }} || EXISTS {{ ?n a {record} }}) && {not_concept}"
    if many_links:
        # ``FILTER(?o = r)`` rather than ``?n ?x r``: with the resource in the pattern the engine starts
        # from its links, all of them.
        linking = (f"{{ SELECT DISTINCT ?n ?x WHERE {{ {{ ?n a {record} }} UNION {{ ?n {evidence} ?t }} "
                   f"?n ?x ?o FILTER(?o = {r} && ?x != {derived} && {not_concept}) }} }}")
    else:
        # Only the first links are looked at, so a resource with many costs no more here than one with
        # few: the caller asks again with ``many_links`` when the count says there are more.
        linking = (f"{{ {{ SELECT ?n ?x WHERE {{ ?n ?x {r} }} LIMIT {kg.config.incoming_page_size + 1} }} "
                   f"FILTER(?x != {derived} && {is_fact}) }}")
    fact_nodes = f"{{ {r} ?x ?n FILTER(isBlank(?n) || ({is_fact})) }} UNION {linking}"
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
    parts = (
        f"{{ {r} ?p ?o BIND({r} AS ?s) }}",
        f"{{ {{ {fact_nodes} }} ?n ?p ?o BIND(?n AS ?s) }}",
        f"{{ {{ {roots} }} {{ {' UNION '.join(chains)} }} ?b ?p ?o BIND(?b AS ?s) }}",
    )
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {' UNION '.join(parts)} }}"


def _labelled(kg: KnowledgeGraph, r: ox.NamedNode, found: set[ox.Triple]) -> list[ox.Triple]:
    """``found`` with the labels of every IRI it mentions (values, linking subjects, properties, classes),
    sorted. On a paged description that is what the page mentions, not every link."""
    mentioned = {
        t
        for triple in found
        for t in (triple.subject, triple.predicate, triple.object)
        if isinstance(t, ox.NamedNode) and t != r
    }
    if mentioned:
        values = " ".join(str(t) for t in sorted(mentioned, key=lambda n: n.value))
        props = ", ".join(str(ox.NamedNode(p)) for p in LABEL_PROPERTIES)
        # A FILTER on the property rather than a second VALUES list: the engine then walks each
        # subject's triples instead of joining two lists (measured: a third of the time).
        found = found | set(_run(kg, [f"CONSTRUCT {{ ?x ?l ?v }} WHERE {{ VALUES ?x {{ {values} }} ?x ?l ?v "
                                      f"FILTER(?l IN ({props})) }}"])[0])
    return sorted(found, key=_sort_key)


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


def _run(kg: KnowledgeGraph, queries: list[str]) -> list[list]:
    """The answers of ``queries``, sent as one batch: one round trip, one version of the graph.

    Under the time limit, like user SPARQL: a graph can be as large as anyone loads. With the embedded
    store they are evaluated in the in-memory copy (or the disk while it loads).
    """
    return [list(result) for result in kg.query_all([Query(q) for q in queries], timeout=kg.config.query_timeout)]


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
