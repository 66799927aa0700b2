"""The query mix: the same ten SPARQL queries sent to the service and to Oxigraph server.

Each query comes in a few variants (other constants) so that a cache must hold the whole mix, not
one answer. Query text carries its own PREFIX lines, so both servers receive identical bytes.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from bench.datagen import OUT, SCHEMA, SKOS, shape, thing

PROLOGUE = f"PREFIX out: <{OUT}>\nPREFIX skos: <{SKOS}>\nPREFIX schema: <{SCHEMA}>\n"
RESULTS = "application/sparql-results+json"
TURTLE = "text/turtle"
VARIANTS = 5


@dataclass(frozen=True)
class Request:
    name: str
    path: str  #: path and query string, relative to the server's root
    accept: str


def queries(triples: int) -> list[tuple[str, str, str]]:
    """(name, SPARQL text, Accept) for every variant of every query of the mix."""
    s = shape(triples)
    out = []
    for k in range(VARIANTS):
        worker = thing("worker", (k * 7919) % s.workers)
        provider = thing("provider", (k * 104729) % s.providers)
        skill = thing("skill", (k * 31) % s.skills)
        country = k * 7 % s.countries
        low = 10 + k * 12
        out += [
            ("lookup by IRI", f"SELECT ?p ?o WHERE {{ <{worker}> ?p ?o }}", RESULTS),
            (
                "list with labels",
                f"SELECT ?s ?label WHERE {{ ?s a out:Skill ; skos:prefLabel ?label "
                f"FILTER(lang(?label) = 'en') }} ORDER BY ?label LIMIT {50 + k}",
                RESULTS,
            ),
            (
                "range filter + ORDER BY/LIMIT",
                f"SELECT ?w ?e WHERE {{ ?w out:hourlyEarnings ?e FILTER(?e >= {low} && ?e < {low + 2}) }} "
                f"ORDER BY DESC(?e) LIMIT 20",
                RESULTS,
            ),
            (
                "GROUP BY aggregate",
                f"SELECT ?c (AVG(?e) AS ?avg) (COUNT(?w) AS ?n) WHERE {{ ?w schema:addressCountry ?c ; "
                f"out:hourlyEarnings ?e }} GROUP BY ?c ORDER BY DESC(?avg) LIMIT {10 + k}",
                RESULTS,
            ),
            (
                "3-way join",
                f'SELECT ?w ?p WHERE {{ ?c skos:prefLabel "Country {country}"@en . '
                f"?p schema:addressCountry ?c . ?w schema:worksFor ?p }} LIMIT 50",
                RESULTS,
            ),
            (
                "OPTIONAL + language filter",
                f"SELECT ?p ?name ?de WHERE {{ ?p a schema:Organization ; schema:name ?name "
                f"OPTIONAL {{ ?p skos:altLabel ?de FILTER(langMatches(lang(?de), 'de')) }} }} "
                f"LIMIT 100 OFFSET {k * 100}",
                RESULTS,
            ),
            (
                "text filter",
                f"SELECT ?s ?l WHERE {{ ?s a out:Skill ; skos:prefLabel ?l "
                f'FILTER(CONTAINS(LCASE(STR(?l)), "skill {k + 1}")) }} LIMIT 50',
                RESULTS,
            ),
            ("COUNT", f"SELECT (COUNT(?w) AS ?n) WHERE {{ ?w out:hasSkill <{skill}> }}", RESULTS),
            ("ASK", f"ASK {{ <{worker}> out:hasSkill <{skill}> }}", RESULTS),
            ("DESCRIBE", f"DESCRIBE <{provider}>", TURTLE),
        ]
    return out


def sparql_requests(triples: int, endpoint_path: str) -> list[Request]:
    """The mix as GET requests to a SPARQL endpoint at ``endpoint_path`` (``/sparql``, ``/query``)."""
    return [
        Request(name, endpoint_path + "?" + urllib.parse.urlencode({"query": PROLOGUE + text}), accept)
        for name, text, accept in queries(triples)
    ]


def route_requests(triples: int, named_query: str | None) -> list[Request]:
    """The service's own routes: a linked-data document, a type as JSON, a comparison, a named query."""
    s = shape(triples)
    out = []
    for k in range(VARIANTS):
        out += [
            Request("/doc/{slug}", f"/doc/syn-provider-{(k * 104729) % s.providers}", TURTLE),
            Request("/doc/{slug}", "/doc/kpo" if k % 2 else "/doc/bpo", TURTLE),
            Request("/api/types/{slug}", "/api/types/kpo" if k % 2 else "/api/types/bpo", "application/json"),
            Request(
                "/api/compare",
                "/api/compare?types=bpo,kpo" if k % 2 else "/api/compare?types=kpo,bpo",
                "application/json",
            ),
        ]
        if named_query:
            out.append(Request("named query", f"/api/queries/{named_query}", "application/json"))
    return out
