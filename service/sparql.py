"""``/sparql``: the SPARQL 1.1 Protocol endpoint, its Service Description and the query editor.

Thin by design: this module reads the protocol (GET, POST form, POST ``application/sparql-query``
and ``application/sparql-update``), negotiates the format and maps ``kg.query.sparql``'s typed errors to
statuses. Checking, limits, caching and execution are ``kg.query.sparql``'s.

Outcomes: 200 with the answer (``X-KG-Truncated: true`` when the row cap cut it); 204 for an
applied update; 400 malformed/refused request; 401/403 update without the right token; 406 no
acceptable format (the body lists the offered ones); 413 body too large; 415 unknown body type or
a charset other than UTF-8; 503 time limit reached or store unavailable (service/errors.py).

Bodies are read as UTF-8 only (service/headers.py). An ``application/sparql-update`` body is read only
after its token is checked.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from kg.domain.named_queries import queries_for
from kg.formats import BY_KEY, NotAcceptable, serialize_triples
from kg.linked_data.service_description import describe_service
from kg.query import sparql as core
from service import negotiation
from service.auth import require_admin
from service.current import current_kg
from service.errors import Problem
from service.headers import FORM_TYPE, form_body, text_body
from service.response_cache import cacheable

log = logging.getLogger(__name__)

bp = Blueprint("sparql", __name__)

QUERY_TYPE = "application/sparql-query"
UPDATE_TYPE = "application/sparql-update"
HTML = BY_KEY["html"]


@bp.record_once
def _start(state) -> None:
    # Warm the query workers while the server starts, not on the first request.
    kg = state.app.extensions.get("kg")
    if kg is None:
        return
    try:
        kg.evaluators()
    except Exception:  # noqa: BLE001 - the first query retries and reports the reason
        log.exception("query workers did not start")


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    """The SPARQL 1.1 Protocol: see the module docstring for the outcomes."""
    kg = current_kg()
    params, queries, updates = _read_protocol(kg)
    if len(queries) > 1:
        raise Problem(400, "Bad Request",
                      f"the request carries {len(queries)} queries; send exactly one 'query'")
    if len(updates) > 1:
        raise Problem(400, "Bad Request",
                      f"the request carries {len(updates)} updates; send exactly one 'update'")
    if queries and updates:
        raise Problem(400, "Bad Request", "the request carries both a 'query' and an 'update'; send one")
    if updates:
        if request.method != "POST":
            raise Problem(400, "Bad Request", "updates must be sent with POST (form field 'update' or "
                                              "Content-Type application/sparql-update)")
        return _update(kg, updates[0], params)
    if queries:
        return _query(kg, queries[0], params)
    if request.method == "POST":
        raise Problem(400, "Missing query", "a POST to /sparql needs a 'query' or an 'update' "
                                            "(form fields, or the body with Content-Type "
                                            f"{QUERY_TYPE} / {UPDATE_TYPE})")
    return _no_query(kg, params)


def _read_protocol(kg) -> tuple[MultiDict, list[str], list[str]]:
    """(parameters, queries, updates) of the request, whatever transport carried them."""
    if request.method != "POST":
        return request.args, request.args.getlist("query"), request.args.getlist("update")
    mimetype = request.mimetype
    limit = kg.config.max_body
    if mimetype == UPDATE_TYPE:
        # The token before anything else: a client that may not write gets its 401/403 at once,
        # whatever body it announces, and that body is never read.
        require_admin()
    if mimetype == FORM_TYPE:
        # A form must be read to know whether it holds an update; KG_MAX_BODY bounds it.
        params = MultiDict(request.args)
        for key, value in form_body(limit).items(multi=True):
            params.add(key, value)
        return params, params.getlist("query"), params.getlist("update")
    if mimetype in (QUERY_TYPE, UPDATE_TYPE):
        body = text_body(limit)
        params = request.args
        if mimetype == QUERY_TYPE:
            return params, [body, *params.getlist("query")], params.getlist("update")
        return params, params.getlist("query"), [body, *params.getlist("update")]
    raise Problem(415, "Unsupported Media Type",
                  f"a POST to /sparql takes {FORM_TYPE}, {QUERY_TYPE} or {UPDATE_TYPE}, "
                  f"not {mimetype or 'a body without Content-Type'}")


def _query(kg, text: str, params: MultiDict) -> Response:
    requested = params.getlist("format")
    # SparqlError and NotAcceptable are answered by service/errors.py: a query the pre-check refuses
    # gets its error, never the editor.
    analysis = core.check(kg, text)
    offered = core.offered_formats(analysis.form)
    if request.method == "GET" and not requested:
        # One negotiation with the editor among the offers: a browser following a link to a query
        # gets the editor with it, ready to run. HTML comes last, so when it does not win, the choice
        # is the one among the query's own formats.
        try:
            fmt = negotiation.choose([*offered, HTML])
        except NotAcceptable:
            raise NotAcceptable(offered, request.headers.get("Accept", "")) from None
        if fmt is HTML:
            return _editor(kg, text)
    else:
        fmt = negotiation.for_query(offered, requested)
    answer = core.run_query(
        kg, text, fmt=fmt, analysis=analysis,
        default_graph_uri=params.getlist("default-graph-uri"),
        named_graph_uri=params.getlist("named-graph-uri"),
        timeout=params.get("timeout"),
    )
    cacheable()
    return Response(answer.body, status=200, content_type=answer.format.content_type, headers={
        "Vary": "Accept",
        "X-KG-Truncated": "true" if answer.truncated else "false",
        "X-KG-Row-Cap": str(answer.max_rows),
        "X-KG-Time-Limit": f"{answer.time_limit:g}",
        "Cache-Control": "no-cache",
    })


def _update(kg, text: str, params: MultiDict) -> Response:
    require_admin()
    if params.getlist("using-graph-uri") or params.getlist("using-named-graph-uri"):
        raise Problem(400, "Bad Request", "using-graph-uri/using-named-graph-uri are not supported: "
                                          "write USING / USING NAMED in the update itself")
    core.run_update(kg, text, timeout=params.get("timeout"))
    log.info("SPARQL update applied; graph version now %s", kg.store.version())
    return Response(status=204)


def _no_query(kg, params: MultiDict) -> Response:
    """A GET without a query: the editor for browsers, the Service Description for RDF clients."""
    offered = [*core.GRAPH_FORMATS, HTML]
    try:
        fmt = negotiation.choose(offered, params.getlist("format"), synonyms=negotiation.GRAPH_SYNONYMS)
    except NotAcceptable:
        raise Problem(400, "Missing query",
                      "give a 'query' parameter; without one, /sparql answers with the query editor "
                      "(text/html) or its Service Description ("
                      + ", ".join(f.media_type for f in core.GRAPH_FORMATS) + ")",
                      offered=[f.media_type for f in offered]) from None
    if fmt is HTML:
        return _editor(kg, "")
    base = kg.config.public_base or request.host_url
    triples = describe_service(base + "sparql", core.known_graphs(kg),
                               [*core.RESULT_FORMATS, *core.GRAPH_FORMATS],
                               updates=bool(kg.config.admin_token))
    response = Response(serialize_triples(triples, fmt, kg.prefixes), content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    return response


def _named_queries(kg) -> list[dict[str, str]]:
    try:
        queries = queries_for(kg)
    except Exception:  # noqa: BLE001 - a broken .rq file must not take the editor down
        log.exception("named queries could not be read")
        queries = None
    if queries is not None:
        return [{"name": q.name, "summary": q.summary, "text": q.text} for q in queries]
    out = []
    for path in sorted(kg.config.queries_dir.glob("*.rq")):
        try:
            out.append({"name": path.stem, "summary": "", "text": path.read_text(encoding="utf-8")})
        except OSError:
            continue
    return out


def _editor(kg, text: str) -> Response:
    vendor = Path(current_app.static_folder or "") / "vendor"
    assets = (vendor / "yasgui.min.js").exists() and (vendor / "yasgui.min.css").exists()
    page = render_template("sparql.html", queries=_named_queries(kg), query=text, assets=assets,
                           prefixes=kg.prefixes, timeout=kg.config.query_timeout,
                           max_rows=kg.config.max_rows)
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response
