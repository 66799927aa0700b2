"""Named queries: ``queries/*.rq`` files with a header that names them and types their parameters.

Why: most users never write SPARQL; a stored query with typed parameters is an operation they can
call (``/api/queries/{name}``, ``kg query --file``). Values are checked against their declared type
and bound into the *parsed* query as RDF terms (``substitutions``), never pasted into its text, so
no value can change the query's structure.

Header format: comment lines starting with ``#+`` hold one YAML document::

    #+ name: skills-of-type
    #+ summary: Skills an outsourcing type requires
    #+ description: Every skill the type's workers need, with the source sentence.
    #+ params:
    #+   - name: type
    #+     type: iri            # iri | string | language | integer | decimal
    #+     class: out:OutsourcingType
    #+     default: kpo
    #+     description: The outsourcing type (slug, prefixed name or IRI).

Optional keys of a parameter: ``default`` (without one the parameter is required), ``enum``,
``minimum``/``maximum`` (numbers), ``class`` (IRIs: the value must be an instance of it). The
query refers to each parameter as the variable of the same name and, for a SELECT, projects it:
Oxigraph binds a substituted variable only when the projection names it.

Why one module of this size: the header's format, the typed values it declares and the checks of
those values against the graph are one contract with the ``.rq`` files, read top to bottom here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import yaml

from kg.graph import KnowledgeGraph
from kg.query.trusted import Query

XSD = "http://www.w3.org/2001/XMLSchema#"
TYPES = ("iri", "string", "language", "integer", "decimal")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: A language tag (BCP 47's outline), matched whole: ``$`` would take a trailing newline.
_LANG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
#: Numbers in ASCII digits only: ``int`` and ``Decimal`` also read other scripts' digits and ``1_000``. A
#: decimal's exponent has two digits at most: ``1e-999999999`` is a short text whose decimal form
#: (the literal bound) is a billion characters.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_STRING = 500


class QueryFileError(ValueError):
    """A ``.rq`` file whose header or text is not usable."""


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str
    description: str = ""
    default: str | None = None
    enum: tuple[str, ...] = ()
    cls: str | None = None  #: class of an IRI parameter, as written (prefixed name or IRI)
    minimum: float | None = None
    maximum: float | None = None

    @property
    def required(self) -> bool:
        return self.default is None

    def expected(self) -> str:
        if self.enum:
            return "one of " + ", ".join(self.enum)
        words = {
            "iri": f"the slug, prefixed name or IRI of {'an ' + self.cls if self.cls else 'a resource'}",
            "string": f"a string of at most {MAX_STRING} characters",
            "language": "a language tag such as en or fr",
            "integer": "an integer",
            "decimal": "a decimal number",
        }[self.type]
        if self.minimum is not None:
            words += f" >= {self.minimum}"
        if self.maximum is not None:
            words += f" <= {self.maximum}"
        return words

    def json_schema(self) -> dict:
        """The parameter as JSON Schema, for OpenAPI."""
        schema: dict[str, Any] = {"type": "string"}
        if self.type == "integer":
            schema = {"type": "integer"}
        elif self.type == "decimal":
            schema = {"type": "number"}
        elif self.type == "string":
            schema["maxLength"] = MAX_STRING
        elif self.type == "language":
            schema["pattern"] = f"^{_LANG.pattern}$"
        elif self.type == "iri":
            schema["maxLength"] = 2000
        if self.enum:
            schema["enum"] = [_number(self.type, v) for v in self.enum]
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = _number(self.type, self.default)
        return schema


def _number(kind: str, value: str) -> Any:
    if kind == "integer":
        return int(value)
    if kind == "decimal":
        return float(value)
    return value


@dataclass(frozen=True)
class NamedQuery:
    name: str
    summary: str
    description: str
    text: str
    parameters: tuple[QueryParam, ...] = ()
    path: Path | None = None
    form: str = "SELECT"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def param(self, name: str) -> QueryParam | None:
        return next((p for p in self.parameters if p.name == name), None)


def parse_query_file(path: Path, *, strict: bool = True) -> NamedQuery:
    """Read one ``.rq`` file; QueryFileError names the file and what is wrong.

    ``strict=False`` (a file given to ``kg query --file``) accepts any file name.
    """
    text = path.read_text(encoding="utf-8")
    header = "\n".join(line[2:].removeprefix(" ") for line in text.splitlines() if line.startswith("#+"))
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        raise QueryFileError(f"{path}: header is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise QueryFileError(f"{path}: the #+ header must be a YAML mapping")
    name = str(meta.get("name") or path.stem)
    if strict and not _NAME.fullmatch(name):
        raise QueryFileError(f"{path}: name {name!r} must be lowercase letters, digits and hyphens")
    params = []
    for raw in meta.get("params") or []:
        if not isinstance(raw, dict) or "name" not in raw:
            raise QueryFileError(f"{path}: each parameter needs a name")
        kind = str(raw.get("type", "string"))
        pname = str(raw["name"])
        if kind not in TYPES:
            raise QueryFileError(f"{path}: parameter {pname}: type must be one of {', '.join(TYPES)}")
        if not _VAR.fullmatch(pname):
            raise QueryFileError(f"{path}: parameter name {pname!r} is not a SPARQL variable name")
        params.append(QueryParam(
            name=pname, type=kind, description=str(raw.get("description", "")),
            default=None if raw.get("default") is None else str(raw["default"]),
            enum=tuple(str(v) for v in raw.get("enum") or ()),
            cls=raw.get("class"), minimum=raw.get("minimum"), maximum=raw.get("maximum")))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#+"))
    form = _form(body)
    if form is None:
        raise QueryFileError(f"{path}: not a SELECT, ASK or CONSTRUCT query")
    return NamedQuery(name=name, summary=str(meta.get("summary") or name),
                      description=str(meta.get("description") or "").strip(), text=body.strip() + "\n",
                      parameters=tuple(params), path=path, form=form,
                      tags=tuple(str(t) for t in meta.get("tags") or ()))


def _form(text: str) -> str | None:
    stripped = re.sub(r"(?m)#.*$", "", text)
    stripped = re.sub(r"(?is)\b(PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)", "", stripped)
    match = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", stripped, re.IGNORECASE)
    return match.group(1).upper() if match else None


def load_queries(directory: Path | str, prefixes: dict[str, str] | None = None) -> list[NamedQuery]:
    """Every named query in ``directory``, checked: header, syntax, and that parameters bind.

    Each query is parsed and run once with placeholder values against an empty store, so a typo or
    an unprojected parameter fails here, at start, not on the first request.
    """
    directory = Path(directory)
    queries = [parse_query_file(p) for p in sorted(directory.glob("*.rq"))]
    names = [q.name for q in queries]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise QueryFileError(f"{directory}: query names used twice: {', '.join(sorted(dupes))}")
    empty = ox.Store()
    for q in queries:
        subs = {ox.Variable(p.name): _placeholder(p) for p in q.parameters}
        try:
            result = empty.query(q.text, substitutions=subs, prefixes=prefixes or {},
                                 use_default_graph_as_union=True)
            if isinstance(result, ox.QuerySolutions):
                list(result)
        except (SyntaxError, RuntimeError, OSError) as exc:
            raise QueryFileError(f"{q.path}: {exc}") from exc
    return queries


def _placeholder(p: QueryParam) -> ox.Literal | ox.NamedNode:
    if p.type == "iri":
        return ox.NamedNode("urn:x-placeholder:value")
    if p.type == "integer":
        return ox.Literal("0", datatype=ox.NamedNode(XSD + "integer"))
    if p.type == "decimal":
        return ox.Literal("0", datatype=ox.NamedNode(XSD + "decimal"))
    return ox.Literal("x")


def queries_for(kg: KnowledgeGraph) -> list[NamedQuery]:
    """The configured directory's queries, read again only after a write."""
    return kg.per_version("named queries", lambda: load_queries(kg.config.queries_dir, kg.prefixes))


def find(kg: KnowledgeGraph, name: str) -> NamedQuery | None:
    return next((q for q in queries_for(kg) if q.name == name), None)


class BadParameter(ValueError):
    """A parameter value that does not fit its declared type; names the parameter and the expectation."""

    def __init__(self, param: QueryParam, raw: str | None, why: str = ""):
        self.param, self.raw = param, raw
        self.expected = param.expected()
        if raw is None:
            message = f"parameter '{param.name}' is required: give {self.expected}"
        else:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            message = f"parameter '{param.name}' must be {self.expected}, not {shown!r}"
        super().__init__(message + (f" ({why})" if why else ""))


@dataclass(frozen=True)
class Membership:
    """An IRI value that must be an instance of its parameter's class: a question for the graph, asked
    in the same batch as the query the value is bound into (one round trip, one version)."""

    param: QueryParam
    raw: str
    node: ox.NamedNode
    cls: ox.NamedNode

    def query(self) -> Query:
        return Query(_INSTANCE, {"value": self.node, "class": self.cls})


def bind(kg: KnowledgeGraph, query: NamedQuery, values: dict[str, str]) -> dict[str, ox.NamedNode | ox.Literal]:
    """Typed RDF terms for every parameter of ``query``; BadParameter on a bad or missing value.

    Unknown names are refused too, so a misspelt parameter is not silently ignored.
    """
    terms, memberships = prepare(kg, query, values)
    check(kg, memberships)
    return terms


def prepare(kg: KnowledgeGraph, query: NamedQuery,
            values: dict[str, str]) -> tuple[dict[str, ox.NamedNode | ox.Literal], list[Membership]]:
    """``bind`` without reading the graph: the terms, and the class memberships still to ``check``."""
    unknown = sorted(set(values) - {p.name for p in query.parameters})
    if unknown:
        known = ", ".join(p.name for p in query.parameters) or "none"
        raise ValueError(f"unknown parameter '{unknown[0]}' for query {query.name} (parameters: {known})")
    terms: dict[str, ox.NamedNode | ox.Literal] = {}
    memberships: list[Membership] = []
    for p in query.parameters:
        raw = values.get(p.name)
        terms[p.name] = term = _parse(kg, p, raw)
        membership = _membership(kg, p, raw, term)
        if membership is not None:
            memberships.append(membership)
    return terms, memberships


def _membership(kg: KnowledgeGraph, p: QueryParam, raw: str | None,
                term: ox.NamedNode | ox.Literal) -> Membership | None:
    """The class ``term`` must belong to, when ``p`` declares one."""
    if not p.cls or not isinstance(term, ox.NamedNode):
        return None
    return Membership(p, raw or p.default or "", term, ox.NamedNode(_expand(kg, p.cls)))


def check(kg: KnowledgeGraph, memberships: list[Membership], answers: list | None = None) -> None:
    """BadParameter for the first value that is no instance of its class. ``answers``: what
    ``Membership.query`` gave, when the caller asked it in its own batch; otherwise asked here."""
    if not memberships:
        return
    if answers is None:
        answers = kg.query_all([m.query() for m in memberships], timeout=kg.config.query_timeout)
    for membership, rows in zip(memberships, answers, strict=True):
        if not list(rows):
            known = [kg.slug(r["value"].value) or r["value"].value for r in
                     kg.query(_INSTANCES, prefixes=kg.prefixes, substitutions={"class": membership.cls},
                              timeout=kg.config.query_timeout)]
            raise BadParameter(membership.param, membership.raw,
                               "known: " + ", ".join(known) if known else "none known")


def to_term(kg: KnowledgeGraph, p: QueryParam, raw: str | None) -> ox.NamedNode | ox.Literal:
    """One value as an RDF term of the parameter's type (the default when ``raw`` is None), an IRI
    of a declared class checked against the graph."""
    term = _parse(kg, p, raw)
    membership = _membership(kg, p, raw, term)
    check(kg, [membership] if membership is not None else [])
    return term


def _parse(kg: KnowledgeGraph, p: QueryParam, raw: str | None) -> ox.NamedNode | ox.Literal:
    if raw is None or raw == "":
        if p.default is None:
            raise BadParameter(p, None)
        raw = p.default
    if "\x00" in raw:
        raise BadParameter(p, raw, "NUL characters are not allowed")
    if p.enum and raw not in p.enum:
        raise BadParameter(p, raw)
    if p.type == "string":
        if len(raw) > MAX_STRING:
            raise BadParameter(p, raw, "too long")
        return ox.Literal(raw)
    if p.type == "language":
        if not _LANG.fullmatch(raw):
            raise BadParameter(p, raw)
        return ox.Literal(raw.lower())
    if p.type == "integer":
        if not _INTEGER.fullmatch(raw.strip()):
            raise BadParameter(p, raw)
        number = int(raw)
        _check_range(p, raw, number)
        return ox.Literal(str(number), datatype=ox.NamedNode(XSD + "integer"))
    if p.type == "decimal":
        if len(raw) > 40 or not _DECIMAL.fullmatch(raw.strip()):
            raise BadParameter(p, raw)
        try:
            number_d = Decimal(raw.strip())
        except InvalidOperation:
            raise BadParameter(p, raw) from None
        if not number_d.is_finite():
            raise BadParameter(p, raw)
        _check_range(p, raw, number_d)
        text = format(number_d, "f")
        if "." not in text:
            text += ".0"
        return ox.Literal(text, datatype=ox.NamedNode(XSD + "decimal"))
    return _iri(kg, p, raw)


def _check_range(p: QueryParam, raw: str, number) -> None:
    if p.minimum is not None and number < Decimal(str(p.minimum)):
        raise BadParameter(p, raw)
    if p.maximum is not None and number > Decimal(str(p.maximum)):
        raise BadParameter(p, raw)


_INSTANCE = "SELECT ?value ?class WHERE { ?value a/rdfs:subClassOf* ?class } LIMIT 1"
_INSTANCES = "SELECT ?class ?value WHERE { ?value a/rdfs:subClassOf* ?class } ORDER BY ?value LIMIT 50"


def _iri(kg: KnowledgeGraph, p: QueryParam, raw: str) -> ox.NamedNode:
    raw = raw.strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    prefix, sep, local = raw.partition(":")
    if raw.startswith(("http://", "https://", "urn:")):
        iri = raw
    elif sep and prefix in kg.prefixes:
        iri = kg.prefixes[prefix] + local
    elif _SLUG.fullmatch(raw):
        iri = kg.iri(raw)
    else:
        raise BadParameter(p, raw)
    try:
        return ox.NamedNode(iri)
    except ValueError:
        raise BadParameter(p, raw, "not a valid IRI") from None


def _expand(kg: KnowledgeGraph, name: str) -> str:
    prefix, sep, local = name.partition(":")
    if sep and prefix in kg.prefixes and not name.startswith(("http://", "https://")):
        return kg.prefixes[prefix] + local
    return name


def run(kg: KnowledgeGraph, query: NamedQuery, values: dict[str, str]):
    """Evaluate a named query with its parameters bound; BadParameter/ValueError on bad values.

    Returns the store's result (``QuerySolutions``, ``QueryBoolean`` or triples). Only the CLI runs
    it (``kg query --file``, on the operator's machine); the API runs named queries through
    ``kg.query.sparql.run_query``, under its caps.
    """
    terms = bind(kg, query, values)
    return kg.query(query.text, prefixes=kg.prefixes, substitutions=terms,
                          timeout=kg.config.query_timeout)


def run_file(kg: KnowledgeGraph, path: Path | str, values: dict[str, str]):
    """``kg query --file F.rq -p name=value``: the file's parameters bound, like the API does.

    Raises ValueError (with the parameter and what it expects) on a bad value.
    """
    query = parse_query_file(Path(path), strict=False)
    return run(kg, query, values)
