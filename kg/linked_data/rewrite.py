"""Canonical IRIs ⇄ the addresses of one deployment.

The graph always stores canonical IRIs (``https://w3id.org/outsourcing-kg/...``), so they stay the same
on every deployment. A deployment reached at another address (``KG_PUBLIC_BASE``, or the request's own
host) gives the things it describes, the ``id/`` IRIs, its own address in documents, as Pubby and
LodView do, so that a client that only knows the service can follow every link (each description also
states ``owl:sameAs`` the canonical IRI of its subject).

Nothing else moves, ever, in RDF: vocabulary terms (classes, properties, the ontology IRI), shapes and
graph names keep their one canonical IRI in every document, the JSON-LD context and SPARQL, so that a
term means the same property on every deployment and a query written with ``out:`` works on a
description as it does on ``/sparql`` (``docs/linked-data.md``, "One vocabulary").

HTML pages are the one exception, and only for their links: a page may send a person who clicks a
property to this deployment's ``/ontology#term``, because the canonical address of the vocabulary may
not resolve. ``Rewriter.for_pages()`` gives that variant; it must never be used to write RDF.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import pyoxigraph as ox

from kg.config import Config


@dataclass(frozen=True)
class Rewriter:
    """Moves the IRIs of things between the canonical namespace and a deployment base (both end with '/').

    >>> r = Rewriter("https://w3id.org/outsourcing-kg/", "http://localhost:8000/")
    >>> r.to_public("https://w3id.org/outsourcing-kg/id/kpo")
    'http://localhost:8000/id/kpo'
    >>> r.to_public("https://w3id.org/outsourcing-kg/ontology#rank")
    'https://w3id.org/outsourcing-kg/ontology#rank'
    >>> r.to_public("https://w3id.org/outsourcing-kg/graph/facts")
    'https://w3id.org/outsourcing-kg/graph/facts'
    >>> r.to_canonical("http://localhost:8000/id/kpo")
    'https://w3id.org/outsourcing-kg/id/kpo'
    >>> r.for_pages().to_public("https://w3id.org/outsourcing-kg/ontology#rank")
    'http://localhost:8000/ontology#rank'
    """

    namespace: str
    base: str
    #: Also move the vocabulary (``ontology``, ``ontology#term``): for links in HTML pages only.
    pages: bool = False

    @classmethod
    def for_config(cls, config: Config, base: str | None = None) -> Rewriter:
        """The rewriter for ``base`` (default: ``KG_PUBLIC_BASE``, else no rewriting)."""
        chosen = base or config.public_base or config.namespace
        return cls(config.namespace, chosen if chosen.endswith("/") else chosen + "/")

    def for_pages(self) -> Rewriter:
        """The same deployment, for the ``href`` of HTML pages: vocabulary terms link to this deployment's
        ``/ontology#term`` documentation. Links on a page are not statements; RDF never uses this."""
        return replace(self, pages=True)

    @property
    def identity(self) -> bool:
        return self.namespace == self.base

    def _moves(self, rest: str) -> bool:
        if rest.startswith("id/"):
            return True
        return self.pages and (rest == "ontology" or rest.startswith("ontology#"))

    def _move(self, iri: str, src: str, dst: str) -> str:
        if src == dst or not iri.startswith(src):
            return iri
        rest = iri[len(src) :]
        return dst + rest if self._moves(rest) else iri

    def to_public(self, iri: str) -> str:
        return self._move(iri, self.namespace, self.base)

    def to_canonical(self, iri: str) -> str:
        return self._move(iri, self.base, self.namespace)

    def term(self, term):
        """A pyoxigraph term with a thing's IRI moved here (literals and blank nodes unchanged)."""
        if self.pages:
            raise ValueError("a rewriter for page links must not write RDF")
        if isinstance(term, ox.NamedNode):
            moved = self.to_public(term.value)
            return term if moved == term.value else ox.NamedNode(moved)
        return term

    def triples(self, triples: Iterable[ox.Triple]) -> Iterator[ox.Triple]:
        if self.pages:
            raise ValueError("a rewriter for page links must not write RDF")
        if self.identity:
            yield from triples
            return
        # The same few IRIs (predicates, the described thing) recur on most triples: move each once.
        moved: dict = {}

        def term(t):
            if isinstance(t, ox.NamedNode):
                out = moved.get(t)
                if out is None:
                    out = moved[t] = self.term(t)
                return out
            return t

        for t in triples:
            yield ox.Triple(term(t.subject), term(t.predicate), term(t.object))
