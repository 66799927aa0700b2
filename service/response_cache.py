"""Whole responses of read routes, cached between two writes.

Linked-data documents, pages and API lookups are functions of the graph, the URL and a few request
headers; the graph changes only on writes. So a GET is answered from memory when the same URL was
answered under the same graph version (``kg.cache``, an LRU emptied by any write): the view, its
queries and its serializer are skipped. ``/sparql`` caches its own results (``kg.sparql``), and routes
whose answer depends on who asks (writes, ``/healthz``) are never cached.

The key holds everything that selects the body: the path and query string, the negotiated headers
(Accept, Accept-Language) and the address the client used (documents rewrite IRIs to it).
"""

from __future__ import annotations

from flask import Flask, Response, request

from kg.cache import cache_for
from service.app import current_kg

CACHED_PREFIXES = ("/doc/", "/ontology", "/api/", "/.well-known/void", "/context.jsonld", "/openapi.json")
CACHED_PATHS = ("/",)
#: Headers recomputed per response (by Flask or other hooks) rather than replayed.
_SKIP_HEADERS = {"content-length", "date", "x-kg-cache"}


def _cacheable() -> bool:
    if request.method not in ("GET", "HEAD") or "Authorization" in request.headers:
        return False
    # Conditional requests go to the view, which answers 304 from the version without building a body.
    if "If-None-Match" in request.headers or "If-Modified-Since" in request.headers:
        return False
    return request.path in CACHED_PATHS or request.path.startswith(CACHED_PREFIXES)


def _key() -> tuple:
    h = request.headers
    return ("response", request.path, request.query_string, h.get("Accept", ""), h.get("Accept-Language", ""),
            request.host, request.scheme)


def register(app: Flask) -> None:
    @app.before_request
    def _replay():
        if not _cacheable():
            return None
        kg = current_kg()
        hit = cache_for(kg).get(kg.store.version(), _key())
        if hit is None:
            return None
        status, headers, body = hit
        response = Response(body, status=status)
        response.headers.clear()
        for name, value in headers:
            response.headers.add(name, value)
        response.headers["X-KG-Cache"] = "hit"
        return response

    @app.after_request
    def _store(response: Response) -> Response:
        if response.status_code != 200 or response.is_streamed or not _cacheable():
            return response
        if "X-KG-Cache" in response.headers:
            return response
        kg = current_kg()
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _SKIP_HEADERS]
        # The version read now may be newer than the one the body was built from; storing under the
        # newer version would then serve a stale body, so the key uses the version seen before the view.
        version = getattr(request, "_kg_version", None)
        if version is not None:
            cache_for(kg).put(version, _key(), (200, headers, body), size=len(body))
        response.headers["X-KG-Cache"] = "miss"
        return response

    @app.before_request
    def _remember_version():
        if _cacheable():
            request._kg_version = current_kg().store.version()
