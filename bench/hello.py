"""The baseline: a bare Flask "hello" app, served by the same WSGI server and workers as the service."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
