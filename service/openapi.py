"""One definition per API operation: it routes the request, validates its parameters and documents it.

Why: an OpenAPI document written by hand drifts from the code. Here a route exists only through
``operation(...)``, which attaches its ``Operation`` to the view; ``/openapi.json`` is then built
by walking the app's URL map (``build_document``), so what is documented is exactly what answers.

Public API (used by service/api.py, service/api_extend.py, service/docs.py)
---------------------------------------------------------------------------
``Param(name, schema, description="", required=False, location="query")``
    One parameter. ``schema`` is JSON Schema as OpenAPI 3.1 takes it: ``type`` one of string,
    integer, number, boolean, array (of strings, written comma-separated: ``?types=bpo,kpo``),
    with optional ``enum``, ``minimum``, ``maximum``, ``maxLength``, ``pattern``, ``default``.
    Path parameters (``location="path"``) are always required.

``operation(bp, method, path, *, summary, description="", tags=(), params=(), request_body=None,
responses=None, auth=False, operation_id=None)``
    Decorator. ``path`` is written the OpenAPI way (``/api/types/{slug}``). Registers the view on
    the blueprint for ``method`` and records the operation on it. Before the view runs, query
    parameters are parsed and checked against their schema (a bad one is answered 400
    ``application/problem+json`` naming it and what was expected); the view receives path and
    query parameters as keyword arguments (missing optional ones get their ``default`` or None).
    ``request_body`` is an OpenAPI Request Body object (the view reads ``flask.request`` itself).
    ``responses`` maps status code strings to OpenAPI Response objects (``json_response``,
    ``content_response`` help); a ``default`` problem response is always added, and 401/403 when
    ``auth=True`` (which also documents the ``bearerAuth`` security scheme).

``json_response(description, schema)``, ``content_response(description, {media_type: schema})``,
``problem_response(description)``
    Response objects. ``schema`` may be ``ref("Name")`` to a component of ``SCHEMAS``.

``SCHEMAS`` / ``ref(name)``
    Shared component schemas (``Problem``, ``TypeSummary`` ...); a blueprint adds its own with
    ``add_schemas({...})`` before building the document (plain dict update, at import time of the
    blueprint module, no I/O).

``build_document(app, *, server_url=None) -> dict``
    The OpenAPI 3.1 document of every operation registered on ``app``.

``bind_params(op, args) -> dict``
    Parse a MultiDict of raw strings against ``op.params`` (what the decorator does); raises
    ``service.errors.Problem`` 400.

Example::

    bp = Blueprint("api_extend", __name__)

    @operation(bp, "DELETE", "/api/types/{slug}", summary="Remove an added type", tags=["types"],
               params=[Param("slug", {"type": "string"}, location="path")],
               responses={"204": {"description": "removed"}}, auth=True)
    def remove_type(slug: str): ...
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, request

from service.errors import Problem

#: Numbers in ASCII digits only: ``int`` and ``float`` also read other scripts' digits, ``1_000`` and
#: ``infinity``.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def _as_python(pattern: str) -> str:
    """An OpenAPI (ECMA-262) pattern as Python reads it the same: its closing ``$`` is the end of the
    value, where Python's would also match before a final newline (``lpo\\n`` for ``^[a-z]+$``)."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern


#: Operations carry this attribute name on their (wrapped) view function.
ATTR = "openapi_operation"

PROBLEM_SCHEMA: dict = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}

SCHEMAS: dict[str, dict] = {"Problem": PROBLEM_SCHEMA}


def add_schemas(schemas: Mapping[str, dict]) -> None:
    """Add component schemas (called by blueprint modules when imported)."""
    SCHEMAS.update(schemas)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Param:
    """One query or path parameter with its JSON Schema."""

    name: str
    schema: dict
    description: str = ""
    required: bool = False
    location: str = "query"

    def expected(self) -> str:
        """Words for what a value must look like, for 400 messages."""
        s = self.schema
        if "enum" in s:
            return "one of " + ", ".join(str(v) for v in s["enum"])
        kind = s.get("type", "string")
        if kind == "array":
            inner = s.get("items", {})
            words = "a comma-separated list"
            if "enum" in inner:
                words += " of " + ", ".join(str(v) for v in inner["enum"])
            if "minItems" in s:
                words += f" of at least {s['minItems']} values"
            return words
        words = {"integer": "an integer", "number": "a number", "boolean": "true or false",
                 "string": "a string"}.get(kind, kind)
        bounds = []
        if "minimum" in s:
            bounds.append(f">= {s['minimum']}")
        if "maximum" in s:
            bounds.append(f"<= {s['maximum']}")
        if "maxLength" in s:
            bounds.append(f"at most {s['maxLength']} characters")
        if "minLength" in s:
            bounds.append(f"at least {s['minLength']} characters")
        if "pattern" in s:
            bounds.append(f"matching {s['pattern']}")
        return words + (" " + ", ".join(bounds) if bounds else "")

    def parse(self, raw: str) -> Any:
        """The typed value of one raw string; ValueError when it does not fit the schema."""
        s = self.schema
        kind = s.get("type", "string")
        if kind == "array":
            items = [v.strip() for v in raw.split(",") if v.strip()]
            inner = Param(self.name, s.get("items", {"type": "string"}))
            values = [inner.parse(v) for v in items]
            if len(values) < s.get("minItems", 0) or len(values) > s.get("maxItems", math.inf):
                raise ValueError
            return values
        if kind == "integer":
            if not _INTEGER.fullmatch(raw.strip()):
                raise ValueError
            value: Any = int(raw)
        elif kind == "number":
            if not _NUMBER.fullmatch(raw.strip()):
                raise ValueError
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
        elif kind == "boolean":
            lowered = raw.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError
            value = lowered in {"true", "1", "yes"}
        else:
            value = raw
            if "\x00" in raw:
                raise ValueError
            if len(raw) > s.get("maxLength", 10_000) or len(raw) < s.get("minLength", 0):
                raise ValueError
            if "pattern" in s and not re.search(_as_python(s["pattern"]), raw):
                raise ValueError
        if "enum" in s and value not in s["enum"]:
            raise ValueError
        if "minimum" in s and value < s["minimum"]:
            raise ValueError
        if "maximum" in s and value > s["maximum"]:
            raise ValueError
        return value

    def document(self) -> dict:
        doc: dict[str, Any] = {"name": self.name, "in": self.location,
                               "required": self.required or self.location == "path",
                               "schema": self.schema}
        if self.description:
            doc["description"] = self.description
        if self.schema.get("type") == "array":
            doc["style"], doc["explode"] = "form", False
        return doc


@dataclass
class Operation:
    """Everything known about one method on one path."""

    method: str
    path: str
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    request_body: dict | None = None
    responses: dict[str, dict] = field(default_factory=dict)
    auth: bool = False
    operation_id: str = ""

    def document(self) -> dict:
        doc: dict[str, Any] = {"operationId": self.operation_id, "summary": self.summary}
        if self.description:
            doc["description"] = self.description
        if self.tags:
            doc["tags"] = list(self.tags)
        if self.params:
            doc["parameters"] = [p.document() for p in self.params]
        if self.request_body:
            doc["requestBody"] = self.request_body
        responses = dict(self.responses) or {"200": {"description": "OK"}}
        if self.params and "400" not in responses:
            responses["400"] = problem_response("a parameter does not have the expected type or value")
        if self.auth:
            responses.setdefault("401", problem_response("missing or wrong bearer token"))
            responses.setdefault("403", problem_response("writes are disabled (no admin token configured)"))
            doc["security"] = [{"bearerAuth": []}]
        responses.setdefault("default", problem_response("an error, as problem details"))
        doc["responses"] = responses
        return doc


def json_response(description: str, schema: dict | None = None) -> dict:
    return content_response(description, {"application/json": schema or {}})


def content_response(description: str, media: Mapping[str, dict | None]) -> dict:
    return {"description": description,
            "content": {m: ({"schema": s} if s else {}) for m, s in media.items()}}


def problem_response(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


def flask_rule(path: str, params: Iterable[Param] = ()) -> str:
    """``/api/types/{slug}`` → ``/api/types/<slug>`` (integers become ``<int:...>``)."""
    kinds = {p.name: p.schema.get("type") for p in params}

    def convert(match: re.Match) -> str:
        name = match.group(1)
        return f"<int:{name}>" if kinds.get(name) == "integer" else f"<{name}>"

    return re.sub(r"\{(\w+)\}", convert, path)


def bind_params(op: Operation, args: Mapping[str, str]) -> dict[str, Any]:
    """Typed values of ``op``'s query parameters from raw request arguments; Problem 400 on a bad one."""
    values: dict[str, Any] = {}
    for param in op.params:
        if param.location != "query":
            continue
        raw = args.get(param.name)
        if raw is None or (raw == "" and not param.required and param.schema.get("type") != "string"):
            if param.required:
                raise Problem(400, "Bad Request", f"parameter '{param.name}' is required: "
                                                  f"give {param.expected()}",
                              kind="bad-parameter", parameter=param.name, expected=param.expected())
            values[param.name] = param.schema.get("default")
            continue
        try:
            values[param.name] = param.parse(raw)
        except (ValueError, OverflowError):
            raise Problem(400, "Bad Request",
                          f"parameter '{param.name}' must be {param.expected()}, not {raw[:80]!r}",
                          kind="bad-parameter", parameter=param.name, expected=param.expected()) from None
    return values


def check_path(op: Operation, values: Mapping[str, Any]) -> None:
    """404 when a path segment does not fit its parameter's schema: no resource has such a name."""
    for param in op.params:
        raw = values.get(param.name) if param.location == "path" else None
        if not isinstance(raw, str):
            continue
        try:
            param.parse(raw)
        except (ValueError, OverflowError):
            raise Problem(404, "Not Found", f"nothing at {op.path}: its {param.name} must be {param.expected()}, "
                                            f"not {raw[:80]!r}", kind="not-found", parameter=param.name,
                          expected=param.expected()) from None


def wrap(op: Operation, view: Callable) -> Callable:
    """``view`` with its query parameters checked and passed as keyword arguments, ``op`` attached."""

    @functools.wraps(view)
    def wrapper(**path_values: Any):
        check_path(op, path_values)
        return view(**path_values, **bind_params(op, request.args))

    setattr(wrapper, ATTR, op)
    return wrapper


def register(bp: Blueprint | Flask, op: Operation, view: Callable, *, endpoint: str | None = None) -> Callable:
    """Route ``view`` for ``op`` on ``bp`` (a blueprint or an app) and attach ``op`` to it.

    Inside a ``Blueprint.record`` callback (routes known only once the app exists, such as named
    queries), pass the ``BlueprintSetupState`` as ``bp``: it has the same ``add_url_rule``.
    """
    wrapper = wrap(op, view)
    bp.add_url_rule(flask_rule(op.path, op.params), endpoint=endpoint or op.operation_id,
                    view_func=wrapper, methods=[op.method])
    return wrapper


def operation(bp: Blueprint, method: str, path: str, *, summary: str, description: str = "",
              tags: Iterable[str] = (), params: Iterable[Param] = (), request_body: dict | None = None,
              responses: dict[str, dict] | None = None, auth: bool = False,
              operation_id: str | None = None) -> Callable[[Callable], Callable]:
    """Decorator: route and document one operation (see the module docstring)."""

    def decorate(view: Callable) -> Callable:
        op = Operation(method=method.upper(), path=path, summary=summary, description=description,
                       tags=tuple(tags), params=tuple(params), request_body=request_body,
                       responses=dict(responses or {}), auth=auth,
                       operation_id=operation_id or view.__name__)
        return register(bp, op, view)

    return decorate


def operations(app: Flask) -> list[Operation]:
    """Every documented operation routed on ``app``, in URL-map order."""
    found: list[Operation] = []
    seen: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        op = getattr(app.view_functions.get(rule.endpoint), ATTR, None)
        if op is not None and (op.path, op.method) not in seen:
            seen.add((op.path, op.method))
            found.append(op)
    return found


def build_document(app: Flask, *, server_url: str | None = None, title: str = "outsourcing-kg API",
                   version: str = "0.1.0") -> dict:
    """The OpenAPI 3.1 document for every operation registered on ``app``."""
    paths: dict[str, dict] = {}
    tags: list[str] = []
    for op in sorted(operations(app), key=lambda o: o.path):
        paths.setdefault(op.path, {})[op.method.lower()] = op.document()
        tags += [t for t in op.tags if t not in tags]
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "summary": "Lookups, comparisons and named queries over the outsourcing knowledge graph.",
            "description": "Every answer is built from the graph; errors are application/problem+json "
                           "(RFC 9457). The full graph is also queryable in SPARQL at /sparql.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "tags": [{"name": t} for t in tags],
        "components": {
            "schemas": dict(SCHEMAS),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url.rstrip("/") or "/"}]
    return doc
