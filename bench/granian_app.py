"""The service as a WSGI app for granian, for ``make bench``'s comparison of HTTP servers only.

``kg serve`` runs gunicorn. Issue 15 asks for the server to be chosen by measurement, so the benchmark
also serves the same app, built from the same ``KG_*`` settings, under granian (an HTTP server in
Rust that calls the WSGI app from native threads). This is a trial, not a way to serve: the worker
is not confined (``service/server.py`` confines gunicorn's), its request threads have granian's
stack size rather than the room ``kg serve`` gives an update's parser, and the access log is
granian's own.
"""

from __future__ import annotations

from kg.config import Config
from kg.safety import guard
from service.app import create_app

config = Config.from_env()
guard.install(config)
app = create_app(config)
