"""``/healthz``: is the process alive, and can it reach its store?

Answers 200 with the store's engine, the graph's version, what evaluates queries (the in-memory
copy and its version, the disk workers) and any extension file that failed to load; 503 when the
store does not answer (load balancers take the replica out).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from kg.store import StoreError
from service.app import current_kg

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    kg = current_kg()
    body = {"status": "ok", "store": kg.config.store, "engine": kg.store.engine}
    try:
        kg.store.ping()
        body["version"] = kg.store.version()
        body["modified"] = kg.store.modified()
        status = 200
    except StoreError as exc:
        body.update(status="unavailable", error=str(exc))
        status = 503
    pool = kg.extras.get("query_pool")
    if pool is not None:
        body["query_engine"] = pool.status()
    if kg.problems:
        body["extension_problems"] = kg.problems
    return jsonify(body), status
