"""A request's body must arrive within the request's time limit.

Why: gunicorn bounds how long a request's head may take to arrive, not its body. A client that
announces a body and sends none (or a byte now and then) held its connection, and the greenlet
serving it, for as long as it liked: a few thousand such connections, which cost the client nothing,
and nobody else was served. Here every read of ``wsgi.input`` has what is left of the request's time
limit (``KG_QUERY_TIMEOUT``) as its socket's timeout; past it the request is answered 408 and the
rest of its body is not waited for.

It wraps the whole WSGI app of every HTTP process, the owner's and the fronts' alike (Flask-free): a
body is read before Flask runs (the answers cache keys a small POST by its body), in the views, and
by a front handing a request over.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Iterator


class BodyTimeout(Exception):
    """The request's body did not arrive within the request's time limit."""

    def __init__(self, seconds: float):
        super().__init__(f"the request body did not arrive within the time limit of {seconds:g} s")
        self.seconds = seconds


class _TimedInput:
    """``wsgi.input`` whose every read ends by the request's deadline (BodyTimeout past it)."""

    def __init__(self, stream, sock: socket.socket, deadline: float, seconds: float):
        self._stream, self._sock, self._deadline, self._seconds = stream, sock, deadline, seconds

    def read(self, size: int | None = -1) -> bytes:
        return self._timed(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._timed(self._stream.readline, size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return self._timed(self._stream.readlines, hint)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _timed(self, read: Callable, size):
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise BodyTimeout(self._seconds)
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining)
        try:
            return read(size)
        except TimeoutError as exc:  # socket.timeout, under gevent too
            raise BodyTimeout(self._seconds) from exc
        finally:
            with contextlib.suppress(OSError):
                self._sock.settimeout(previous)


class BodyDeadline:
    """WSGI middleware: a request's body is read within ``seconds`` of the request's start."""

    def __init__(self, app: Callable, seconds: float):
        self.app = app
        self.seconds = float(seconds)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is None or not _has_body(environ):  # most requests: nothing to wait for
            return self.app(environ, start_response)
        environ["wsgi.input"] = _TimedInput(environ["wsgi.input"], sock, time.monotonic() + self.seconds,
                                            self.seconds)
        try:
            return self.app(environ, start_response)
        except BodyTimeout as exc:
            # Read before any view could answer (a front, the answers cache): said in plain text.
            return _timed_out(environ, start_response, exc)


def _has_body(environ: dict) -> bool:
    return environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ


def _timed_out(environ: dict, start_response: Callable, exc: BodyTimeout) -> list[bytes]:
    """The 408 answer, and no more reading of the connection: what is left of the body would be
    waited for before the next request, as long as the client likes."""
    stop_reading(environ)
    body = f"408 Request Timeout: {exc}\n".encode()
    start_response("408 REQUEST TIMEOUT", [("Content-Type", "text/plain; charset=utf-8"),
                                           ("Content-Length", str(len(body)))])
    return [body]


def stop_reading(environ: dict) -> None:
    """End the connection's reading side: the answer is still sent, then the connection closes."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)
