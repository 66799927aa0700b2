"""Lookups, the comparison, search, named queries and linked-data documents run under the query time
limit too: their queries go to the same killable worker processes as user SPARQL (or to the remote
store with the limit as its timeout), so a limit too short for them is answered like /sparql's: 503
"Time limit reached" with ``Retry-After``, on every route and over every store; the server keeps
serving."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from tests.support.server import ServerProcess

ROUTES = [
    "/api/types",
    "/api/types/kpo",
    "/api/skills",
    "/api/activities",
    "/api/search?q=knowledge",
    "/api/compare?types=bpo,kpo",
    "/api/queries/skills-of-type?type=kpo",
    "/sparql?query=SELECT%20*%20WHERE%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D",
    "/doc/kpo",
    "/doc/kpo.ttl",
]
STORES = [s for s in os.environ.get("KG_TEST_STORES", "embedded,remote").split(",") if s]


class StallingRelay:
    """A TCP relay in front of the remote store that can stop relaying: the store then seems to hang.

    A query limit short enough to stop every lookup would also stop the service's start over a remote
    store; the relay lets it start on a real Oxigraph server, then holds every request unanswered."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.stalled = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            src.settimeout(None)
            while data := src.recv(65536):
                if not self.stalled.is_set():  # stalled: swallow the request, never answer
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                sock.close()

    def close(self) -> None:
        self.listener.close()


@dataclass
class Impatient:
    url: str
    answers: dict[tuple[str, str], requests.Response]  # (route, accept) → the answer
    recover: Callable[[], None]
    hidden: tuple[str, ...] = ()  # what no answer may show: the remote store's address


JSON = "application/json"
HTML = "text/html"
PAGES = ["/", "/doc/kpo", "/api/compare?types=bpo,kpo"]
ASKED = [(route, JSON) for route in ROUTES] + [(route, HTML) for route in PAGES]


def ask_all(url: str) -> dict[tuple[str, str], requests.Response]:
    # At once: a remote store that hangs holds each request for the store's own timeout.
    def get(asked: tuple[str, str]) -> requests.Response:
        return requests.get(url + asked[0], headers={"Accept": asked[1]}, timeout=60)

    with ThreadPoolExecutor(len(ASKED)) as pool:
        return dict(zip(ASKED, pool.map(get, ASKED), strict=True))


@pytest.fixture(scope="module", params=STORES)
def impatient_server(request, tmp_path_factory) -> Iterator[Impatient]:
    data = tmp_path_factory.mktemp(f"impatient-{request.param}")
    env = {"KG_CACHE": "off", "KG_THREADS": str(len(ASKED) + 2)}
    if request.param == "embedded":
        # A limit no query can meet: every route that runs SPARQL must give up at it, not run on.
        proc = ServerProcess(data_dir=data / "data", env={**env, "KG_QUERY_TIMEOUT": "0.000001"}).start()
        try:
            yield Impatient(proc.url, ask_all(proc.url), lambda: None)
        finally:
            proc.stop()
        return
    from tests.support.remote import OxigraphServer

    store = OxigraphServer(location=data / "oxigraph").start()
    relay = StallingRelay(store.port)
    endpoint = f"http://127.0.0.1:{relay.port}"
    proc = ServerProcess(data_dir=data / "data", env={
        **env, "KG_STORE": "remote", "KG_VALIDATE": "0", "KG_QUERY_TIMEOUT": "1",
        "KG_SPARQL_ENDPOINT": endpoint + "/query", "KG_SPARQL_UPDATE_ENDPOINT": endpoint + "/update"})
    try:
        proc.start()
        relay.stalled.set()
        yield Impatient(proc.url, ask_all(proc.url), relay.stalled.clear, (endpoint, f":{relay.port}"))
    finally:
        proc.stop()
        relay.close()
        store.stop()


def assert_deadline(r: requests.Response, route: str) -> None:
    assert r.status_code == 503, (route, r.status_code, r.text[:300])
    assert r.headers["Retry-After"].isdigit(), route
    assert "time limit" in r.text, (route, r.text[:300])


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_answers_a_deadline_with_503_and_retry_after(impatient_server, route):
    r = impatient_server.answers[route, JSON]
    assert_deadline(r, route)
    assert not any(leak in r.text for leak in impatient_server.hidden), r.text[:300]
    if not route.endswith(".ttl"):  # the extension chose Turtle: the error is plain text there
        assert r.headers["Content-Type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["title"] == "Time limit reached" and "time limit" in problem["detail"], problem


@pytest.mark.parametrize("route", PAGES)
def test_a_browser_gets_the_same_deadline_as_a_page(impatient_server, route):
    r = impatient_server.answers[route, HTML]
    assert_deadline(r, route)
    assert r.headers["Content-Type"].startswith("text/html") and "Time limit reached" in r.text


def test_the_server_keeps_answering_after_lookups_time_out(impatient_server):
    impatient_server.recover()  # the remote store answers again (the embedded one never stopped)
    assert requests.get(impatient_server.url + "/healthz", timeout=10).status_code == 200
