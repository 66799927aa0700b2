"""Who added a type and when, recorded as PROV inside the type's own named graph.

Kept inside that graph so that removing the type removes its provenance too. The agent's node is
also what the simple form's editorial statements are attributed to (``kg.extension.marking``).
"""

from __future__ import annotations

import datetime as _dt
import re

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from kg.config import Config


def agent_iri(config: Config, agent: str) -> URIRef:
    """The node of whoever submits: ``{namespace}agent/{slug of the name}``.

    >>> from kg.config import Config
    >>> str(agent_iri(Config.from_env(environ={}), "CLI Ann"))
    'https://w3id.org/outsourcing-kg/agent/cli-ann'
    """
    agent_slug = re.sub(r"[^a-z0-9-]+", "-", agent.lower()).strip("-") or "unknown"
    return URIRef(config.namespace + "agent/" + agent_slug)


def now() -> str:
    """The current time as an ``xsd:dateTime`` in UTC, to the second."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def add_provenance(config: Config, g: Graph, graph_iri: str, agent: str, channel: str, when: str) -> None:
    """State in ``g`` that the graph ``graph_iri`` was added by ``agent`` through ``channel`` at ``when``."""
    graph_node = URIRef(graph_iri)
    agent_node = agent_iri(config, agent)
    g.add((graph_node, RDF.type, PROV.Entity))
    g.add((graph_node, PROV.wasAttributedTo, agent_node))
    g.add((graph_node, PROV.generatedAtTime, Literal(when, datatype=XSD.dateTime)))
    g.add((graph_node, DCTERMS.source, Literal(channel)))
    g.add((agent_node, RDF.type, PROV.Agent))
    g.add((agent_node, RDFS.label, Literal(agent)))


__all__ = ["add_provenance", "agent_iri", "now"]
