"""The remote store's time limit holds for a whole query, however the endpoint spaces its bytes.

A socket timeout bounds each read, not the query: an endpoint that sends a byte every 0.1 s would keep
a reader forever. The store's watchdogs shut the socket at each query's own deadline, all from one
alarm thread (``kg/store/remote_watchdog.py``). The endpoint here is a real HTTP server on loopback that answers
``ASK {}`` (the store's probe at start) at once and trickles every other answer without end.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from kg.config import Config
from kg.store import StoreTimeout
from kg.store.remote import RemoteStore

#: What the endpoint trickles: its answer to any query naming ``?trickle``.
QUERY = "SELECT ?trickle WHERE { ?trickle ?p ?o }"


class Trickle:
    """An endpoint that never finishes its answer to ``QUERY`` (headers, then one blank byte every 0.1 s)
    and answers anything else at once: the store's probe and version read, with nothing stored."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/sparql"
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                while not self.stopped.is_set():
                    request = self._request(conn)
                    if request is None:
                        return
                    if b"trickle" not in request:
                        body = b'{"head":{},"boolean":true}' if b"ASK" in request else \
                            b'{"head":{"vars":[]},"results":{"bindings":[]}}'
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                        continue
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n")
                    opening = b'{"head":{"vars":["trickle"]},"results":{"bindings":['
                    conn.sendall(b"%x\r\n%s\r\n" % (len(opening), opening))
                    while not self.stopped.is_set():
                        conn.sendall(b"1\r\n \r\n")
                        time.sleep(0.1)
            except OSError:
                return

    @staticmethod
    def _request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        return head + body

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    server = Trickle()
    yield server
    server.close()


def _config(url: str) -> Config:
    return Config.from_env({"store": "remote", "sparql_endpoint": url, "sparql_transport": "form",
                            "validate_on_load": False, "version_ttl": 3600}, environ={})


@pytest.fixture
def store(trickle: Trickle) -> Iterator[RemoteStore]:
    remote = RemoteStore(_config(trickle.url))
    yield remote
    remote.close()


def _timed(store: RemoteStore, timeout: float, out: dict, key) -> None:
    started = time.monotonic()
    try:
        list(store.query(QUERY, timeout=timeout))
        out[key] = ("answered", time.monotonic() - started)
    except StoreTimeout:
        out[key] = ("timeout", time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - reported by the assertion below
        out[key] = (repr(exc), time.monotonic() - started)


def test_a_trickling_answer_is_cut_at_the_query_time_limit(store):
    out: dict = {}
    reader = threading.Thread(target=_timed, args=(store, 1.0, out, "q"), daemon=True)
    reader.start()
    reader.join(15)
    assert not reader.is_alive(), "the query outlived its 1 s limit by far: only each read was bounded"
    outcome, seconds = out["q"]
    assert outcome == "timeout" and 1.0 <= seconds < 2.5, out


def test_each_query_is_cut_at_its_own_limit_whatever_order_they_start_in(store):
    # The longest limit starts first: the alarm thread, already waiting for it, must wake for the
    # shorter ones that come after.
    limits = [2.4, 1.6, 0.8]
    out: dict = {}
    readers = []
    for limit in limits:
        reader = threading.Thread(target=_timed, args=(store, limit, out, limit), daemon=True)
        reader.start()
        readers.append(reader)
        time.sleep(0.05)
    for reader in readers:
        reader.join(15)
    assert all(not r.is_alive() for r in readers), out
    for limit in limits:
        outcome, seconds = out[limit]
        assert outcome == "timeout" and limit <= seconds < limit + 0.7, (limit, out)


def test_a_query_answered_in_time_is_never_cut_afterwards(store, trickle):
    # Thousands of watchdogs cancelled long before their time, then a query that must be cut: the
    # cancelled ones neither fire nor delay it. Their 0.8 s leaves a loaded machine time to make and
    # cancel them all (0.3 s did not, once) and is still over before the check below (0.6 s + 0.4 s).
    from kg.store.remote_watchdog import Watchdog

    dogs = [Watchdog(0.8) for _ in range(3000)]
    for dog in dogs:
        dog.cancel()
    out: dict = {}
    reader = threading.Thread(target=_timed, args=(store, 0.6, out, "q"), daemon=True)
    reader.start()
    reader.join(15)
    assert not reader.is_alive(), "the query outlived its limit by far"
    time.sleep(0.4)
    assert not any(dog.fired for dog in dogs)
    outcome, seconds = out["q"]
    assert outcome == "timeout" and 0.6 <= seconds < 1.3, out


def _in_child(url: str, results) -> None:
    out: dict = {}
    _timed(RemoteStore(_config(url)), 0.6, out, "q")
    results.put(out["q"])


def test_a_forked_worker_cuts_its_queries_too(store, trickle):
    # gunicorn forks its workers from a master that may have used the store: the child has no alarm
    # thread of its own until it starts one.
    import multiprocessing

    _timed(store, 0.3, {}, "parent")  # the parent's alarm thread exists before the fork
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    child = fork.Process(target=_in_child, args=(trickle.url, results))
    child.start()
    try:
        outcome, seconds = results.get(timeout=15)
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
    assert outcome == "timeout" and 0.6 <= seconds < 1.3, (outcome, seconds)
