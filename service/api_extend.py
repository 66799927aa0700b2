"""``POST /api/types``, ``PUT`` / ``DELETE /api/types/{slug}``: add, replace and remove outsourcing types.

A thin layer over ``kg.extension``: it checks the bearer token, reads the body in the format its
Content-Type names, calls ``write.add`` / ``write.remove`` (or ``preview.dry_run`` for ``?dry_run=1``),
and says the refusals of ``kg.extension.errors`` in HTTP, from one table (``REFUSALS``): 422 with the
violations and the SHACL report graph (invalid), 409 (duplicate / still referenced), 403 (a source
type), 404 (no such added type), 413 (too big), 415 (a format it cannot read, or a charset other than
UTF-8), 400 (unreadable: syntax, with the line). Success is 201 + Location (added), 200 (replaced, or
a dry run), 204 (removed). The token is checked before the body is read.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from kg.extension import errors, preview, write
from kg.extension.form import SLUG
from kg.extension.intake import Outcome
from kg.formats import for_submission, formats_for, submission_media_types
from service.auth import require_admin
from service.current import current_kg
from service.errors import Problem
from service.headers import read_body, require_utf8
from service.openapi import Param, json_response, operation, problem_response

bp = Blueprint("api_extend", __name__)

_FORMATS = submission_media_types()

#: Each refusal of kg.extension as an HTTP answer: status, title, problem kind (part of the problem's
#: ``type`` IRI, kept as clients have seen it). The first class an error is an instance of wins.
REFUSALS: dict[type[errors.ExtensionError], tuple[int, str, str]] = {
    errors.TooLarge: (413, "Submission too large", "submission-too-large"),
    errors.UnsupportedFormat: (415, "Unsupported Media Type", "unsupported-media-type"),
    errors.Malformed: (400, "Unreadable submission", "unreadable-submission"),
    errors.Invalid: (422, "Invalid outsourcing type", "invalid-outsourcing-type"),
    errors.DuplicateType: (409, "Type exists", "type-exists"),
    errors.TypeInUse: (409, "Type in use", "type-in-use"),
    errors.ProtectedType: (403, "Protected type", "protected-type"),
    errors.UnknownType: (404, "No such added type", "no-such-added-type"),
}


def _route_hint(exc: errors.ExtensionError, method: str) -> str:
    """What to send instead, in this API's routes, for a refusal about an added type."""
    if isinstance(exc, errors.DuplicateType) and exc.slug:
        return f" (PUT /api/types/{exc.slug} replaces it, DELETE /api/types/{exc.slug} removes it)"
    if isinstance(exc, errors.UnknownType) and method == "PUT":
        return " (POST /api/types adds a new type)"
    return ""


def problem(exc: errors.ExtensionError) -> Problem:
    """The HTTP answer to a refusal of ``kg.extension`` (see ``REFUSALS``)."""
    status, title, kind = next(answer for cls, answer in REFUSALS.items() if isinstance(exc, cls))
    extra: dict = {}
    if exc.violations:
        extra["violations"] = exc.violations
    if exc.line:
        extra["line"] = exc.line
    if exc.report is not None:
        # The machine-readable SHACL report graph (sh:ValidationReport), as JSON-LD.
        extra["shacl_report"] = json.loads(exc.report.serialize(format="json-ld"))
    return Problem(status, title, exc.detail + _route_hint(exc, request.method), kind=kind, **extra)


def _submission() -> tuple[bytes, str]:
    fmt = request.args.get("format") or request.mimetype
    row = for_submission(fmt.split(";")[0]) if fmt else None
    if row is None:
        raise Problem(
            415,
            "Unsupported Media Type",
            f"cannot read a submission of type {fmt or '(none)'!r}; send one of: {', '.join(_FORMATS)}",
            kind="unsupported-media-type",
            accepted=_FORMATS,
        )
    # Checked before the body is read; kg.extension.submission then decodes it as strict UTF-8 (400 otherwise).
    require_utf8()
    return read_body(current_kg().config.max_body), row.key


def _dry_run() -> bool:
    return request.args.get("dry_run", "").lower() in ("1", "true", "yes", "on")


def _answer(outcome: Outcome, status: int) -> Response:
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
    data, fmt = _submission()
    kg = current_kg()
    try:
        if _dry_run():
            return _answer(preview.dry_run(kg, data, fmt, agent=who, channel="http-api", replace=replace,
                                           max_bytes=kg.config.max_body), 200)
        outcome = write.add(kg, data, fmt, agent=who, channel="http-api", replace=replace,
                            max_bytes=kg.config.max_body)
    except errors.ExtensionError as exc:
        raise problem(exc) from exc
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
    """Route through the OpenAPI registry, so the operations are documented."""
    dry = Param(
        "dry_run",
        {"type": "boolean", "default": False},
        "Validate and show what would be added, and the nearest existing type; write nothing.",
    )
    fmt = Param(
        "format",
        {"type": "string", "enum": sorted({n for f in formats_for("submission") for n in f.names})},
        "The submission's format, when the Content-Type cannot say it.",
    )
    slug = Param(
        "slug", {"type": "string", "pattern": SLUG.pattern}, "The type's slug.", location="path"
    )
    common = {
        "400": problem_response("The body cannot be read: a syntax error (with its `line`), or not UTF-8."),
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
        write.remove(current_kg(), slug)
    except errors.ExtensionError as exc:
        raise problem(exc) from exc
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
