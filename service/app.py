"""The Flask app factory.

``create_app`` opens the knowledge graph once and keeps it in ``app.extensions["kg"]``; blueprints
reach it through ``current_kg()``. Nothing is built at import time, so tests and gunicorn workers
each make their own app with their own configuration.
"""

from __future__ import annotations

import importlib
import logging

from flask import Flask, current_app

from kg.config import Config
from kg.graph import KnowledgeGraph

#: Blueprint modules, in registration order. Each exposes ``bp`` (a Blueprint).
BLUEPRINTS = (
    "service.health",
    "service.pages",
    "service.sparql",
    "service.linked_data",
    "service.api",
    "service.api_extend",
    "service.docs",
)


def create_app(config: Config | None = None, kg: KnowledgeGraph | None = None) -> Flask:
    config = config or (kg.config if kg else Config.from_env())
    app = Flask(__name__)
    app.config["KG_CONFIG"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.extensions["kg"] = kg or KnowledgeGraph.open(config)

    from service import errors, headers, response_cache

    errors.register(app)
    response_cache.register(app)
    headers.register(app)
    for name in BLUEPRINTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a blueprint not written yet
        app.register_blueprint(module.bp)
    return app


def current_kg() -> KnowledgeGraph:
    return current_app.extensions["kg"]
