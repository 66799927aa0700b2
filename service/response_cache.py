"""Whole responses of read routes, cached between two writes and replayed in front of Flask.

Linked-data documents, pages, API lookups and SPARQL answers are functions of the graph, the URL and a
few request headers; the graph changes only on writes. So a GET is answered from memory when the same
URL was answered under the same graph version (``kg.query.cache``, an LRU emptied by any write).

The replay is a WSGI middleware around the Flask app, not a ``before_request`` hook: on a hit it sends
the stored status, headers and body without building Flask's request context, routing or running the
hooks, which on the fastest routes cost as much as the view itself. The stored headers already carry
what the hooks add (security and CORS headers run before the store hook), and everything that selects
them (the path) is in the key. Anything unusual (a write, credentials, a conditional request, a store
that cannot tell its version) goes to Flask as before.

The key holds everything that selects the body: the path and query string, the negotiated headers
(Accept, Accept-Language) and the address the client used (documents rewrite IRIs to it). ``/sparql``
answers are stored only when they came from the query path (they carry ``X-KG-Cache``), so the query
editor and the service description are always built afresh; routes whose answer depends on who asks
(writes, ``/healthz``) are never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response, request

from kg.query.cache import cache_for

CACHED_PREFIXES = ("/doc/", "/ontology", "/api/", "/.well-known/void", "/context.jsonld", "/openapi.json")
CACHED_PATHS = ("/", "/sparql")
#: Paths whose views set ``X-KG-Cache`` themselves (their own result cache); stored all the same.
SELF_CACHING = ("/sparql",)
#: Headers recomputed per response (by Flask or other hooks) rather than replayed.
_SKIP_HEADERS = {"content-length", "date", "x-kg-cache"}


def _cacheable(environ: dict) -> bool:
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_AUTHORIZATION" in environ:
        return False
    # Conditional requests go to the view, which answers 304 from the version without building a body.
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
        return False
    path = environ.get("PATH_INFO") or "/"
    return path in CACHED_PATHS or path.startswith(CACHED_PREFIXES)


def _key(environ: dict) -> tuple:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    return ("response", environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO") or "/",
            environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_ACCEPT_LANGUAGE", ""), host, environ.get("wsgi.url_scheme", "http"))


class _Replay:
    """WSGI middleware: answer a cacheable GET/HEAD from the response cache, else call the app."""

    def __init__(self, app: Flask, wrapped: Callable):
        self.app = app
        self.wrapped = wrapped

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if _cacheable(environ):
            kg = self.app.extensions.get("kg")
            cache = cache_for(kg) if kg is not None else None
            if cache is not None and cache.enabled:
                try:
                    hit = cache.get(kg.store.version(), _key(environ))
                except Exception:  # noqa: BLE001 - the store cannot say: Flask answers (and reports)
                    hit = None
                if hit is not None:
                    status, headers, body = hit
                    start_response(status, [*headers, ("Content-Length", str(len(body))),
                                            ("X-KG-Cache", "hit")])
                    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        return self.wrapped(environ, start_response)


def register(app: Flask) -> None:
    app.wsgi_app = _Replay(app, app.wsgi_app)

    @app.before_request
    def _remember_version():
        if _cacheable(request.environ):
            from service.app import current_kg

            request._kg_version = current_kg().store.version()

    @app.after_request
    def _store(response: Response) -> Response:
        environ = request.environ
        if response.status_code != 200 or response.is_streamed or not _cacheable(environ):
            return response
        # A self-caching route's answers are stored only when they came from its query path (they say
        # X-KG-Cache); any other route saying X-KG-Cache was answered by something else already.
        if ("X-KG-Cache" in response.headers) != (request.path in SELF_CACHING):
            return response
        # The version read now may be newer than the one the body was built from; storing under the
        # newer version would then serve a stale body, so the key uses the version seen before the view.
        version = getattr(request, "_kg_version", None)
        if version is None:
            return response
        from service.app import current_kg

        cache = cache_for(current_kg())
        if not cache.enabled:
            return response
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _SKIP_HEADERS]
        cache.put(version, _key(environ), ("200 OK", headers, body), size=len(body))
        response.headers.setdefault("X-KG-Cache", "miss")
        return response
