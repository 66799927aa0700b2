"""Pages for people: the home page listing the outsourcing types.

The list is read from the graph on every request (validated by the graph's version), so a type added
at run time appears without a restart.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from kg.domain.lookup import list_types
from kg.formats import BY_KEY
from service import caching
from service.current import current_kg

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    kg = current_kg()
    v = caching.validators(kg, "home", request.host_url)
    if (early := caching.not_modified(v)) is not None:
        return early
    html = render_template("home.html", types=list_types(kg))
    return caching.apply(Response(html, content_type=BY_KEY["html"].content_type), v)
