"""Who may write: every write route needs the admin bearer token; a deployment without a token
refuses every write; tokens never reach the logs or an answer; CORS never carries credentials.

Every write route is listed once in WRITES and crossed with every kind of caller, so a new write
route that forgets ``require_admin()`` fails here.
"""

from __future__ import annotations

import inspect
import time

import pytest
import requests

from bench.soak import type_turtle
from tests.support.server import ServerProcess
from tests.test_request_bounds import raw_request

SLUG, ACRONYM = "auth-lpo", "ALPO"
GRAPH = "urn:x-test:auth"
JSON = "application/json"

# (name, method, path, body, content type, status when allowed)
WRITES = [
    ("sparql-update-form", "POST", "/sparql",
     {"update": f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <urn:x:a> <urn:x:b> 1 }} }}"}, None, 204),
    ("sparql-update-body", "POST", "/sparql", f"DROP SILENT GRAPH <{GRAPH}>".encode(),
     "application/sparql-update", 204),
    ("add-type", "POST", "/api/types", type_turtle(SLUG, ACRONYM).encode(), "text/turtle", 201),
    ("replace-type", "PUT", f"/api/types/{SLUG}", type_turtle(SLUG, ACRONYM).encode(), "text/turtle", 200),
    ("remove-type", "DELETE", f"/api/types/{SLUG}", None, None, 204),
]

WRONG = {
    "no-header": None,
    "empty-bearer": "Bearer ",
    "wrong-token": "Bearer not-the-token-7d3e",
    "basic-scheme": "Basic {token}",
    "token-without-scheme": "{token}",
    "token-prefix": "Bearer {token_prefix}",
    "token-with-suffix": "Bearer {token}x",
}


def call(server: ServerProcess, write: tuple, authorization: str | None) -> requests.Response:
    _, method, path, body, ctype, _ = write
    headers = {"Accept": JSON}
    if ctype:
        headers["Content-Type"] = ctype
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.request(method, server.url + path, data=body, headers=headers, timeout=60)


def version(server: ServerProcess) -> str:
    return requests.get(server.url + "/healthz", timeout=10).json()["version"]


@pytest.fixture(scope="module")
def tokenless(tmp_path_factory) -> ServerProcess:
    """A deployment with no admin token configured."""
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("tokenless") / "data",
                         env={"KG_ADMIN_TOKEN": "", "KG_VALIDATE": "0"}).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("write", WRITES, ids=[w[0] for w in WRITES])
def test_no_token_configured_means_no_writes(tokenless, write):
    before = version(tokenless)
    for authorization in (None, "Bearer anything", "Bearer "):
        r = call(tokenless, write, authorization)
        assert r.status_code == 403, r.text[:300]
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert "KG_ADMIN_TOKEN" in r.json()["detail"]
    assert version(tokenless) == before


@pytest.mark.parametrize("wrong", sorted(WRONG))
@pytest.mark.parametrize("write", WRITES, ids=[w[0] for w in WRITES])
def test_writes_without_the_right_token_are_401(server, admin_token, write, wrong):
    template = WRONG[wrong]
    authorization = None if template is None else template.format(token=admin_token,
                                                                   token_prefix=admin_token[:-1])
    before = version(server)
    r = call(server, write, authorization)
    assert r.status_code == 401, r.text[:300]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert admin_token not in r.text and admin_token[:-1] not in r.text
    assert version(server) == before


# The writes whose body has a type of its own: the token is checked before that body is read. (A form
# must be read to know whether it holds an update; KG_MAX_BODY bounds it.)
BODY_WRITES = [w for w in WRITES if isinstance(w[3], bytes)]


def _announce_a_body(server: ServerProcess, write: tuple, authorization: str | None) -> tuple[int, float]:
    """Announce a 900 KB body (under KG_MAX_BODY), send a few bytes of it: (status, seconds to answer)."""
    _, method, path, _, ctype, _ = write
    headers = {"Content-Type": ctype, "Content-Length": "900000"}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, _, elapsed = raw_request(server, method, path, headers)
    return status, elapsed


@pytest.mark.parametrize("write", BODY_WRITES, ids=[w[0] for w in BODY_WRITES])
def test_a_write_without_the_token_is_refused_before_its_body_arrives(server, write):
    for authorization in (None, "Bearer not-the-token-7d3e"):
        status, elapsed = _announce_a_body(server, write, authorization)
        assert status == 401 and elapsed < 2, (authorization, status, elapsed)


@pytest.mark.parametrize("write", BODY_WRITES, ids=[w[0] for w in BODY_WRITES])
def test_a_deployment_without_a_token_refuses_before_the_body_arrives(tokenless, write):
    status, elapsed = _announce_a_body(tokenless, write, "Bearer anything")
    assert status == 403 and elapsed < 2, (status, elapsed)


def test_every_write_route_works_with_the_right_token(server, admin_token):
    """The same requests, in order, with the token: each is applied (and the graph is restored)."""
    bearer = f"Bearer {admin_token}"
    before = version(server)
    for write in WRITES:
        r = call(server, write, bearer)
        assert r.status_code == write[5], (write[0], r.status_code, r.text[:300])
    assert version(server) != before
    # The scheme is case-insensitive (RFC 9110 §11.1).
    r = call(server, WRITES[1], f"bearer {admin_token}")
    assert r.status_code == 204


def test_tokens_never_reach_the_log(server, admin_token):
    secret = "Bearer guessed-token-4a9b1c"
    call(server, WRITES[1], secret)
    call(server, WRITES[1], f"Bearer {admin_token}")
    requests.get(server.url + "/sparql", params={"query": "ASK {}"}, headers={"Authorization": secret},
                 timeout=10)
    deadline = time.monotonic() + 10  # access lines are written in batches (service/server.py)
    while "POST /sparql" not in (log := server.log_path.read_text(errors="replace")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "POST /sparql" in log, "the access log is the one being read"
    assert admin_token not in log
    assert "guessed-token-4a9b1c" not in log


def test_the_token_is_compared_in_constant_time():
    from service import auth, bearer

    # One comparison, shared by the app and the front processes (service/bearer.py).
    assert "hmac.compare_digest(" in inspect.getsource(bearer.is_admin)
    assert "is_admin(" in inspect.getsource(auth.require_admin)


ORIGIN = "https://attacker.example"


@pytest.mark.parametrize("method, path", [
    ("GET", "/sparql?query=ASK%7B%7D"), ("POST", "/sparql"), ("OPTIONS", "/sparql"), ("GET", "/api/types"),
    ("OPTIONS", "/api/types"), ("OPTIONS", f"/api/types/{SLUG}"), ("DELETE", f"/api/types/{SLUG}"),
    ("GET", "/doc/kpo"), ("GET", "/"), ("GET", "/healthz"), ("GET", "/openapi.json"),
    ("GET", "/no/such/page"),
])
def test_cors_never_sends_credentials_nor_echoes_an_origin(server, method, path):
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE",
               "Access-Control-Request-Headers": "authorization", "Cookie": "session=x"}
    r = requests.request(method, server.url + path, headers=headers, timeout=10, allow_redirects=False)
    lowered = {k.lower(): v for k, v in r.headers.items()}
    assert "access-control-allow-credentials" not in lowered
    assert lowered.get("access-control-allow-origin", "*") == "*"
    assert ORIGIN not in str(r.headers)
    assert "set-cookie" not in lowered
