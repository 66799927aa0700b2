"""``/healthz``: is the process alive, and can it reach its store?

Answers 200 with the store's engine, the graph's version, what evaluates queries (the in-memory
copy and its version, the disk workers) and any extension file that failed to load; 503 when the
store does not answer (load balancers take the replica out).

The answer is anonymous, so it names the kind of store, never its address: a remote store's
endpoint and the error that reaching it gave are written to the server log instead.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from kg.store import StoreError
from service.current import current_kg
from service.errors import RETRY_STORE_DOWN, STORE_DOWN

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def engine_kind(engine: str) -> str:
    """The engine without the address a remote one carries: "remote:http://10.0.0.5/query" → "remote".

    >>> engine_kind("remote:http://10.0.0.5:7878/query"), engine_kind("oxigraph-embedded")
    ('remote', 'oxigraph-embedded')
    """
    return engine.split(":", 1)[0]


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    kg = current_kg()
    body = {"status": "ok", "store": kg.config.store, "engine": engine_kind(kg.store.engine)}
    try:
        kg.store.ping()
        body["version"] = kg.store.version()
        body["modified"] = kg.store.modified()
        status = 200
    except StoreError as exc:
        log.warning("health check: the graph store (%s) does not answer: %s", kg.store.engine, exc)
        body.update(status="unavailable", error=STORE_DOWN)
        status = 503
    pool = kg.running_evaluators
    if pool is not None:
        body["query_engine"] = pool.status()
    if kg.problems:
        body["extension_problems"] = kg.problems
    response = jsonify(body)
    if status == 503:
        response.headers["Retry-After"] = RETRY_STORE_DOWN
    return response, status
