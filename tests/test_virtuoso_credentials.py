"""Credentials for the remote store, through the whole service, over a real Virtuoso that guards its
writes (HTTP Digest on /sparql-auth, a user holding SPARQL_UPDATE): writes succeed with the right
password and fail clearly with a wrong one, and the password shows in no answer, no /healthz and no
line of the server's log.
"""

from __future__ import annotations

import pytest
import requests

from tests.support.remote import stores_under_test
from tests.support.server import ADMIN_TOKEN, ServerProcess
from tests.support.virtuoso import VirtuosoServer

pytestmark = [
    pytest.mark.remote,
    pytest.mark.virtuoso,
    pytest.mark.skipif("virtuoso" not in stores_under_test(), reason="Virtuoso is not among KG_TEST_STORES"),
]

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _update(n: int) -> dict[str, str]:
    return {"update": f'INSERT DATA {{ GRAPH <https://example.org/notes> {{ <https://example.org/n{n}> '
                      f'<http://www.w3.org/2000/01/rdf-schema#comment> "note {n}" }} }}'}


def _full_log(process: ServerProcess) -> str:
    return process.log_path.read_text(errors="replace") if process.log_path else ""


def test_writes_need_the_right_password_and_it_is_never_shown(tmp_path):
    store = VirtuosoServer().start()
    secret, rotated, wrong = store.password, "rotated-pw-3c9e1", "wrong-pw-5e1d7"
    env = {"KG_STORE": "remote", "KG_VALIDATE": "0", "KG_CACHE": "off", **store.env}
    for name in ("bad", "good"):
        (tmp_path / name).mkdir()
    good = ServerProcess(data_dir=tmp_path / "good" / "data", env=env)
    bad = ServerProcess(data_dir=tmp_path / "bad" / "data", env={**env, "KG_SPARQL_PASSWORD": wrong})
    try:
        # A wrong password: the service installs its graphs at start, so it does not start, and says why.
        with pytest.raises(RuntimeError):
            bad.start(timeout=60)
        assert "credentials were not accepted" in _full_log(bad) and "KG_SPARQL_PASSWORD" in _full_log(bad)

        good.start()
        with requests.Session() as http:
            assert http.post(good.url + "/sparql", data=_update(1), headers=AUTH).status_code == 204
            health = http.get(good.url + "/healthz")
            assert health.status_code == 200 and health.json()["engine"] == "remote"
            answers = [health.text]

            # The password changes at the store, not in the service's settings: writes are refused (503,
            # the operator's to fix), reads go on, and the log says which settings to check.
            store.set_password(rotated)
            refused = http.post(good.url + "/sparql", data=_update(2), headers=AUTH)
            assert refused.status_code == 503 and refused.headers.get("Retry-After")
            answers.append(refused.text)
            read = http.get(good.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"},
                            headers={"Accept": "application/sparql-results+json"})
            assert read.status_code == 200 and read.json()["boolean"] is True
            assert "credentials were not accepted" in _full_log(good)

            # The store takes the service's password again: writes go through, without a restart.
            store.set_password(secret)
            assert http.post(good.url + "/sparql", data=_update(3), headers=AUTH).status_code == 204
            answers.append(http.get(good.url + "/healthz").text)

        logs = _full_log(good) + _full_log(bad)
        for text in (*answers, logs):
            for password in (secret, rotated, wrong):
                assert password not in text
    finally:
        good.stop()
        bad.stop()
        store.stop()
