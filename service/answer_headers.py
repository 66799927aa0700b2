"""The headers every answer carries, added at the WSGI boundary: one layer for the app and for the
front processes (``service/front.py``), which hold no Flask, so that no answer leaves without them.

Security headers on every answer, CSP and framing on HTML, and CORS on the data routes. CORS is open
(``*``, never the caller's origin echoed) on ``/sparql``, ``/api``, ``/id``, ``/doc``, ``/ontology``,
``/.well-known``, ``/openapi.json`` and ``/context.jsonld``, and never with credentials, so browser
tools on other sites can query without being able to act as a logged-in user. The same ``*`` is sent
whether or not the request has an ``Origin``, so a replayed answer (``service/response_cache.py``) is
right for every caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


class AnswerHeaders:
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
        extra = cors_headers(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            present = {name.lower(): value for name, value in headers}
            wanted = [*SECURITY, *extra]
            if present.get("content-type", "").lower().startswith("text/html"):
                wanted += HTML_SECURITY
            return start_response(status, headers + [(name, value) for name, value in wanted
                                                     if name.lower() not in present], exc_info)

        return self.wrapped(environ, start)


def cors_headers(environ: dict) -> tuple[tuple[str, str], ...]:
    """The CORS headers of an answer to this request (Fetch standard, section 3.2): none off the data
    routes; a preflight for a method the service takes is told the methods, the request headers it
    may send and how long to remember that; one for any other method is not (the browser stops)."""
    if not (environ.get("PATH_INFO") or "/").startswith(CORS_PREFIXES):
        return ()
    asked = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if environ.get("REQUEST_METHOD") != "OPTIONS" or asked is None:
        return CORS
    return CORS + CORS_PREFLIGHT if asked.strip().upper() in CORS_METHODS else CORS
