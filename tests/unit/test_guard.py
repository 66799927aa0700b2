"""The outbound guard (kg/safety/guard.py): once installed, a process connects only to the endpoints
its configuration names, fetches no URL of any other kind, and, inside ``no_network()``, nothing at
all from that thread; local sockets keep working.

The guard is an audit hook, which cannot be removed once added: each case runs in a fresh interpreter,
so that this test process (and the tests after it) keep their network. Loopback listeners, owned by
this process, witness what reached them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from kg.config import Config
from kg.safety import guard
from tests.support.listener import Listener
from tests.support.server import ROOT


@pytest.fixture
def other() -> Iterator[Listener]:
    """A second loopback listener: an endpoint nobody configured."""
    probe = Listener()
    yield probe
    probe.close()


CONNECT = """
def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return "connected"
    except guard.OutboundRefused as exc:
        return "refused" + (" (a PermissionError)" if isinstance(exc, PermissionError) else "")
"""


def _guarded(code: str, **values: object) -> dict:
    """Run ``code`` in a fresh interpreter that has imported the guard and defined ``connect(host,
    port)``; the code fills ``out``, returned here. ``values`` become variables of the script."""
    prologue = "import json, socket\nfrom kg.safety import guard\nout = {}\n" + CONNECT
    prologue += "".join(f"{name} = {value!r}\n" for name, value in values.items())
    program = prologue + textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_only_the_configured_store_is_reachable(listener, other):
    done = _guarded("""
        from kg.config import Config
        guard.install(Config.from_env({"store": "remote", "sparql_endpoint": ENDPOINT}, environ={}))
        out["store"] = connect("127.0.0.1", STORE_PORT)
        out["other"] = connect("127.0.0.1", OTHER_PORT)
        out["other by name"] = connect("localhost", OTHER_PORT)
    """, ENDPOINT=f"{listener.url}query", STORE_PORT=listener.port, OTHER_PORT=other.port)
    assert done == {"store": "connected", "other": "refused (a PermissionError)",
                    "other by name": "refused (a PermissionError)"}
    assert other.quiet() and listener.connections == 1


def test_an_endpoint_allowed_by_name_is_reachable_at_its_address(listener):
    done = _guarded("""
        guard.install()
        out["before"] = connect("127.0.0.1", PORT)
        guard.allow("localhost", PORT)
        out["after"] = connect("127.0.0.1", PORT)
    """, PORT=listener.port)
    assert done == {"before": "refused (a PermissionError)", "after": "connected"}


def test_installing_again_widens_what_is_allowed(listener):
    done = _guarded("""
        guard.install()
        guard.install(extra=[("127.0.0.1", PORT)])
        out["connect"] = connect("127.0.0.1", PORT)
        out["installed"] = guard.installed()
    """, PORT=listener.port)
    assert done == {"connect": "connected", "installed": True}


def test_urls_are_fetched_from_configured_endpoints_only(listener, other):
    done = _guarded("""
        import urllib.request
        guard.install(extra=[("127.0.0.1", PORT)])
        for name, url in (("endpoint", f"http://127.0.0.1:{PORT}/query"), ("other", f"http://127.0.0.1:{OTHER}/"),
                          ("file", "file:///etc/hostname"), ("ftp", f"ftp://127.0.0.1:{PORT}/x")):
            try:
                urllib.request.urlopen(url, timeout=5)
                out[name] = "fetched"
            except guard.OutboundRefused:
                out[name] = "refused"
            except OSError:
                out[name] = "reached"  # the listener records and hangs up: no HTTP answer
    """, PORT=listener.port, OTHER=other.port)
    assert done == {"endpoint": "reached", "other": "refused", "file": "refused", "ftp": "refused"}
    assert other.quiet() and listener.connections == 1


def test_no_network_refuses_even_allowed_endpoints_in_its_thread_only(listener):
    done = _guarded("""
        import threading
        guard.install(extra=[("127.0.0.1", PORT)])
        inside, beside = threading.Event(), threading.Event()

        def untrusted():
            with guard.no_network():
                with guard.no_network():
                    out["nested"] = connect("127.0.0.1", PORT)
                out["after the inner block"] = connect("127.0.0.1", PORT)
                inside.set()
                beside.wait(10)
            out["after the block"] = connect("127.0.0.1", PORT)

        def trusted():
            inside.wait(10)
            out["another thread meanwhile"] = connect("127.0.0.1", PORT)
            beside.set()

        threads = [threading.Thread(target=untrusted), threading.Thread(target=trusted)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    """, PORT=listener.port)
    assert done == {"nested": "refused (a PermissionError)", "after the inner block": "refused (a PermissionError)",
                    "another thread meanwhile": "connected", "after the block": "connected"}
    assert listener.connections == 2


def test_datagrams_to_unconfigured_addresses_are_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.3)
        done = _guarded("""
            guard.install()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.sendto(b"hello", ("127.0.0.1", PORT))
                    out["sendto"] = "sent"
                except guard.OutboundRefused:
                    out["sendto"] = "refused"
        """, PORT=receiver.getsockname()[1])
        assert done == {"sendto": "refused"}
        with pytest.raises(TimeoutError):
            receiver.recvfrom(100)


def test_local_sockets_keep_working():
    done = _guarded("""
        import multiprocessing
        guard.install()
        a, b = socket.socketpair()
        a.sendall(b"ping")
        out["socketpair"] = b.recv(4).decode()
        reader, writer = multiprocessing.Pipe()
        writer.send("pong")
        out["pipe"] = reader.recv()
    """)
    assert done == {"socketpair": "ping", "pipe": "pong"}


def test_rdflib_is_told_not_to_fetch_graphs():
    done = _guarded("""
        guard.install()
        import rdflib.plugins.sparql as s
        out["load graphs"] = s.SPARQL_LOAD_GRAPHS
        out["union default"] = s.SPARQL_DEFAULT_GRAPH_UNION
    """)
    assert done == {"load graphs": False, "union default": True}


def test_the_endpoints_of_a_configuration_are_those_of_its_remote_store():
    assert guard.endpoints_of(Config.from_env({}, environ={})) == []
    assert guard.endpoints_of(None) == []
    remote = Config.from_env({"store": "remote", "sparql_endpoint": "https://Store.Example/sparql",
                              "sparql_update_endpoint": "http://10.0.0.5:7878/update"}, environ={})
    assert guard.endpoints_of(remote) == [("store.example", 443), ("10.0.0.5", 7878)]
