"""Reads ``ontology/`` into the store, through the same SHACL gate as submitted types.

Files and graphs:
- ``outsourcing.ttl``      → ``graph/vocabulary`` (classes, properties)
- ``data/*.ttl``           → ``graph/facts`` (BPO, KPO and the concepts they use)
- ``shapes.ttl``           → kept in memory, used by every validation
- ``extensions/*.ttl|trig``→ one graph each, through ``kg.extension.directory`` (a bad file is reported, not fatal)

Invalid shipped data stops the start with an error naming the file, line and problem: a service
that serves a graph it knows to be wrong would spread the error.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.term import Node

from kg.config import DEFAULT_NAMESPACE, Config
from kg.namespaces import graph_iri, prefixes
from kg.ontology import validate as validate_module
from kg.ontology.validate import Report, validate
from kg.store import Store
from kg.terms import graph_to_ox

VOCABULARY = "vocabulary"
FACTS = "facts"


class LoadError(Exception):
    """Shipped data that cannot be parsed or does not conform."""

    def __init__(self, message: str, *, file: Path | None = None, line: int | None = None,
                 report: Report | None = None):
        self.file, self.line, self.report = file, line, report
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        super().__init__(where + message)


@dataclass
class Ontology:
    """The parsed shipped graphs, kept for validation of later submissions."""

    vocabulary: Graph
    facts: Graph
    shapes: Graph
    files: dict[str, list[Path]] = field(default_factory=dict)


def parse_file(path: Path, config: Config, fmt: str | None = None) -> Graph:
    """Parse one RDF file with rdflib; syntax errors carry the file and line."""
    fmt = fmt or ("trig" if path.suffix == ".trig" else "turtle")
    graph = Graph()
    try:
        graph.parse(path, format=fmt)
    except Exception as exc:  # rdflib raises several unrelated types for bad syntax
        why = getattr(exc, "_why", None) or str(exc).splitlines()[0]
        raise LoadError(f"syntax error: {why}", file=path, line=_error_line(exc)) from exc
    return rewrite_namespace(graph, config)


def _error_line(exc: Exception) -> int | None:
    """1-based line of an rdflib syntax error.

    Counted from the error's offset in the parsed text: rdflib's own ``lines`` attribute drifts by a
    line or two after some constructs.
    """
    text, offset = getattr(exc, "_str", None), getattr(exc, "_i", None)
    if isinstance(text, (bytes, str)) and isinstance(offset, int):
        return text[:offset].count(b"\n" if isinstance(text, bytes) else "\n") + 1
    line = getattr(exc, "lines", None)
    return line + 1 if isinstance(line, int) else None


def rewrite_namespace(graph: Graph, config: Config) -> Graph:
    """Move IRIs from the default namespace to the configured one (no-op by default)."""
    if config.namespace == DEFAULT_NAMESPACE:
        return graph

    def move(term: Node) -> Node:
        if isinstance(term, URIRef) and str(term).startswith(DEFAULT_NAMESPACE):
            return URIRef(config.namespace + str(term)[len(DEFAULT_NAMESPACE):])
        return term

    moved = Graph()
    for s, p, o in graph:
        moved.add((move(s), move(p), move(o)))
    return moved


def read_ontology(config: Config) -> Ontology:
    """Parse the vocabulary, the facts and the shapes (no validation, no store)."""
    root = Path(config.ontology_dir)
    vocab_files = [root / "outsourcing.ttl"]
    fact_files = sorted((root / "data").glob("*.ttl"))
    shape_files = [root / "shapes.ttl"]
    for f in [*vocab_files, *shape_files]:
        if not f.exists():
            raise LoadError("file missing", file=f)
    vocabulary, facts, shapes = Graph(), Graph(), Graph()
    for f in vocab_files:
        vocabulary += parse_file(f, config)
    for f in fact_files:
        facts += parse_file(f, config)
    for f in shape_files:
        shapes += parse_file(f, config)
    for g in (vocabulary, facts, shapes):
        for prefix, ns in prefixes(config).items():
            g.bind(prefix, ns, override=True)
    return Ontology(vocabulary, facts, shapes,
                    {VOCABULARY: vocab_files, FACTS: fact_files, "shapes": shape_files})


def check(ontology: Ontology, extra: Graph | None = None) -> Report:
    """Validate the shipped facts (plus ``extra``) against the shapes."""
    data = ontology.facts + ontology.vocabulary
    if extra is not None:
        data += extra
    return validate(data, ontology.shapes, ontology.vocabulary)


def install(store: Store, config: Config, ontology: Ontology) -> None:
    """Write the shipped graphs into the store, each replaced atomically."""
    store.replace_graph(graph_iri(config, VOCABULARY), graph_to_ox(ontology.vocabulary))
    store.replace_graph(graph_iri(config, FACTS), graph_to_ox(ontology.facts))


def read_checked(config: Config) -> Ontology:
    """Read the shipped graphs and (unless turned off) validate them; raise LoadError naming the
    file, line and problem when they cannot be parsed or do not conform.

    Validation is skipped when these very files were found conforming before, by the same checking
    code and libraries, for this data directory (``CHECKED_STAMP``): SHACL is most of the cost of a
    start, and ``kg serve`` reads the files twice (the pre-flight, then the worker), as does every CLI
    command run on the same data.
    """
    ontology = read_ontology(config)
    if not config.validate_on_load:
        return ontology
    digest = _digest(config, [p for group in ontology.files.values() for p in group])
    stamp = Path(config.data_dir) / CHECKED_STAMP
    if _read(stamp) == digest:
        return ontology
    report = check(ontology)
    if not report.conforms:
        files = ", ".join(str(p) for p in ontology.files[FACTS])
        raise LoadError(f"the shipped facts in {files} do not conform to shapes.ttl\n" + report.text(),
                        report=report)
    _write(stamp, digest)
    return ontology


#: In the data directory: the digest of the shipped files last found conforming (see ``read_checked``).
CHECKED_STAMP = "shipped-data.checked"


def _digest(config: Config, files: list[Path]) -> str:
    """What a validation verdict depends on: every file read (name and bytes), the namespace they are
    moved to, the checking code (this module and ``kg.ontology.validate``) and the library versions."""
    h = hashlib.sha256()
    for part in (config.namespace, *(importlib.metadata.version(d) for d in ("rdflib", "pyshacl"))):
        h.update(part.encode() + b"\0")
    for path in [*sorted(files), Path(__file__), Path(validate_module.__file__)]:
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _write(path: Path, digest: str) -> None:
    """Record the verdict atomically; a directory that cannot be written only costs the next start a check."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(digest + "\n", encoding="ascii")
        os.replace(partial, path)
    except OSError:
        pass


def load(store: Store, config: Config) -> Ontology:
    """Read, validate and install the shipped graphs; raise LoadError when they do not conform."""
    ontology = read_checked(config)
    install(store, config, ontology)
    return ontology
