"""The drop-in extensions: ``ontology/extensions/*.ttl|*.trig``, loaded when the graph is opened.

A file passes the same checks as ``kg add-type`` and ``POST /api/types`` (``kg.extension.write``); a
file that fails is reported (``/healthz`` lists it), never fatal: the start goes on without it. A
file's type replaces what an earlier start loaded from it, and a type whose file was deleted is
dropped (only types that came from this directory: types added through the API stay).

This runs inside ``KnowledgeGraph.open``, before anything is served: like every write, it reads the
store directly, and starts no query evaluator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kg.extension.context import StoreContext, select
from kg.extension.errors import ExtensionError
from kg.extension.write import add

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

#: Files read from the directory, by extension (the format follows from it).
SUFFIXES = (".ttl", ".trig")
#: How many violations of a rejected file its problem line repeats.
SHOWN = 5


def load_extension_directory(kg: KnowledgeGraph) -> list[dict]:
    """Load the extensions directory; the files that failed, each with why (``{"file", "error"}``)."""
    folder = Path(kg.config.ontology_dir) / "extensions"
    files = sorted(p for p in folder.glob("*") if p.suffix in SUFFIXES) if folder.is_dir() else []
    problems: list[dict] = []
    loaded: set[str] = set()
    for path in files:
        try:
            outcome = add(kg, path.read_bytes(), path.suffix, agent="extensions-directory",
                          channel=f"file:{path.name}", allow_replace=True)
            loaded.add(outcome.graph)
        except (OSError, ExtensionError) as exc:
            detail = str(exc)
            if isinstance(exc, ExtensionError) and exc.violations:
                detail += "; " + "; ".join(v.get("message", "") for v in exc.violations[:SHOWN])
            problems.append({"file": str(path), "error": detail})
    _drop_vanished(kg, loaded, {p.name for p in files})
    return problems


def _drop_vanished(kg: KnowledgeGraph, loaded: set[str], present: set[str]) -> None:
    """Drop the added types that came from a file no longer in the directory (unless others use them)."""
    rows = select(kg, """
        SELECT ?g ?src ?prefix WHERE {
          GRAPH ?g { ?g dcterms:source ?src }
          FILTER(STRSTARTS(STR(?g), ?prefix) && STRSTARTS(?src, "file:"))
        }""", bounded=False, prefix=ox.Literal(kg.graph("extension/")))
    for row in list(rows):
        graph, source = row["g"].value, row["src"].value
        if graph in loaded or source[len("file:"):] in present:
            continue
        if not StoreContext(kg, graph, (), bounded=False).referrers(limit=1):
            kg.store.drop_graph(graph)


__all__ = ["load_extension_directory"]
