"""The graph in any SPARQL 1.1 endpoint: how the service scales past one machine.

The graph lives in a (possibly clustered) store behind a SPARQL 1.1 Query/Update endpoint and the
service runs as many stateless replicas as it needs. This class mirrors ``EmbeddedStore``: results
are pyoxigraph objects parsed from the endpoint's answers (``parse_query_results``, ``parse``), and
every write carries the version triples of ``kg.store.meta`` in the same update request, so all
replicas agree on the version (and so on ETags) without talking to each other.

Requests are built by SPARQLWrapper (the protocol client the project standardises on) and sent over
one persistent HTTP connection per thread: a new TCP connection per query would cost more than
many of the queries themselves.

Real engines differ from the protocol in ways that would give wrong answers silently, so each
difference met is handled here and written down in ``docs/remote-stores.md`` (proven over Oxigraph
server and Virtuoso 7.2 by ``make test``):

- *Transport* (``KG_SPARQL_TRANSPORT``): some engines never answer one of the protocol's three ways
  of sending a query (Virtuoso hangs on a direct POST); ``auto`` tries direct POST, form POST and GET
  at start, a few seconds each at most, and keeps the first that answers.
- *Credentials* (``KG_SPARQL_USER``/``KG_SPARQL_PASSWORD`` with Basic or Digest, ``KG_SPARQL_TOKEN``):
  sent to both endpoints; Digest is answered on this thread's kept-alive connection. They appear in
  no message, log line or ``repr``.
- *The dataset*: what the endpoint's default graph is made of. A store whose default graph is the
  union of the named graphs (Oxigraph server started with ``--union-default-graph``, Fuseki with
  ``tdb:unionDefaultGraph``, Virtuoso always) is queried as is; any other gets ``default-graph-uri``
  and ``named-graph-uri`` for every named graph on each query (standard SPARQL 1.1 Protocol). The
  graphs a Virtuoso held outside our namespace before the service first wrote to it (its system
  graphs) are recorded as hidden (in a graph that hides itself); from then on a query's default graph
  and its named graphs are the visible ones, listed.
- *Answers*: the Accept header follows the query's form (Virtuoso answers a CONSTRUCT in SPARQL JSON,
  or a SELECT in Turtle, when both kinds are offered); blank-node labels an RDF parser rejects
  (``nodeID://b1``) are made plain; an answer the engine cut (its row limit, its "anytime" partial
  answers) is an error, never a short answer.

Errors: connection refused → ``StoreUnavailable``; credentials refused → ``CredentialsRefused`` (a
``StoreUnavailable``); no answer in time, a 200 answer whose body does not parse (``oxigraph serve
--timeout-s`` ends a timed-out query that way) or a partial one → ``StoreTimeout``; the endpoint
rejecting the query's syntax (400) → ``SyntaxError``, as the embedded store raises.

Why a module of this size: it is one class, whose methods are the protocol's operations, each with
the engines' differences it meets; what is done to a text before it is sent is ``remote_text``, what
is done with an answer ``remote_answers``, the credentials ``remote_auth``.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import random
import select
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox
from SPARQLWrapper import GET, POST, POSTDIRECTLY, URLENCODED, SPARQLWrapper

from kg.config import Config
from kg.formats import write_lines
from kg.query import deadline
from kg.query.precheck import without_trailing_semicolon
from kg.store import meta
from kg.store.base import (
    GraphMoved,
    GraphWrites,
    QueryResult,
    StoreError,
    StoreTimeout,
    StoreUnavailable,
)
from kg.store.remote_answers import (
    GRAPH_TYPES,
    RESULT_TYPES,
    PlainTerms,
    check_partial,
    data_operations,
    engine_cut,
    engine_limit,
    error_text,
    insert_data,
    open_for_reading,
    parse_answer,
    plain_terms,
    read_position,
)
from kg.store.remote_auth import (
    Credentials,
    CredentialsRefused,
)
from kg.store.remote_text import (
    NO_GRAPH,
    bind_values,
    expand_escaped_names,
    name_graph_constants,
    own_syntax_error,
    prologue,
    scan_text,
    shift_position,
    standard_syntax,
    typed_booleans,
    without_dataset_clauses,
)
from kg.store.remote_watchdog import Watchdog

#: Result formats asked for, best first; the answer's Content-Type says which one came back. The
#: first is for a text whose form the scan could not tell; the others follow the form, because an
#: engine offered both kinds may answer a CONSTRUCT in SPARQL JSON or a SELECT in Turtle (Virtuoso).
ACCEPT = (
    "application/sparql-results+json, application/sparql-results+xml;q=0.9, "
    "text/tab-separated-values;q=0.8, application/n-triples, text/turtle;q=0.9, "
    "application/rdf+xml;q=0.5"
)
ACCEPT_RESULTS = "application/sparql-results+json, application/sparql-results+xml;q=0.9"
ACCEPT_GRAPH = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"
#: How long a replica trusts the version it last read; writes by this replica refresh it at once.
VERSION_TTL = 1.0
#: Triples per INSERT DATA request when bulk loading (one request per chunk keeps memory bounded).
LOAD_CHUNK = 20_000
#: Time limit of requests that are not user queries (ping, version, writes).
CONTROL_TIMEOUT = 10.0
WRITE_TIMEOUT = 300.0
#: The protocol's ways of sending a query, in the order ``auto`` tries them.
TRANSPORTS = ("post", "form", "get")
#: How long ``auto`` waits for each way at start: an engine that will answer does so at once, and
#: one that never answers (Virtuoso, direct POST) must not hold a replica's start for long.
PROBE_TIMEOUT = 2.0
#: What Virtuoso's 500 says when it stopped a query at a time limit: its transaction timeout, its
#: statement timeout, and its own cancel of an "anytime" query that a loaded machine did not let
#: reach a partial answer ("Async statement killed by SQLCancel").
VIRTUOSO_TIMEOUTS = ("SR171", "S1T00", "SQLCancel")
#: Attempts of a write the engine aborted as a deadlock victim (it rolled all of it back).
DEADLOCK_ATTEMPTS = 5
#: The graph (under the graph namespace) that lists the graphs the store does not see, itself included,
#: and the predicate of that list.
HIDDEN_GRAPHS = "hidden-graphs"
HIDES_GRAPH = "https://w3id.org/outsourcing-kg/ontology#hidesGraph"


#: The version a request reads once (``RemoteStore.request_scope``): (store, version, modified).
_PINNED: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("kg_pinned_version", default=None)
_UNREAD = object()  #: a request's version not read yet


class RemoteStore(GraphWrites):
    """The ``Store`` protocol over a SPARQL 1.1 endpoint (tested against Oxigraph server and Virtuoso)."""

    def __init__(self, config: Config, *, endpoint: str | None = None, update_endpoint: str | None = None):
        self.config = config
        self.endpoint = endpoint or config.sparql_endpoint
        if not self.endpoint:
            raise StoreError("the remote store needs a SPARQL endpoint (KG_SPARQL_ENDPOINT, --endpoint)")
        self.update_endpoint = update_endpoint or config.sparql_update_endpoint or self.endpoint
        for url in (self.endpoint, self.update_endpoint):
            parts = urllib.parse.urlsplit(url)
            if parts.username is not None or parts.password is not None:
                # Not echoed: the address holds a secret, which would reach the log with it.
                raise StoreError("a SPARQL endpoint address may not hold a user or password: "
                                 "set KG_SPARQL_USER and KG_SPARQL_PASSWORD instead")
            if parts.scheme not in ("http", "https"):
                raise StoreError(f"not an http(s) SPARQL endpoint: {url!r}")
        self.engine = f"remote:{self.endpoint}"
        self.path = None  # no directory: kg.query.sparql evaluates in-process, bounded by the HTTP timeout
        self._credentials = Credentials.from_config(config)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._version: str | None = None
        self._modified: str | None = None
        self._version_read = 0.0
        #: Whether the store has shown a version, and since when it has shown none (``_stored_version``).
        self._version_seen = False
        self._missing_since: float | None = None
        #: (version, the graphs a query names), when the endpoint's own default graph will not do
        self._graph_list: tuple[str, list[str]] | None = None
        self._meta = ox.NamedNode(meta.meta_graph(config.graph_ns))
        self._hidden_graph = ox.NamedNode(config.graph_ns + HIDDEN_GRAPHS)
        #: The ``Server`` header of the endpoint's first answer: which engine's quirks apply.
        self.server = ""
        self.virtuoso = False
        self.transport = "form"  # until the probe has chosen
        self.transport = self._choose_transport()
        #: Virtuoso (by its Server header): the texts it is sent are checked and reshaped as
        #: docs/remote-stores.md says, and queries carry Virtuoso's own time and row limits.
        self.virtuoso = self.server.lower().startswith("virtuoso")
        self.torn_reads = self.virtuoso
        self._refresh_version(force=True)
        #: Whether the endpoint itself makes the default graph the union of the named graphs.
        self.native_union = False
        if self._version is None:
            self._initialise()
        self.native_union = bool(
            self._query(f"ASK {{ {self._meta} <{meta.OWL_VERSION_INFO}> ?v }}", timeout=CONTROL_TIMEOUT)
        )
        # Oxigraph lists a graph with ``GRAPH ?g {}``; Virtuoso answers that with nothing at all.
        listed = self._query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", timeout=CONTROL_TIMEOUT)
        self._graph_pattern = "{ }" if any(r["g"] == self._meta for r in listed) else "{ ?s ?p ?o }"
        # The graphs hidden from the store are recorded once, by the first write into the endpoint
        # (``_initialise``): they are read once, here.
        h = self._hidden_graph
        rows = self._query(f"SELECT ?g WHERE {{ GRAPH {h} {{ {h} <{HIDES_GRAPH}> ?g }} }}", timeout=CONTROL_TIMEOUT)
        self._hidden = frozenset(r["g"].value for r in rows)

    # -- reading -------------------------------------------------------------------------------
    def query(
        self,
        sparql: str,
        *,
        union_default: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
        substitutions: dict | None = None,
        prefixes: dict[str, str] | None = None,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> QueryResult:
        """As the protocol says; ``max_rows`` reads a SELECT answer only up to ``max_rows + 1`` rows
        (parsed as it arrives), so a huge answer is never held whole in memory."""
        scan = scan_text(sparql, frozenset(prefixes or ()))
        if scan.refused:
            raise SyntaxError(scan.refused)
        original = sparql
        if self.virtuoso:
            # Virtuoso takes much that SPARQL 1.1 does not (an aggregate without GROUP BY, SELECT * with
            # GROUP BY, ...) and answers it; what it gets here has passed a standard parser first.
            problem = standard_syntax(sparql, tuple(sorted((prefixes or {}).items())), False)
            if problem:
                raise SyntaxError(problem)
        if (default_graphs is not None or named_graphs is not None) and scan.has_dataset:
            # The protocol's dataset replaces the query's FROM (SPARQL 1.1 Protocol 2.1.4); Virtuoso
            # would merge the two, so the clauses are blanked (same length: positions stay the user's).
            sparql = without_dataset_clauses(sparql)
        if substitutions:
            sparql = bind_values(sparql, substitutions)
        shift = 0
        if prefixes:
            head = prologue(prefixes)
            shift = head.count("\n")
            sparql = head + sparql
        if self.virtuoso:
            sparql = expand_escaped_names(sparql)
        if self.virtuoso and scan.form in ("SELECT", "CONSTRUCT", "DESCRIBE"):
            sparql = typed_booleans(sparql)
        if self.virtuoso and scan.form == "DESCRIBE":
            # Virtuoso's DESCRIBE gives incoming links and no blank-node closure; this pragma asks for
            # the Concise Bounded Description, which is what Oxigraph (and so the embedded store) gives.
            sparql = 'DEFINE sql:describe-mode "CBD"\n' + sparql
            shift += 1
        # Virtuoso's default graph is the union of every graph, its own system graphs among them: the
        # visible graphs are listed as the default graph. Its ``input:default-graph-exclude`` pragmas
        # would be planned better (the mix's 3-way join: 4.8 ms against 11.0 ms) but give wrong
        # answers: beside an OPTIONAL and an ORDER BY, ``?r skos:broader* <x>`` loses rows and a
        # FILTER NOT EXISTS ends in "SQ200: Stack Overflow" (docs/remote-stores.md).
        default_graphs, named_graphs, ours = self._dataset_for(union_default, default_graphs, named_graphs)
        if self.virtuoso and named_graphs is not None:
            sparql, named_graphs = name_graph_constants(sparql, named_graphs, ours=ours)
        # Within what is left of the asking request's deadline (kg.query.deadline), if any.
        limit = deadline.remaining(timeout or self.config.query_timeout)
        if limit <= 0:
            raise StoreTimeout("the request's time limit was reached before this query could start")
        try:
            return self._query(
                sparql,
                default_graphs=default_graphs,
                named_graphs=named_graphs,
                timeout=limit,
                max_rows=max_rows,
                form=scan.form,
            )
        except SyntaxError as exc:
            own = own_syntax_error(original, prefixes, update=False)
            raise SyntaxError(own or shift_position(str(exc), shift)) from None

    def _dataset_for(self, union_default: bool, default_graphs: list[str] | None,
                     named_graphs: list[str] | None) -> tuple[list[str] | None, list[str] | None, bool]:
        """The graphs to name on the request, so that the query sees exactly the store's graphs, and
        whether the named graphs are the store's own list (not the caller's)."""
        if default_graphs is not None and named_graphs is not None and named_graphs:
            return default_graphs, named_graphs, False
        visible, hidden = self._graphs_seen()
        if visible is None:  # the endpoint's union is exactly our graphs: nothing to name
            return default_graphs, named_graphs, False
        if default_graphs is None and (union_default or self.native_union):
            # On an engine whose default graph is the union of all, there is no other default graph:
            # the visible ones stand for it.
            default_graphs = visible
        if named_graphs is None:
            return default_graphs, visible, True
        if not named_graphs and default_graphs is not None and (hidden or self.native_union):
            # Only a default graph was asked for: Virtuoso would then show every named graph.
            named_graphs = [NO_GRAPH]
        return default_graphs, named_graphs, False

    def graph_triples(self, graph: str) -> list[ox.Triple]:
        # A SELECT, not a CONSTRUCT: an engine that cuts answers at a row limit says so on a SELECT
        # (Virtuoso's X-SPARQL-MaxRows) and cuts a CONSTRUCT silently.
        g = ox.NamedNode(graph)
        rows = self._query(f"SELECT ?s ?p ?o WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }}", timeout=WRITE_TIMEOUT)
        return [ox.Triple(r["s"], r["p"], r["o"]) for r in rows]

    def graphs(self) -> dict[str, int]:
        _, hidden = self._graphs_seen()
        rows = self._query(
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", timeout=WRITE_TIMEOUT
        )
        return {r["g"].value: int(r["n"].value) for r in rows if r["g"].value not in hidden}

    def version(self) -> str:
        pinned = self._pinned()
        if pinned is not None:
            return pinned[1] or ""
        self._refresh_version()
        return self._version or ""

    def modified(self) -> str:
        pinned = self._pinned()
        if pinned is not None:
            return pinned[2] or ""
        self._refresh_version()
        return self._modified or ""

    def _pinned(self) -> tuple | None:
        """The request's (store, version, modified), read at its first use within ``request_scope``."""
        pinned = _PINNED.get()
        if pinned is None or pinned[0] is not self:
            return None
        if pinned[1] is _UNREAD:
            self._refresh_version(ttl=self.config.version_ttl)
            with self._lock:
                pinned = (self, self._version, self._modified)
            _PINNED.set(pinned)
        return pinned

    @contextlib.contextmanager
    def request_scope(self):
        """Read the graph's version once for a request and answer every later ``version()`` of the
        request with it: the request's cache lookups, ETags and queries agree, and a write through
        another replica is seen by the next request (``KG_VERSION_TTL`` 0, the default) or within that
        many seconds. A write through this request moves the pinned version with it.

        It is read when the request first needs it, not before: a query answered uncached over an
        engine that needs no graph list per version (``_graphs_seen``) makes one round trip, not two."""
        token = _PINNED.set((self, _UNREAD, _UNREAD))
        try:
            yield
        finally:
            _PINNED.reset(token)

    def repin(self) -> None:
        """Read the version the store holds now; within ``request_scope`` it becomes the pinned one."""
        self._refresh_version(force=True)

    def ensure_unmoved(self, before: str) -> None:
        """As the protocol says: the version is read again, and must be ``before`` and settled (an
        announced write, ``meta.in_flight``, may be half visible on an engine that reads committed)."""
        after, _ = self._stored_version()
        if (after or "") != (before or "") or meta.in_flight(after):
            raise GraphMoved("the graph changed while this request read it")

    def dump(self, fmt: ox.RdfFormat) -> bytes:
        _, hidden = self._graphs_seen()
        quads = [
            ox.Quad(r["s"], r["p"], r["o"], r["g"])
            for r in self._query("SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }", timeout=WRITE_TIMEOUT)
            if r["g"].value not in hidden
        ]
        if not self.native_union:  # otherwise the default graph would repeat every named graph
            quads += [
                ox.Quad(r["s"], r["p"], r["o"], ox.DefaultGraph())
                for r in self._query("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", timeout=WRITE_TIMEOUT)
            ]
        if not fmt.supports_datasets:
            return ox.serialize([q.triple for q in quads], format=fmt)
        return ox.serialize(quads, format=fmt)

    def ping(self) -> None:
        self._query("ASK {}", timeout=min(CONTROL_TIMEOUT, self.config.query_timeout))

    # -- writing -------------------------------------------------------------------------------
    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None, timeout: float | None = None) -> None:
        # ``timeout`` is not applied: a remote write cannot be stopped once sent, and one abandoned
        # early may still commit; it gets WRITE_TIMEOUT, announced as in flight (see _write).
        scan = scan_text(sparql, frozenset(prefixes or ()))
        if scan.refused:
            raise SyntaxError(scan.refused)
        if self.virtuoso:
            problem = standard_syntax(sparql, tuple(sorted((prefixes or {}).items())), True)
            if problem:
                raise SyntaxError(problem)
        text = (prologue(prefixes) if prefixes else "") + sparql
        # The bump goes in the same request: one transaction on stores that apply a request atomically.
        try:
            self._write(without_trailing_semicolon(text) + "\n;\n" + self._bump_ops())
        except SyntaxError as exc:
            raise SyntaxError(own_syntax_error(sparql, prefixes, update=True) or str(exc)) from None

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple], *, unless: str | None = None) -> bool:
        """As ``GraphWrites.replace_graph``, in operations every engine takes whatever the size: INSERT
        DATA of at most ``DATA_OPERATION`` triples each, blank nodes in a template (see ``data_operations``)."""
        triples = list(triples)
        g = ox.NamedNode(graph)
        if unless is None:
            self._write(" ;\n".join([f"DROP SILENT GRAPH {g}", *data_operations(g, triples), self._bump_ops()]))
            return True
        token = uuid.uuid4().hex
        # The bump first: replacing the version triples locks them until the request commits, so a
        # guarded write that comes second waits there, and then checks ``unless`` against what the
        # first wrote. Virtuoso reads what is committed without waiting (read committed), so with
        # the bump last both would pass the check before either wrote.
        # But a reader there can also see that first bump commit before the rest of the request: a
        # settled version over none of the new triples (1 run in 8 of the guarded case of
        # test_a_write_and_its_new_version_are_seen_together). So on such a store the version written
        # first is another announcement, and the settled one follows once the request has committed.
        first = self._announce_ops(WRITE_TIMEOUT) if self.torn_reads else self._bump_ops()
        self._write(first + " ;\n" + guarded_replace(self.config.graph_ns, graph, triples, unless, token))
        if self.torn_reads:
            self._settle()
        return self._query_claim(meta.claimed(self.config.graph_ns, graph, token))

    def _query_claim(self, ask: str) -> bool:
        return bool(self._query(ask, timeout=CONTROL_TIMEOUT))

    def bulk_load(self, path: str, fmt: ox.RdfFormat, graph: str | None = None, progress=None) -> None:
        """Parse locally (Rust) and send ``INSERT DATA`` requests of ``LOAD_CHUNK`` triples.

        Not atomic as a whole (each chunk is); the version is bumped with the last chunk.
        ``progress(bytes_read)`` is called after each chunk when given.
        """
        target = ox.NamedNode(graph) if graph else None
        with open_for_reading(path) as handle:
            chunk: dict[object, list[ox.Triple]] = {}
            count = 0
            for quad in ox.parse(handle, format=fmt, base_iri=None):
                g = target if target is not None and not fmt.supports_datasets else quad.graph_name
                chunk.setdefault(g, []).append(quad.triple)
                count += 1
                if count >= LOAD_CHUNK:
                    self._write(insert_data(chunk), timeout=WRITE_TIMEOUT)
                    chunk, count = {}, 0
                    if progress is not None:
                        progress(read_position(handle))
            ops = [insert_data(chunk)] if chunk else []
            self._write(" ;\n".join([*ops, self._bump_ops()]), timeout=WRITE_TIMEOUT)
            if progress is not None:
                progress(read_position(handle))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- internals -----------------------------------------------------------------------------
    def _bump_ops(self) -> str:
        return meta.bump_operations(self.config.graph_ns, *meta.new_version())

    def _announce_ops(self, lease: float) -> str:
        """Operations that set the version to a write in flight (``meta.in_flight_version``)."""
        return meta.bump_operations(self.config.graph_ns, meta.in_flight_version(lease), meta.new_version()[1])

    def _settle(self) -> None:
        """A settled version of its own, in a request of its own, read back at once."""
        self._write_once(self._bump_ops(), CONTROL_TIMEOUT)
        self._refresh_version(force=True)

    def _choose_transport(self) -> str:
        """The configured transport, or (``auto``) the first of ``TRANSPORTS`` the endpoint answers."""
        asked = self.config.sparql_transport
        if asked != "auto":
            self._query("ASK {}", timeout=CONTROL_TIMEOUT, transport=asked)  # learns the Server header
            return asked
        failures = []
        for transport in TRANSPORTS:
            try:
                answer = self._query("ASK {}", timeout=PROBE_TIMEOUT, transport=transport, form="ASK")
            except CredentialsRefused:
                raise
            except StoreUnavailable as exc:
                if isinstance(exc.__cause__, (ConnectionRefusedError, socket.gaierror)):
                    raise  # nothing listens there: no other transport will do better
                failures.append(f"{transport}: {exc}")
            except (StoreError, SyntaxError) as exc:
                failures.append(f"{transport}: {exc}")
            else:
                if isinstance(answer, ox.QueryBoolean) and bool(answer):
                    return transport
                failures.append(f"{transport}: not the answer to ASK {{}}")
            self.close()  # a request left unanswered must not hold up the next attempt
        raise StoreUnavailable(f"the SPARQL endpoint {self.endpoint} answered no way of sending a query "
                               f"(KG_SPARQL_TRANSPORT=auto): {'; '.join(failures)}")

    def _initialise(self) -> None:
        """First write into an endpoint: the version and, on Virtuoso, which graphs it already held
        outside our namespace (its own: virtrdf:, ldp:, its service description), hidden from then on.
        Other engines keep no graphs of their own; whatever they held is data put there to be served."""
        foreign: list[str] = []
        if self.virtuoso:
            rows = self._query("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", timeout=WRITE_TIMEOUT)
            foreign = sorted(r["g"].value for r in rows if not r["g"].value.startswith(self.config.graph_ns))
        ops = [self._bump_ops()]
        if foreign:
            # The list lives in a graph that hides itself too: what the store shows stays what the
            # embedded store would show.
            objects = ", ".join(str(ox.NamedNode(g)) for g in [self._hidden_graph.value, *foreign])
            ops.append(f"INSERT DATA {{ GRAPH {self._hidden_graph} {{ {self._hidden_graph} <{HIDES_GRAPH}> "
                       f"{objects} }} }}")
        self._write(" ;\n".join(ops))

    def _refresh_version(self, force: bool = False, ttl: float | None = None) -> None:
        now = time.monotonic()
        if not force and now - self._version_read < (VERSION_TTL if ttl is None else ttl):
            return
        version, modified = self._stored_version(within_request=not force)
        with self._lock:
            self._version, self._modified, self._version_read = version, modified, now
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] is self:
            _PINNED.set((self, version, modified))

    def _stored_version(self, *, within_request: bool = True) -> tuple[str | None, str | None]:
        """(version, modified) as the store holds them now. Within the asking request's deadline: a
        hung store must not hold a request for the fixed control timeout before its own limit applies."""
        limit = (deadline.remaining(min(CONTROL_TIMEOUT, self.config.query_timeout)) if within_request
                 else CONTROL_TIMEOUT)
        if limit <= 0:
            raise StoreTimeout("the request's time limit was reached before the store's version could be read")
        version = modified = None
        for row in self._query(meta.read_query(self.config.graph_ns), timeout=limit):
            v, m = row["v"], row["m"]
            version, modified = (v.value if v else None), (m.value if m else None)
        if version is not None:
            self._version_seen, self._missing_since = True, None
            return version, modified
        if not (self.torn_reads and self._version_seen):
            return None, modified
        # A store that held a version has one until a write replaces it, and Virtuoso shows its readers
        # the old one gone before the new one is there: that moment is a write in flight. (Longer than
        # a control write may take, the version is missing for good, and reads go on without one.)
        now = time.time()
        since = self._missing_since = self._missing_since or now
        return (meta.replacing(since + CONTROL_TIMEOUT) if now - since < CONTROL_TIMEOUT else None), modified

    def _graphs_seen(self) -> tuple[list[str] | None, frozenset[str]]:
        """(the graphs each query names, None when the endpoint's default graph is exactly their union;
        the graphs hidden from the store). The list is read once per version, since it changes only
        with a write; over an engine whose default graph is the union of all and that hides nothing
        (all but Virtuoso, ``_initialise``), there is none to read, whatever the version."""
        hidden = self._hidden
        if self.native_union and not hidden:
            return None, hidden
        version = self.version()
        cached = self._graph_list
        if cached is not None and cached[0] == version:
            return cached[1], hidden
        # GROUP BY, not DISTINCT: Virtuoso takes seconds over DISTINCT ?g where GROUP BY is instant.
        rows = self._query(f"SELECT ?g WHERE {{ GRAPH ?g {self._graph_pattern} }} GROUP BY ?g", timeout=CONTROL_TIMEOUT)
        visible = sorted(g for g in (r["g"].value for r in rows) if g not in hidden)
        self._graph_list = (version, visible)
        return visible, hidden

    def _write(self, update: str, timeout: float = WRITE_TIMEOUT) -> None:
        transport = "post" if self.transport == "post" else "form"
        if self.torn_reads:
            # Virtuoso's readers do not wait for a write, and one query can see part of a committing
            # one. The write is announced first, in a transaction of its own: a reader that sees any
            # of it then finds the version changed (``in_flight``) and reads again, later.
            self._write_once(self._announce_ops(timeout), CONTROL_TIMEOUT)
        for attempt in range(DEADLOCK_ATTEMPTS):
            wrapper = self._wrapper(self.update_endpoint, update, kind="INSERT", transport=transport)
            status, content_type, body = self._send(wrapper, timeout)
            if status < 300:
                break
            error = self._http_error(status, content_type, body, "update")
            if isinstance(error, _Deadlock) and attempt + 1 < DEADLOCK_ATTEMPTS:
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
                continue
            if status >= 500 and not isinstance(error, StoreUnavailable):
                # Virtuoso keeps what the operations before a failing one did: a new version then
                # tells every cache that the graph may have changed, whatever the engine.
                with contextlib.suppress(StoreError):
                    self._settle()
            raise error
        self._version_read = 0.0
        self._refresh_version(force=True)

    def _write_once(self, update: str, timeout: float) -> None:
        wrapper = self._wrapper(self.update_endpoint, update, kind="INSERT",
                                transport="post" if self.transport == "post" else "form")
        status, content_type, body = self._send(wrapper, timeout)
        if status >= 300:
            raise self._http_error(status, content_type, body, "update")

    def _query(
        self,
        sparql: str,
        *,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
        timeout: float,
        max_rows: int | None = None,
        form: str | None = "SELECT",
        transport: str | None = None,
    ) -> QueryResult:
        wrapper = self._wrapper(self.endpoint, sparql, kind="SELECT", transport=transport, form=form)
        for g in default_graphs or ():
            wrapper.addDefaultGraph(g)
        for g in named_graphs or ():
            wrapper.addNamedGraph(g)
        if self.virtuoso and transport is None:
            # Virtuoso stops evaluating at its own ``timeout`` (ms) and flags what it has as partial
            # (X-SQL-State), which is answered as a timeout below; without it, it would go on working
            # for a client that has gone.
            wrapper.addParameter("timeout", str(max(1, int(timeout * 1000))))
            if max_rows is not None:
                # Virtuoso builds a whole answer before sending any of it: reading only the first rows
                # saves nothing unless it is told to stop (``maxrows``; it says so in X-SPARQL-MaxRows).
                wrapper.addParameter("maxrows", str(max_rows + 1))
        # The limit holds for the whole query, not for each read from the socket: a watchdog shuts
        # the connection at the deadline, which ends a read however slowly the answer trickles in.
        watchdog = Watchdog(timeout)
        try:
            if max_rows is not None:
                return self._query_capped(wrapper, timeout, max_rows, watchdog)
            status, content_type, body = self._send(wrapper, timeout, watchdog=watchdog)
        finally:
            watchdog.cancel()
        if watchdog.fired:  # read to the end just as time ran out: the connection is shut all the same
            self.close()
            raise StoreTimeout(f"the SPARQL endpoint did not answer within {timeout:g} s")
        if status >= 300:
            raise self._http_error(status, content_type, body, "query")
        headers = self._local.last_headers
        check_partial(headers)
        body = plain_terms(body)
        result = parse_answer(content_type, body)
        limit = engine_limit(headers)
        if limit is not None and isinstance(result, ox.QuerySolutions):
            if sum(1 for _ in result) >= limit:
                raise engine_cut(limit)
            result = parse_answer(content_type, body)
        return result

    def _query_capped(self, wrapper: SPARQLWrapper, timeout: float, max_rows: int,
                      watchdog: Watchdog) -> QueryResult:
        status, content_type, response = self._send(wrapper, timeout, stream=True, watchdog=watchdog)
        headers = self._local.last_headers
        complete = False  # the whole answer was read: the connection can carry the next request
        try:
            if status < 300:
                check_partial(headers)
            if status >= 300 or content_type not in (*RESULT_TYPES, *GRAPH_TYPES):
                body = response.read()
                complete = True
                if status >= 300:
                    raise self._http_error(status, content_type, body, "query")
                return parse_answer(content_type, plain_terms(body))
            stream = PlainTerms(response)
            if content_type in GRAPH_TYPES:
                answer = (q.triple for q in ox.parse(stream, format=GRAPH_TYPES[content_type]))
                lines, complete = self._read_capped(answer, ox.RdfFormat.N_TRIPLES, max_rows, timeout)
                return iter([q.triple for q in ox.parse(lines, format=ox.RdfFormat.N_TRIPLES)])
            result = ox.parse_query_results(stream, RESULT_TYPES[content_type])
            if isinstance(result, ox.QueryBoolean):
                complete = True
                return result
            lines, complete = self._read_capped(result, ox.QueryResultsFormat.TSV, max_rows, timeout)
            limit = engine_limit(headers)
            if limit is not None and limit <= max_rows and lines.count(b"\n") - 1 >= limit:
                raise engine_cut(limit)
        finally:
            self._release(response, complete)
        return ox.parse_query_results(lines, ox.QueryResultsFormat.TSV)

    def _release(self, response, complete: bool) -> None:
        """Keep the connection for the next query when its answer was read to the end; a partly
        read answer (cut at the row cap) leaves it unusable. A new connection per query cost more
        than many of the queries (measured: one connect per request in a profile of the mix)."""
        if complete:
            try:
                response.read()  # what the parser left: the closing bytes, the last chunk
                if not response.will_close:
                    return
            except (OSError, http.client.HTTPException):
                pass
        self.close()

    @staticmethod
    def _read_capped(answer, fmt, max_rows: int, timeout: float) -> tuple[bytes, bool]:
        """At most ``max_rows + 1`` rows or triples of a lazily parsed answer (one more tells it was
        cut), written again by the engine as lines; True when the answer was read to its end."""
        header = 1 if fmt == ox.QueryResultsFormat.TSV else 0
        try:
            lines, cut = write_lines(answer, fmt, max_lines=max_rows + 1 + header, max_bytes=sys.maxsize)
        except SyntaxError as exc:
            raise StoreTimeout(f"the SPARQL endpoint's answer does not parse (cut short?): {exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise StoreTimeout(f"the SPARQL endpoint did not answer within {timeout:g} s") from exc
        return lines, not cut

    def _wrapper(self, url: str, text: str, *, kind: str, transport: str | None = None,
                 form: str | None = None) -> SPARQLWrapper:
        transport = transport or self.transport
        wrapper = SPARQLWrapper(url, updateEndpoint=url, agent="outsourcing-kg")
        wrapper.setOnlyConneg(True)
        if transport == "get" and kind == "SELECT":
            wrapper.setMethod(GET)
        else:
            wrapper.setMethod(POST)
            wrapper.setRequestMethod(POSTDIRECTLY if transport == "post" else URLENCODED)
        # Set directly rather than by setQuery(): SPARQLWrapper would guess query vs update from the
        # first keyword it finds (and warn on text it cannot classify); the caller knows which it is.
        wrapper.queryString = text
        wrapper.queryType = kind
        accept = ACCEPT_RESULTS if form in ("SELECT", "ASK") else ACCEPT_GRAPH if form else ACCEPT
        wrapper.addCustomHttpHeader("Accept", accept)
        self._credentials.apply(wrapper)
        return wrapper

    def _send(self, wrapper: SPARQLWrapper, timeout: float, *, stream: bool = False,
              watchdog: Watchdog | None = None) -> tuple[int, str, Any]:
        # SPARQLWrapper builds the protocol request (URL, parameters, headers, body); it is sent on
        # this thread's kept-alive connection instead of a fresh urllib connection per request.
        request = wrapper._createRequest()
        parts = urllib.parse.urlsplit(request.full_url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        headers = dict(request.header_items())
        digest = self._credentials.digest_for(self._local)
        # An update whose answer is lost may have been applied: it is never sent a second time. Its
        # kept connection is checked before it is sent instead (the usual loss: the server closed it).
        idempotent = wrapper.queryType != "INSERT"
        reconnected = challenged = False
        while True:
            if digest is not None and (authorization := digest.authorization(request.get_method(), target)):
                headers["Authorization"] = authorization
            conn, reused = self._connection(parts, timeout, fresh=not idempotent)
            if watchdog is not None:
                watchdog.watch(conn)
            try:
                conn.request(request.get_method(), target or "/", body=request.data, headers=headers)
                response = conn.getresponse()
                if not self.server:
                    self.server = response.getheader("Server") or ""
                if response.status == 401 and digest is not None and not challenged:
                    response.read()
                    if response.will_close:
                        self.close()
                    if digest.challenged(response.msg.get_all("WWW-Authenticate") or []):
                        challenged = True  # answer the challenge once; a second 401 is a refusal
                        continue
                content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
                self._local.last_headers = response.msg
                if stream:
                    return response.status, content_type, response
                body = response.read()
                if response.will_close:
                    self.close()
                return response.status, content_type, body
            except TimeoutError as exc:
                self.close()
                raise StoreTimeout(f"the SPARQL endpoint did not answer within {timeout:g} s") from exc
            except http.client.IncompleteRead as exc:
                self.close()
                raise StoreTimeout("the SPARQL endpoint's answer was cut short") from exc
            except (ConnectionRefusedError, socket.gaierror) as exc:
                self.close()
                raise StoreUnavailable(f"cannot reach the SPARQL endpoint {self.endpoint}: {exc}") from exc
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if watchdog is not None and watchdog.fired:
                    raise StoreTimeout(f"the SPARQL endpoint did not answer within {timeout:g} s") from exc
                if reused and not reconnected and idempotent:
                    reconnected = True
                    continue  # the server closed an idle kept-alive connection: retry on a new one
                raise StoreUnavailable(f"the SPARQL endpoint {self.endpoint} dropped the connection") from exc
            except OSError as exc:
                self.close()
                # A socket shut at the deadline fails in whatever way the blocked read sees it: a reset,
                # an end of file, or (a cooperative socket under gevent) a plain OSError.
                if watchdog is not None and watchdog.fired:
                    raise StoreTimeout(f"the SPARQL endpoint did not answer within {timeout:g} s") from exc
                raise StoreUnavailable(f"cannot reach the SPARQL endpoint {self.endpoint}: {exc}") from exc

    def _http_error(self, status: int, content_type: str, body: bytes, what: str) -> Exception:
        text = error_text(content_type, body)
        text = self._credentials.redact(text)  # an echo of a header or a URL must not carry a secret
        if status in (401, 403) or (status == 500 and "SR186" in text and what == "update"):
            # 401/403 from the HTTP layer; Virtuoso's SR186 is an authenticated user without the right role.
            if self._credentials.kind is None:
                advice = ("it wants credentials: set KG_SPARQL_USER and KG_SPARQL_PASSWORD (KG_SPARQL_AUTH "
                          "basic or digest) or KG_SPARQL_TOKEN")
            elif status == 500:
                advice = ("the user is not allowed to do this (on Virtuoso: GRANT SPARQL_UPDATE TO the user, "
                          "and write through /sparql-auth)")
            else:
                advice = (f"the credentials were not accepted ({self._credentials.kind}; check KG_SPARQL_USER, "
                          "KG_SPARQL_PASSWORD and KG_SPARQL_AUTH, or KG_SPARQL_TOKEN)")
            return CredentialsRefused(f"the SPARQL endpoint refused the {what} ({status}): {advice}")
        if status == 400:
            return SyntaxError(text or f"the endpoint rejected the {what}")
        if status in (408, 504) or (status == 500 and any(code in text for code in VIRTUOSO_TIMEOUTS)):
            return StoreTimeout(f"the SPARQL endpoint timed out ({status}): {text}")
        if status == 500 and ("SR172" in text or "40001" in text):
            return _Deadlock(f"the SPARQL endpoint aborted the {what} as a deadlock victim: {text}")
        if status in (502, 503):
            return StoreUnavailable(f"the SPARQL endpoint is unavailable ({status}): {text}")
        return StoreError(f"the SPARQL endpoint refused the {what} ({status}): {text}")

    def _connection(self, parts: urllib.parse.SplitResult, timeout: float, *, fresh: bool = False):
        """This thread's kept-alive connection to that endpoint, or a new one; with ``fresh``, a kept
        one the server has closed (or sent anything on while idle) is replaced before it is used."""
        key = (parts.scheme, parts.hostname, parts.port)
        conn = getattr(self._local, "conn", None)
        if fresh and conn is not None and conn.sock is not None and _readable(conn.sock):
            self.close()
            conn = None
        if conn is not None and getattr(self._local, "key", None) == key:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        self.close()
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=timeout)
        self._local.conn, self._local.key = conn, key
        return conn, False


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: its end, on a connection the server closed.
    (``poll``, not ``select``: a descriptor past 1,023 is out of ``select``'s range.)"""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def guarded_replace(graph_ns: str, graph: str, triples: list[ox.Triple], unless: str, token: str) -> str:
    """``kg.store.meta.guarded_replace`` in a form Virtuoso evaluates as the standard says and takes at
    any size; Oxigraph answers both forms alike. Virtuoso's deviations that broke the original:

    - ``FILTER NOT EXISTS { ... }`` in a group that binds nothing else is always true (7.2), so the
      check is a count of the first match of ``unless`` instead, which is 0 or 1;
    - a solution of DELETE/INSERT whose DELETE template has an unbound variable (the old claim,
      absent on a first write) inserts nothing either, so the old claim goes in an operation of its own;
    - a template of a couple of thousand triples, or a few of a thousand in one request, exceed its
      compiler's limits, so the triples go as INSERT DATA into a staging graph, copied into the graph
      only where the claim holds, and the staging graph is dropped, all in the same request.
    """
    g, c, p, t = (ox.NamedNode(graph), ox.NamedNode(meta.meta_graph(graph_ns)), ox.NamedNode(meta.CLAIMED_BY),
                  ox.Literal(token))
    staging = ox.NamedNode(f"urn:x-outsourcing-kg:staging:{token}")
    free = f"{{ SELECT (COUNT(*) AS ?hits) WHERE {{ {{ SELECT * WHERE {{ {unless} }} LIMIT 1 }} }} }} FILTER(?hits = 0)"
    claimed = f"GRAPH {c} {{ {g} {p} {t} }}"
    return " ;\n".join([
        f"DELETE {{ GRAPH {c} {{ {g} {p} ?old }} }} WHERE {{ GRAPH {c} {{ {g} {p} ?old }} {free} }}",
        f"INSERT {{ GRAPH {c} {{ {g} {p} {t} }} }} WHERE {{ {free} }}",
        f"DELETE {{ GRAPH {g} {{ ?s ?p ?o }} }} WHERE {{ {claimed} GRAPH {g} {{ ?s ?p ?o }} }}",
        *data_operations(staging, triples),
        f"INSERT {{ GRAPH {g} {{ ?s ?p ?o }} }} WHERE {{ {claimed} GRAPH {staging} {{ ?s ?p ?o }} }}",
        f"DROP SILENT GRAPH {staging}",
    ])


class _Deadlock(StoreError):
    """The engine rolled a write back to break a deadlock with another one: it may be sent again."""
