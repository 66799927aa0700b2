"""Runs the app behind gunicorn, the production WSGI server.

The app is built inside the worker (no preload): the embedded store's directory may be opened
read-write by one process only, so with the embedded store there is exactly one worker, serving
requests on threads (Oxigraph releases the GIL while it evaluates). Over a remote store the
workers are stateless and their number is free.
"""

from __future__ import annotations

import logging
import sys

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from kg.config import Config

log = logging.getLogger(__name__)


#: The access log line: client address, request line, status, bytes sent, seconds taken.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'


class AccessLogger(Logger):
    """gunicorn's logger, with an access line built from the five fields it holds.

    The stock ``access`` builds some twenty atoms per request (a timestamp string, the user from the
    Authorization header, every request header) for a format that uses five; on the fast routes that
    was about a third of gunicorn's own cost per request. The line is the same as the stock one with
    ``ACCESS_LOG_FORMAT``; any other configured format falls back to the stock code.
    """

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            super().access(resp, req, environ, request_time)
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        try:
            self.access_log.info(
                '%s "%s %s %s" %s %s %d.%06ds',
                environ.get("REMOTE_ADDR", "-"), environ["REQUEST_METHOD"], environ["RAW_URI"],
                environ["SERVER_PROTOCOL"], status, "-" if sent is None else sent,
                request_time.seconds, request_time.microseconds,
            )
        except Exception:  # noqa: BLE001 - as the stock logger: a bad line must not fail the request
            self.error("access log: %s", sys.exc_info()[1])


class _Gunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict):
        self.kg_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from kg.safety import guard
        from service.app import create_app

        # The outbound guard goes in before anything can parse or fetch (see kg/safety/guard.py).
        guard.install(self.kg_config)
        if self.kg_config.store == "embedded":
            confine_writer(self.kg_config)
        return create_app(self.kg_config)


def confine_writer(config: Config) -> None:
    """The worker holding the embedded store applies updates with Oxigraph (``LOAD`` would fetch
    from Rust): it confines itself like the evaluators (``kg.safety.confine``) before opening the store. It
    needs no internet socket of its own; the listening socket it inherited keeps working."""
    import threading

    from kg.safety import confine

    result = confine.confine()
    if not result.confined:
        log.warning("the server process cannot be kept off the network: %s", result.reason)
        if config.require_confinement:
            sys.exit(3)
    # Request threads evaluate updates: give them room for the parser's recursion (see kg/query/precheck.py).
    threading.stack_size(32 * 1024**2)


def gunicorn_options(config: Config) -> dict:
    workers = config.workers
    if config.store == "embedded" and workers != 1:
        log.warning("the embedded store allows one worker process; using 1 worker with %d threads",
                    config.threads)
        workers = 1
    return {
        "bind": f"{config.host}:{config.port}",
        "workers": workers,
        "threads": config.threads,
        "worker_class": "gthread",
        # The query time limit is enforced by kg.query.sparql; this only catches a wedged worker.
        "timeout": int(max(30, config.query_timeout * 3)),
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        # Never log the Authorization header or query strings with tokens: the default format has neither.
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": AccessLogger,
        "limit_request_line": 16384,
        "preload_app": False,
        # Nothing here drives gunicorn at run time, and its default control socket is one path per
        # user (~/.gunicorn/gunicorn.ctl): each instance on a host would take it from the one before.
        "control_socket_disable": True,
    }


def run(config: Config) -> None:
    _Gunicorn(config, gunicorn_options(config)).run()
