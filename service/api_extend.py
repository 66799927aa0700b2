"""``POST /api/types``, ``PUT`` / ``DELETE /api/types/{slug}``: add, replace and remove outsourcing types.

A thin layer over ``kg.extension.extend``: it checks the bearer token, reads the body in the format its
Content-Type names, and maps the typed errors of ``kg.extension.extend`` to statuses: 201 + Location (added),
200 (replaced, or a dry run), 204 (removed), 422 with the violations and the SHACL report graph
(invalid), 409 (duplicate / still referenced), 403 (a source type), 404, 413 (too big), 415 (a type
it cannot read, or a charset other than UTF-8). The token is checked before the body is read.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from kg.extension import extend
from kg.extension.submission import FORMAT_NAMES, format_for
from service.app import current_kg
from service.auth import require_admin
from service.errors import Problem
from service.headers import require_utf8

bp = Blueprint("api_extend", __name__)

_FORMATS = sorted({k for k in FORMAT_NAMES if "/" in k})


def _submission() -> tuple[bytes, str]:
    fmt = request.args.get("format") or request.mimetype
    kind = format_for(fmt)
    if kind is None:
        raise Problem(
            415,
            "Unsupported Media Type",
            f"cannot read a submission of type {fmt or '(none)'!r}; send one of: {', '.join(_FORMATS)}",
            kind="unsupported-media-type",
            accepted=_FORMATS,
        )
    # Checked before the body is read; kg.extension.submission then decodes it as strict UTF-8 (400 otherwise).
    require_utf8()
    return request.get_data(cache=False), kind


def _dry_run() -> bool:
    return request.args.get("dry_run", "").lower() in ("1", "true", "yes", "on")


def _problem(exc: extend.ExtensionError) -> Problem:
    extra: dict = {}
    if exc.violations:
        extra["violations"] = exc.violations
    if exc.line:
        extra["line"] = exc.line
    if exc.report is not None:
        # The machine-readable SHACL report graph (sh:ValidationReport), as JSON-LD.
        extra["shacl_report"] = json.loads(exc.report.serialize(format="json-ld"))
    return Problem(exc.status, exc.title, exc.detail, kind=exc.kind, **extra)


def _answer(outcome: extend.Outcome, status: int) -> Response:
    body = outcome.as_dict()
    body["links"] = {
        "api": f"/api/types/{outcome.slug}",
        "id": f"/id/{outcome.slug}",
        "doc": f"/doc/{outcome.slug}",
    }
    response = jsonify(body)
    response.status_code = status
    if status == 201:
        response.headers["Location"] = f"/api/types/{outcome.slug}"
    return response


def _write(replace: str | None) -> Response:
    who = require_admin()
    data, kind = _submission()
    kg = current_kg()
    try:
        outcome = extend.add(
            kg,
            data,
            kind,
            agent=who,
            channel="http-api",
            replace=replace,
            dry_run=_dry_run(),
            max_bytes=kg.config.max_body,
        )
    except extend.ExtensionError as exc:
        raise _problem(exc) from exc
    if outcome.dry_run:
        return _answer(outcome, 200)
    return _answer(outcome, 201 if outcome.created else 200)


_BODY = {
    "required": True,
    "description": "The type in Turtle, TriG, JSON-LD (inline @context only) or the simple JSON/YAML form "
    "(docs/extending.md).",
    "content": {media: {"schema": {"type": "string"}} for media in _FORMATS if media != "application/json"}
    | {"application/json": {"schema": {"type": "object"}}},
}
_RESULT = {
    "type": "object",
    "properties": {
        "slug": {"type": "string"},
        "iri": {"type": "string"},
        "graph": {"type": "string"},
        "triples": {"type": "integer"},
        "created": {"type": "boolean"},
        "dry_run": {"type": "boolean"},
        "added_by": {"type": "string"},
        "added_at": {"type": "string"},
        "warnings": {"type": "array"},
        "turtle": {"type": "string"},
        "nearest": {"type": "string"},
        "comparison": {},
        "links": {"type": "object"},
    },
}


def _register() -> None:
    """Route through the OpenAPI registry when it is there, so the operations are documented."""
    try:
        from service.openapi import Param, json_response, operation, problem_response
    except ImportError:  # pragma: no cover - the registry ships with the service
        bp.add_url_rule("/api/types", "add_type", add_type, methods=["POST"])
        bp.add_url_rule("/api/types/<slug>", "replace_type", replace_type, methods=["PUT"])
        bp.add_url_rule("/api/types/<slug>", "remove_type", remove_type, methods=["DELETE"])
        return
    dry = Param(
        "dry_run",
        {"type": "boolean", "default": False},
        "Validate and show what would be added, and the nearest existing type; write nothing.",
    )
    fmt = Param(
        "format",
        {"type": "string", "enum": sorted(FORMAT_NAMES)},
        "The submission's format, when the Content-Type cannot say it.",
    )
    slug = Param(
        "slug", {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"}, "The type's slug.", location="path"
    )
    common = {
        "413": problem_response("The body is larger than the limit."),
        "415": problem_response("The body's format is not accepted, or its charset is not UTF-8."),
        "422": problem_response(
            "The submission does not validate: `violations` (focus, path, message) "
            "and `shacl_report` (the SHACL report graph, JSON-LD)."
        ),
    }
    operation(
        bp,
        "POST",
        "/api/types",
        summary="Add an outsourcing type",
        tags=["types"],
        params=[dry, fmt],
        request_body=_BODY,
        auth=True,
        responses={
            "201": json_response("Added; Location names the new type.", _RESULT),
            "200": json_response("Dry run: what would be added.", _RESULT),
            "409": problem_response("A type with this IRI exists."),
            **common,
        },
    )(_post_view)
    operation(
        bp,
        "PUT",
        "/api/types/{slug}",
        summary="Replace an added outsourcing type",
        tags=["types"],
        params=[slug, dry, fmt],
        request_body=_BODY,
        auth=True,
        responses={
            "200": json_response("Replaced (or dry run).", _RESULT),
            "403": problem_response("The type comes from the source and is protected."),
            "404": problem_response("No added type with this slug."),
            "409": problem_response("Other types use nodes the new version drops."),
            **common,
        },
    )(_put_view)
    operation(
        bp,
        "DELETE",
        "/api/types/{slug}",
        summary="Remove an added outsourcing type",
        tags=["types"],
        params=[slug],
        auth=True,
        responses={
            "204": {"description": "Removed."},
            "403": problem_response("The type comes from the source and is protected."),
            "404": problem_response("No added type with this slug."),
            "409": problem_response("Another added type still refers to it."),
        },
    )(_delete_view)


def add_type() -> Response:
    return _write(None)


def replace_type(slug: str) -> Response:
    return _write(slug)


def remove_type(slug: str) -> Response:
    require_admin()
    try:
        extend.remove(current_kg(), slug)
    except extend.ExtensionError as exc:
        raise _problem(exc) from exc
    return Response(status=204)


# The registry passes query parameters as keyword arguments; the views read them from the request.
def _post_view(dry_run: bool = False, format: str | None = None) -> Response:  # noqa: A002
    return add_type()


def _put_view(slug: str, dry_run: bool = False, format: str | None = None) -> Response:  # noqa: A002
    return replace_type(slug)


def _delete_view(slug: str) -> Response:
    return remove_type(slug)


_register()
__all__ = ["bp"]
