"""Runs the app behind gunicorn, the production WSGI server.

The app is built inside the worker (no preload). By default the worker is gevent's: every request of
the process runs on one thread and yields while it waits on a socket or on an evaluator's pipe, where
request threads spent more time handing the GIL to each other than serving (``docs/benchmarks.md``,
"gevent"). The long computations of a write (validating a submission, applying it to the store) run
on a thread beside the event loop (``kg/offload.py``); ``KG_WORKER_CLASS=gthread`` serves on threads
instead (``docs/operations.md``, "Worker class").

Over a remote store the workers are stateless and their number is free. The embedded store's
directory may be opened read-write by one process only: with one worker (the default) that worker
holds it; with more, one of them holds it and the others stand in front of it (``service/front.py``).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from kg.config import LOG_FORMAT, Config

log = logging.getLogger(__name__)


#: The access log line: client address, request line, status, bytes sent, seconds taken.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'


#: Seconds between two writes of the access lines gathered meanwhile (see ``AccessLogger``).
ACCESS_FLUSH_INTERVAL = 0.2
#: Lines held at most while the log's stream is blocked (a stalled pipe); the rest are counted, not kept.
ACCESS_MAX_PENDING = 100_000


class AccessLogger(Logger):
    """gunicorn's logger, with an access line built from the five fields it holds, written in batches.

    The stock ``access`` builds some twenty atoms per request (a timestamp string, the user from the
    Authorization header, every request header) for a format that uses five; on the fast routes that
    was about a third of gunicorn's own cost per request. The line is the same as the stock one with
    ``ACCESS_LOG_FORMAT``; any other configured format falls back to the stock code.

    A log record per request, each written and flushed under the handler's lock, still cost a fifth of
    the throughput of ``ASK {}`` (measured with the access log on and off: 610-725 against 740-950
    req/s). So the lines are gathered in memory and written together, as one record, every
    ``ACCESS_FLUSH_INTERVAL`` seconds by a thread of the worker, and at its exit: a line reaches the
    log up to that much later, and a worker killed outright loses at most that much of its log.
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
            line = (f'{environ.get("REMOTE_ADDR", "-")} "{environ["REQUEST_METHOD"]} {environ["RAW_URI"]} '
                    f'{environ["SERVER_PROTOCOL"]}" {status} {"-" if sent is None else sent} '
                    f"{request_time.seconds}.{request_time.microseconds:06d}s")
        except Exception:  # noqa: BLE001 - as the stock logger: a bad line must not fail the request
            self.error("access log: %s", sys.exc_info()[1])
            return
        lines = self._batch()
        if len(lines) < ACCESS_MAX_PENDING:
            lines.append(line)
        else:
            self._kg_dropped = getattr(self, "_kg_dropped", 0) + 1

    def _batch(self) -> list[str]:
        # The logger is made in gunicorn's master and inherited by each forked worker: the lines and
        # the thread that writes them belong to the process that serves the requests.
        held = getattr(self, "_kg_lines", None)
        if held is None or held[0] != os.getpid():
            with _BATCH_LOCK:
                held = getattr(self, "_kg_lines", None)
                if held is None or held[0] != os.getpid():
                    held = self._kg_lines = (os.getpid(), [])
                    threading.Thread(target=self._write_batches, daemon=True, name="kg-access-log").start()
                    atexit.register(self._write_batch)
        return held[1]

    def _write_batches(self) -> None:
        while True:
            time.sleep(ACCESS_FLUSH_INTERVAL)
            self._write_batch()

    def _write_batch(self) -> None:
        held = getattr(self, "_kg_lines", None)
        if held is None or held[0] != os.getpid():
            return
        with _WRITE_LOCK:  # the thread and the exit handler: each line written once
            lines = held[1]
            # Request threads only append, so the first ``count`` lines are this batch whatever they add
            # meanwhile (each list operation is atomic under the GIL).
            count = len(lines)
            if not count:
                return
            taken = lines[:count]
            del lines[:count]
            dropped, self._kg_dropped = getattr(self, "_kg_dropped", 0), 0
            if dropped:
                taken.append(f"({dropped} access lines left out: the log's stream did not keep up)")
            try:
                self.access_log.info("%s", "\n".join(taken))
            except Exception:  # noqa: BLE001 - a closed stream at exit must not raise from a thread
                pass


_BATCH_LOCK = threading.Lock()
_WRITE_LOCK = threading.Lock()


class _Gunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict):
        self.kg_config = config
        self.options = options
        # Made here, in the master, so that every worker forked from it shares them.
        self.shared = None
        if config.store == "embedded" and options["workers"] > 1:
            from service.front import Shared

            self.shared = Shared(config.data_dir)
            atexit.register(self.shared.remove)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from service.body_deadline import BodyDeadline

        app = BodyDeadline(self._load(), self.kg_config.query_timeout)
        return taking_turns(app) if self.kg_config.worker_class == "gevent" else app

    def _load(self):
        from kg.safety import guard

        owner = True
        if self.shared is not None:
            from service import front

            self._owner_lock = front.take_ownership(self.kg_config)
            owner = self._owner_lock is not None
        # The outbound guard goes in before anything can parse or fetch (see kg/safety/guard.py). A front
        # process never parses RDF: it is spared rdflib, and the app (each front would hold them for nothing).
        guard.install(self.kg_config, rdflib=owner)
        if self.kg_config.store == "embedded":
            confine_writer(self.kg_config)
        if not owner:
            logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
            log.info("HTTP worker %d stands in front of the process holding the store", os.getpid())
            from service.answer_headers import AnswerHeaders

            # The app's answer headers on what a front answers by itself (a cache hit, the owner away).
            return AnswerHeaders(front.Front(self.kg_config, self.shared))
        from service.app import create_app

        app = create_app(self.kg_config)
        if self.shared is None:
            return app
        front.serve_owner(app, app.extensions["kg"], self.shared)
        log.info("HTTP worker %d holds the store and answers the other workers", os.getpid())
        return app


def taking_turns(app):
    """``app``, yielding to the other requests of the process before each request it serves.

    Under gevent a connection whose next request has already arrived is served again at once, and
    the others wait for it to block: on a bare Flask app at 8 connections, half of the answers came
    in 0.2 ms and one in twenty took over 60 ms. One yield per request lets each waiting connection
    take its turn first (p95 3.4 ms, the same throughput: bench/notes.md)."""
    from gevent import sleep

    def wsgi(environ, start_response):
        sleep(0)
        return app(environ, start_response)

    return wsgi


def confine_writer(config: Config) -> None:
    """The worker holding the embedded store applies the service's own writes with Oxigraph (a user's
    SPARQL Update, where ``LOAD`` would fetch from Rust, runs in an update process confined the same
    way): it confines itself like the evaluators (``kg.safety.confine``) before opening the store. It
    needs no internet socket of its own; the listening socket it inherited keeps working."""
    import threading

    from kg.safety import confine

    result = confine.confine()
    if not result.confined:
        log.warning("the server process cannot be kept off the network: %s", result.reason)
        if config.require_confinement:
            sys.exit(3)
    # Updates are parsed by Oxigraph on request threads (gthread) or on the thread that applies writes
    # beside gevent's loop (kg/offload.py): give them room for the parser's recursion (kg/query/precheck.py).
    threading.stack_size(32 * 1024**2)


def gunicorn_options(config: Config) -> dict:
    workers = max(1, config.workers)
    if config.worker_class == "gevent":
        # The evaluators' threads bound the queries in flight; a connection waiting for one costs a greenlet.
        serving = {"worker_class": "gevent", "worker_connections": 1000}
    else:
        serving = {"worker_class": "gthread", "threads": config.threads}
    return {
        "bind": f"{config.host}:{config.port}",
        "workers": workers,
        **serving,
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
