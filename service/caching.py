"""HTTP caching from the graph's version: ETag, Last-Modified, conditional GET (304), Cache-Control.

Every answer that is a function of the graph (a description, the vocabulary, VoID, a page) is the same
until the next write, and every write changes the version (``kg.store.version()``) and the modification
time (``kg.store.modified()``). So the validators come from those two values plus whatever else the body
depends on (the format, the deployment's address, the query string): no body has to be built to answer
a revalidation, and an added outsourcing type changes every ETag at once.

Use from any blueprint::

    v = caching.validators(kg, "doc", slug, fmt.key, base)
    if (early := caching.not_modified(v)) is not None:
        return early
    ...
    return caching.apply(response, v)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime

from flask import Response, request

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

    ``If-None-Match`` wins over ``If-Modified-Since`` (RFC 9110 §13.2.2); only GET and HEAD get 304.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    fresh = False
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
        fresh = "*" in tags or v.etag in tags
    elif v.last_modified is not None and (
        since := _parse_http_date(request.headers.get("If-Modified-Since"))
    ):
        fresh = v.last_modified <= since
    if not fresh:
        return None
    response = Response(status=304)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return apply(response, v)


def apply(response: Response, v: Validators, *, cache_control: str = DEFAULT_CACHE_CONTROL) -> Response:
    """Put the validators and Cache-Control on a response (200 or 304)."""
    response.headers["ETag"] = f'"{v.etag}"'
    if v.last_modified is not None:
        response.headers["Last-Modified"] = format_datetime(v.last_modified, usegmt=True)
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


def _parse_http_date(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unparsable date is ignored (RFC 9110 §13.1.3)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.UTC)
