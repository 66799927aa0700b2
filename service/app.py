"""The Flask app factory.

``create_app`` opens the knowledge graph once and keeps it in ``app.extensions["kg"]``; blueprints
reach it through ``current_kg()``. Nothing is built at import time, so tests and gunicorn workers
each make their own app with their own configuration.
"""

from __future__ import annotations

import logging

from flask import Flask, g

from kg.config import Config
from kg.graph import KnowledgeGraph
from kg.query import deadline
from service import api, api_extend, docs, errors, headers, health, linked_data, pages, response_cache, sparql

#: The blueprints, in registration order; each module exposes ``bp``.
BLUEPRINTS = (health, pages, sparql, linked_data, api, api_extend, docs)


def create_app(config: Config | None = None, kg: KnowledgeGraph | None = None) -> Flask:
    config = config or (kg.config if kg else Config.from_env())
    app = Flask(__name__)
    app.config["KG_CONFIG"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.extensions["kg"] = kg or KnowledgeGraph.open(config)
    errors.register(app)
    _one_deadline_per_request(app, config)
    response_cache.register(app)
    headers.register(app)
    headers.allow_cross_origin(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app


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

