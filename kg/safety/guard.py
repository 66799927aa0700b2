"""The root guard against outbound fetching: nothing a user sends may make this process connect out.

Why here, and why an audit hook: rdflib, urllib, SPARQLWrapper, JSON-LD context loading and XML
entity resolution all end in ``socket.connect`` (or ``urllib.Request``), which CPython reports to
audit hooks (PEP 578) before acting. One hook therefore covers every Python-side fetch, present and
future, instead of a list of special cases. Connections are allowed only to the configured remote
store endpoints and to loopback ports the configuration names; Unix sockets (multiprocessing, the
local resolver) are not network access and pass.

What it cannot see: Oxigraph fetches ``SERVICE`` and ``LOAD`` targets from Rust, invisible to Python.
Those operations are refused before evaluation by ``kg.query.sparql`` (a token scan of the request).

API:
- ``install(config=None, extra=())``: install the hook once per process (idempotent; later calls
  widen or replace the allowed endpoints). Also sets rdflib's fetching switches off.
- ``allow(host, port)``: allow one more endpoint (tests, a remote store opened later).
- ``no_network()``: context manager; inside it (this thread only) every outbound connection and
  every ``urllib`` request, of any scheme (``file:`` too), is refused, even to allowed endpoints.
  Parsers of untrusted input wrap their work in it.
- ``OutboundRefused``: the exception raised (a ``PermissionError``, so libraries that catch
  ``OSError`` for network failures report it as a failed fetch, never a success).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from kg.config import Config


class OutboundRefused(PermissionError):
    """An attempt to open a connection or fetch a URL that the guard does not allow."""


_lock = threading.Lock()
_installed = False
_allowed: set[tuple[str, int]] = set()
_local = threading.local()
_WATCHED = frozenset({"socket.connect", "socket.connect_ex", "socket.sendto", "socket.sendmsg",
                      "urllib.Request"})


def _endpoint(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname.lower(), port


def _addresses(host: str, port: int) -> set[tuple[str, int]]:
    """The host as written plus the addresses it resolves to now (connect() sees addresses)."""
    out = {(host, port)}
    try:
        ipaddress.ip_address(host)
        return out
    except ValueError:
        pass
    try:
        for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            out.add((str(info[4][0]).lower(), port))
    except OSError:
        pass
    return out


def allow(host: str, port: int) -> None:
    """Allow connections to ``host:port`` (and whatever that name resolves to now)."""
    with _lock:
        _allowed.update(_addresses(host.lower(), int(port)))


def endpoints_of(config: Config | None) -> list[tuple[str, int]]:
    """The endpoints a configuration legitimately talks to: its remote store's query/update URLs."""
    if config is None or config.store != "remote":
        return []
    out = []
    for url in (config.sparql_endpoint, config.sparql_update_endpoint):
        if url and (ep := _endpoint(url)):
            out.append(ep)
    return out


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse every outbound connection and URL fetch made by this thread inside the block."""
    depth = getattr(_local, "strict", 0)
    _local.strict = depth + 1
    try:
        yield
    finally:
        _local.strict = depth


def _check_address(address: object) -> None:
    if not isinstance(address, tuple) or len(address) < 2:
        return  # AF_UNIX paths and other local families
    host, port = str(address[0]).lower(), address[1]
    if getattr(_local, "strict", 0):
        raise OutboundRefused(f"outbound connection to {host}:{port} refused while handling untrusted input")
    if (host, port) in _allowed:
        return
    raise OutboundRefused(f"outbound connection to {host}:{port} refused: not a configured endpoint")


def _hook(event: str, args: tuple) -> None:
    # Called for every audited event in the process: return fast for the ones we do not watch.
    if event not in _WATCHED:
        return
    if event == "urllib.Request":
        url = str(args[0])
        scheme = url.split(":", 1)[0].lower()
        if getattr(_local, "strict", 0):
            raise OutboundRefused(f"fetching {url!r} refused while handling untrusted input")
        if scheme not in ("http", "https"):
            raise OutboundRefused(f"fetching {url!r} refused: only the configured store is reachable")
        ep = _endpoint(url)
        if ep is None or ep not in _allowed:
            raise OutboundRefused(f"fetching {url!r} refused: not a configured endpoint")
        return
    sock = args[0]
    family = getattr(sock, "family", None)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return
    if event in ("socket.connect", "socket.connect_ex"):
        _check_address(args[1])
    elif event == "socket.sendto":
        _check_address(args[1])
    elif event == "socket.sendmsg" and len(args) > 1 and args[1] is not None:
        _check_address(args[1])


def configure_rdflib() -> None:
    """rdflib's global switches that fetch, set off in one place (rdflib is imported if needed)."""
    import rdflib.plugins.sparql as rdflib_sparql

    # FROM/FROM NAMED would be fetched from the web by rdflib's own engine; LOAD would be too.
    rdflib_sparql.SPARQL_LOAD_GRAPHS = False
    # The project's convention: the default graph is the union of the named graphs.
    rdflib_sparql.SPARQL_DEFAULT_GRAPH_UNION = True


def install(config: Config | None = None, extra: Iterable[tuple[str, int]] = (), *,
            rdflib: bool = True) -> None:
    """Install the audit hook in this process (once) and allow the configuration's endpoints.

    ``rdflib=False`` skips importing rdflib (query worker processes never use it).
    """
    global _installed
    for host, port in [*endpoints_of(config), *extra]:
        allow(host, port)
    if rdflib or "rdflib" in sys.modules:
        configure_rdflib()
    with _lock:
        if _installed:
            return
        sys.addaudithook(_hook)
        _installed = True


def installed() -> bool:
    return _installed
