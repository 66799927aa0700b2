"""Prefixes the project declares everywhere: in SPARQL (predeclared), Turtle output and JSON-LD.

The project's own prefixes follow the configured namespace, so they are built from a ``Config``.
"""

from __future__ import annotations

from kg.config import Config

STANDARD: dict[str, str] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "schema": "https://schema.org/",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "time": "http://www.w3.org/2006/time#",
    "unit": "http://qudt.org/vocab/unit/",
    "vann": "http://purl.org/vocab/vann/",
    "oa": "http://www.w3.org/ns/oa#",
    "sh": "http://www.w3.org/ns/shacl#",
    "void": "http://rdfs.org/ns/void#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
}


def prefixes(config: Config) -> dict[str, str]:
    """Every prefix, the project's own first."""
    return {
        "out": config.vocab_ns,
        "outd": config.id_ns,
        "outg": config.graph_ns,
        "outsh": config.namespace + "shapes#",
        **STANDARD,
    }


def graph_iri(config: Config, name: str) -> str:
    """IRI of one of the project's named graphs: vocabulary, facts, meta, extension/{slug}."""
    return config.graph_ns + name


def curie(iri: str, prefixes: dict[str, str]) -> str | None:
    """``prefix:local`` for ``iri`` under the longest matching namespace of ``prefixes``, else None.

    >>> curie("https://w3id.org/outsourcing-kg/id/kpo", {"out": "https://w3id.org/outsourcing-kg/",
    ...       "outd": "https://w3id.org/outsourcing-kg/id/"})
    'outd:kpo'
    >>> curie("urn:x:y", {"out": "https://w3id.org/outsourcing-kg/"}) is None
    True
    """
    best = max(((p, ns) for p, ns in prefixes.items() if iri.startswith(ns) and len(iri) > len(ns)),
               key=lambda item: len(item[1]), default=None)
    return f"{best[0]}:{iri[len(best[1]):]}" if best else None
