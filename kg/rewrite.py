"""Canonical IRIs ⇄ the addresses of one deployment.

The graph always stores canonical IRIs (``https://w3id.org/outsourcing-kg/...``), so they stay the same
on every deployment. A deployment reached at another address (``KG_PUBLIC_BASE``, or the request's own
host) shows its documents and pages with its own addresses instead, as Pubby and LodView do, so a client
that only knows the service can follow every link. Only the IRIs this service answers for are moved: the
things (``id/``) and the vocabulary (``ontology`` and its hash terms); named graphs, shapes and versioned
ontology IRIs keep their canonical form.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyoxigraph as ox

from kg.config import Config


@dataclass(frozen=True)
class Rewriter:
    """Moves served IRIs between the canonical namespace and a deployment base (both end with '/').

    >>> r = Rewriter("https://w3id.org/outsourcing-kg/", "http://localhost:8000/")
    >>> r.to_public("https://w3id.org/outsourcing-kg/id/kpo")
    'http://localhost:8000/id/kpo'
    >>> r.to_public("https://w3id.org/outsourcing-kg/ontology#rank")
    'http://localhost:8000/ontology#rank'
    >>> r.to_public("https://w3id.org/outsourcing-kg/graph/facts")
    'https://w3id.org/outsourcing-kg/graph/facts'
    >>> r.to_canonical("http://localhost:8000/id/kpo")
    'https://w3id.org/outsourcing-kg/id/kpo'
    """

    namespace: str
    base: str

    @classmethod
    def for_config(cls, config: Config, base: str | None = None) -> Rewriter:
        """The rewriter for ``base`` (default: ``KG_PUBLIC_BASE``, else no rewriting)."""
        chosen = base or config.public_base or config.namespace
        return cls(config.namespace, chosen if chosen.endswith("/") else chosen + "/")

    @property
    def identity(self) -> bool:
        return self.namespace == self.base

    def _move(self, iri: str, src: str, dst: str) -> str:
        if src == dst or not iri.startswith(src):
            return iri
        rest = iri[len(src) :]
        if rest.startswith("id/") or rest == "ontology" or rest.startswith("ontology#"):
            return dst + rest
        return iri

    def to_public(self, iri: str) -> str:
        return self._move(iri, self.namespace, self.base)

    def to_canonical(self, iri: str) -> str:
        return self._move(iri, self.base, self.namespace)

    def term(self, term):
        """A pyoxigraph term with a served IRI moved here (literals and blank nodes unchanged)."""
        if isinstance(term, ox.NamedNode):
            moved = self.to_public(term.value)
            return term if moved == term.value else ox.NamedNode(moved)
        return term

    def triples(self, triples: Iterable[ox.Triple]) -> Iterator[ox.Triple]:
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

    def prefixes(self, prefixes: dict[str, str]) -> dict[str, str]:
        """Prefix declarations whose namespaces follow the moved IRIs (``out:``, ``outd:``)."""
        return {
            p: self.to_public(ns)
            if ns.startswith(self.namespace) and (ns[len(self.namespace) :] in ("id/", "ontology#"))
            else ns
            for p, ns in prefixes.items()
        }
