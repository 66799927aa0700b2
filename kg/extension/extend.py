"""Add, replace and remove outsourcing types that the source does not cover (issue 6).

One path for every way in (a file in ``ontology/extensions/``, ``kg add-type``, ``POST /api/types``):
parse (``kg.extension.submission``) → check → write the type's own named graph in one atomic store
transaction (``Store.replace_graph``), with who added it and when (PROV) inside that graph, so
removing the type removes its provenance too.

Checks, all before anything is written, all reported together:
- scope: a submission describes exactly one new ``out:OutsourcingType`` and new nodes of its own
  under the ``outd:`` namespace; it never states triples about existing things (``outd:bpo``, a
  shared skill) or defines vocabulary terms; TriG may only name the extension's own graph;
- vocabulary: every property and class exists (a misspelt one is named with the closest term);
- references: every ``outd:`` thing it points to exists, or is described in the submission;
- duplicates: no existing IRI, no acronym or English name another type already uses;
- relations: ``out:isExtensionOf`` / ``out:isSimplerFormOf`` / ``skos:broader`` / ``skos:narrower``
  point to existing types and close no cycle;
- sources: a source of the shipped graph (the article) already has everything it says recorded there
  and speaks only of the shipped types, so no statement of a submission may cite it directly; a
  statement about the new type that follows from it is an inference (``out:inferredFrom``);
- SHACL (``ontology/shapes.ttl``) over the submission plus the descriptions of what it references,
  including the kinds of statement: whatever is not quoted or read from a cited source must be marked
  editorial, and the messages say how to mark it.

The simple form (JSON/YAML) cannot mark kinds itself, so ``mark_form`` translates it first, never
upwards: the type's own quote is quoted; a fact whose value is a ``new:`` entry with a quote of its own
is read from that quote; every other fact, the definition and the ``new:`` entries' own texts are the
submitter's editorial statements; a missing activity level is recorded as awaiting a source.

Checking and writing happen under one lock per graph, so two concurrent submissions cannot both
pass a duplicate check, and pySHACL (which uses rdflib's non-thread-safe SPARQL parser) runs
one at a time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SH, SKOS, XSD

from kg.domain.suggest import closest
from kg.extension.submission import SLUG, Submission, SubmissionError, format_for, parse
from kg.graph import KnowledgeGraph
from kg.ontology.validate import Report, Violation, validate
from kg.terms import graph_to_ox, ox_to_graph

SCHEMA = Namespace("https://schema.org/")
OA = Namespace("http://www.w3.org/ns/oa#")
#: Standard terms a submission may use besides those the shipped graph already uses.
STANDARD_PROPERTIES = {
    RDF.type,
    RDFS.label,
    RDFS.comment,
    RDFS.seeAlso,
    SKOS.prefLabel,
    SKOS.altLabel,
    SKOS.hiddenLabel,
    SKOS.definition,
    SKOS.note,
    SKOS.scopeNote,
    SKOS.example,
    SKOS.broader,
    SKOS.narrower,
    SKOS.related,
    SKOS.inScheme,
    SKOS.topConceptOf,
    SKOS.exactMatch,
    SKOS.closeMatch,
    SKOS.broadMatch,
    SKOS.narrowMatch,
    SKOS.relatedMatch,
    PROV.wasDerivedFrom,
    PROV.wasAttributedTo,
    SKOS.editorialNote,
    OA.hasSource,
    OA.hasSelector,
    OA.exact,
    OA.prefix,
    OA.suffix,
    DCTERMS.title,
    DCTERMS.description,
    DCTERMS.date,
    DCTERMS.language,
    DCTERMS.publisher,
    DCTERMS.creator,
    DCTERMS.source,
    SCHEMA.url,
    SCHEMA.name,
    SCHEMA.inLanguage,
    SCHEMA.datePublished,
    SCHEMA.publisher,
    SCHEMA.author,
}
STANDARD_CLASSES = {
    SKOS.Concept,
    PROV.Entity,
    PROV.Agent,
    SCHEMA.Article,
    SCHEMA.WebPage,
    SCHEMA.CreativeWork,
    OA.SpecificResource,
    OA.TextQuoteSelector,
}
#: Relations between types: each family must stay acyclic. (property, True when it points "up").
LINEAGE = {
    "lineage": ("isExtensionOf", "isSimplerFormOf"),
    "hierarchy": (str(SKOS.broader), str(SKOS.narrower)),
}
#: Source code of the checks SHACL alone does not make, as they appear in the report graph.
CHECK = Namespace("https://w3id.org/outsourcing-kg/checks#")
MAX_VIOLATIONS = 200


# -- errors ---------------------------------------------------------------------------------------


class ExtensionError(Exception):
    """A request about an added type that cannot be honoured; ``status`` is its HTTP status."""

    status = 400
    title = "Bad submission"

    def __init__(
        self,
        detail: str,
        *,
        violations: list[dict] | None = None,
        report: Graph | None = None,
        line: int | None = None,
    ):
        super().__init__(detail)
        self.detail, self.violations, self.report, self.line = detail, violations or [], report, line

    @property
    def kind(self) -> str:
        return self.title.lower().replace(" ", "-")


class UnreadableSubmission(ExtensionError):
    title = "Unreadable submission"

    def __init__(self, error: SubmissionError):
        super().__init__(str(error), line=error.line)
        self.status = error.status


class InvalidSubmission(ExtensionError):
    status = 422
    title = "Invalid outsourcing type"


class DuplicateType(ExtensionError):
    status = 409
    title = "Type exists"


class TypeInUse(ExtensionError):
    status = 409
    title = "Type in use"


class ProtectedType(ExtensionError):
    status = 403
    title = "Protected type"


class UnknownType(ExtensionError):
    status = 404
    title = "No such added type"


# -- results --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an add / replace / dry run did (or would do)."""

    slug: str
    iri: str
    graph: str
    triples: int
    created: bool
    dry_run: bool = False
    added_by: str | None = None
    added_at: str | None = None
    warnings: list[dict] = field(default_factory=list)
    turtle: str | None = None  #: dry run: the triples that would be written
    nearest: str | None = None  #: dry run: the most similar existing type
    comparison: Any = None  #: dry run: the new type against ``nearest``

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != []}


def _q(kg: KnowledgeGraph, sparql: str, **terms: ox.NamedNode | ox.Literal):
    """Run a fixed query with ``?name`` variables replaced by terms rendered by pyoxigraph.

    Oxigraph's ``substitutions`` only binds projected variables; these queries also filter on
    graph names. The terms are pyoxigraph objects (validated IRIs, escaped literals), never text
    from a request.
    """
    for name, term in terms.items():
        rendered = str(term)
        sparql = re.sub(r"\?" + name + r"\b", lambda _m, r=rendered: r, sparql)
    return kg.store.query(sparql, prefixes=kg.prefixes)


def _lock(kg: KnowledgeGraph) -> threading.Lock:
    return kg.extras.setdefault("extend.lock", threading.Lock())


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- public operations ------------------------------------------------------------------------------


def add(
    kg: KnowledgeGraph,
    data: bytes | str,
    fmt: str,
    *,
    agent: str,
    channel: str = "api",
    replace: str | None = None,
    dry_run: bool = False,
    allow_replace: bool = False,
    max_bytes: int | None = None,
) -> Outcome:
    """Validate a submission and write it as the named graph of its type.

    ``replace`` is the slug a PUT names (the submission must describe that type, which must be an
    added one); ``allow_replace`` lets the extensions directory overwrite its own earlier load.
    Raises an ``ExtensionError`` subclass; writes nothing unless every check passes.
    """
    try:
        kwargs = {"max_bytes": max_bytes} if max_bytes else {}
        submission = parse(data, fmt, kg.config, **kwargs)
    except SubmissionError as exc:
        if exc.status == 422:
            raise InvalidSubmission(exc.message, violations=[{"message": exc.message}]) from exc
        raise UnreadableSubmission(exc) from exc
    with _lock(kg):
        slug, type_iri = _the_type(kg, submission, replace)
        if submission.format == "form":
            mark_form(kg, submission.graph, type_iri, agent)
        graph_iri = kg.graph("extension/" + slug)
        existing = set(kg.store.graphs())
        exists = graph_iri in existing
        if replace is not None and not exists:
            if _is_source_type(kg, type_iri):
                raise ProtectedType(f"{slug} comes from the source and cannot be replaced")
            raise UnknownType(f"no added type {slug!r} to replace; add it with POST /api/types")
        if exists and replace is None and not allow_replace:
            raise DuplicateType(
                f"the type {slug} was already added; replace it with PUT /api/types/{slug} or remove it first"
            )
        if exists:
            kept = {str(s) for s in submission.graph.subjects()}
            lost = sorted({node for _, node in _references_into(kg, graph_iri)} - kept)
            if lost:
                raise TypeInUse(
                    f"the new version of {slug} drops {_listing(lost)}, which other types still use"
                )
        report = check(kg, submission, type_iri, graph_iri)
        if not report.conforms:
            raise InvalidSubmission(
                _summary(report, kg), violations=_violation_dicts(report, kg), report=report.graph
            )
        warnings = [w for w in _violation_dicts(report, kg) if w["severity"] != "Violation"]
        when = _now()
        data_graph = Graph()
        data_graph += submission.graph
        _add_provenance(kg, data_graph, graph_iri, agent, channel, when)
        outcome = Outcome(
            slug,
            type_iri,
            graph_iri,
            len(data_graph),
            created=not exists,
            dry_run=dry_run,
            added_by=agent,
            added_at=when,
            warnings=warnings,
        )
        if dry_run:
            outcome.turtle = _turtle(kg, data_graph)
            outcome.nearest, outcome.comparison = _nearest(kg, submission.graph, type_iri, graph_iri)
            return outcome
        # The checks above ran on what this process saw; another replica over the same store may be
        # writing the same type at this moment. The store decides, in the write's own transaction.
        written = kg.store.replace_graph(graph_iri, list(graph_to_ox(data_graph)),
                                         unless=_taken_pattern(kg, submission.graph, type_iri, graph_iri,
                                                               creating=not exists))
        if not written:
            raise DuplicateType(f"the type {slug}, or its acronym or name, was added by another submission "
                                "at the same moment; nothing of this one was written")
        return outcome


def remove(kg: KnowledgeGraph, slug: str) -> None:
    """Drop an added type's graph; source types are protected and a type still referenced stays."""
    if not SLUG.match(slug):
        raise UnknownType(f"{slug!r} is not a slug")
    with _lock(kg):
        graph_iri = kg.graph("extension/" + slug)
        if graph_iri not in kg.store.graphs():
            if _is_source_type(kg, kg.iri(slug)):
                raise ProtectedType(f"{slug} comes from the source and cannot be removed")
            raise UnknownType(f"no added type {slug!r}")
        users = sorted({who for who, _ in _references_into(kg, graph_iri)})
        if users:
            raise TypeInUse(f"{slug} cannot be removed: {_listing(users)} still refer to it")
        kg.store.drop_graph(graph_iri)


def added_types(kg: KnowledgeGraph) -> list[dict]:
    """Every added type with its graph, who added it and when."""
    prefix = kg.graph("extension/")
    rows = _q(
        kg,
        "SELECT ?g ?t ?who ?when WHERE { GRAPH ?g { ?t a out:OutsourcingType . "
        "OPTIONAL { ?g prov:wasAttributedTo/rdfs:label ?who } OPTIONAL { ?g prov:generatedAtTime ?when } } "
        "FILTER(STRSTARTS(STR(?g), ?prefix)) } ORDER BY ?t",
        prefix=ox.Literal(prefix),
    )
    return [
        {
            "slug": kg.slug(r["t"].value),
            "iri": r["t"].value,
            "graph": r["g"].value,
            "added_by": r["who"].value if r["who"] else None,
            "added_at": r["when"].value if r["when"] else None,
        }
        for r in rows
    ]


def load_extension_directory(kg: KnowledgeGraph) -> list[dict]:
    """Load ``ontology/extensions/*.ttl|*.trig`` at start; return the files that failed, and why.

    A file's type replaces what an earlier start loaded from it. A type whose file was deleted is
    dropped (only types that came from this directory; API-added types are left alone).
    """
    folder = Path(kg.config.ontology_dir) / "extensions"
    problems: list[dict] = []
    loaded: set[str] = set()
    files = sorted(p for p in folder.glob("*") if p.suffix in (".ttl", ".trig")) if folder.is_dir() else []
    for path in files:
        try:
            data = path.read_bytes()
            outcome = add(
                kg,
                data,
                format_for(path.suffix) or "turtle",
                agent="extensions-directory",
                channel=f"file:{path.name}",
                allow_replace=True,
            )
            loaded.add(outcome.graph)
        except (OSError, ExtensionError) as exc:
            detail = str(exc)
            if isinstance(exc, ExtensionError) and exc.violations:
                detail += "; " + "; ".join(v.get("message", "") for v in exc.violations[:5])
            problems.append({"file": str(path), "error": detail})
    _drop_vanished_files(kg, loaded, {p.name for p in files})
    return problems


# -- checks ---------------------------------------------------------------------------------------


def _the_type(kg: KnowledgeGraph, submission: Submission, replace: str | None) -> tuple[str, str]:
    out_type = URIRef(kg.config.vocab_ns + "OutsourcingType")
    types = sorted(set(submission.graph.subjects(RDF.type, out_type)), key=str)
    if len(types) != 1:
        found = ", ".join(str(t) for t in types) or "none"
        message = (
            f"a submission describes exactly one out:OutsourcingType (found {len(types)}: {found}); "
            "add the line 'outd:<slug> a out:OutsourcingType' or 'id:' in the simple form"
        )
        raise InvalidSubmission(message, violations=[{"message": message}])
    type_iri = str(types[0])
    slug = kg.slug(type_iri)
    if not isinstance(types[0], URIRef) or slug is None or not SLUG.match(slug):
        message = (
            f"the type's IRI must be {kg.config.id_ns}<slug> with a slug of lower-case letters, digits "
            f"and hyphens (found {types[0].n3()})"
        )
        raise InvalidSubmission(message, violations=[{"focus": type_iri, "message": message}])
    if replace is not None and slug != replace:
        message = f"the submission describes {slug}, but the request replaces {replace}"
        raise InvalidSubmission(message, violations=[{"focus": type_iri, "message": message}])
    own = kg.graph("extension/" + slug)
    for name in submission.named_graphs:
        if name != own:
            message = f"a submission may only write its own graph <{own}>, not <{name}>"
            raise InvalidSubmission(message, violations=[{"message": message}])
    return slug, type_iri


def check(kg: KnowledgeGraph, submission: Submission, type_iri: str, graph_iri: str) -> Report:
    """Every check of the module docstring; a ``Report`` whose graph holds SHACL and our own results."""
    problems: list[Violation] = []
    g = submission.graph
    elsewhere = _Elsewhere(kg, graph_iri)
    if elsewhere.exists(type_iri):
        if elsewhere.is_type(type_iri):
            raise DuplicateType(
                f"{kg.slug(type_iri)} already exists"
                + (" and comes from the source" if _is_source_type(kg, type_iri) else "")
            )
        problems.append(
            _v(
                type_iri,
                None,
                f"the IRI {_short(kg, type_iri)} is already used by another thing",
                CHECK.duplicateIri,
            )
        )
    problems += _check_scope(kg, g, type_iri, elsewhere)
    problems += _check_terms(kg, g)
    problems += _check_references(kg, g, elsewhere)
    problems += _check_duplicates(kg, g, type_iri, graph_iri)
    problems += _check_relations(kg, g, type_iri, graph_iri, elsewhere)
    problems += _check_shipped_sources(kg, g, type_iri)
    own = {str(s) for s in g.subjects() if isinstance(s, BNode) or not elsewhere.exists(str(s))}
    shacl = _shacl(kg, g, graph_iri, own)
    violations = problems + shacl.violations
    report_graph = shacl.graph if shacl.graph is not None else Graph()
    _add_results(report_graph, problems)
    conforms = not any(v.severity == "Violation" for v in violations)
    for node in report_graph.subjects(RDF.type, SH.ValidationReport):
        report_graph.set((node, SH.conforms, Literal(conforms)))
    return Report(conforms=conforms, violations=violations[:MAX_VIOLATIONS], graph=report_graph)


class _Elsewhere:
    """What the store holds outside the extension's own graph (which a replacement overwrites)."""

    def __init__(self, kg: KnowledgeGraph, own: str):
        self.kg, self.own = kg, own
        self._meta = kg.graph("meta")
        self._cache: dict[str, bool] = {}

    def _ask(self, sparql: str, iri: str) -> bool:
        return bool(
            _q(
                self.kg,
                sparql,
                s=ox.NamedNode(iri),
                own=ox.NamedNode(self.own),
                meta=ox.NamedNode(self._meta),
            )
        )

    def exists(self, iri: str) -> bool:
        if iri not in self._cache:
            self._cache[iri] = self._ask(
                "ASK { GRAPH ?g { ?s ?p ?o } FILTER(?g != ?own && ?g != ?meta) }", iri
            )
        return self._cache[iri]

    def is_type(self, iri: str) -> bool:
        return self._ask("ASK { GRAPH ?g { ?s a out:OutsourcingType } FILTER(?g != ?own) }", iri)

    def instances(self, cls: str | None) -> list[str]:
        if cls:
            rows = _q(self.kg, "SELECT DISTINCT ?x WHERE { ?x a ?c }", c=ox.NamedNode(cls))
        else:
            rows = self.kg.store.query("SELECT DISTINCT ?x WHERE { ?x ?p ?o FILTER(isIRI(?x)) }")
        return [r["x"].value for r in rows]


def _v(
    focus: str,
    path: str | None,
    message: str,
    source: URIRef,
    value: str | None = None,
    severity: str = "Violation",
) -> Violation:
    v = Violation(focus=focus, path=path, message=message, severity=severity, value=value)
    object.__setattr__(v, "_source", source)
    return v


def _short(kg: KnowledgeGraph, iri: str) -> str:
    for prefix, ns in kg.prefixes.items():
        if iri.startswith(ns) and re.fullmatch(r"[\w.-]+", iri[len(ns) :]):
            return f"{prefix}:{iri[len(ns) :]}"
    return f"<{iri}>"


def _check_scope(kg: KnowledgeGraph, g: Graph, type_iri: str, elsewhere: _Elsewhere) -> list[Violation]:
    problems = []
    for s in sorted(set(g.subjects()), key=str):
        if isinstance(s, BNode) or str(s) == type_iri:
            continue
        iri = str(s)
        slug = kg.slug(iri)
        if iri.startswith(kg.config.vocab_ns) or iri == kg.config.ontology_iri:
            problems.append(
                _v(
                    iri,
                    None,
                    f"a submission cannot define or change vocabulary terms "
                    f"({_short(kg, iri)}); it describes one outsourcing type",
                    CHECK.scope,
                )
            )
        elif slug is None or not SLUG.match(slug):
            problems.append(
                _v(
                    iri,
                    None,
                    f"{_short(kg, iri)} is outside this graph's namespace "
                    f"({kg.config.id_ns}<slug>); a submission describes only its type "
                    "and new things of its own",
                    CHECK.scope,
                )
            )
        elif elsewhere.exists(iri):
            problems.append(
                _v(
                    iri,
                    None,
                    f"{_short(kg, iri)} already exists; a submission may refer to it "
                    "but not state anything about it",
                    CHECK.scope,
                )
            )
    return problems


def _known_terms(kg: KnowledgeGraph) -> tuple[set[str], set[str]]:
    cached = kg.extras.get("extend.terms")
    if cached:
        return cached
    vocab, facts = kg.ontology.vocabulary, kg.ontology.facts
    props = {str(p) for p in STANDARD_PROPERTIES}
    classes = {str(c) for c in STANDARD_CLASSES}
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property):
        props |= {str(s) for s in vocab.subjects(RDF.type, kind)}
    for kind in (OWL.Class, RDFS.Class):
        classes |= {str(s) for s in vocab.subjects(RDF.type, kind)}
    props |= {str(p) for p in facts.predicates()}
    classes |= {str(o) for o in facts.objects(None, RDF.type)}
    # Vocabulary-namespace terms only count when the vocabulary defines them.
    defined = {str(s) for s in vocab.subjects()}
    ns = kg.config.vocab_ns
    props = {p for p in props if not p.startswith(ns) or p in defined}
    classes = {c for c in classes if not c.startswith(ns) or c in defined}
    kg.extras["extend.terms"] = (props, classes)
    return props, classes


def _check_terms(kg: KnowledgeGraph, g: Graph) -> list[Violation]:
    props, classes = _known_terms(kg)
    problems = []
    seen = set()
    for s, p, o in g:
        if str(p) not in props and (s, p) not in seen:
            seen.add((s, p))
            hint = closest(str(p), props)
            problems.append(
                _v(
                    str(s),
                    str(p),
                    f"unknown property {_short(kg, str(p))}"
                    + (f"; did you mean {_short(kg, hint)}?" if hint else ""),
                    CHECK.knownTerm,
                )
            )
        if p == RDF.type and str(o) not in classes and (s, o) not in seen:
            seen.add((s, o))
            hint = closest(str(o), classes)
            problems.append(
                _v(
                    str(s),
                    str(RDF.type),
                    f"unknown class {_short(kg, str(o))}"
                    + (f"; did you mean {_short(kg, hint)}?" if hint else ""),
                    CHECK.knownTerm,
                    value=str(o),
                )
            )
    return problems


def _check_references(kg: KnowledgeGraph, g: Graph, elsewhere: _Elsewhere) -> list[Violation]:
    described = {str(s) for s in g.subjects()}
    vocab = kg.ontology.vocabulary
    problems = []
    for s, p, o in sorted(g, key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        if p == RDF.type or not isinstance(o, URIRef) or kg.slug(str(o)) is None:
            continue
        target = str(o)
        if target in described or elsewhere.exists(target):
            continue
        ranges = [str(r) for r in vocab.objects(p, RDFS.range)]
        cls = ranges[0] if ranges else None
        labels = [lbl for lbl in vocab.objects(URIRef(cls), RDFS.label)] if cls else []
        what = str(next((lbl for lbl in labels if getattr(lbl, "language", None) == "en"), "thing"))
        hint = closest(target, elsewhere.instances(cls) or elsewhere.instances(None))
        problems.append(
            _v(
                str(s),
                str(p),
                f"unknown {what} {_short(kg, target)}: it is neither in the graph "
                "nor described in this submission" + (f"; did you mean {_short(kg, hint)}?" if hint else ""),
                CHECK.reference,
                value=target,
            )
        )
    return problems


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _taken_pattern(kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str, *, creating: bool) -> str:
    """A SPARQL group pattern that matches when the store already holds what this submission would
    take: its type IRI in another graph, its acronym or English name on another type, or (when it
    is new) its own graph. Terms are rendered by pyoxigraph, never pasted from the submission."""
    own, me = ox.NamedNode(graph_iri), ox.NamedNode(type_iri)
    kind = ox.NamedNode(RDF_TYPE)
    cls = ox.NamedNode(kg.config.vocab_ns + "OutsourcingType")
    alternatives = [f"{{ GRAPH ?g {{ {me} ?p ?o }} FILTER(?g != {own}) }}"]
    if creating:
        alternatives.append(f"{{ GRAPH {own} {{ ?s ?p ?o }} }}")
    for prop, english_only in ((SKOS.altLabel, False), (SKOS.prefLabel, True)):
        labels = [str(label).strip().lower() for label in g.objects(URIRef(type_iri), prop)
                  if not english_only or (isinstance(label, Literal) and (label.language or "").lower() == "en")]
        if not labels:
            continue
        values = " ".join(str(ox.Literal(label)) for label in sorted(set(labels)))
        lang = ' && LANGMATCHES(LANG(?l), "en")' if english_only else ""
        alternatives.append(
            f"{{ VALUES ?taken {{ {values} }} GRAPH ?g {{ ?t {kind} {cls} ; {ox.NamedNode(str(prop))} ?l }} "
            f"FILTER(?g != {own} && ?t != {me} && LCASE(STR(?l)) = ?taken{lang}) }}"
        )
    return " UNION ".join(alternatives)


def _check_duplicates(kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str) -> list[Violation]:
    rows = _q(
        kg,
        "SELECT ?t ?p ?l WHERE { GRAPH ?g { ?t a out:OutsourcingType ; ?p ?l } "
        "VALUES ?p { skos:altLabel skos:prefLabel } FILTER(?g != ?own && ?t != ?me) }",
        own=ox.NamedNode(graph_iri),
        me=ox.NamedNode(type_iri),
    )
    taken: dict[tuple[str, str, str], str] = {}
    for r in rows:
        lang = r["l"].language or "" if isinstance(r["l"], ox.Literal) else ""
        key = (
            r["p"].value,
            r["l"].value.strip().casefold(),
            "" if r["p"].value == str(SKOS.altLabel) else lang,
        )
        taken[key] = r["t"].value
    problems = []
    me = URIRef(type_iri)
    for prop, what in ((SKOS.altLabel, "acronym"), (SKOS.prefLabel, "name")):
        for label in g.objects(me, prop):
            lang = (label.language or "") if isinstance(label, Literal) else ""
            key = (str(prop), str(label).strip().casefold(), "" if prop == SKOS.altLabel else lang)
            if key in taken:
                problems.append(
                    _v(
                        type_iri,
                        str(prop),
                        f'the {what} "{label}" is already used by {_short(kg, taken[key])}',
                        CHECK.unique,
                        value=str(label),
                    )
                )
    return problems


def _check_relations(
    kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str, elsewhere: _Elsewhere
) -> list[Violation]:
    problems = []
    me = URIRef(type_iri)
    vocab = kg.config.vocab_ns
    for family, (up, down) in LINEAGE.items():
        up_p = URIRef(up if "/" in up else vocab + up)
        down_p = URIRef(down if "/" in down else vocab + down)
        for prop in (up_p, down_p):
            for target in g.objects(me, prop):
                if str(target) == type_iri:
                    problems.append(
                        _v(
                            type_iri,
                            str(prop),
                            f"{_short(kg, type_iri)} cannot be {_short(kg, str(prop))} itself",
                            CHECK.acyclic,
                        )
                    )
                elif not isinstance(target, URIRef) or not elsewhere.is_type(str(target)):
                    problems.append(
                        _v(
                            type_iri,
                            str(prop),
                            f"{_short(kg, str(prop))} must point to an existing "
                            f"outsourcing type, not {target.n3()}",
                            CHECK.relation,
                            value=str(target),
                        )
                    )
        # Edges child → parent over the whole graph as it would be after the write.
        edges: dict[str, set[str]] = {}
        rows = _q(
            kg,
            "SELECT ?a ?b ?up WHERE { GRAPH ?g { { ?a ?upP ?b BIND(true AS ?up) } UNION "
            "{ ?a ?downP ?b BIND(false AS ?up) } } FILTER(?g != ?own) }",
            upP=ox.NamedNode(str(up_p)),
            downP=ox.NamedNode(str(down_p)),
            own=ox.NamedNode(graph_iri),
        )
        pairs = [(r["a"].value, r["b"].value, r["up"].value == "true") for r in rows]
        pairs += [(str(a), str(b), True) for a, b in g.subject_objects(up_p)]
        pairs += [(str(a), str(b), False) for a, b in g.subject_objects(down_p)]
        for a, b, is_up in pairs:
            child, parent = (a, b) if is_up else (b, a)
            if child != parent:
                edges.setdefault(child, set()).add(parent)
        path = _cycle_through(type_iri, edges)
        if path:
            shown = " → ".join(_short(kg, n) for n in path)
            problems.append(
                _v(
                    type_iri,
                    str(up_p),
                    f"these relations would make a {family} cycle: {shown}",
                    CHECK.acyclic,
                )
            )
    return problems


def _shipped_sources(kg: KnowledgeGraph) -> dict[str, list[str]]:
    """Sources cited in the shipped facts graph → the types they speak of (slugs)."""
    rows = _q(
        kg,
        "SELECT DISTINCT ?source ?t WHERE { GRAPH ?facts { ?x prov:wasDerivedFrom ?source "
        "OPTIONAL { ?t a out:OutsourcingType ; prov:wasDerivedFrom ?source } } }",
        facts=ox.NamedNode(kg.graph("facts")),
    )
    found: dict[str, list[str]] = {}
    for r in rows:
        types = found.setdefault(r["source"].value, [])
        if r["t"] is not None:
            slug = kg.slug(r["t"].value) or r["t"].value
            if slug not in types:
                types.append(slug)
    return {src: sorted(types) for src, types in found.items()}


def _check_shipped_sources(kg: KnowledgeGraph, g: Graph, type_iri: str) -> list[Violation]:
    """A shipped source has everything it says recorded in the shipped graph, about the shipped types
    only: a submission's statements cannot cite it (an inference from its records can)."""
    shipped = _shipped_sources(kg)
    problems = []
    for node, source in sorted(g.subject_objects(PROV.wasDerivedFrom), key=lambda t: (str(t[0]), str(t[1]))):
        speaks_of = shipped.get(str(source))
        if speaks_of is None:
            continue
        about = ", ".join(f"outd:{t}" for t in speaks_of) or "the shipped types"
        if str(node) == type_iri:
            problems.append(
                _v(
                    str(node),
                    str(PROV.wasDerivedFrom),
                    f"cites {_short(kg, str(source))}, a source of the shipped graph that speaks only of "
                    f"{about}: quote a source that introduces {_short(kg, type_iri)}",
                    CHECK.shippedSource,
                    value=str(source),
                    severity="Warning",
                )
            )
            continue
        problems.append(
            _v(
                str(node),
                str(PROV.wasDerivedFrom),
                f"cites {_short(kg, str(source))}, whose statements are already in the shipped graph and speak "
                f"only of {about}, not of {_short(kg, type_iri)}: cite a source that says this, or mark it "
                "out:statementKind outd:statement-read with out:inferredFrom the evidence records it follows "
                "from (no prov:wasDerivedFrom) and an out:readingNote saying how",
                CHECK.shippedSource,
                value=str(source),
            )
        )
    return problems


# -- the simple form: marking what it states ---------------------------------------------------------

#: Properties whose statements about a type need a record (besides those with domain out:OutsourcingType).
_RECORDED = (SKOS.broader, SKOS.narrower, SKOS.related, SKOS.definition)


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def _record_iri(kg: KnowledgeGraph, g: Graph, type_slug: str, prop: str, value) -> URIRef:
    """``evidence-<type>-<property>[-<value slug>]``, kept within the slug length limit and unused."""
    short = f"evidence-{type_slug}-{_kebab(_local(prop))}"
    value_slug = kg.slug(str(value)) if isinstance(value, URIRef) else None
    digest = hashlib.sha1(f"{prop} {value}".encode()).hexdigest()[:10]
    for base in (f"{short}-{value_slug}" if value_slug else short, f"{short}-{digest}",
                 f"evidence-{type_slug[:40]}-{digest}"):
        if SLUG.match(base) and (URIRef(kg.iri(base)), None, None) not in g:
            return URIRef(kg.iri(base))
    return URIRef(kg.iri(f"evidence-{digest}-{hashlib.sha1(type_slug.encode()).hexdigest()[:10]}"))


def _text(g: Graph, node, lang: str = "en") -> str:
    for prop in (SKOS.prefLabel, RDFS.label, SKOS.altLabel):
        for lit in g.objects(node, prop):
            if isinstance(lit, Literal) and (lit.language or lang) == lang:
                return str(lit)
    return _local(str(node))


def mark_form(kg: KnowledgeGraph, g: Graph, type_iri: str, agent: str) -> None:
    """Mark the kinds of what a simple-form submission states, in place (see the module docstring).

    The form gives one quote for the type and one for each ``new:`` entry, never one per fact, so
    nothing is marked as more than the form shows: only a fact whose value comes with its own quote is
    read from it; the rest is the submitter's own (editorial) statement, which SHACL lets through with
    a warning when it is a fact.
    """
    out = kg.config.vocab_ns
    kind = {k: URIRef(kg.iri("statement-" + k)) for k in ("quoted", "read", "editorial")}
    statement_kind, reading_note = URIRef(out + "statementKind"), URIRef(out + "readingNote")
    evidence_text = URIRef(out + "evidenceText")
    author = _agent_node(kg, agent)
    me = URIRef(type_iri)
    slug = kg.slug(type_iri) or "type"
    name = next((str(a) for a in g.objects(me, SKOS.altLabel)), None) or _text(g, me)
    if (me, evidence_text, None) in g and (me, PROV.wasDerivedFrom, None) in g:
        g.add((me, statement_kind, kind["quoted"]))
    recorded = {str(p) for p in _RECORDED} | {
        str(p) for p in kg.ontology.vocabulary.subjects(RDFS.domain, URIRef(out + "OutsourcingType"))
    }
    recorded.discard(out + "awaitsSourceFor")
    facts = sorted(
        ((p, o) for p, o in g.predicate_objects(me) if str(p) in recorded),
        key=lambda t: (str(t[0]), str(t[1])),
    )
    quoted_nodes: set = set()
    for prop, value in facts:
        record = _record_iri(kg, g, slug, str(prop), value)
        g.add((record, RDF.type, URIRef(out + "Evidence")))
        g.add((record, URIRef(out + "supportsSubject"), me))
        g.add((record, URIRef(out + "supportsProperty"), prop))
        if isinstance(value, URIRef):
            g.add((record, URIRef(out + "supportsValue"), value))
        prop_label = _text(kg.ontology.vocabulary, prop)
        if prop_label == _local(str(prop)):
            prop_label = _kebab(prop_label).replace("-", " ")
        value_label = _text(g, value) if isinstance(value, URIRef) else "its definition"
        quotes = list(g.objects(value, evidence_text)) if isinstance(value, URIRef) else []
        sources = list(g.objects(value, PROV.wasDerivedFrom)) if isinstance(value, URIRef) else []
        if quotes and sources:
            for q in quotes:
                g.add((record, evidence_text, q))
            for src in sources:
                g.add((record, PROV.wasDerivedFrom, src))
            g.add((record, statement_kind, kind["read"]))
            g.add((record, reading_note, Literal(
                f"The simple form gave this passage for \u201c{value_label}\u201d; that {name} {prop_label} "
                f"\u201c{value_label}\u201d is the submitter's reading of it.", lang="en")))
            quoted_nodes.add(value)
            g.add((record, RDFS.label, Literal(f"Evidence: {name} {prop_label} {value_label}", lang="en")))
        else:
            g.add((record, statement_kind, kind["editorial"]))
            g.add((record, PROV.wasAttributedTo, author))
            what = "definition" if prop == SKOS.definition else "statement"
            g.add((record, SKOS.editorialNote, Literal(
                f"The submitter's own {what}: the simple form quotes no source for it.", lang="en")))
            caption = f"{name}'s definition" if prop == SKOS.definition else f"{name} {prop_label} {value_label}"
            g.add((record, RDFS.label, Literal(f"Statement: {caption}", lang="en")))
    # New nodes described in the form: their quote moved to the records of the facts that use them,
    # their label and definition are the submitter's words.
    for node in sorted({s for s in g.subjects() if s != me}, key=str):
        if (node, RDF.type, URIRef(out + "Evidence")) in g or (node, RDF.type, PROV.Entity) in g:
            continue
        if node in quoted_nodes:
            g.remove((node, evidence_text, None))
            g.remove((node, PROV.wasDerivedFrom, None))
        if (node, evidence_text, None) in g:  # a quote no fact uses: it stays a reading of its node
            g.add((node, statement_kind, kind["read"]))
            g.add((node, reading_note, Literal(
                "The simple form gave this passage for this entry; its label and definition are the "
                "submitter's words.", lang="en")))
            continue
        g.add((node, statement_kind, kind["editorial"]))
        g.add((node, PROV.wasAttributedTo, author))
    # No activity level in the form: the type waits for a source that states it.
    if (me, URIRef(out + "hasActivityLevel"), None) not in g:
        g.add((me, URIRef(out + "awaitsSourceFor"), URIRef(kg.iri("dimension-activity-level"))))


def _cycle_through(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    """A path start → ... → start along ``edges``, or None."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def _shacl(kg: KnowledgeGraph, g: Graph, graph_iri: str, own: set[str]) -> Report:
    """SHACL over the submission plus what it needs to be judged: the descriptions of the things it
    references, the lineage edges and the levels' ranks. Results are kept for the submission's own
    nodes only (the shipped data was validated at start)."""
    data = Graph()
    data += g
    referenced = {o for o in g.objects() if isinstance(o, URIRef)}
    context = list(
        _q(
            kg,
            "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } FILTER(?g != ?own) "
            "{ ?s ?q ?x FILTER(?q IN (out:rank, out:isExtensionOf, out:isSimplerFormOf, skos:broader)) } "
            "UNION "
            "{ ?s a out:OutsourcingType } }",
            own=ox.NamedNode(graph_iri),
        )
    )
    ox_to_graph(context, data)
    for node in referenced:
        ox_to_graph(
            _q(
                kg,
                "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } FILTER(?g != ?own) }",
                s=ox.NamedNode(str(node)),
                own=ox.NamedNode(graph_iri),
            ),
            data,
        )
    # Only the submission's own nodes are validated (the rest is context), so the cost does not grow with the
    # graph; a submission with blank nodes is validated whole, so that the shapes can reject those too.
    named = [URIRef(n) for n in own if n.startswith(("http://", "https://"))]
    report = validate(data, kg.ontology.shapes, kg.ontology.vocabulary,
                      focus=named if len(named) == len(own) else None)
    kept = [v for v in report.violations if v.focus in own]
    if report.graph is not None:
        for result in list(report.graph.subjects(RDF.type, SH.ValidationResult)):
            focus = report.graph.value(result, SH.focusNode)
            if str(focus) not in own and not any(report.graph.subjects(SH.detail, result)):
                for triple in list(report.graph.triples((result, None, None))):
                    report.graph.remove(triple)
                for triple in list(report.graph.triples((None, SH.result, result))):
                    report.graph.remove(triple)
    return Report(
        conforms=not any(v.severity == "Violation" for v in kept), violations=kept, graph=report.graph
    )


def _add_results(report: Graph, problems: Iterable[Violation]) -> None:
    """Our own checks as ``sh:ValidationResult``s, so machines read one report graph."""
    nodes = list(report.subjects(RDF.type, SH.ValidationReport))
    root = nodes[0] if nodes else BNode()
    if not nodes:
        report.add((root, RDF.type, SH.ValidationReport))
    for v in problems:
        result = BNode()
        report.add((root, SH.result, result))
        report.add((result, RDF.type, SH.ValidationResult))
        report.add((result, SH.focusNode, URIRef(v.focus)))
        report.add((result, SH.resultSeverity, SH.Warning if v.severity == "Warning" else SH.Violation))
        report.add((result, SH.resultMessage, Literal(v.message)))
        report.add((result, SH.sourceConstraintComponent, getattr(v, "_source", CHECK.check)))
        if v.path:
            report.add((result, SH.resultPath, URIRef(v.path)))
        if v.value:
            report.add(
                (
                    result,
                    SH.value,
                    URIRef(v.value) if v.value.startswith(("http://", "https://")) else Literal(v.value),
                )
            )


def _violation_dicts(report: Report, kg: KnowledgeGraph) -> list[dict]:
    out = []
    for v in report.violations:
        d = {k: val for k, val in v.as_dict().items() if not k.startswith("_")}
        d["focus_short"] = _short(kg, v.focus) if v.focus.startswith("http") else v.focus
        if v.path:
            d["path_short"] = _short(kg, v.path)
        out.append(d)
    return out


def _summary(report: Report, kg: KnowledgeGraph) -> str:
    errors = report.errors
    first = errors[0] if errors else None
    text = f"the submission does not conform ({len(errors)} problem(s))"
    if first:
        text += f"; first: {_short(kg, first.focus) if first.focus.startswith('http') else first.focus}"
        text += (f" {_short(kg, first.path)}" if first.path else "") + f": {first.message}"
    return text


# -- writing helpers ------------------------------------------------------------------------------


def _agent_node(kg: KnowledgeGraph, agent: str) -> URIRef:
    agent_slug = re.sub(r"[^a-z0-9-]+", "-", agent.lower()).strip("-") or "unknown"
    return URIRef(kg.config.namespace + "agent/" + agent_slug)


def _add_provenance(
    kg: KnowledgeGraph, g: Graph, graph_iri: str, agent: str, channel: str, when: str
) -> None:
    graph_node = URIRef(graph_iri)
    agent_node = _agent_node(kg, agent)
    g.add((graph_node, RDF.type, PROV.Entity))
    g.add((graph_node, PROV.wasAttributedTo, agent_node))
    g.add((graph_node, PROV.generatedAtTime, Literal(when, datatype=XSD.dateTime)))
    g.add((graph_node, DCTERMS.source, Literal(channel)))
    g.add((agent_node, RDF.type, PROV.Agent))
    g.add((agent_node, RDFS.label, Literal(agent)))


def _turtle(kg: KnowledgeGraph, g: Graph) -> str:
    for prefix, ns in kg.prefixes.items():
        g.bind(prefix, ns, override=True)
    return g.serialize(format="turtle")


def _is_source_type(kg: KnowledgeGraph, iri: str) -> bool:
    return bool(
        _q(
            kg,
            "ASK { GRAPH ?g { ?s a out:OutsourcingType } }",
            s=ox.NamedNode(iri),
            g=ox.NamedNode(kg.graph("facts")),
        )
    )


def _references_into(kg: KnowledgeGraph, graph_iri: str) -> list[tuple[str, str]]:
    """(referrer, node) pairs: things in other graphs that point at a node this graph describes."""
    rows = _q(
        kg,
        "SELECT DISTINCT ?x ?n WHERE { GRAPH ?own { ?n ?p0 ?o0 FILTER(STRSTARTS(STR(?n), ?things)) } "
        "GRAPH ?g { ?x ?p ?n } FILTER(?g != ?own && ?g != ?meta) }",
        own=ox.NamedNode(graph_iri),
        meta=ox.NamedNode(kg.graph("meta")),
        things=ox.Literal(kg.config.id_ns),
    )
    return [(r["x"].value, r["n"].value) for r in rows]


def _listing(iris: list[str]) -> str:
    return ", ".join(iris[:5]) + (f" and {len(iris) - 5} more" if len(iris) > 5 else "")


def _drop_vanished_files(kg: KnowledgeGraph, loaded: set[str], present: set[str]) -> None:
    rows = kg.store.query(
        'SELECT ?g ?src WHERE { GRAPH ?g { ?g dcterms:source ?src } FILTER(STRSTARTS(?src, "file:")) }',
        prefixes=kg.prefixes,
    )
    for r in list(rows):
        graph, source = r["g"].value, r["src"].value
        if (
            graph not in loaded
            and source[len("file:") :] not in present
            and graph.startswith(kg.graph("extension/"))
        ):
            if not _references_into(kg, graph):
                kg.store.drop_graph(graph)


# -- dry run: the nearest existing type ------------------------------------------------------------


def _nearest(kg: KnowledgeGraph, g: Graph, type_iri: str, graph_iri: str) -> tuple[str | None, Any]:
    vocab = kg.config.vocab_ns
    mine = {
        (str(p), str(o))
        for p, o in g.predicate_objects(URIRef(type_iri))
        if str(p).startswith(vocab) and isinstance(o, URIRef)
    }
    rows = _q(
        kg,
        "SELECT ?t ?p ?o WHERE { GRAPH ?g { ?t a out:OutsourcingType ; ?p ?o } "
        "FILTER(isIRI(?o) && ?g != ?own) }",
        own=ox.NamedNode(graph_iri),
    )
    theirs: dict[str, set] = {}
    for r in rows:
        if r["p"].value.startswith(vocab):
            theirs.setdefault(r["t"].value, set()).add((r["p"].value, r["o"].value))
    if not theirs:
        return None, None

    def score(t: str) -> tuple[float, str]:
        union = mine | theirs[t]
        return (len(mine & theirs[t]) / len(union) if union else 0.0, t)

    best = max(theirs, key=score)
    nearest = kg.slug(best)
    return nearest, _comparison(kg, g, type_iri, best, theirs[best], mine)


def _comparison(kg: KnowledgeGraph, g: Graph, type_iri: str, other: str, theirs: set, mine: set) -> Any:
    """kg.domain.compare's table when it exists (on a throw-away copy holding the submission), else a plain diff."""
    try:
        from kg.domain import compare as compare_module
    except ImportError:
        compare_module = None
    if compare_module is not None and hasattr(compare_module, "compare"):
        try:
            table = _compare_on_copy(kg, g, compare_module, [kg.slug(type_iri), kg.slug(other)])
            if table is not None:
                return table
        except Exception:  # noqa: BLE001 - a dry run still answers with the plain diff below
            pass
    props = sorted({p for p, _ in mine | theirs})
    return {
        "types": [kg.slug(type_iri), kg.slug(other)],
        "rows": [
            {
                "property": _short(kg, p),
                kg.slug(type_iri): sorted(_short(kg, o) for q, o in mine if q == p),
                kg.slug(other): sorted(_short(kg, o) for q, o in theirs if q == p),
                "same": {o for q, o in mine if q == p} == {o for q, o in theirs if q == p},
            }
            for p in props
        ],
    }


def _compare_on_copy(kg: KnowledgeGraph, g: Graph, compare_module, slugs: list[str]) -> Any:
    import dataclasses

    from kg.store.embedded import EmbeddedStore

    temp = EmbeddedStore(kg.config, in_memory=True)
    try:
        temp._store.load(kg.store.dump(ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
        temp.replace_graph(kg.graph("extension/dry-run"), list(graph_to_ox(g)))
        copy = KnowledgeGraph(config=kg.config, store=temp, ontology=kg.ontology)
        table = compare_module.compare(copy, slugs)
        for name in ("as_dict", "to_dict", "to_json"):
            if hasattr(table, name):
                return getattr(table, name)()
        if dataclasses.is_dataclass(table):
            return dataclasses.asdict(table)
        return table if isinstance(table, dict | list) else None
    finally:
        temp.close()


__all__ = [
    "add",
    "remove",
    "added_types",
    "load_extension_directory",
    "check",
    "mark_form",
    "Outcome",
    "ExtensionError",
    "InvalidSubmission",
    "DuplicateType",
    "TypeInUse",
    "ProtectedType",
    "UnknownType",
    "UnreadableSubmission",
]
