"""More than one HTTP process over the embedded store: one owner, the others in front of it.

Why: one Python process serves HTTP at about one core, so cache hits and cheap routes stop there,
while the embedded store's directory can be opened read-write by one process only, and a second copy
of the graph in memory would double what the service holds. With ``KG_WORKERS`` above 1, gunicorn's
workers therefore take one of two roles when they start:

- the **owner** (the first to lock ``<data dir>/http-owner.lock``) is the whole service as with one
  worker: it holds the store, its evaluators and every write. Besides gunicorn's socket it answers on a
  private Unix socket (``serve_owner``) the requests the others hand it.
- each **front** process (``Front``) holds no store: it answers a request from its own copy of the
  answers cache when it holds that request's answer under the graph's current version, and hands
  everything else to the owner over the Unix socket, unchanged, streaming the answer back.

The graph's version is published by the owner in a few bytes of memory shared by all the workers
(``SharedVersion``, made by gunicorn's master before it starts them), written when a write commits and
before it is acknowledged: a front process never answers from an older version once a write has been
acknowledged to anyone. A front's cached answer is one the owner marked cacheable (``X-KG-Cache``), so
the two caches hold the same kind of answers under the same keys (``service/response_cache.py``).

When the owner dies, gunicorn starts another worker, which takes the lock and becomes the owner (the
front processes answer 503 with ``Retry-After`` meanwhile); a front process that dies is replaced by
another front.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import logging
import mmap
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from kg.config import Config
from kg.query.cache import ResultCache
from service.response_cache import SKIP_HEADERS, lookup_key

log = logging.getLogger(__name__)

#: Headers of one connection, not of the message: never passed on (RFC 9110, section 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-authenticate", "proxy-authorization"})
#: How a front process tells the owner what only it knows of the client's connection.
SCHEME_HEADER, ADDRESS_HEADER = "X-KG-Front-Scheme", "X-KG-Front-Address"
#: What a front adds to the requests it hands on and to the answers it hands back (RFC 9110, section
#: 7.6.3): which process answered is visible to operators and tests.
VIA = ("Via", "1.1 kg-front")
#: Request headers a front process never hands on: its own (a client may not speak for it) and the length,
#: which it sets itself.
_NOT_HANDED = HOP_BY_HOP | {SCHEME_HEADER.lower(), ADDRESS_HEADER.lower(), "content-length"}
#: Bytes of an answer read from the owner at a time while it is streamed to the client.
CHUNK = 64 * 1024


class SharedVersion:
    """The graph's version in memory shared by gunicorn's workers (created before they are forked).

    One writer (the owner, under its store's write lock); readers retry while a write is half done
    (an even count around the bytes means they were read whole).

    >>> shared = SharedVersion()
    >>> shared.read()
    ''
    >>> shared.publish("3f2a")
    >>> shared.read()
    '3f2a'
    """

    SIZE = 256

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, self.SIZE)  # anonymous and shared: a forked child sees the same bytes

    def publish(self, version: str) -> None:
        data = version.encode()[: self.SIZE - 16]
        count = struct.unpack_from("Q", self._map, 0)[0]
        struct.pack_into("Q", self._map, 0, count + 1)
        struct.pack_into("Q", self._map, 8, len(data))
        self._map[16 : 16 + len(data)] = data
        struct.pack_into("Q", self._map, 0, count + 2)

    def read(self) -> str:
        while True:
            before = struct.unpack_from("Q", self._map, 0)[0]
            if before % 2:
                continue
            length = struct.unpack_from("Q", self._map, 8)[0]
            data = self._map[16 : 16 + min(length, self.SIZE - 16)]
            if struct.unpack_from("Q", self._map, 0)[0] == before:
                return data.decode(errors="replace")


class Shared:
    """What gunicorn's master prepares for its workers: the version and the owner's socket path."""

    def __init__(self) -> None:
        self.version = SharedVersion()
        # A directory of our own (mode 0700): only this service's processes can reach the owner's socket,
        # and the path stays short (a Unix socket's path is limited to about 100 bytes).
        self._directory = tempfile.mkdtemp(prefix="kg-http-")
        self.socket_path = os.path.join(self._directory, "owner.sock")
        self._maker = os.getpid()

    def remove(self) -> None:
        """Remove the socket's directory, from the master only: a worker inherits the exit handler that
        calls this, and one leaving must not take the socket from the others."""
        if os.getpid() == self._maker:
            shutil.rmtree(self._directory, ignore_errors=True)


def owner_lock_path(config: Config) -> Path:
    return config.data_dir / "http-owner.lock"


def take_ownership(config: Config) -> IO | None:
    """The lock that makes this process the owner, or None when another process holds it (this one is
    then a front). Held until the process ends: the kernel releases it with the process."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(owner_lock_path(config), "a+b")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def serve_owner(app: Callable, kg, shared: Shared) -> None:
    """Publish the graph's version (now, and with every write) and answer the front processes on the
    private socket, from a thread of this process."""
    from werkzeug.serving import make_server

    shared.version.publish(kg.store.version())
    listeners = getattr(kg.store, "listeners", None)
    if listeners is not None:
        # Called by the store when a write commits, before the write is acknowledged.
        listeners.append(lambda version, _update=None, _previous="": shared.version.publish(version))
    if os.path.exists(shared.socket_path):
        os.unlink(shared.socket_path)  # left by an owner that died
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # each request is logged by the front process
    server = make_server("unix://" + shared.socket_path, 0, _as_handed(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="kg-owner-socket").start()


def _as_handed(app: Callable) -> Callable:
    """The app as the owner runs it for a front process: the client's scheme and address as the front
    saw them (the private socket is reachable by this service's processes only)."""

    def handed(environ: dict, start_response: Callable) -> Iterable[bytes]:
        scheme = environ.pop("HTTP_" + SCHEME_HEADER.upper().replace("-", "_"), None)
        address = environ.pop("HTTP_" + ADDRESS_HEADER.upper().replace("-", "_"), None)
        if scheme in ("http", "https"):
            environ["wsgi.url_scheme"] = scheme
        if address:
            environ["REMOTE_ADDR"] = address
        return app(environ, start_response)

    return handed


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Front:
    """The WSGI app of a front process: its cache, else the owner."""

    def __init__(self, config: Config, shared: Shared):
        self.config = config
        self.shared = shared
        self.cache = ResultCache(config.cache_size, enabled=config.cache)
        self._local = threading.local()
        # Past the owner's own limits (its gunicorn timeout is three query time limits): a wedged owner.
        self._timeout = max(30.0, config.query_timeout * 3)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        version = self.shared.version.read()
        key = lookup_key(environ) if self.cache.enabled and version else None
        if key is not None:
            hit = self.cache.get(version, key)
            if hit is not None:
                status, headers, body = hit
                start_response(status, [*headers, ("Content-Length", str(len(body))), ("X-KG-Cache", "hit")])
                return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        return self._hand_over(environ, start_response, key, version)

    # -- the owner ---------------------------------------------------------------------------------
    def _hand_over(self, environ: dict, start_response: Callable, key, version: str) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        body = self._body(environ)
        # A read may be sent again on a new connection when a kept one turns out closed; anything else
        # goes on a connection of its own, so that it is never sent twice.
        reuse = method in ("GET", "HEAD") and body is None
        for attempt in (0, 1):
            conn = self._connection() if reuse else _UnixConnection(self.shared.socket_path, self._timeout)
            try:
                self._send(conn, environ, body)
                response = conn.getresponse()
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self._drop(conn)
                return self._owner_away(start_response)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(conn)
                if attempt or not reuse:
                    return self._owner_away(start_response)
            except (OSError, http.client.HTTPException):
                self._drop(conn)
                return self._owner_away(start_response)
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        marked = response.getheader("X-KG-Cache") in ("hit", "miss")
        if key is not None and response.status == 200 and marked:
            data = response.read()
            self._release(conn, response, reuse)
            # Kept with the Via header: what a front answers from its cache, it once had from the owner.
            stored = [*((k, v) for k, v in headers if k.lower() not in SKIP_HEADERS), VIA]
            self.cache.put(version, key, (f"{response.status} {response.reason}", stored, data), size=len(data))
            start_response(f"{response.status} {response.reason}",
                           [*stored, ("Content-Length", str(len(data))), ("X-KG-Cache", "miss")])
            return [] if method == "HEAD" else [data]
        start_response(f"{response.status} {response.reason}", [*headers, VIA])
        return self._stream(conn, response, reuse)

    def _body(self, environ: dict) -> bytes | None:
        """The request's body, read whole up to one byte past ``KG_MAX_BODY`` (the owner answers 413 for
        that); None when it has none."""
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked and length in ("", "0"):
            return None
        try:
            declared = int(length) if length else None
        except ValueError:
            declared = None
        limit = self.config.max_body + 1
        return environ["wsgi.input"].read(limit if declared is None else min(declared, limit))

    def _send(self, conn: _UnixConnection, environ: dict, body: bytes | None) -> None:
        path = environ.get("RAW_URI") or (environ.get("PATH_INFO", "/") + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""))
        conn.putrequest(environ["REQUEST_METHOD"], path, skip_host=True, skip_accept_encoding=True)
        for name, value in environ.items():
            if name.startswith("HTTP_"):
                header = name[5:].replace("_", "-").title()
                if header.lower() not in _NOT_HANDED:
                    conn.putheader(header, value)
        if "HTTP_HOST" not in environ:  # an HTTP/1.0 client: the address it reached, as the front saw it
            conn.putheader("Host", f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}")
        if environ.get("CONTENT_TYPE"):
            conn.putheader("Content-Type", environ["CONTENT_TYPE"])
        conn.putheader(*VIA)
        conn.putheader(SCHEME_HEADER, environ.get("wsgi.url_scheme", "http"))
        conn.putheader(ADDRESS_HEADER, environ.get("REMOTE_ADDR", ""))
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)

    def _stream(self, conn: _UnixConnection, response: http.client.HTTPResponse, reuse: bool) -> Iterator[bytes]:
        done = False
        try:
            while chunk := response.read(CHUNK):
                yield chunk
            done = True
        finally:
            if done:
                self._release(conn, response, reuse)
            else:  # the client went away mid-answer: the connection holds the rest of it
                self._drop(conn)

    # -- connections -------------------------------------------------------------------------------
    def _connection(self) -> _UnixConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _UnixConnection(self.shared.socket_path, self._timeout)
        return conn

    def _release(self, conn: _UnixConnection, response: http.client.HTTPResponse, reuse: bool) -> None:
        if not reuse or response.will_close:
            self._drop(conn)

    def _drop(self, conn: _UnixConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    @staticmethod
    def _owner_away(start_response: Callable) -> list[bytes]:
        body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                           "detail": "the process holding the store is starting or restarting; try again "
                                     "in a moment"}).encode()
        start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/problem+json"),
                                                   ("Content-Length", str(len(body))), ("Retry-After", "1")])
        return [body]
