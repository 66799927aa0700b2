"""GET routes of ``/api``: lookups, search, the comparison and the named queries, as JSON.

Why: most users never write SPARQL. Each route parses its parameters (through the operation
registry of ``service.openapi``, which also documents it), calls one ``kg`` function and shapes the
answer; errors are ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, render_template, request
from werkzeug.datastructures import MultiDict

from kg.domain import compare as comparing
from kg.domain import compare_formats, lookup
from kg.domain import named_queries as queries
from kg.domain.search import search as run_search
from kg.formats import BY_KEY
from kg.query import sparql
from service.current import current_kg
from service.errors import Problem
from service.headers import FORM_TYPE, form_body
from service.negotiation import choose
from service.openapi import (
    Operation,
    Param,
    add_schemas,
    content_response,
    json_response,
    operation,
    ref,
    register,
)

bp = Blueprint("api", __name__)

LANG = Param("lang", {"type": "string", "enum": ["en", "fr"], "default": "en"}, "Language of labels.")
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size.")
OFFSET = Param("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
               "Items to skip.")
SLUG = Param("slug", {"type": "string", "maxLength": 200}, "The type's slug, e.g. kpo.", location="path")

add_schemas({
    "TypeSummary": {
        "type": "object",
        "properties": {
            "iri": {"type": "string"}, "slug": {"type": ["string", "null"]},
            "label": {"type": ["string", "null"]}, "acronym": {"type": ["string", "null"]},
            "definition": {"type": ["string", "null"]}, "page": {"type": ["string", "null"]},
            "earnings": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["iri", "slug", "label", "acronym", "definition"],
    },
    "Page": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
            "next": {"type": ["string", "null"]},
        },
        "required": ["items", "total", "limit", "offset"],
    },
    "TypeDetail": {
        "type": "object",
        "properties": {
            "iri": {"type": "string"}, "slug": {"type": ["string", "null"]},
            "facts": {"type": "array", "items": {"type": "object"}},
            "provenance": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["iri", "facts"],
    },
    "Comparison": {
        "type": "object",
        "properties": {
            "types": {"type": "array", "items": {"type": "object"}},
            "dimensions": {"type": "array", "items": {"type": "object"}},
            "relations": {"type": "array", "items": {"type": "object"}},
            "stored_comparisons": {"type": "array", "items": {"type": "object"}},
            "earnings_ratios": {"type": "array", "items": {"type": "object"}},
            "shared": {"type": "array", "items": {"type": "string"}},
            "differences": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["types", "dimensions"],
    },
})


def _page(items: list, limit: int, offset: int) -> dict:
    nxt = None
    if offset + limit < len(items):
        args = request.args.to_dict()
        args.update(limit=str(limit), offset=str(offset + limit))
        # Names encoded as values are: a name holding ``&``, ``=`` or ``#`` stays one parameter.
        nxt = request.path + "?" + urlencode(args, quote_via=quote)
    return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset,
            "next": nxt}


def _filter_concept(kg, raw: str | None, cls: str, name: str) -> str | None:
    if raw is None or raw == "":
        return None
    candidates = lookup.concepts(kg, kg.prefixes["out"] + cls)
    iri = lookup.resolve(kg, raw, candidates)
    if iri is None:
        known = ", ".join(c.slug or c.iri for c in candidates)
        raise Problem(400, "Bad Request", f"parameter '{name}' must name an out:{cls} (one of: {known}), "
                                          f"not {raw[:80]!r}", kind="bad-parameter", parameter=name,
                      expected=f"one of {known}")
    return iri


@operation(bp, "GET", "/api/types", summary="List outsourcing types", tags=["types"],
           description="Every outsourcing type with label, acronym, definition, IRI, page and earnings. "
                       "Filters: a required skill, an example activity, an activity level "
                       "(slug, IRI, label or the last part of the slug, e.g. `high`).",
           params=[Param("skill", {"type": "string", "maxLength": 200}, "Only types requiring this skill."),
                   Param("activity", {"type": "string", "maxLength": 200},
                         "Only types with this example activity."),
                   Param("activity_level", {"type": "string", "maxLength": 200},
                         "Only types at this activity level, e.g. `high`."),
                   LANG, LIMIT, OFFSET],
           responses={"200": json_response("a page of types", ref("Page"))})
def list_types(skill, activity, activity_level, lang, limit, offset):
    kg = current_kg()
    out = kg.prefixes["out"]
    wanted = [(out + "requiresSkill", _filter_concept(kg, skill, "Skill", "skill")),
              (out + "typicalActivity", _filter_concept(kg, activity, "Activity", "activity")),
              (out + "hasActivityLevel", _filter_concept(kg, activity_level, "ActivityLevel",
                                                         "activity_level"))]
    facts = lookup.type_facts(kg)
    rates = lookup.earnings(kg, lang)
    items = []
    for t in lookup.list_types(kg, lang):
        have = facts.get(t["iri"], {})
        if all(iri is None or iri in have.get(prop, ()) for prop, iri in wanted):
            items.append({**t, "page": lookup.page_link(kg, t["iri"]), "earnings": rates.get(t["iri"], [])})
    return jsonify(_page(items, limit, offset))


def _known_types(kg) -> list[str]:
    return sorted(t["slug"] for t in lookup.list_types(kg) if t["slug"])


@operation(bp, "GET", "/api/types/{slug}", summary="One outsourcing type with all its facts", tags=["types"],
           description="Every statement about the type, values resolved to labels, each with the source "
                       "sentence that supports it.",
           params=[SLUG, LANG],
           responses={"200": json_response("the type", ref("TypeDetail")),
                      "404": content_response("no such type; the known ones are listed",
                                              {"application/problem+json": ref("Problem")})})
def get_type(slug, lang):
    kg = current_kg()
    # One batch, one version of the graph: a type removed while it is described is absent, never half there.
    body = lookup.describe_type(kg, kg.iri(slug), lang)
    if body is None:
        known = _known_types(kg)
        raise Problem(404, "Not Found", f"no outsourcing type {slug!r}; known types: {', '.join(known)}",
                      kind="unknown-type", known=known)
    return jsonify(body)


def _concept_list(cls: str, lang: str, limit: int, offset: int) -> Response:
    kg = current_kg()
    uses = lookup.used_by(kg, kg.prefixes["out"] + cls)
    items = []
    for c in lookup.concepts(kg, kg.prefixes["out"] + cls, lang):
        by_prop = uses.get(c.iri, {})
        items.append({"iri": c.iri, "slug": c.slug, "label": c.label, "page": lookup.page_link(kg, c.iri),
                      "types": sorted({s for slugs in by_prop.values() for s in slugs}), "kind": c.kind})
    return jsonify(_page(items, limit, offset))


@operation(bp, "GET", "/api/skills", summary="List skills", tags=["skills"],
           description="Every skill with the types that require it.", params=[LANG, LIMIT, OFFSET],
           responses={"200": json_response("a page of skills", ref("Page"))})
def list_skills(lang, limit, offset):
    return _concept_list("Skill", lang, limit, offset)


@operation(bp, "GET", "/api/activities", summary="List activities", tags=["activities"],
           description="Every activity with the types it is an example of.", params=[LANG, LIMIT, OFFSET],
           responses={"200": json_response("a page of activities", ref("Page"))})
def list_activities(lang, limit, offset):
    return _concept_list("Activity", lang, limit, offset)


@operation(bp, "GET", "/api/search", summary="Search labels, acronyms and definitions", tags=["search"],
           description="Case- and accent-insensitive; exact matches first, then prefixes, words, "
                       "substrings; labels weigh more than definitions.",
           params=[Param("q", {"type": "string", "minLength": 1, "maxLength": 200}, "Text to find.",
                         required=True),
                   Param("kind", {"type": "string", "maxLength": 100},
                         "Only resources of this class, e.g. Skill or OutsourcingType."),
                   LIMIT, OFFSET],
           responses={"200": json_response("ranked matches", ref("Page"))})
def search(q, kind, limit, offset):
    if not q.strip():
        raise Problem(400, "Bad Request", "parameter 'q' must contain some text", kind="bad-parameter",
                      parameter="q", expected="a non-blank string")
    return jsonify(_page(run_search(current_kg(), q, kind or None), limit, offset))


COMPARE_FORMATS = [BY_KEY["json"], BY_KEY["csv"], BY_KEY["markdown"], BY_KEY["html"]]


@operation(bp, "GET", "/api/compare", summary="Compare outsourcing types dimension by dimension",
           tags=["compare"],
           description="The rows are the graph's comparison dimensions; values come with their source "
                       "sentence; earnings with the computed ratio to the first type; relations between the "
                       "types and stored comparisons are listed. JSON, CSV, Markdown or HTML by Accept or "
                       "`format`.",
           params=[Param("types", {"type": "array", "items": {"type": "string", "maxLength": 200},
                                   "minItems": 2, "maxItems": 10},
                         "Two or more type slugs, comma-separated, e.g. bpo,kpo.", required=True),
                   Param("format", {"type": "string", "enum": ["json", "csv", "markdown", "html"]},
                         "Overrides the Accept header."),
                   LANG],
           responses={"200": content_response("the comparison", {
               "application/json": ref("Comparison"), "text/csv": {"type": "string"},
               "text/markdown": {"type": "string"}, "text/html": {"type": "string"}}),
               "404": content_response("a type is unknown; the known ones are listed",
                                       {"application/problem+json": ref("Problem")}),
               "406": content_response("no offered format is acceptable",
                                       {"application/problem+json": ref("Problem")})})
def compare(types, format, lang):
    kg = current_kg()
    fmt = choose(COMPARE_FORMATS, format)
    try:
        result = comparing.compare(kg, types, lang)
    except comparing.UnknownType as exc:
        raise Problem(404, "Not Found", str(exc), kind="unknown-type", known=exc.known) from None
    except ValueError as exc:
        raise Problem(400, "Bad Request", f"parameter 'types': {exc}", kind="bad-parameter",
                      parameter="types", expected="two or more distinct type slugs") from None
    if fmt.key == "csv":
        response = Response(compare_formats.to_csv(result), mimetype="text/csv")
    elif fmt.key == "markdown":
        response = Response(compare_formats.to_markdown(result), mimetype="text/markdown")
    elif fmt.key == "html":
        response = Response(render_template("compare.html", c=result, data=compare_formats.to_dict(result),
                                            bars=compare_formats.earnings_bars(result),
                                            names={t.slug: t.name for t in result.types}), mimetype="text/html")
    else:
        response = jsonify(compare_formats.to_dict(result))
    response.charset = "utf-8"
    return response


# -- named queries -------------------------------------------------------------------------------

def _query_summary(q: queries.NamedQuery) -> dict:
    return {"name": q.name, "summary": q.summary, "description": q.description,
            "url": f"/api/queries/{q.name}",
            "parameters": [{"name": p.name, "type": p.type, "class": p.cls, "default": p.default,
                            "enum": list(p.enum) or None, "required": p.required, "description": p.description,
                            "schema": p.json_schema()} for p in q.parameters],
            "text": q.text}


@operation(bp, "GET", "/api/queries", summary="List the named queries", tags=["queries"],
           description="The SPARQL queries shipped in queries/, with their typed parameters.",
           responses={"200": json_response("the queries", {"type": "object", "properties": {
               "items": {"type": "array", "items": {"type": "object"}}}, "required": ["items"]})})
def list_queries():
    return jsonify({"items": [_query_summary(q) for q in queries.queries_for(current_kg())]})


RESULT_FORMATS = [BY_KEY["json"], BY_KEY["csv"], BY_KEY["tsv"]]


def _posted_form(kg) -> MultiDict:
    """The parameters of a POST body: a urlencoded form, read as UTF-8 only (service/headers.py).

    multipart/form-data is refused: Werkzeug decodes its fields in whatever charset each part
    names, and a named query has no file to upload."""
    if request.mimetype == FORM_TYPE:
        return form_body(kg.config.max_body)
    if request.content_length or request.headers.get("Transfer-Encoding"):
        # A body that is not a form would be ignored silently; say so instead.
        raise Problem(415, "Unsupported Media Type",
                      f"send the parameters as a form ({FORM_TYPE}, UTF-8) or in the query string, "
                      f"not as {request.mimetype or 'a body without Content-Type'}",
                      kind="unsupported-media-type")
    return MultiDict()


def _run_named(name: str) -> Response:
    kg = current_kg()
    query = queries.find(kg, name)
    if query is None:
        known = [q.name for q in queries.queries_for(kg)]
        raise Problem(404, "Not Found", f"no named query {name!r}; known queries: {', '.join(known)}",
                      kind="unknown-query", known=known)
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k != "format"}
    if request.method == "POST":
        values.update({k: v for k, v in _posted_form(kg).items() if k != "format"})
    fmt = choose(RESULT_FORMATS, request.args.get("format"))
    try:
        terms, memberships = queries.prepare(kg, query, values)
    except ValueError as exc:
        raise _bad_parameter(exc) from None
    # The same path as /sparql (kg.query.sparql.run_query): evaluated in a killable worker under the
    # time limit, read up to the row cap, cached per graph version. The parameters' class checks
    # travel with it, so the query and its checks see one version of the graph.
    answer = sparql.run_query(kg, query.text, fmt=fmt, substitutions=terms, checks=[m.query() for m in memberships])
    try:
        queries.check(kg, memberships, answer.checks)
    except queries.BadParameter as exc:
        raise _bad_parameter(exc) from None
    response = Response(answer.body, content_type=answer.format.content_type)
    response.headers["X-KG-Truncated"] = "true" if answer.truncated else "false"
    response.headers["X-KG-Row-Cap"] = str(answer.max_rows)
    return response


def _bad_parameter(exc: ValueError) -> Problem:
    """400 for a value a named query cannot take (``BadParameter`` names the parameter)."""
    if isinstance(exc, queries.BadParameter):
        return Problem(400, "Bad Request", str(exc), kind="bad-parameter", parameter=exc.param.name,
                       expected=exc.expected)
    return Problem(400, "Bad Request", str(exc), kind="bad-parameter")


def _query_operations(q: queries.NamedQuery) -> list[Operation]:
    params = tuple(Param(p.name, p.json_schema(), p.description or p.expected(), required=p.required)
                   for p in q.parameters)
    fmt = Param("format", {"type": "string", "enum": ["json", "csv", "tsv"]}, "Overrides the Accept header.")
    responses = {
        "200": content_response("the results", {
            "application/sparql-results+json": {"type": "object"}, "text/csv": {"type": "string"},
            "text/tab-separated-values": {"type": "string"}}),
        "406": content_response("no offered format is acceptable", {"application/problem+json": ref("Problem")}),
    }
    description = (q.description + "\n\n" if q.description else "") + "```sparql\n" + q.text + "```"
    ops = []
    for method in ("GET", "POST"):
        ops.append(Operation(
            method=method, path=f"/api/queries/{q.name}", summary=q.summary, description=description,
            tags=("queries",), params=(*params, fmt), responses=responses,
            operation_id=f"query_{q.name.replace('-', '_')}" + ("_post" if method == "POST" else ""),
            request_body={"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": {p.name: p.schema for p in params}}}}}
            if method == "POST" else None))
    return ops


@bp.record
def _route_named_queries(state) -> None:
    # Named queries are data (queries/*.rq): their routes exist only once the app's graph is open.
    kg = state.app.extensions["kg"]
    for q in queries.queries_for(kg):
        for op in _query_operations(q):
            register(state, op, _named_view(q.name))


def _named_view(name: str):
    def view(**_values: Any) -> Response:
        return _run_named(name)

    view.__name__ = f"query_{name}"
    return view


@bp.route("/api/queries/<name>", methods=["GET", "POST"])
def unknown_query(name: str):
    # Reached only for names that no .rq file declares (the declared ones have their own routes).
    return _run_named(name)

