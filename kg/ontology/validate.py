"""SHACL validation: the gate every outsourcing type passes, shipped or submitted.

pySHACL runs with the vocabulary as ``ont_graph`` (so ``sh:targetClass`` sees subclasses) and no
inference (measured 3.5x faster, and nothing here needs it). Its import costs ~0.4 s, so it is
imported on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rdflib import Graph, URIRef
from rdflib.namespace import SH

from kg.ontology import prepared_sparql


@dataclass(frozen=True)
class Violation:
    """One result a person can act on."""

    focus: str
    path: str | None
    message: str
    severity: str  # "Violation", "Warning" or "Info"
    value: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Report:
    conforms: bool
    violations: list[Violation] = field(default_factory=list)
    graph: Graph | None = None  #: the SHACL report graph, for machines

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "Violation"]

    def text(self, shorten=lambda iri: iri) -> str:
        lines = [f"{'conforms' if self.conforms else 'does not conform'} "
                 f"({len(self.errors)} violation(s), {len(self.violations) - len(self.errors)} other)"]
        for v in self.violations:
            where = shorten(v.focus) + (f" {shorten(v.path)}" if v.path else "")
            lines.append(f"  {v.severity}: {where}: {v.message}")
        return "\n".join(lines)


_RESULTS = """
PREFIX sh: <http://www.w3.org/ns/shacl#>
SELECT ?focus ?path ?sev ?msg ?value WHERE {
  ?r a sh:ValidationResult ; sh:focusNode ?focus ; sh:resultSeverity ?sev .
  OPTIONAL { ?r sh:resultMessage ?msg }
  OPTIONAL { ?r sh:resultPath ?path }
  OPTIONAL { ?r sh:value ?value }
  FILTER NOT EXISTS { ?parent sh:detail ?r }
} ORDER BY ?focus ?path ?msg
"""


def validate(data: Graph, shapes: Graph, vocabulary: Graph, focus: Iterable[URIRef] | None = None) -> Report:
    """Validate ``data`` against ``shapes``; warnings do not make it fail.

    ``focus``: validate only these nodes (the rest of ``data`` is context they are judged against, such as
    the existing types a submission links to): a submission's cost then does not grow with the graph.
    """
    from pyshacl import validate as shacl_validate

    prepared_sparql.install()  # the shapes' SPARQL constraints are parsed once, not per validation
    conforms, report_graph, _ = shacl_validate(
        data,
        shacl_graph=shapes,
        ont_graph=vocabulary,
        inference="none",
        advanced=True,
        allow_warnings=True,
        **({"focus_nodes": sorted(focus, key=str)} if focus is not None else {}),
    )
    violations = []
    seen = set()
    for row in report_graph.query(_RESULTS):
        severity = str(row.sev).rsplit("#", 1)[-1]
        message = str(row.msg) if row.msg is not None else "constraint not met"
        key = (str(row.focus), str(row.path), message)
        if key in seen:
            continue
        seen.add(key)
        violations.append(
            Violation(
                focus=str(row.focus),
                path=str(row.path) if isinstance(row.path, URIRef) else None,
                message=message,
                severity=severity,
                value=str(row.value) if row.value is not None else None,
            )
        )
    return Report(conforms=bool(conforms), violations=violations, graph=report_graph)


__all__ = ["Report", "Violation", "validate", "SH"]
