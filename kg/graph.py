"""The opened knowledge graph: configuration, store and shipped ontology, held together.

``KnowledgeGraph.open`` is what the service's app factory and the CLI call at start; feature
modules (``sparql``, ``describe``, ``compare``, ``queries``, ``extend``) take the object it
returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kg.config import Config
from kg.namespaces import graph_iri, prefixes
from kg.ontology.loader import Ontology, load
from kg.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class KnowledgeGraph:
    config: Config
    store: Store
    ontology: Ontology
    #: Files under ontology/extensions/ that could not be loaded, with the reason (served on /healthz).
    problems: list[dict] = field(default_factory=list)
    #: Per-graph singletons that features attach lazily (the result cache, the query worker pool).
    extras: dict = field(default_factory=dict)

    @classmethod
    def open(cls, config: Config, *, store: Store | None = None) -> KnowledgeGraph:
        """Open the store, install the shipped graphs, load drop-in extensions."""
        store = store or open_store(config)
        ontology = load(store, config)
        kg = cls(config=config, store=store, ontology=ontology)
        try:
            from kg.extension.extend import load_extension_directory
        except ImportError:  # extensions arrive with kg/extension/extend.py
            return kg
        kg.problems = load_extension_directory(kg)
        for problem in kg.problems:
            log.warning("extension not loaded: %(file)s: %(error)s", problem)
        return kg

    def query(self, sparql: str, *, timeout: float, **kwargs):
        """A trusted query under a time limit (lookups, comparisons, descriptions, named queries).

        With the embedded store it is evaluated where a user's query would be, in a killable
        evaluator (``kg.query.trusted``); otherwise by the store, which bounds it itself. Queries without a
        limit (loading, validation, writes) call ``store.query`` directly. The store never calls back
        up here: the decision is taken on the way down.
        """
        from kg.query.trusted import bounded_query

        result = bounded_query(self, sparql, timeout=timeout, **kwargs)
        if result is not None:
            return result
        return self.store.query(sparql, timeout=timeout, **kwargs)

    @property
    def prefixes(self) -> dict[str, str]:
        return prefixes(self.config)

    def graph(self, name: str) -> str:
        return graph_iri(self.config, name)

    def iri(self, slug: str) -> str:
        """Canonical IRI of a thing: ``{namespace}id/{slug}``."""
        return self.config.id_ns + slug

    def slug(self, iri: str) -> str | None:
        """The slug of a canonical thing IRI, or None for any other IRI."""
        if iri.startswith(self.config.id_ns):
            rest = iri[len(self.config.id_ns):]
            return rest if rest and "/" not in rest and "#" not in rest else None
        return None

    def close(self) -> None:
        for extra in self.extras.values():
            if hasattr(extra, "close"):
                extra.close()
        self.store.close()
