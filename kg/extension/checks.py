"""The checks a submission passes before anything is written, all reported together.

- the type: a submission describes exactly one ``out:OutsourcingType``, named ``outd:{slug}``; TriG
  or JSON-LD may only name the type's own graph (``the_type``);
- scope: besides its type, only new nodes of its own under the ``outd:`` namespace; it never states
  triples about existing things (``outd:bpo``, a shared skill) or defines vocabulary terms;
- vocabulary: every property and class exists (a misspelt one is named with the closest term,
  ``kg.extension.vocabulary``);
- references: every ``outd:`` thing it points to exists, or is described in the submission;
- duplicates: no existing IRI, no acronym or English name another type already uses;
- relations: ``out:isExtensionOf`` / ``out:isSimplerFormOf`` / ``skos:broader`` / ``skos:narrower``
  point to existing types and close no cycle (followed up from the type only, so the cost is the
  lineage above it, not every edge of the store);
- sources: a source of the shipped graph (the article) already has everything it says recorded there
  and speaks only of the shipped types, so no statement of a submission may cite it directly; a
  statement about the new type that follows from it is an inference (``out:inferredFrom``);
- the shapes (``kg.extension.shacl``) over the submission and what it refers to, including the kinds
  of statement: whatever is not quoted or read from a cited source must be marked editorial, and the
  messages say how to mark it.

What the store holds is read through ``kg.extension.context`` (queries about the submission's own
IRIs, never a scan of the store); the shipped graphs are read in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS

from kg.domain.suggest import closest
from kg.extension.context import MAX_ANCESTORS, StoreContext, submission_iris
from kg.extension.errors import DuplicateType, Invalid
from kg.extension.form import SLUG
from kg.extension.report import CHECK, Finding, finding, merged, short
from kg.extension.shacl import validate_submission
from kg.extension.submission import Submission
from kg.extension.vocabulary import known_terms
from kg.ontology.validate import Report

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: Relations between types: each family must stay acyclic. (the property pointing up, the one pointing down)
LINEAGE = {
    "lineage": ("isExtensionOf", "isSimplerFormOf"),
    "hierarchy": (str(SKOS.broader), str(SKOS.narrower)),
}


def the_type(kg: KnowledgeGraph, submission: Submission, replace: str | None) -> tuple[str, str]:
    """The slug and IRI of the one type a submission describes; ``Invalid`` when it describes none,
    several, one outside ``outd:``, not the one ``replace`` names, or writes another graph."""
    out_type = URIRef(kg.config.vocab_ns + "OutsourcingType")
    types = sorted(set(submission.graph.subjects(RDF.type, out_type)), key=str)
    if len(types) != 1:
        found = ", ".join(str(t) for t in types) or "none"
        raise Invalid(f"a submission describes exactly one out:OutsourcingType (found {len(types)}: {found}); "
                      "add the line 'outd:<slug> a out:OutsourcingType' or 'id:' in the simple form")
    type_iri = str(types[0])
    slug = kg.slug(type_iri)
    if not isinstance(types[0], URIRef) or slug is None or not SLUG.fullmatch(slug):
        message = (f"the type's IRI must be {kg.config.id_ns}<slug> with a slug of lower-case letters, digits "
                   f"and hyphens (found {types[0].n3()})")
        raise Invalid(message, violations=[{"focus": type_iri, "message": message}])
    if replace is not None and slug != replace:
        message = f"the submission describes {slug}, but the request replaces {replace}"
        raise Invalid(message, violations=[{"focus": type_iri, "message": message}])
    own = kg.graph("extension/" + slug)
    for name in submission.named_graphs:
        if name != own:
            raise Invalid(f"a submission may only write its own graph <{own}>, not <{name}>")
    return slug, type_iri


def is_source_type(kg: KnowledgeGraph, iri: str) -> bool:
    """Whether ``iri`` is a type of the shipped graph (which is in memory as ``kg.ontology.facts``)."""
    return (URIRef(iri), RDF.type, URIRef(kg.config.vocab_ns + "OutsourcingType")) in kg.ontology.facts


def check(kg: KnowledgeGraph, submission: Submission, type_iri: str, graph_iri: str, *,
          bounded: bool = True) -> Report:
    """Every check of the module docstring; a ``Report`` whose graph holds SHACL's results and ours.

    Raises ``DuplicateType`` when the type itself exists in another graph. ``bounded``: how the store
    is read (``kg.extension.context.select``).
    """
    g = submission.graph
    context = StoreContext(kg, graph_iri, submission_iris(g), bounded=bounded)
    problems: list[Finding] = []
    if context.exists(type_iri):
        if context.is_type(type_iri):
            slug = kg.slug(type_iri)
            if is_source_type(kg, type_iri):
                raise DuplicateType(f"{slug} already exists and comes from the source")
            raise DuplicateType(f"{slug} already exists", slug=slug)
        problems.append(finding(type_iri, None, f"the IRI {short(kg.prefixes, type_iri)} is already used by another "
                                "thing", CHECK.duplicateIri))
    problems += _check_scope(kg, g, type_iri, context)
    problems += _check_terms(kg, g)
    problems += _check_references(kg, g, context)
    problems += _check_duplicates(kg, g, type_iri, context)
    lineage, found = _check_relations(kg, g, type_iri, context)
    problems += found
    problems += _check_shipped_sources(kg, g, type_iri)
    own = {str(s) for s in g.subjects() if isinstance(s, BNode) or not context.exists(str(s))}
    shacl = validate_submission(kg.ontology, g, _shacl_context(kg, g, context, own) + lineage, own)
    return merged(shacl, problems)


def _shacl_context(kg: KnowledgeGraph, g: Graph, context: StoreContext, own: set[str]) -> Graph:
    """What the shapes need besides the submission: the descriptions of what it references (its
    skills, levels, premises, sources...) and the ranks on the scales of any level it defines. The
    vocabulary's own terms come with the vocabulary, in memory."""
    vocab = kg.config.vocab_ns
    referenced = {str(o) for o in g.objects() if isinstance(o, URIRef) and not str(o).startswith(vocab)}
    data = context.descriptions(referenced - own)
    ordered = URIRef(vocab + "OrderedLevel")
    scales = {str(c) for s, c in g.subject_objects(RDF.type)
              if str(s) in own and (URIRef(c), RDFS.subClassOf, ordered) in kg.ontology.vocabulary}
    if scales:
        data += context.same_scale(scales)
    return data


def _check_scope(kg: KnowledgeGraph, g: Graph, type_iri: str, context: StoreContext) -> list[Finding]:
    problems = []
    for s in sorted(set(g.subjects()), key=str):
        if isinstance(s, BNode) or str(s) == type_iri:
            continue
        iri = str(s)
        slug = kg.slug(iri)
        name = short(kg.prefixes, iri)
        if iri.startswith(kg.config.vocab_ns) or iri == kg.config.ontology_iri:
            problems.append(finding(iri, None, f"a submission cannot define or change vocabulary terms ({name}); "
                                    "it describes one outsourcing type", CHECK.scope))
        elif slug is None or not SLUG.fullmatch(slug):
            problems.append(finding(iri, None, f"{name} is outside this graph's namespace ({kg.config.id_ns}<slug>); "
                                    "a submission describes only its type and new things of its own", CHECK.scope))
        elif context.exists(iri):
            problems.append(finding(iri, None, f"{name} already exists; a submission may refer to it "
                                    "but not state anything about it", CHECK.scope))
    return problems


def _check_terms(kg: KnowledgeGraph, g: Graph) -> list[Finding]:
    props, classes = known_terms(kg.ontology, kg.config.vocab_ns)
    problems = []
    seen: set = set()
    for s, p, o in g:
        if str(p) not in props and (s, p) not in seen:
            seen.add((s, p))
            hint = closest(str(p), props)
            problems.append(finding(str(s), str(p), f"unknown property {short(kg.prefixes, str(p))}"
                                    + (f"; did you mean {short(kg.prefixes, hint)}?" if hint else ""), CHECK.knownTerm))
        if p == RDF.type and str(o) not in classes and (s, o) not in seen:
            seen.add((s, o))
            hint = closest(str(o), classes)
            problems.append(finding(str(s), str(RDF.type), f"unknown class {short(kg.prefixes, str(o))}"
                                    + (f"; did you mean {short(kg.prefixes, hint)}?" if hint else ""),
                                    CHECK.knownTerm, value=str(o)))
    return problems


def _things(kg: KnowledgeGraph, context: StoreContext) -> list[str]:
    """Candidates for a reference whose property has no range: the shipped graph's things and the types."""
    shipped = {str(s) for s in kg.ontology.facts.subjects() if isinstance(s, URIRef)}
    return sorted(shipped | set(context.instances(kg.config.vocab_ns + "OutsourcingType")))


def _check_references(kg: KnowledgeGraph, g: Graph, context: StoreContext) -> list[Finding]:
    described = {str(s) for s in g.subjects()}
    vocab = kg.ontology.vocabulary
    problems = []
    for s, p, o in sorted(g, key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        if p == RDF.type or not isinstance(o, URIRef) or kg.slug(str(o)) is None:
            continue
        target = str(o)
        if target in described or context.exists(target):
            continue
        ranges = [str(r) for r in vocab.objects(p, RDFS.range)]
        cls = ranges[0] if ranges else None
        labels = list(vocab.objects(URIRef(cls), RDFS.label)) if cls else []
        what = str(next((lbl for lbl in labels if getattr(lbl, "language", None) == "en"), "thing"))
        hint = closest(target, (context.instances(cls) if cls else []) or _things(kg, context))
        problems.append(finding(str(s), str(p), f"unknown {what} {short(kg.prefixes, target)}: it is neither in the "
                                "graph nor described in this submission"
                                + (f"; did you mean {short(kg.prefixes, hint)}?" if hint else ""),
                                CHECK.reference, value=target))
    return problems


def _check_duplicates(kg: KnowledgeGraph, g: Graph, type_iri: str, context: StoreContext) -> list[Finding]:
    alt = str(SKOS.altLabel)
    taken: dict[tuple[str, str, str], str] = {}
    for other, prop, label in context.type_labels(type_iri):
        taken[(prop, label.value.strip().casefold(), "" if prop == alt else label.language or "")] = other
    problems = []
    me = URIRef(type_iri)
    for prop, what in ((SKOS.altLabel, "acronym"), (SKOS.prefLabel, "name")):
        for label in g.objects(me, prop):
            lang = (label.language or "") if isinstance(label, Literal) else ""
            key = (str(prop), str(label).strip().casefold(), "" if prop == SKOS.altLabel else lang)
            if key in taken:
                problems.append(finding(type_iri, str(prop), f'the {what} "{label}" is already used by '
                                        f"{short(kg.prefixes, taken[key])}", CHECK.unique, value=str(label)))
    return problems


def _check_relations(kg: KnowledgeGraph, g: Graph, type_iri: str,
                     context: StoreContext) -> tuple[Graph, list[Finding]]:
    """Relations to other types point to types and close no cycle. Returns the lineage edges read from
    the store besides the findings (the shapes judge cycles on them too)."""
    problems = []
    read = Graph()
    me = URIRef(type_iri)
    vocab = kg.config.vocab_ns
    for family, (up, down) in LINEAGE.items():
        up_p = URIRef(up if "/" in up else vocab + up)
        down_p = URIRef(down if "/" in down else vocab + down)
        for prop in (up_p, down_p):
            for target in g.objects(me, prop):
                if str(target) == type_iri:
                    problems.append(finding(type_iri, str(prop), f"{short(kg.prefixes, type_iri)} cannot be "
                                            f"{short(kg.prefixes, str(prop))} itself", CHECK.acyclic))
                elif not isinstance(target, URIRef) or not context.is_type(str(target)):
                    problems.append(finding(type_iri, str(prop), f"{short(kg.prefixes, str(prop))} must point to an "
                                            f"existing outsourcing type, not {target.n3()}", CHECK.relation,
                                            value=str(target)))
        path = _cycle_through(type_iri, g, up_p, down_p, context, read)
        if path:
            shown = " → ".join(short(kg.prefixes, n) for n in path)
            problems.append(finding(type_iri, str(up_p), f"these relations would make a {family} cycle: {shown}",
                                    CHECK.acyclic))
    return read, problems


def _cycle_through(start: str, g: Graph, up: URIRef, down: URIRef, context: StoreContext,
                   read: Graph) -> list[str] | None:
    """The shortest path start → ... → start going up (``up``, or ``down`` backwards) through the
    submission and the store as it would be after the write, or None. Searched breadth first from
    ``start``, one query per level, so only the lineage above the type is read; the edges read are
    added to ``read``."""
    mine: dict[str, set[str]] = {}
    for a, b in g.subject_objects(up):
        mine.setdefault(str(a), set()).add(str(b))
    for a, b in g.subject_objects(down):
        mine.setdefault(str(b), set()).add(str(a))
    came_from: dict[str, str] = {}
    seen, frontier = {start}, [start]
    while frontier and len(seen) < MAX_ANCESTORS:
        found: dict[str, set[str]] = {}
        for node, parent, is_up in context.parents(frontier, str(up), str(down)):
            found.setdefault(node, set()).add(parent)
            read.add((URIRef(node), up, URIRef(parent)) if is_up else (URIRef(parent), down, URIRef(node)))
        following = []
        for node in sorted(frontier):
            for parent in sorted(mine.get(node, set()) | found.get(node, set())):
                if parent == node:
                    continue
                if parent == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if parent not in seen:
                    seen.add(parent)
                    came_from[parent] = node
                    following.append(parent)
        frontier = following
    return None


def _shipped_sources(kg: KnowledgeGraph) -> dict[str, list[str]]:
    """Sources cited in the shipped facts graph → the slugs of the types that cite them."""
    facts = kg.ontology.facts
    out_type = URIRef(kg.config.vocab_ns + "OutsourcingType")
    found: dict[str, set[str]] = {}
    for node, source in facts.subject_objects(PROV.wasDerivedFrom):
        types = found.setdefault(str(source), set())
        if (node, RDF.type, out_type) in facts:
            types.add(kg.slug(str(node)) or str(node))
    return {src: sorted(types) for src, types in found.items()}


def _check_shipped_sources(kg: KnowledgeGraph, g: Graph, type_iri: str) -> list[Finding]:
    """A shipped source has everything it says recorded in the shipped graph, about the shipped types
    only: a submission's statements cannot cite it (an inference from its records can)."""
    shipped = _shipped_sources(kg)
    problems = []
    me = short(kg.prefixes, type_iri)
    for node, source in sorted(g.subject_objects(PROV.wasDerivedFrom), key=lambda t: (str(t[0]), str(t[1]))):
        speaks_of = shipped.get(str(source))
        if speaks_of is None:
            continue
        about = ", ".join(f"outd:{t}" for t in speaks_of) or "the shipped types"
        cited = short(kg.prefixes, str(source))
        if str(node) == type_iri:
            problems.append(finding(str(node), str(PROV.wasDerivedFrom), f"cites {cited}, a source of the shipped "
                                    f"graph that speaks only of {about}: quote a source that introduces {me}",
                                    CHECK.shippedSource, value=str(source), severity="Warning"))
            continue
        problems.append(finding(
            str(node), str(PROV.wasDerivedFrom),
            f"cites {cited}, whose statements are already in the shipped graph and speak only of {about}, not of "
            f"{me}: cite a source that says this, or mark it out:statementKind outd:statement-read with "
            "out:inferredFrom the evidence records it follows from (no prov:wasDerivedFrom) and an "
            "out:readingNote saying how", CHECK.shippedSource, value=str(source)))
    return problems


__all__ = ["LINEAGE", "check", "is_source_type", "the_type"]
