"""From submitted bytes to a checked graph ready to be written as a type's own named graph.

One path for every way in (a file in ``ontology/extensions/``, ``kg add-type``, ``POST /api/types``)
and for both uses of it: ``kg.extension.write`` writes what ``admit`` returns, ``kg.extension.preview``
shows it (the dry run). The steps: parse (``kg.extension.submission``); find the one type it describes;
mark the simple form's statements (``kg.extension.marking``); the rules of adding and replacing (a
type added once is replaced, not added again; a source type is never replaced; a new version may not
drop nodes others use); the checks (``kg.extension.checks``); then who added it and when, inside the
graph (``kg.extension.provenance``).

Nothing here writes or locks: the caller decides whether the result is written, under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rdflib import Graph

from kg.extension.checks import check, is_source_type, the_type
from kg.extension.context import StoreContext, graph_exists
from kg.extension.errors import DuplicateType, Invalid, ProtectedType, TypeInUse, UnknownType
from kg.extension.marking import mark_form
from kg.extension.provenance import add_provenance, now
from kg.extension.report import summary, violation_dicts
from kg.extension.submission import MAX_BYTES, parse

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: How many referring things a refusal names (the rest are counted).
SHOWN = 5


@dataclass
class Outcome:
    """What an add, a replacement or a dry run did (or would do)."""

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


@dataclass
class Admitted:
    """A submission that passed every check: the type, its graph's IRI, the triples to write (the
    submission and its provenance), and what is only worth a warning."""

    slug: str
    type_iri: str
    graph_iri: str
    submitted: Graph  #: the submission's own triples, marked
    data: Graph  #: what would be written: ``submitted`` and its provenance
    exists: bool  #: the type was added before (a replacement)
    agent: str
    when: str
    warnings: list[dict]

    def outcome(self, *, dry_run: bool = False) -> Outcome:
        return Outcome(self.slug, self.type_iri, self.graph_iri, len(self.data), created=not self.exists,
                       dry_run=dry_run, added_by=self.agent, added_at=self.when, warnings=self.warnings)


def admit(
    kg: KnowledgeGraph,
    data: bytes | str,
    fmt: str,
    *,
    agent: str,
    channel: str,
    replace: str | None = None,
    allow_replace: bool = False,
    max_bytes: int | None = None,
    bounded: bool = True,
) -> Admitted:
    """Parse and check a submission; the triples to write, or the reason it is refused.

    ``replace`` is the slug of the added type the submission is to replace (it must describe that
    type); ``allow_replace`` lets the extensions directory overwrite what it loaded before. Raises a
    ``kg.extension.errors.ExtensionError``; reads the store, writes nothing.
    """
    submission = parse(data, fmt, kg.config, max_bytes=max_bytes or MAX_BYTES)
    slug, type_iri = the_type(kg, submission, replace)
    if submission.format == "form":
        mark_form(kg, submission.graph, type_iri, agent)
    graph_iri = kg.graph("extension/" + slug)
    exists = graph_exists(kg, graph_iri, bounded=bounded)
    if replace is not None and not exists:
        if is_source_type(kg, type_iri):
            raise ProtectedType(f"{slug} comes from the source and cannot be replaced")
        raise UnknownType(f"no added type {slug!r} to replace; add it as a new type instead")
    if exists and replace is None and not allow_replace:
        raise DuplicateType(f"the type {slug} was already added; replace it, or remove it first", slug=slug)
    if exists:
        kept = {str(s) for s in submission.graph.subjects()}
        lost = sorted(StoreContext(kg, graph_iri, (), bounded=bounded).referenced() - kept)
        if lost:
            raise TypeInUse(f"the new version of {slug} drops {listing(lost)}, which other types still use", slug=slug)
    report = check(kg, submission, type_iri, graph_iri, bounded=bounded)
    if not report.conforms:
        raise Invalid(summary(report, kg.prefixes), violations=violation_dicts(report, kg.prefixes),
                      report=report.graph)
    warnings = [w for w in violation_dicts(report, kg.prefixes) if w["severity"] != "Violation"]
    when = now()
    written = Graph()
    written += submission.graph
    add_provenance(kg.config, written, graph_iri, agent, channel, when)
    return Admitted(slug, type_iri, graph_iri, submission.graph, written, exists, agent, when, warnings)


def listing(iris: list[str], *, more: bool = False) -> str:
    """The first few IRIs of a list, and how many others (``more``: the list itself was cut).

    >>> listing(["a", "b", "c", "d", "e", "f", "g"])
    'a, b, c, d, e and 2 more'
    """
    rest = len(iris) - SHOWN
    tail = f" and {rest}{'+' if more else ''} more" if rest > 0 else (" and more" if more else "")
    return ", ".join(iris[:SHOWN]) + tail


__all__ = ["Admitted", "Outcome", "admit", "listing"]
