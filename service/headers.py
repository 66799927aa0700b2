"""What a request may declare about its body, and the headers every answer carries.

Request bodies are UTF-8, always: a ``charset`` parameter naming anything else is 415, and bodies,
forms included, are decoded here with the strict UTF-8 codec only, never with a codec the client
names (Python's codec registry holds quadratic decoders such as ``punycode`` and non-text ones such
as ``rot13``). Bytes that are not UTF-8 are 400.

A request's Host header must name a host (RFC 9112 §3.2): documents, links and redirects are built on it.

The headers of answers are ``service/answer_headers.py``'s (``register`` puts them on the app).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, unquote_to_bytes

from flask import Flask, request
from werkzeug.datastructures import MultiDict

from service.answer_headers import AnswerHeaders
from service.errors import MAX_ACCEPT, Problem

FORM_TYPE = "application/x-www-form-urlencoded"
#: Fields a form may have: the protocol's forms have a handful (a query, its graphs, a format, a time
#: limit); half a million empty ones took a second to parse.
MAX_FORM_FIELDS = 1000

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
        raise Problem(413, "Content Too Large",
                      f"the request body has {declared} bytes, larger than the limit of {limit} bytes")
    if declared is None:
        # Chunked: werkzeug's stream ends quietly at MAX_CONTENT_LENGTH, so a body cut there would pass
        # for a whole one (an update applied in part). One byte past the limit, read from the server's
        # own stream, says whether more was sent.
        data = request.environ["wsgi.input"].read(limit + 1)
    else:
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
    if text.count("&") >= MAX_FORM_FIELDS:
        raise Problem(400, "Bad Request", f"the form has more than {MAX_FORM_FIELDS} fields", kind="too-many-fields")
    try:
        fields = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Bad Request", f"a %-escaped value of the form is not valid UTF-8: {exc.reason}",
                      kind="invalid-utf-8") from None
    return MultiDict(fields)


# -- the host a request names ------------------------------------------------------------------------

#: A host name or IPv4 address, or an IPv6 literal in brackets, then a port: what werkzeug builds URLs
#: from (any other value it reads as no host at all), the literal and the port checked besides.
_HOST = re.compile(r"(?:[a-z0-9.-]+|\[([a-f0-9]*:[a-f0-9.:]+)\])(?::([1-9][0-9]{0,4}))?", re.ASCII | re.IGNORECASE)
#: How much of a refused Host header is repeated in the error.
_HOST_ECHO = 100


def valid_host(value: str) -> bool:
    """Whether ``value`` (a Host header) names a host this service's IRIs can be built on.

    >>> [valid_host(h) for h in ("kg.example.org", "127.0.0.1:8000", "[::1]:80", "[1:2]", "a:99999", "a b", "")]
    [True, True, True, False, False, False, False]
    """
    match = _HOST.fullmatch(value)
    if match is None:
        return False
    literal, port = match.groups()
    if literal is not None:
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
    return port is None or int(port) <= 65535


def require_host() -> None:
    """400 for a request whose Host header is missing (HTTP/1.1), repeated or not a host (RFC 9112 §3.2):
    documents, links and redirects are built on it, and would otherwise name no host, or fail."""
    host = request.environ.get("HTTP_HOST")
    if host is None:
        if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1":
            raise Problem(400, "Bad Request", "an HTTP/1.1 request must name its host in a Host header",
                          kind="bad-host")
        return
    if not valid_host(host):
        shown = host if len(host) <= _HOST_ECHO else host[:_HOST_ECHO] + "…"
        raise Problem(400, "Bad Request", f"the Host header {shown!r} is not a host name or address, with "
                      "an optional port, given once", kind="bad-host")


def require_utf8_query() -> None:
    """400 for a query string whose bytes, %-escaped or not, are not UTF-8: werkzeug would read them as
    U+FFFD, and the request would run on other text than the client sent (a form is 400 the same way)."""
    raw = request.query_string
    if not raw:
        return
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Bad Request", f"the query string is not valid UTF-8 once its %-escapes are read: "
                      f"{exc.reason}", kind="invalid-utf-8") from None


def limit_accept() -> None:
    """431 for an Accept header too long to weigh (RFC 6585 §5); the error itself is then told without it."""
    if len(request.headers.get("Accept", "")) > MAX_ACCEPT:
        raise Problem(431, "Request Header Fields Too Large",
                      f"the Accept header is longer than {MAX_ACCEPT} characters", kind="accept-too-long")


def register(app: Flask) -> None:
    """Check the request's head before any view runs (its Host, its Accept's length, its query string's
    UTF-8), and add the answer headers (``service/answer_headers.py``) to everything the app sends.
    Call it in the factory after ``response_cache.register``, so that replayed answers leave through it
    too."""
    app.before_request(require_host)
    app.before_request(limit_accept)
    app.before_request(require_utf8_query)
    app.wsgi_app = AnswerHeaders(app.wsgi_app)
