"""rdflib's SPARQL processor, keeping the queries it has parsed.

Why it exists: pySHACL evaluates the SPARQL-based constraints of ``shapes.ttl`` by handing rdflib the
same few query texts on every validation, and rdflib parses a text anew each time, with pyparsing.
Measured on a submitted type: parsing was 2.1 s of 3.0 s over three validations. A parsed and
translated query can be evaluated again with other initial bindings (that is what rdflib's
``prepareQuery`` is for), so the processor registered here under rdflib's name ``sparql`` keeps the
last ``KEPT`` of them, keyed by text, base and namespaces.

Only trusted text reaches rdflib's SPARQL here: the shapes' constraints and our own queries over
validation reports. User queries are evaluated by Oxigraph (``kg.query``), never by rdflib. Parsing
is not thread-safe in rdflib; validations run one at a time (``kg.extension.shacl``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from rdflib import plugin
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor
from rdflib.plugins.sparql.sparql import Query
from rdflib.query import Processor

#: Parsed queries kept: the shapes give a few dozen texts; the bound keeps a stray caller from growing it.
KEPT = 512


class PreparingProcessor(SPARQLProcessor):
    """``SPARQLProcessor`` that parses and translates each distinct query text once."""

    def query(self, strOrQuery: str | Query, initBindings: Mapping | None = None,  # noqa: N803 - rdflib's names
              initNs: Mapping[str, Any] | None = None, base: str | None = None, DEBUG: bool = False):  # noqa: N803
        if isinstance(strOrQuery, str):
            namespaces = tuple(sorted((k, str(v)) for k, v in (initNs or {}).items()))
            strOrQuery = _prepared(strOrQuery, base, namespaces)
        return super().query(strOrQuery, initBindings, initNs, base, DEBUG)


@lru_cache(maxsize=KEPT)
def _prepared(text: str, base: str | None, namespaces: tuple[tuple[str, str], ...]) -> Query:
    return translateQuery(parseQuery(text), base, dict(namespaces) or None)


def install() -> None:
    """Make ``PreparingProcessor`` the processor rdflib's ``Graph.query`` uses by default ("sparql")."""
    plugin.register("sparql", Processor, __name__, PreparingProcessor.__name__)


__all__ = ["PreparingProcessor", "install"]
