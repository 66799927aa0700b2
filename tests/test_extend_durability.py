"""An accepted type survives a restart and a SIGKILL right after its 201 (issue 6, durability)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.server import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_type_survives_sigkill_right_after_201(tmp_path: Path, admin_token: str) -> None:
    proc = ServerProcess(data_dir=tmp_path / "data").start()
    try:
        r = requests.post(
            proc.url + "/api/types",
            data=(EXAMPLES / "rpo.yaml").read_bytes(),
            headers={"Content-Type": "application/yaml", "Authorization": f"Bearer {admin_token}"},
            timeout=60,
        )
        assert r.status_code == 201, r.text
        triples = r.json()["triples"]
        proc.kill()  # SIGKILL: no shutdown code, no flush
        proc.start()
        listed = requests.get(proc.url + "/api/types", timeout=10)
        assert "rpo" in listed.text
        q = requests.get(
            proc.url + "/sparql",
            params={"query": ("SELECT (COUNT(*) AS ?n) WHERE { GRAPH outg:extension\\/rpo { ?s ?p ?o } }")},
            headers={"Accept": "application/sparql-results+json"},
            timeout=10,
        )
        assert int(q.json()["results"]["bindings"][0]["n"]["value"]) == triples
    finally:
        proc.stop()
