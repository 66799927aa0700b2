"""The key a cached answer is stored under, and what of an answer is stored: shared by the answers cache
in front of Flask (``service/response_cache.py``) and by the front HTTP processes (``service/front.py``),
which must not import Flask (each would hold it for nothing).

The key holds everything that selects the body: the method class (GET/HEAD share), the path and query
string, the body and its type, the negotiated headers (Accept, Accept-Language) and the address the
client used (documents rewrite IRIs to it). A request with credentials or a conditional request has
none: it is never answered from memory.
"""

from __future__ import annotations

import io

#: POST bodies larger than this are not part of any key (the request is answered uncached).
MAX_KEYED_BODY = 64 * 1024
#: Headers recomputed per response (by Flask or other hooks) rather than replayed.
SKIP_HEADERS = {"content-length", "date", "x-kg-cache"}
_BODY_TYPES = ("application/sparql-query", "application/x-www-form-urlencoded")


def lookup_key(environ: dict) -> tuple | None:
    """The request's key, or None when it must not be answered from memory."""
    method = environ.get("REQUEST_METHOD")
    if "HTTP_AUTHORIZATION" in environ or "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
        return None
    body = b""
    if method == "POST":
        body = _keyed_body(environ)
        if body is None:
            return None
    elif method not in ("GET", "HEAD"):
        return None
    host = environ.get("HTTP_HOST")
    if host is None:  # HTTP/1.0 without Host (an HTTP/1.1 one is refused): answered by the app
        return None
    return ("response", method == "POST", environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO") or "/",
            environ.get("QUERY_STRING", ""), environ.get("CONTENT_TYPE", ""), body,
            environ.get("HTTP_ACCEPT", ""), environ.get("HTTP_ACCEPT_LANGUAGE", ""), host,
            environ.get("wsgi.url_scheme", "http"))


def stored_size(key: tuple, body: bytes) -> int:
    """What an entry holds, for the cache's byte limit: its key as well as its body, since a key holds
    headers as sent (an Accept-Language can be hundreds of kilobytes over a small answer)."""
    return len(body) + sum(len(part) for part in key if isinstance(part, str | bytes))


def _keyed_body(environ: dict) -> bytes | None:
    """A small query body, read once and put back for the app; None for anything else."""
    if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() not in _BODY_TYPES:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None  # chunked or unknown: the app reads it under its own limit
    if not 0 <= length <= MAX_KEYED_BODY:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) < length:
        # Less than announced (a client that stopped, or a front that withheld a body past KG_MAX_BODY):
        # the app answers from the announced length, uncached.
        return None
    environ["CONTENT_LENGTH"] = str(len(body))
    return body
