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
  everything else to the owner over the Unix socket, streaming the answer back.

What crosses the socket is the request as gunicorn parsed it (its WSGI environment's plain values and
its body) and the answer as the owner's app made it (status, headers, then the body in pieces), each a
length-prefixed ``marshal`` message: HTTP again on that hop (a client and a server in Python) cost
the two processes more than the request itself on the uncached mix.

The graph's version is published by the owner in a few bytes of memory shared by all the workers
(``SharedVersion``, made by gunicorn's master before it starts them), written when a write commits and
before it is acknowledged: a front process never answers from an older version once a write has been
acknowledged to anyone. A front's cached answer is one the owner marked cacheable (``X-KG-Cache``), so
the two caches hold the same kind of answers under the same keys (``service/cache_key.py``).

When the owner dies, gunicorn starts another worker, which takes the lock and becomes the owner (the
front processes answer 503 with ``Retry-After`` meanwhile); a front process that dies is replaced by
another front.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import marshal
import mmap
import os
import shutil
import socket
import socketserver
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from kg.config import Config
from kg.query.cache import ResultCache
from service.bearer import is_admin
from service.cache_key import SKIP_HEADERS, lookup_key, stored_size

#: Headers of one connection, not of the message: never passed on (RFC 9110, section 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-authenticate", "proxy-authorization"})
#: What a front adds to the answers it hands back (RFC 9110, section 7.6.3, a gateway's Via): which
#: process answered is visible to operators and tests.
VIA = ("Via", "1.1 kg-front")


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


#: Longest path a Unix socket may be bound to here (``sun_path`` holds 108 bytes on Linux, 104 on BSDs).
SOCKET_PATH_MAX = 100


class Shared:
    """What gunicorn's master prepares for its workers: the version and the owner's socket path.

    The socket lives in a directory of mode 0700, so only this service's user can reach the owner: in
    the data directory (``http/``, beside ``http-owner.lock``), where a server stopped by SIGKILL leaves
    nothing behind that the next start does not reuse; in a temporary directory, removed at exit, only
    when that path would be too long for a socket.
    """

    def __init__(self, data_dir: Path) -> None:
        self.version = SharedVersion()
        self._temporary = len(str(data_dir / "http" / "owner.sock")) > SOCKET_PATH_MAX
        if self._temporary:
            self._directory = tempfile.mkdtemp(prefix="kg-http-")
        else:
            self._directory = str(data_dir / "http")
            os.makedirs(self._directory, mode=0o700, exist_ok=True)  # the data directory too, on a first start
            os.chmod(self._directory, 0o700)  # made earlier with other permissions: not kept
        self.socket_path = os.path.join(self._directory, "owner.sock")
        self._maker = os.getpid()

    def remove(self) -> None:
        """Remove a temporary socket directory, from the master only: a worker inherits the exit handler
        that calls this, and one leaving must not take the socket from the others."""
        if self._temporary and os.getpid() == self._maker:
            shutil.rmtree(self._directory, ignore_errors=True)


def take_ownership(config: Config) -> IO | None:
    """The lock that makes this process the owner, or None when another process holds it (this one is
    then a front). Held until the process ends: the kernel releases it with the process."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(config.data_dir / "http-owner.lock", "a+b")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def serve_owner(app: Callable, kg, shared: Shared) -> None:
    """Publish the graph's version (now, and with every write) and answer the front processes on the
    private socket, from threads of this process."""
    shared.version.publish(kg.store.version())
    listeners = getattr(kg.store, "listeners", None)
    if listeners is not None:
        # Called by the store when a write commits, before the write is acknowledged.
        listeners.append(lambda version, _update=None, _previous="": shared.version.publish(version))
    if os.path.exists(shared.socket_path):
        os.unlink(shared.socket_path)  # left by an owner that died
    server = _OwnerServer(shared.socket_path, _Handed)
    server.app = app
    threading.Thread(target=server.serve_forever, daemon=True, name="kg-owner-socket").start()


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack("!Q", len(data)))
    sock.sendall(data)


def _receive(stream: IO[bytes]) -> bytes:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the other process closed the connection")
    length = struct.unpack("!Q", header)[0]
    data = stream.read(length)
    if len(data) < length:
        raise EOFError("the other process closed the connection")
    return data


class _OwnerServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # Connections waiting to be accepted: past it a Unix socket refuses at once (socketserver's default
    # is 5, and every front thread handing over a write opens a connection of its own).
    request_queue_size = 1024
    app: Callable


class _Handed(socketserver.StreamRequestHandler):
    """One front's connection to the owner: requests, one after the other, each answered in order."""

    server: _OwnerServer

    def handle(self) -> None:
        while True:
            try:
                fields, body = marshal.loads(_receive(self.rfile))
            except (EOFError, OSError, ValueError):
                return
            if not self._answer(fields, body):
                return

    def _answer(self, fields: dict, body: bytes | None) -> bool:
        """Run the app on one request and send its answer; False when the front went away (its client's
        answer is lost with it)."""
        environ = {**fields, "wsgi.input": io.BytesIO(body or b""), "wsgi.errors": sys.stderr,
                   "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True,
                   "wsgi.run_once": False, "wsgi.input_terminated": True}
        started: list = []

        def start_response(status: str, headers: list, exc_info=None) -> Callable:
            started[:] = [status, [tuple(h) for h in headers]]
            return self._unsupported_write

        result = self.server.app(environ, start_response)
        try:
            head = False
            for chunk in result:
                if not head:
                    _send(self.connection, marshal.dumps(tuple(started)))
                    head = True
                if chunk:
                    _send(self.connection, bytes(chunk))
            if not head:
                _send(self.connection, marshal.dumps(tuple(started)))
            _send(self.connection, b"")  # the end of this answer
            return True
        except OSError:
            return False
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _unsupported_write(_data: bytes) -> None:
        raise NotImplementedError("the app writes its body through the iterable it returns")


def _is_write(environ: dict) -> bool:
    """Whether the request is a write by its method, path and type alone (a form posted to ``/sparql``
    must be read to know, and is, within ``KG_MAX_BODY``)."""
    method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO") or "/"
    if method in ("PUT", "DELETE", "PATCH") or method == "POST" and path.startswith("/api/types"):
        return True
    kind = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    return method == "POST" and kind == "application/sparql-update"


class _Channel:
    """A front thread's connection to the owner."""

    def __init__(self, path: str, timeout: float):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.stream = self.sock.makefile("rb")

    def close(self) -> None:
        for part in (self.stream, self.sock):
            with contextlib.suppress(OSError):
                part.close()


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
        # Plain values only: what gunicorn parsed, the client's address and scheme included.
        fields = {k: v for k, v in environ.items() if isinstance(v, str) and (k.isupper() or k == "wsgi.url_scheme")}
        request = marshal.dumps((fields, body))
        # A read may be sent again on a new connection when a kept one turns out closed; anything else
        # goes on a connection of its own, so that it is never sent twice.
        reuse = method in ("GET", "HEAD") and body is None
        for attempt in (0, 1):
            try:
                channel = self._channel() if reuse else _Channel(self.shared.socket_path, self._timeout)
            except OSError:
                return self._owner_away(start_response)
            try:
                _send(channel.sock, request)
                status, headers = marshal.loads(_receive(channel.stream))
                break
            except (EOFError, BrokenPipeError, ConnectionResetError):
                self._drop(channel)
                if attempt or not reuse:
                    return self._owner_away(start_response)
            except (OSError, ValueError):
                self._drop(channel)
                return self._owner_away(start_response)
        headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        marked = any(k.lower() == "x-kg-cache" and v in ("hit", "miss") for k, v in headers)
        # A HEAD's answer comes without its body: kept, it would answer the GETs that share its key empty.
        if key is not None and method != "HEAD" and status.startswith("200") and marked:
            try:
                data = b"".join(self._pieces(channel))
            except (EOFError, OSError):
                self._drop(channel)
                return self._owner_away(start_response)
            self._release(channel, reuse)
            # Kept with the Via header: what a front answers from its cache, it once had from the owner.
            stored = [*((k, v) for k, v in headers if k.lower() not in SKIP_HEADERS), VIA]
            self.cache.put(version, key, (status, stored, data), size=stored_size(key, data))
            start_response(status, [*stored, ("Content-Length", str(len(data))), ("X-KG-Cache", "miss")])
            return [data]
        start_response(status, [*headers, VIA])
        return self._stream(channel, reuse)

    def _body(self, environ: dict) -> bytes | None:
        """The request's body, read whole up to one byte past ``KG_MAX_BODY`` (the owner answers 413 for
        that); None when it has none, or when the owner refuses the request on its headers alone, which
        it does without reading a byte: a body announced past ``KG_MAX_BODY`` (413, the announced length
        handed on), a write without the admin token (401/403, handed on as a request without a body, so
        that if the two ever disagreed, the write the owner took would be empty)."""
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked and length in ("", "0"):
            return None
        try:
            declared = int(length) if length else None
        except ValueError:
            declared = None
        if declared is not None and declared > self.config.max_body:
            return None
        if _is_write(environ) and not is_admin(environ.get("HTTP_AUTHORIZATION"), self.config.admin_token):
            environ["CONTENT_LENGTH"] = "0"
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            return None
        limit = self.config.max_body + 1
        data = environ["wsgi.input"].read(limit if declared is None else min(declared, limit))
        # Handed over whole: its length is known now, whatever framing the client used.
        environ["CONTENT_LENGTH"] = str(len(data))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return data

    @staticmethod
    def _pieces(channel: _Channel) -> Iterator[bytes]:
        while piece := _receive(channel.stream):
            yield piece

    def _stream(self, channel: _Channel, reuse: bool) -> Iterator[bytes]:
        done = False
        try:
            yield from self._pieces(channel)
            done = True
        finally:
            if done:
                self._release(channel, reuse)
            else:  # the client or the owner went away mid-answer: the connection is out of step
                self._drop(channel)

    # -- connections -------------------------------------------------------------------------------
    def _channel(self) -> _Channel:
        channel = getattr(self._local, "channel", None)
        if channel is None:
            channel = self._local.channel = _Channel(self.shared.socket_path, self._timeout)
        return channel

    def _release(self, channel: _Channel, reuse: bool) -> None:
        if not reuse:
            channel.close()

    def _drop(self, channel: _Channel) -> None:
        channel.close()
        if getattr(self._local, "channel", None) is channel:
            self._local.channel = None

    @staticmethod
    def _owner_away(start_response: Callable) -> list[bytes]:
        body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                           "detail": "the process holding the store is starting or restarting; try again "
                                     "in a moment"}).encode()
        start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/problem+json"),
                                                   ("Content-Length", str(len(body))), ("Retry-After", "1")])
        return [body]
