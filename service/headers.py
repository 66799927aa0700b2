"""What a request may declare about its body, and the headers every answer carries.

Request bodies are UTF-8, always: a ``charset`` parameter naming anything else is 415, and bodies,
forms included, are decoded here with the strict UTF-8 codec only, never with a codec the client
names (Python's codec registry holds quadratic decoders such as ``punycode`` and non-text ones such
as ``rot13``). Bytes that are not UTF-8 are 400.

Answers (``register``): security headers on every answer, CSP and framing on HTML, and CORS on the
data routes. CORS is open (``*``, never the caller's origin echoed) on ``/sparql``, ``/api``, ``/id``,
``/doc``, ``/ontology``, ``/.well-known``, ``/openapi.json`` and ``/context.jsonld``, and never with
credentials, so browser tools on other sites can query without being able to act as a logged-in user.
The same ``*`` is sent whether or not the request has an ``Origin``, so a replayed answer
(``service/response_cache.py``) is right for every caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from flask import Flask, request
from werkzeug.datastructures import MultiDict

from service.errors import Problem

CORS_PREFIXES = ("/sparql", "/api", "/id/", "/doc/", "/ontology", "/.well-known/", "/openapi.json",
                 "/context.jsonld")
#: What a page on another site may do with those routes: read, and send the writes an admin token
#: allows (the token is a header the script sets, not a credential the browser adds on its own).
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")
CORS_REQUEST_HEADERS = ("Accept", "Authorization", "Content-Type", "If-None-Match", "If-Modified-Since")
#: Response headers a script may read beyond the CORS-safelisted ones.
CORS_EXPOSED = ("ETag", "Last-Modified", "Link", "Content-Location", "Location", "X-KG-Truncated",
                "X-KG-Row-Cap", "X-KG-Cache", "X-KG-Time-Limit", "Retry-After")
#: How long a browser may reuse a preflight answer (seconds).
CORS_MAX_AGE = 86400

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)

#: On every answer, and on HTML pages besides.
SECURITY = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
HTML_SECURITY = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"))
#: On every answer of a data route, whoever asks: with or without an ``Origin``, so that a replayed
#: answer fits every caller, and no ``Vary: Origin``.
CORS = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", ", ".join(CORS_EXPOSED)))
#: Besides, on the answer to a preflight for a method in ``CORS_METHODS``.
CORS_PREFLIGHT = (("Access-Control-Allow-Methods", ", ".join(CORS_METHODS)),
                  ("Access-Control-Allow-Headers", ", ".join(CORS_REQUEST_HEADERS)),
                  ("Access-Control-Max-Age", str(CORS_MAX_AGE)))

FORM_TYPE = "application/x-www-form-urlencoded"

#: The spellings of UTF-8 a ``charset`` parameter may use (compared without case).
UTF8_NAMES = frozenset({"utf-8", "utf8"})

# One parameter of a media type: name, then a quoted string or a token (read loosely: spaces around
# "=" and a missing value are seen, so that no spelling slips past the check).
_PARAM = re.compile(r';\s*([^\s;=]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"?|[^;]*))?')


# -- request bodies -------------------------------------------------------------------------------

def declared_charsets(content_type: str | None) -> list[str]:
    """Every ``charset`` the Content-Type declares (quoted, extended ``charset*=``, repeated), lowercased.

    >>> declared_charsets('application/sparql-query; CHARSET="UTF-8"; charset = latin-1')
    ['utf-8', 'latin-1']
    """
    found = []
    for match in _PARAM.finditer(content_type or ""):
        name = match.group(1).lower()
        if name not in ("charset", "charset*"):
            continue
        value = (match.group(2) or "").strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:].removesuffix('"'))
        if name == "charset*":
            value = value.rsplit("'", 1)[-1]  # RFC 8187: charset'language'value
        found.append(value.strip().lower())
    return found


def require_utf8() -> None:
    """415 unless every charset the request declares for its body is UTF-8 (none means UTF-8)."""
    declared = declared_charsets(request.headers.get("Content-Type"))
    # Werkzeug's own reading of the header too: whatever either parser sees must be UTF-8.
    parsed = request.mimetype_params.get("charset")
    if parsed is not None:
        declared.append(parsed.strip().lower())
    other = next((name for name in declared if name not in UTF8_NAMES), None)
    if other is not None:
        raise Problem(415, "Unsupported Media Type",
                      f"only UTF-8 is accepted: send the body in UTF-8, with charset=utf-8 or no charset, "
                      f"not charset={other[:40]!r}", kind="unsupported-charset", accepted_charsets=["utf-8"])


def utf8(data: bytes, what: str = "the request body") -> str:
    """``data`` decoded as strict UTF-8, or 400 saying where it stops being UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Bad Request", f"{what} is not valid UTF-8: {exc.reason} at byte {exc.start}",
                      kind="invalid-utf-8") from None


def read_body(limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 beyond: said by Content-Length before any read)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Problem(413, "Content Too Large", f"the request body has {declared} bytes; the limit is {limit}")
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise Problem(413, "Content Too Large", f"the request body is larger than the limit of {limit} bytes")
    return data


def text_body(limit: int) -> str:
    """The body as text: charset checked before it is read, then decoded as UTF-8."""
    require_utf8()
    return utf8(read_body(limit))


def form_body(limit: int) -> MultiDict:
    """The fields of an ``application/x-www-form-urlencoded`` body, decoded as UTF-8 only.

    Not ``request.form``: Werkzeug drops a form whose bytes are not UTF-8 without a word (the client
    would be told its query is missing) and keeps %-escapes that are not UTF-8 as text.
    """
    text = text_body(limit)
    try:
        fields = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Bad Request", f"a %-escaped value of the form is not valid UTF-8: {exc.reason}",
                      kind="invalid-utf-8") from None
    return MultiDict(fields)


# -- answers --------------------------------------------------------------------------------------

def register(app: Flask) -> None:
    """Add the answer headers to everything the app sends. Call it in the factory after
    ``response_cache.register``, so that replayed answers leave through it too."""
    app.wsgi_app = _AnswerHeaders(app.wsgi_app)


class _AnswerHeaders:
    """WSGI middleware: the security headers on every answer (CSP and framing on HTML), CORS on the
    data routes, each unless the view set it already.

    Written here rather than by a CORS extension: the policy is fixed (``*``, no credentials, the same
    headers for every caller), so the headers are constants added to WSGI's list of pairs, where an
    extension matched its routes and origins again and rebuilt Werkzeug's header objects on every
    answer (34 µs a request, a tenth of the HTTP worker's own time on a query; ``bench/notes.md``).
    """

    def __init__(self, wrapped: Callable):
        self.wrapped = wrapped

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        extra = _cors_headers(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            present = {name.lower(): value for name, value in headers}
            wanted = [*SECURITY, *extra]
            if present.get("content-type", "").lower().startswith("text/html"):
                wanted += HTML_SECURITY
            return start_response(status, headers + [(name, value) for name, value in wanted
                                                     if name.lower() not in present], exc_info)

        return self.wrapped(environ, start)


def _cors_headers(environ: dict) -> tuple[tuple[str, str], ...]:
    """The CORS headers of an answer to this request (Fetch standard, section 3.2): none off the data
    routes; a preflight for a method the service takes is told the methods, the request headers it
    may send and how long to remember that; one for any other method is not (the browser stops)."""
    if not (environ.get("PATH_INFO") or "/").startswith(CORS_PREFIXES):
        return ()
    asked = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if environ.get("REQUEST_METHOD") != "OPTIONS" or asked is None:
        return CORS
    return CORS + CORS_PREFLIGHT if asked.strip().upper() in CORS_METHODS else CORS
