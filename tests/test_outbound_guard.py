"""No input makes the server connect anywhere or read a local file.

One loopback listener records every connection made to it; each test sends it as the target of one
input vector -- SPARQL SERVICE/LOAD/FROM (and their ``file:`` forms), every parameter of every GET
route in /openapi.json, JSON-LD ``@context``/``@import``, RDF/XML entities and DTDs, ``owl:imports``
and source URLs in submitted extensions, files dropped in ontology/extensions/ -- and then checks
that nothing connected and no file's content came back. The guard is at the root (``kg.safety.guard``, an
audit hook on every socket connect and urllib request, plus a refusal of SERVICE/LOAD before
Oxigraph's Rust code sees them); tests/test_sparql_safety.py covers SERVICE/LOAD/FROM to http.
"""

from __future__ import annotations

import json
import shutil
import socket
import time

import pytest
import requests

from bench.soak import type_turtle
from tests.support.server import ROOT, ServerProcess

JSON = "application/json"
PASSWD = "/etc/passwd"
PASSWD_MARK = "root:x:0:0"  # what the first line of /etc/passwd says on any Linux
FILE = f"file://{PASSWD}"
ID = "https://w3id.org/outsourcing-kg/id/"
OWL = "http://www.w3.org/2002/07/owl#"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def no_leak(r: requests.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert PASSWD_MARK not in r.text


def test_the_listener_records_a_connection(listener):
    # Without this, a listener that never records would make every test below pass.
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    deadline = time.monotonic() + 2
    while not listener.seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listener.seen and listener.seen[0].startswith(b"GET /")


# -- SPARQL: the file: forms (the http: forms are in test_sparql_safety.py) -----------------------------

@pytest.mark.parametrize("params", [
    {"query": f"SELECT * FROM <{FILE}> WHERE {{ ?s ?p ?o }}"},
    {"query": f"SELECT * FROM NAMED <{FILE}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"},
    {"query": f"SELECT * WHERE {{ SERVICE <{FILE}> {{ ?s ?p ?o }} }}"},
    {"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": FILE},
    {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "named-graph-uri": FILE},
    {"query": "BASE <file:///etc/> SELECT * FROM <passwd> WHERE { ?s ?p ?o }"},
], ids=["from", "from-named", "service", "default-graph-uri", "named-graph-uri", "relative-from"])
def test_queries_never_read_a_local_file(server, http, params):
    r = http.get(server.url + "/sparql", params=params, headers={"Accept": JSON})
    assert r.status_code == 400, r.text[:300]
    no_leak(r)


@pytest.mark.parametrize("update", [
    f"LOAD <{FILE}>",
    f"LOAD SILENT <{FILE}> INTO GRAPH <urn:x-test:passwd>",
    "LOAD <file:///etc/hostname>",
])
def test_updates_never_read_a_local_file(server, http, admin_token, update):
    version = http.get(server.url + "/healthz").json()["version"]
    r = http.post(server.url + "/sparql", data={"update": update},
                  headers={**auth(admin_token), "Accept": JSON})
    assert r.status_code == 400 and "LOAD" in r.json()["detail"]
    assert http.get(server.url + "/healthz").json()["version"] == version
    r = http.get(server.url + "/sparql", params={"query": "ASK { GRAPH <urn:x-test:passwd> { ?s ?p ?o } }"},
                 headers={"Accept": "application/sparql-results+json"})
    assert r.json()["boolean"] is False


# -- every parameter of every GET route ------------------------------------------------------------------

def _get_operations(spec: dict) -> list[tuple[str, list[dict]]]:
    out = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is not None:
            out.append((path, [*item.get("parameters", []), *op.get("parameters", [])]))
    return out


def test_no_get_parameter_makes_the_server_fetch(server, http, listener):
    spec = http.get(server.url + "/openapi.json").json()
    operations = _get_operations(spec)
    assert len(operations) >= 10, "the document lists the routes"
    for target in (listener.url, listener.url + "x.ttl", FILE, f"<{listener.url}>"):
        for path, params in operations:
            concrete = path
            query: dict[str, str] = {}
            for p in params:
                if p["in"] == "path":
                    concrete = concrete.replace("{" + p["name"] + "}", requests.utils.quote(target, safe=""))
                elif p["in"] == "query":
                    query[p["name"]] = target
            if "types" in query:
                query["types"] = f"{target},bpo"
            r = http.get(server.url + concrete, params=query, allow_redirects=False)
            no_leak(r)
    for path in (f"/id/{listener.url}", f"/doc/{requests.utils.quote(listener.url, safe='')}",
                 f"/sparql?query=DESCRIBE%20%3C{listener.url}%3E"):
        no_leak(http.get(server.url + path, allow_redirects=False))
    assert listener.quiet(), listener.seen


# -- submissions: JSON-LD contexts, XML entities, owl:imports, URLs in the simple form ----------------------

def _contexts(url: str) -> dict[str, object]:
    node = {"@id": "https://w3id.org/outsourcing-kg/id/zz", "@type": "https://w3id.org/outsourcing-kg/ontology#OutsourcingType"}
    return {
        "string": {"@context": url, **node},
        "list": {"@context": [{"x": "http://x/"}, url], **node},
        "import": {"@context": {"@import": url, "x": "http://x/"}, **node},
        "scoped": {"@context": {"x": {"@id": "http://x/x", "@context": url}}, **node, "x": {"y": 1}},
        "nested-node": {"@graph": [{"@context": url, **node}]},
        "top-level-list": [{"@context": url, **node}],
    }


@pytest.mark.parametrize("kind", sorted(_contexts("u")))
def test_json_ld_contexts_are_never_fetched(server, http, admin_token, listener, kind):
    version = http.get(server.url + "/healthz").json()["version"]
    for url in (listener.url + "context.jsonld", FILE):
        body = json.dumps(_contexts(url)[kind])
        for method, path, ctype in (("POST", "/api/types", "application/ld+json"),
                                    ("POST", "/api/types?dry_run=true", "application/json"),
                                    ("PUT", "/api/types/zz", "application/ld+json")):
            r = http.request(method, server.url + path, data=body.encode(),
                             headers={**auth(admin_token), "Content-Type": ctype, "Accept": JSON})
            assert 400 <= r.status_code < 500, r.text[:300]
            no_leak(r)
    assert listener.quiet(), listener.seen
    assert http.get(server.url + "/healthz").json()["version"] == version


def test_xml_entities_and_dtds_are_never_resolved(server, http, admin_token, listener):
    documents = [
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{listener.url}r.dtd"><r/>',
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{listener.url}x">]><r>&x;</r>',
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{FILE}">]><r>&x;</r>',
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{listener.url}p"> %p;]><r/>',
    ]
    for doc in documents:
        for ctype in ("application/rdf+xml", "application/xml", "text/xml"):
            for method, path in (("POST", "/api/types"), ("PUT", "/api/types/zz")):
                r = http.request(method, server.url + path, data=doc.encode(),
                                 headers={**auth(admin_token), "Content-Type": ctype, "Accept": JSON})
                assert r.status_code == 415
                no_leak(r)
        r = http.post(server.url + "/sparql", data=doc.encode(),
                      headers={"Content-Type": "application/rdf+xml"})
        assert r.status_code == 415
    assert listener.quiet(), listener.seen


def test_owl_imports_and_source_urls_in_a_submission_are_never_fetched(server, http, admin_token, listener):
    slug = "guard-lpo"
    turtle = type_turtle(slug, "GLPO") + (
        f"\n<{ID}{slug}-ontology> a <{OWL}Ontology> ;\n"
        f"    <{OWL}imports> <{listener.url}onto.ttl> , <{FILE}> .\n"
        f"<{ID}{slug}> <{OWL}imports> <{listener.url}> .\n"
    ).replace("<http://outsourcing.about.com/od/GlossaryL/g/Legal-Process-Outsourcing.htm>",
              f"<{listener.url}page>")
    headers = {**auth(admin_token), "Content-Type": "text/turtle", "Accept": JSON}
    try:
        for query in ("?dry_run=true", ""):
            r = http.post(server.url + "/api/types" + query, data=turtle.encode(), headers=headers)
            no_leak(r)
            assert r.status_code in (200, 201, 422), r.text[:300]
        yaml_form = (ROOT / "examples" / "rpo.yaml").read_text().replace(
            "https://recruiteze.com/glossary/recruitment-process-outsourcing/", listener.url + "rpo")
        r = http.post(server.url + "/api/types?dry_run=true", data=yaml_form.encode(),
                      headers={**headers, "Content-Type": "application/yaml"})
        no_leak(r)
        assert r.status_code == 200, r.text[:300]
        if http.get(f"{server.url}/api/types/{slug}").status_code == 200:
            no_leak(http.get(f"{server.url}/doc/{slug}", headers={"Accept": "text/html"}))
            no_leak(http.get(f"{server.url}/api/compare", params={"types": f"{slug},kpo"}))
    finally:
        http.delete(f"{server.url}/api/types/{slug}", headers=auth(admin_token))
    assert listener.quiet(), listener.seen


@pytest.mark.slow
def test_extension_files_are_loaded_without_fetching(tmp_path, listener):
    """Files dropped in ontology/extensions/ at start: owl:imports, an XML file with entities, a
    TriG file with a remote base; the service starts, fetches nothing and leaks nothing."""
    ontology = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", ontology)
    ext = ontology / "extensions"
    (ext / "imports.ttl").write_text(
        type_turtle("files-lpo", "FLPO")
        + f"\n<{ID}files-lpo> <{OWL}imports> <{listener.url}> .\n"
        + f"@base <{listener.url}> .\n<relative> <{listener.url}p> <{FILE}> .\n")
    (ext / "entities.rdf").write_text(
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{FILE}"><!ENTITY y SYSTEM "{listener.url}">]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'rdf:about="urn:x:a"><rdf:value>&x;&y;</rdf:value></rdf:Description></rdf:RDF>')
    (ext / "remote.trig").write_text(f"@prefix r: <{listener.url}> .\nr:g {{ r:a r:b r:c }}\n")
    proc = ServerProcess(data_dir=tmp_path / "data",
                         env={"KG_ONTOLOGY_DIR": str(ontology), "KG_VALIDATE": "0"}).start()
    try:
        health = requests.get(proc.url + "/healthz", timeout=10)
        assert health.status_code == 200
        no_leak(health)
        problems = {p["file"].rsplit("/", 1)[-1] for p in health.json().get("extension_problems", [])}
        assert "remote.trig" in problems  # it names no outsourcing type, and says so
        for path in ("/api/types", "/doc/files-lpo", "/sparql?query=SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D"):
            no_leak(requests.get(proc.url + path, timeout=30))
    finally:
        proc.stop()
    assert listener.quiet(), listener.seen
