"""Response headers every answer carries: security headers on pages, CORS on data routes.

CORS is open (``*``) for reads of ``/sparql``, ``/api``, ``/id``, ``/doc``, ``/ontology`` and
``/.well-known``, and never with credentials, so browser tools on other sites can query without
being able to act as a logged-in user.
"""

from __future__ import annotations

from flask import Flask, Response, request

CORS_PREFIXES = ("/sparql", "/api", "/id/", "/doc/", "/ontology", "/.well-known/", "/openapi.json",
                 "/context.jsonld")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def register(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(CORS_PREFIXES):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = (
                "ETag, Last-Modified, Link, Content-Location, Location, X-KG-Truncated, X-KG-Row-Cap, "
                "X-KG-Cache, X-KG-Time-Limit"
            )
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = (
                    "Accept, Authorization, Content-Type, If-None-Match, If-Modified-Since"
                )
                response.headers["Access-Control-Max-Age"] = "86400"
        return response
