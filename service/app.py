"""The Flask app factory.

``create_app`` opens the knowledge graph once and keeps it in ``app.extensions["kg"]``; blueprints
reach it through ``current_kg()``. Nothing is built at import time, so tests and gunicorn workers
each make their own app with their own configuration.
"""

from __future__ import annotations

import logging

from flask import Flask, g, request

from kg.config import LOG_FORMAT, Config
from kg.graph import KnowledgeGraph
from kg.query import deadline
from service import api, api_extend, docs, errors, headers, health, linked_data, pages, response_cache, sparql

#: The blueprints, in registration order; each module exposes ``bp``.
BLUEPRINTS = (health, pages, sparql, linked_data, api, api_extend, docs)


def create_app(config: Config | None = None, kg: KnowledgeGraph | None = None) -> Flask:
    config = config or (kg.config if kg else Config.from_env())
    app = _App(__name__)
    app.config["KG_CONFIG"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    app.extensions["kg"] = kg or KnowledgeGraph.open(config)
    errors.register(app)
    _one_deadline_per_request(app, config)
    response_cache.register(app)
    headers.register(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app


class _App(Flask):
    """Flask, with each read request answered from one version of the graph."""

    def dispatch_request(self):  # type: ignore[override]
        # A view reads the graph in several queries; when a write lands in between (a remote store,
        # ``GraphMoved``), the view runs again, whole, under the new version. Only reads: a write
        # must not be repeated.
        kg = self.extensions.get("kg")
        if kg is None or request.method not in ("GET", "HEAD"):
            return super().dispatch_request()
        return kg.consistent(self._dispatch_under_pin)

    def ensure_sync(self, func):  # type: ignore[override]
        # No view or hook here is a coroutine; Flask would inspect each one on every request to find out.
        return func

    def _dispatch_under_pin(self):
        if "kg_version" in g:  # the answer is cached under the version it was read from
            g.kg_version = self.extensions["kg"].store.version()
        return super().dispatch_request()


def _one_deadline_per_request(app: Flask, config: Config) -> None:
    """Every store call a request causes shares the request's time limit (``kg.query.deadline``)."""

    @app.before_request
    def _open_deadline() -> None:
        g.kg_deadline = deadline.start(config.query_timeout)

    @app.teardown_request
    def _close_deadline(_exc: BaseException | None) -> None:
        token = g.pop("kg_deadline", None)
        if token is not None:
            deadline.end(token)

