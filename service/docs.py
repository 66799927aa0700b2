"""``/openapi.json`` and ``/docs``: the API described from the operations that route it.

Why: the document is built on each request from the app's URL map (``service.openapi``), so a
route, a named query or an extension operation appears in it as soon as it answers. The docs page
is Swagger UI served from ``static/vendor`` by this service: it works offline and under the CSP.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, request

from service.openapi import build_document

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi_json():
    doc = build_document(current_app, server_url=request.script_root or "/")
    response = jsonify(doc)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/docs")
def docs_page():
    vendor = Path(current_app.static_folder or "") / "vendor"
    assets = (vendor / "swagger-ui-bundle.js").exists() and (vendor / "swagger-ui.css").exists()
    return render_template("docs.html", assets=assets)
