"""How the problems found in a submission are told: one SHACL report graph for machines, violation
records and a summary line for people.

Our own checks (``kg.extension.checks``) find problems SHACL cannot express; each becomes a ``Finding``
(a ``Violation`` that names the check), added to the SHACL report graph as an ``sh:ValidationResult``
whose ``sh:sourceConstraintComponent`` is the check's IRI under ``CHECK``, so a machine reads one
report. IRIs in messages are shortened with the project's prefixes (``outd:kpo``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, SH

from kg.ontology.validate import Report, Violation

#: The checks SHACL alone does not make, as they appear in the report graph.
CHECK = Namespace("https://w3id.org/outsourcing-kg/checks#")
#: The most problems one answer lists (a broken file can have thousands).
MAX_VIOLATIONS = 200


@dataclass(frozen=True)
class Finding(Violation):
    """A problem found by one of our own checks; ``check`` is that check's IRI (under ``CHECK``)."""

    check: str = str(CHECK.check)


def finding(focus: str, path: str | None, message: str, check: URIRef, value: str | None = None,
            severity: str = "Violation") -> Finding:
    return Finding(focus=focus, path=path, message=message, severity=severity, value=value, check=str(check))


def short(prefixes: dict[str, str], iri: str) -> str:
    """An IRI as a prefixed name when a prefix covers it, else in angle brackets.

    >>> short({"outd": "https://w3id.org/outsourcing-kg/id/"}, "https://w3id.org/outsourcing-kg/id/kpo")
    'outd:kpo'
    >>> short({}, "urn:x")
    '<urn:x>'
    """
    for prefix, ns in prefixes.items():
        if iri.startswith(ns) and re.fullmatch(r"[\w.-]+", iri[len(ns):]):
            return f"{prefix}:{iri[len(ns):]}"
    return f"<{iri}>"


def merged(shacl: Report, findings: list[Finding]) -> Report:
    """The shapes' results and our checks' findings as one ``Report``, its graph holding both."""
    violations = [*findings, *shacl.violations]
    graph = shacl.graph if shacl.graph is not None else Graph()
    _add_results(graph, findings)
    conforms = not any(v.severity == "Violation" for v in violations)
    for node in graph.subjects(RDF.type, SH.ValidationReport):
        graph.set((node, SH.conforms, Literal(conforms)))
    return Report(conforms=conforms, violations=violations[:MAX_VIOLATIONS], graph=graph)


def _add_results(report: Graph, findings: Iterable[Finding]) -> None:
    nodes = list(report.subjects(RDF.type, SH.ValidationReport))
    root = nodes[0] if nodes else BNode()
    if not nodes:
        report.add((root, RDF.type, SH.ValidationReport))
    for v in findings:
        result = BNode()
        report.add((root, SH.result, result))
        report.add((result, RDF.type, SH.ValidationResult))
        report.add((result, SH.focusNode, URIRef(v.focus)))
        report.add((result, SH.resultSeverity, SH.Warning if v.severity == "Warning" else SH.Violation))
        report.add((result, SH.resultMessage, Literal(v.message)))
        report.add((result, SH.sourceConstraintComponent, URIRef(v.check)))
        if v.path:
            report.add((result, SH.resultPath, URIRef(v.path)))
        if v.value:
            is_iri = v.value.startswith(("http://", "https://"))
            report.add((result, SH.value, URIRef(v.value) if is_iri else Literal(v.value)))


def violation_dicts(report: Report, prefixes: dict[str, str]) -> list[dict]:
    """Each problem as a record for people and JSON: focus, path, message, severity, value, and the
    focus and path shortened."""
    out = []
    for v in report.violations:
        d = v.as_dict()
        d.pop("check", None)
        d["focus_short"] = short(prefixes, v.focus) if v.focus.startswith("http") else v.focus
        if v.path:
            d["path_short"] = short(prefixes, v.path)
        out.append(d)
    return out


def summary(report: Report, prefixes: dict[str, str]) -> str:
    """One line: how many problems, and the first."""
    errors = report.errors
    text = f"the submission does not conform ({len(errors)} problem(s))"
    if errors:
        first = errors[0]
        text += f"; first: {short(prefixes, first.focus) if first.focus.startswith('http') else first.focus}"
        text += (f" {short(prefixes, first.path)}" if first.path else "") + f": {first.message}"
    return text


__all__ = ["CHECK", "MAX_VIOLATIONS", "Finding", "finding", "merged", "short", "summary", "violation_dicts"]
