"""HTTP caching from the graph's version: ETag, Last-Modified, conditional GET (304), Cache-Control.

Every answer that is a function of the graph (a description, the vocabulary, VoID, a page) is the same
until the next write, and every write changes the version (``kg.store.version()``) and the modification
time (``kg.store.modified()``). So the validators come from those two values plus whatever else the body
depends on (the format, the deployment's address, the query string): no body has to be built to answer
a revalidation, and an added outsourcing type changes every ETag at once.

Use from any blueprint::

    v = caching.validators(kg, "doc", slug, fmt.key, base)
    if (early := caching.not_modified(v, headers)) is not None:
        return early
    ...
    return caching.apply(response, v)

The request's conditions are read by werkzeug (``If-None-Match`` as ``ETags``, with ``*``, lists and weak
tags; ``If-Modified-Since`` as a date) and compared as RFC 9110 §13.1 says: If-None-Match with the weak
comparison, If-Modified-Since only when there is no If-None-Match. Werkzeug's ``make_conditional`` is
not used: it reads If-Modified-Since beside an If-None-Match it cannot parse, and answers
``If-Match: *`` with 412 although the resource exists. A 304 carries the headers the 200 would
(``Vary``, ``Link``, ``Content-Location``, ETag, Cache-Control); werkzeug drops the body and the
representation headers (Content-Type, Content-Length, Last-Modified) when it sends it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass

from flask import Response, request
from werkzeug.http import parse_etags

from kg.graph import KnowledgeGraph

#: Caches may keep a copy but must revalidate it: extensions change the graph at any time, and a 304
#: costs one version lookup.
DEFAULT_CACHE_CONTROL = "public, max-age=0, must-revalidate"


@dataclass(frozen=True)
class Validators:
    etag: str  #: the opaque tag, without quotes
    last_modified: _dt.datetime | None


def validators(kg: KnowledgeGraph, *variant: str) -> Validators:
    """Validators of a representation: the graph's version plus what else selects the body (``variant``)."""
    digest = hashlib.sha256("\x1f".join((kg.store.version(), *variant)).encode("utf-8")).hexdigest()[:32]
    return Validators(digest, _parse_modified(kg.store.modified()))


def not_modified(v: Validators, headers: dict[str, str] | None = None) -> Response | None:
    """A 304 response when the request's conditions say the client's copy is current, else None.

    Only GET and HEAD are answered 304 (RFC 9110 §13.1.2); ``headers`` are those the 200 would carry.
    """
    if request.method not in ("GET", "HEAD") or not is_fresh(v):
        return None
    response = Response(status=304)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return apply(response, v)


def is_fresh(v: Validators) -> bool:
    """Whether the request's If-None-Match (else If-Modified-Since) says it holds this representation."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        # Weak comparison (§13.1.2): W/"tag" matches "tag"; "*" matches any current representation.
        # The field is trimmed as an HTTP parser would: werkzeug reads "*" only when it stands alone.
        return parse_etags(if_none_match.strip()).contains_weak(v.etag)
    since = request.if_modified_since  # an unparsable date is None: ignored (§13.1.3)
    return since is not None and v.last_modified is not None and v.last_modified <= since


def apply(response: Response, v: Validators, *, cache_control: str = DEFAULT_CACHE_CONTROL) -> Response:
    """Put the validators and Cache-Control on a response (200 or 304)."""
    response.set_etag(v.etag)
    if v.last_modified is not None:
        response.last_modified = v.last_modified
    response.headers["Cache-Control"] = cache_control
    return response


def _parse_modified(value: str) -> _dt.datetime | None:
    """The store's xsd:dateTime (e.g. ``2026-11-25T10:00:00Z``) as an aware datetime, to the second."""
    if not value:
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.astimezone(_dt.UTC).replace(microsecond=0)
