"""Whole answers of read requests, kept between two writes and replayed in front of Flask.

Linked-data documents, pages, API lookups and SPARQL answers are functions of the graph, the request
and a few of its headers; the graph changes only on writes. So a request is answered from memory when
the same request was answered under the same graph version. This is the only cache of answers: it
lives in ``KnowledgeGraph.cache`` (``kg.query.cache``, an LRU emptied by any write); the core caches
no answers of its own.

The replay is a WSGI middleware around the Flask app, not a ``before_request`` hook: on a hit it sends
the stored status, headers and body without building Flask's request context, routing or running the
hooks, which on the fastest routes cost as much as the view itself. Everything that selects the stored
headers is in the key; the security and CORS headers are added outside this middleware
(``service/headers.py``), to a replay as to any answer.

What is stored: a 200 answer of a GET or HEAD under ``CACHED_PREFIXES``/``CACHED_PATHS``, or of any
request whose view said so with ``cacheable()`` (``/sparql`` says it for query answers, by GET or POST,
never for the editor, the Service Description or an update). A POST's body is part of its key, read
here (at most ``MAX_KEYED_BODY`` bytes) and handed on to Flask unchanged. What is never looked up: a
request with credentials or a conditional request (the view answers 304 from the version without
building a body).

The key (``service/cache_key.py``) holds everything that selects the body: the method class, the path
and query string, the body and its type, the negotiated headers and the address the client used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response, g, request

from service.cache_key import SKIP_HEADERS, lookup_key, stored_size

CACHED_PREFIXES = ("/doc/", "/ontology", "/api/", "/.well-known/void", "/context.jsonld", "/openapi.json")
CACHED_PATHS = ("/",)


def cacheable() -> None:
    """Called by a view whose answer depends only on the graph and the request's key."""
    g.kg_cacheable = True


def _stored_by_path(environ: dict) -> bool:
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    path = environ.get("PATH_INFO") or "/"
    return path in CACHED_PATHS or path.startswith(CACHED_PREFIXES)


class _Replay:
    """WSGI middleware: answer a request from the cache when it holds its key, else call the app."""

    def __init__(self, app: Flask, wrapped: Callable):
        self.app = app
        self.wrapped = wrapped

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        kg = self.app.extensions.get("kg")
        if kg is None:
            return self.wrapped(environ, start_response)
        # One version for the whole request (a remote store reads it once, when first asked).
        with kg.store.request_scope():
            return self._answer(kg, environ, start_response)

    def _answer(self, kg, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if kg.cache.enabled:
            key = lookup_key(environ)
            environ["kg.cache_key"] = key
            if key is not None:
                try:
                    hit = kg.cache.get(kg.store.version(), key)
                except Exception:  # noqa: BLE001 - the store cannot say: Flask answers uncached (and reports)
                    hit = environ["kg.cache_key"] = None
                if hit is not None:
                    status, headers, body = hit
                    start_response(status, [*headers, ("Content-Length", str(len(body))),
                                            ("X-KG-Cache", "hit")])
                    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        return self.wrapped(environ, start_response)


def register(app: Flask) -> None:
    app.wsgi_app = _Replay(app, app.wsgi_app)
    kg = app.extensions["kg"]

    @app.before_request
    def _remember_version() -> None:
        # The version read after the view may be newer than the one the body was built from; storing
        # under the newer version would then serve a stale body, so the key uses the one seen before.
        if request.environ.get("kg.cache_key") is not None:
            g.kg_version = kg.store.version()

    @app.after_request
    def _store(response: Response) -> Response:
        key = request.environ.get("kg.cache_key")
        version = g.get("kg_version")
        if key is None or version is None or response.status_code != 200 or response.is_streamed:
            return response
        if not (g.get("kg_cacheable") or _stored_by_path(request.environ)):
            return response
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in SKIP_HEADERS]
        kg.cache.put(version, key, ("200 OK", headers, body), size=stored_size(key, body))
        response.headers["X-KG-Cache"] = "miss"
        return response
