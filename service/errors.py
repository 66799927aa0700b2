"""Every error, whatever raised it, answered in the format the client negotiated: the one renderer.

Routes raise ``Problem`` (or let Werkzeug raise 404/405/413/415, or the core raise its typed errors);
``render`` turns each into ``application/problem+json`` (RFC 9457) for JSON clients and on ``/api``, an
HTML page for browsers, and plain text for the rest (SPARQL and RDF clients show it to their user; an
error cannot be Turtle). Which of the three is chosen by ``service.negotiation`` from Accept, like any
answer, unless the URL already named a format (``/doc/x.jsonld``): then the error comes in that
format's family. An unexpected exception is logged with its traceback and answered 500 without one.

Three answers are the same on every route, whatever raised them: a request past its time limit is 503
"Time limit reached" with ``Retry-After``; a request whose evaluator died under it is 503 "Query
stopped" with ``Retry-After`` and the reason; a store that cannot be reached, or failed, is 503 "Store
unavailable" with a fixed message, its address and the error going to the server log only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from kg.formats import BY_KEY, Format, NotAcceptable
from service import negotiation

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://w3id.org/outsourcing-kg/problems/"

#: The three things an error can be told in (rows of kg.formats).
PROBLEM_JSON, PAGE, TEXT = BY_KEY["problem"], BY_KEY["html"], BY_KEY["text"]
#: Where an error is JSON unless the client prefers a page: the API and its description.
API_PATHS = ("/api", "/openapi.json")
#: Longest Accept header weighed (``service/headers.py`` refuses a longer one with 431): browsers send a
#: few hundred bytes; ninety 8 KB lines took most of a second to weigh, on every route, a 404 included.
MAX_ACCEPT = 8192
#: How much of what a client asked for is repeated in a 406 (an Accept header can be kilobytes).
ECHO_LIMIT = 200


class Problem(Exception):
    """An error to answer with: HTTP status, a short title, a detail saying what was wrong."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 kind: str | None = None, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        body["instance"] = request.path
        body.update(self.extra)
        return body


#: What an anonymous client is told when the store does not answer. The reason (the store's address,
#: the socket error) goes to the server log only: it maps the internal network for whoever asks.
STORE_DOWN = "the graph store cannot be reached; try again shortly"
STORE_FAILED = "the graph store failed to answer; the error was logged"
RETRY_DEADLINE = "1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RETRY_STORE_DOWN = "5"


def deadline(limit: float | None = None) -> Problem:
    """503 for every request that ran out of time, whichever route and store: the same title, the
    limit when known, and ``Retry-After`` (the server is fine; this request was too much)."""
    within = f"its time limit of {limit:g} s" if limit else "its time limit"
    return Problem(503, "Time limit reached",
                   f"the request did not finish within {within}; try again later, or ask for less",
                   kind="time-limit", headers={"Retry-After": RETRY_DEADLINE},
                   **({"timeout": limit} if limit else {}))


def stopped(detail: str, **extra: Any) -> Problem:
    """503 for a request whose evaluation stopped by itself (its process ran out of memory, or was
    killed from outside): the reason is the client's to see, since its own request caused it or may
    succeed again."""
    return Problem(503, "Query stopped", detail, headers={"Retry-After": RETRY_DEADLINE}, **extra)


def store_down(reason: str, *, unreachable: bool = True) -> Problem:
    """503 for a store that cannot be reached (or, ``unreachable=False``, failed a query): a fixed
    message for the client, the reason logged at WARNING."""
    log.warning("graph store %s on %s: %s", "unreachable" if unreachable else "failed", _request_line(),
                _one_line(_redacted(reason)))
    return Problem(503, "Store unavailable", STORE_DOWN if unreachable else STORE_FAILED,
                   kind="store-unavailable", headers={"Retry-After": RETRY_STORE_DOWN})


def _request_line() -> str:
    """The request's method and path as the log shows them: one line, whatever the path decodes to."""
    return _one_line(f"{request.method} {request.path}")


def _one_line(text: str) -> str:
    # A path or a store's message may hold a decoded newline: escaped, it cannot forge a log line.
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _redacted(text: str) -> str:
    # An endpoint URL may carry user:password@; the log gets the address without them.
    return re.sub(r"//[^/@\s]+@", "//", text)


def representation(asked: Format | None = None) -> Format:
    """What an error is told in: when the URL named the format of the answer (``asked``, by extension),
    that format's family (a page for HTML, problem JSON for any JSON, else text); otherwise negotiated
    from Accept, JSON first on the API and text first elsewhere, which is also what a client whose
    Accept fits none of them gets (an error is never refused with a 406)."""
    if asked is not None:
        if asked is PAGE:
            return PAGE
        return PROBLEM_JSON if asked.media_type.endswith(("/json", "+json")) else TEXT
    offered = (PROBLEM_JSON, PAGE) if request.path.startswith(API_PATHS) else (TEXT, PROBLEM_JSON, PAGE)
    if len(request.headers.get("Accept", "")) > MAX_ACCEPT:  # not weighed (service/headers.py)
        return offered[0]
    return negotiation.best(request.accept_mimetypes, offered) or offered[0]


def render(problem: Problem, asked: Format | None = None) -> Response:
    """The answer for ``problem``; ``asked`` is the format the URL named for the answer, if any."""
    fmt = representation(asked)
    if fmt is PROBLEM_JSON:
        body = json.dumps(problem.as_dict(), ensure_ascii=False, indent=1)
    elif fmt is PAGE:
        body = render_template("error.html", problem=problem)
    else:
        body = f"{problem.status} {problem.title}"
        if problem.detail:
            body += f": {problem.detail}"
        for key, value in problem.extra.items():
            body += f"\n{key}: {value}"
        body += "\n"
    response = Response(body, status=problem.status, content_type=fmt.content_type)
    for name, value in problem.headers.items():
        response.headers[name] = value
    if asked is None:
        response.vary.add("Accept")
    return response


def _clip(text: str) -> str:
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "…"


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return render(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        detail = {
            404: f"nothing at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"the request body is larger than the limit of {app.config.get('MAX_CONTENT_LENGTH')} bytes",
        }.get(exc.code or 500, exc.description)
        headers = {}
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        return render(Problem(exc.code or 500, exc.name, detail, headers=headers))

    from kg.query.evaluation import WorkerCrashed
    from kg.query.sparql import SparqlError, Stopped, TimedOut, Unavailable
    from kg.store import GraphMoved, StoreError, StoreTimeout, StoreUnavailable, UpdateStopped
    from service.body_deadline import BodyTimeout, stop_reading

    # Core errors that carry their own answer: one mapping here instead of one per view.
    @app.errorhandler(NotAcceptable)
    def _not_acceptable(exc: NotAcceptable) -> Response:
        offered = [f.media_type for f in exc.offered]
        asked = _clip(exc.asked) if exc.asked else "the requested format"
        return render(Problem(406, "Not Acceptable", f"cannot answer in {asked}; available: {', '.join(offered)}",
                              kind="not-acceptable", offered=offered, available=offered,
                              headers={"Vary": "Accept"}))

    @app.errorhandler(SparqlError)
    def _sparql(exc: SparqlError) -> Response:
        if isinstance(exc, TimedOut):
            log.info("time limit reached on %s: %s", _request_line(), _one_line(exc.detail))
            return render(deadline(exc.extra.get("timeout")))
        if isinstance(exc, Unavailable):
            return render(store_down(exc.detail, unreachable=isinstance(exc.__cause__, StoreUnavailable)))
        if isinstance(exc, Stopped):
            return render(stopped(exc.detail, **exc.extra))
        # What is left (malformed, refused, an unknown graph, a bad parameter) is the request's fault.
        return render(Problem(400, exc.title, exc.detail, **exc.extra))

    @app.errorhandler(BodyTimeout)
    def _body_late(exc: BodyTimeout) -> Response:
        stop_reading(request.environ)
        return render(Problem(408, "Request Timeout", str(exc), kind="request-timeout"))

    @app.errorhandler(StoreUnavailable)
    def _store_down(exc: StoreUnavailable) -> Response:
        return render(store_down(str(exc)))

    @app.errorhandler(GraphMoved)
    def _graph_moved(exc: GraphMoved) -> Response:
        # A write landed while this request read (a GET is read again until its time limit first):
        # nothing read from two versions is sent.
        return render(Problem(503, "Graph changing", "the graph changed while this request read it, so it "
                              "could not be answered from one version; try again", kind="graph-changing",
                              headers={"Retry-After": RETRY_DEADLINE}))

    @app.errorhandler(StoreTimeout)
    def _store_slow(exc: StoreTimeout) -> Response:
        # Which limit ran out is not known here (the query's, or a remote store's own control timeout).
        log.info("time limit reached on %s: %s", _request_line(), _one_line(str(exc)))
        return render(deadline())

    @app.errorhandler(WorkerCrashed)
    @app.errorhandler(UpdateStopped)
    def _stopped(exc: StoreError) -> Response:
        # The process evaluating for this request died under it (a lookup's, a page's, as a query's).
        log.warning("evaluation stopped on %s: %s", _request_line(), _one_line(str(exc)))
        return render(stopped(str(exc)))

    @app.errorhandler(StoreError)
    def _store_failed(exc: StoreError) -> Response:
        return render(store_down(str(exc), unreachable=False))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s", _request_line())
        return render(Problem(500, "Internal Server Error",
                              "the server failed to answer; the error was logged"))
