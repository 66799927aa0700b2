"""The shapes (``ontology/shapes.ttl``) over one submission, judged against what it refers to.

The data validated is the submission plus its context (``kg.extension.context``): the descriptions of
the things it references, the lineage above it and the ranks of its scales, read from the store with
bounded queries; the vocabulary comes from the shipped graphs in memory. Only the submission's own
nodes are focus nodes, so the cost follows the submission, not the store; results about the context
(the shipped data was validated at start) are dropped.

pySHACL parses its SPARQL-based constraints with rdflib, whose SPARQL parser is not thread-safe: one
validation at a time in the process (``_ONE_AT_A_TIME``), a lock held for the validation only, never
for a store read or a write. In a gevent worker the validation runs on a thread of its own
(``kg.offload``), so that the other requests are answered meanwhile.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from kg.offload import compute
from kg.ontology.validate import Report, validate

if TYPE_CHECKING:
    from kg.ontology.loader import Ontology

_ONE_AT_A_TIME = threading.Lock()


def validate_submission(ontology: Ontology, g: Graph, context: Graph, own: set[str]) -> Report:
    """SHACL over ``g`` and ``context``; results kept for the nodes in ``own`` (the submission's new nodes).

    A submission with blank nodes is validated whole, so that the shapes can reject those too.
    """
    data = Graph()
    data += g
    data += context
    named = [URIRef(n) for n in own if n.startswith(("http://", "https://"))]
    report = compute(_validate_alone, data, ontology, named if len(named) == len(own) else None)
    kept = [v for v in report.violations if v.focus in own]
    if report.graph is not None:
        _drop_results_outside(report.graph, own)
    return Report(conforms=not any(v.severity == "Violation" for v in kept), violations=kept, graph=report.graph)


def _validate_alone(data: Graph, ontology: Ontology, focus: list[URIRef] | None) -> Report:
    # Under a gevent worker this runs on the one computing thread (kg.offload), so the lock is only
    # ever contended there; under threads, by the request threads.
    with _ONE_AT_A_TIME:
        return validate(data, ontology.shapes, ontology.vocabulary, focus=focus)


def _drop_results_outside(report: Graph, own: set[str]) -> None:
    for result in list(report.subjects(RDF.type, SH.ValidationResult)):
        focus = report.value(result, SH.focusNode)
        if str(focus) not in own and not any(report.subjects(SH.detail, result)):
            for triple in list(report.triples((result, None, None))):
                report.remove(triple)
            for triple in list(report.triples((None, SH.result, result))):
                report.remove(triple)


__all__ = ["validate_submission"]
