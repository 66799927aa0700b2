"""The graph in any SPARQL 1.1 endpoint: how the service scales past one machine.

The graph lives in a (possibly clustered) store behind a SPARQL 1.1 Query/Update endpoint and the
service runs as many stateless replicas as it needs. This class mirrors ``EmbeddedStore``: results
are pyoxigraph objects parsed from the endpoint's answers (``parse_query_results``, ``parse``), and
every write carries the version triples of ``kg.store.meta`` in the same update request, so all
replicas agree on the version (and so on ETags) without talking to each other.

Requests are built by SPARQLWrapper (the protocol client the project standardises on) and sent over
one persistent HTTP connection per thread: a new TCP connection per query would cost more than
many of the queries themselves.

What the endpoint needs for ``union_default=True`` (the default graph is the union of the named
graphs): a store that does it natively (Oxigraph server started with ``--union-default-graph``,
Fuseki with ``tdb:unionDefaultGraph``, ...) is detected at start and queried as is; any other gets
``default-graph-uri`` and ``named-graph-uri`` for every named graph on each query (standard SPARQL
1.1 Protocol, costs a longer URL).

Errors: connection refused → ``StoreUnavailable``; no answer in time, or a 200 answer whose body does
not parse (``oxigraph serve --timeout-s`` ends a timed-out query that way) → ``StoreTimeout``; the
endpoint rejecting the query's syntax (400) → ``SyntaxError``, as the embedded store raises.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import IO, Any

import pyoxigraph as ox
from SPARQLWrapper import POST, POSTDIRECTLY, SPARQLWrapper

from kg.config import Config
from kg.query import deadline
from kg.query.precheck import without_trailing_semicolon
from kg.store import meta
from kg.store.base import CappedSolutions, GraphWrites, QueryResult, StoreError, StoreTimeout, StoreUnavailable

#: Result formats asked for, best first; the answer's Content-Type says which one came back.
ACCEPT = (
    "application/sparql-results+json, application/sparql-results+xml;q=0.9, "
    "text/tab-separated-values;q=0.8, application/n-triples, text/turtle;q=0.9, "
    "application/rdf+xml;q=0.5"
)
_RESULTS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
_GRAPHS = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
#: How long a replica trusts the version it last read; writes by this replica refresh it at once.
VERSION_TTL = 1.0
#: Triples per INSERT DATA request when bulk loading (one request per chunk keeps memory bounded).
LOAD_CHUNK = 20_000
#: Time limit of requests that are not user queries (ping, version, writes).
CONTROL_TIMEOUT = 10.0
WRITE_TIMEOUT = 300.0


class RemoteStore(GraphWrites):
    """The ``Store`` protocol over a SPARQL 1.1 endpoint (tested against Oxigraph server)."""

    def __init__(self, config: Config, *, endpoint: str | None = None, update_endpoint: str | None = None):
        self.config = config
        self.endpoint = endpoint or config.sparql_endpoint
        if not self.endpoint:
            raise StoreError("the remote store needs a SPARQL endpoint (KG_SPARQL_ENDPOINT, --endpoint)")
        self.update_endpoint = update_endpoint or config.sparql_update_endpoint or self.endpoint
        for url in (self.endpoint, self.update_endpoint):
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise StoreError(f"not an http(s) SPARQL endpoint: {url!r}")
        self.engine = f"remote:{self.endpoint}"
        self.path = None  # no directory: kg.query.sparql evaluates in-process, bounded by the HTTP timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._version: str | None = None
        self._modified: str | None = None
        self._version_read = 0.0
        self._graph_list: tuple[str, list[str]] | None = None
        self._meta = ox.NamedNode(meta.meta_graph(config.graph_ns))
        self._refresh_version(force=True)
        if self._version is None:
            self._write(self._bump_ops())
        #: Whether the endpoint itself makes the default graph the union of the named graphs.
        self.native_union = bool(
            self._query(f"ASK {{ {self._meta} <{meta.OWL_VERSION_INFO}> ?v }}", timeout=CONTROL_TIMEOUT)
        )

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
        if substitutions:
            sparql = bind_values(sparql, substitutions)
        shift = 0
        if prefixes:
            head = prologue(prefixes)
            shift = head.count("\n")
            sparql = head + sparql
        if default_graphs is None and union_default and not self.native_union:
            graphs = self._named_graphs()
            default_graphs = graphs
            named_graphs = graphs if named_graphs is None else named_graphs
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
            )
        except SyntaxError as exc:
            raise SyntaxError(_shift_position(str(exc), shift)) from None

    def graph_triples(self, graph: str) -> list[ox.Triple]:
        g = ox.NamedNode(graph)
        return list(
            self._query(
                f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }}", timeout=WRITE_TIMEOUT
            )
        )

    def graphs(self) -> dict[str, int]:
        rows = self._query(
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", timeout=WRITE_TIMEOUT
        )
        return {r["g"].value: int(r["n"].value) for r in rows}

    def version(self) -> str:
        self._refresh_version()
        return self._version or ""

    def modified(self) -> str:
        self._refresh_version()
        return self._modified or ""

    def dump(self, fmt: ox.RdfFormat) -> bytes:
        quads = [
            ox.Quad(r["s"], r["p"], r["o"], r["g"])
            for r in self._query("SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }", timeout=WRITE_TIMEOUT)
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
    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None) -> None:
        text = (prologue(prefixes) if prefixes else "") + sparql
        # The bump goes in the same request: one transaction on stores that apply a request atomically.
        self._write(without_trailing_semicolon(text) + "\n;\n" + self._bump_ops())

    def _query_claim(self, ask: str) -> bool:
        return bool(self._query(ask, timeout=CONTROL_TIMEOUT))

    def bulk_load(self, path: str, fmt: ox.RdfFormat, graph: str | None = None, progress=None) -> None:
        """Parse locally (Rust) and send ``INSERT DATA`` requests of ``LOAD_CHUNK`` triples.

        Not atomic as a whole (each chunk is); the version is bumped with the last chunk.
        ``progress(bytes_read)`` is called after each chunk when given.
        """
        target = ox.NamedNode(graph) if graph else None
        with _open(path) as handle:
            chunk: dict[object, list[str]] = {}
            count = 0
            for quad in ox.parse(handle, format=fmt, base_iri=None):
                g = target if target is not None and not fmt.supports_datasets else quad.graph_name
                chunk.setdefault(g, []).append(f"{quad.subject} {quad.predicate} {quad.object} .")
                count += 1
                if count >= LOAD_CHUNK:
                    self._write(_insert(chunk), timeout=WRITE_TIMEOUT)
                    chunk, count = {}, 0
                    if progress is not None:
                        progress(_position(handle))
            ops = [_insert(chunk)] if chunk else []
            self._write(" ;\n".join([*ops, self._bump_ops()]), timeout=WRITE_TIMEOUT)
            if progress is not None:
                progress(_position(handle))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- internals -----------------------------------------------------------------------------
    def _bump_ops(self) -> str:
        return meta.bump_operations(self.config.graph_ns, *meta.new_version())

    def _refresh_version(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._version_read < VERSION_TTL:
            return
        version = modified = None
        # Within the asking request's deadline: a hung store must not hold a request for the fixed
        # control timeout before its own limit applies.
        limit = deadline.remaining(min(CONTROL_TIMEOUT, self.config.query_timeout)) if not force else CONTROL_TIMEOUT
        if limit <= 0:
            raise StoreTimeout("the request's time limit was reached before the store's version could be read")
        for row in self._query(meta.read_query(self.config.graph_ns), timeout=limit):
            v, m = row["v"], row["m"]
            version, modified = (v.value if v else None), (m.value if m else None)
        with self._lock:
            self._version, self._modified, self._version_read = version, modified, now

    def _named_graphs(self) -> list[str]:
        # Cached per version: the list changes only with a write.
        version = self.version()
        cached = self._graph_list
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = self._query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", timeout=CONTROL_TIMEOUT)
        graphs = sorted(r["g"].value for r in rows)
        self._graph_list = (version, graphs)
        return graphs

    def _write(self, update: str, timeout: float = WRITE_TIMEOUT) -> None:
        wrapper = self._wrapper(self.update_endpoint, update, kind="INSERT")
        status, content_type, body = self._send(wrapper, timeout)
        if status >= 300:
            raise _http_error(status, body, "update")
        self._version_read = 0.0
        self._refresh_version(force=True)

    def _query(
        self,
        sparql: str,
        *,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
        timeout: float,
        max_rows: int | None = None,
    ) -> QueryResult:
        wrapper = self._wrapper(self.endpoint, sparql, kind="SELECT")
        for g in default_graphs or ():
            wrapper.addDefaultGraph(g)
        for g in named_graphs or ():
            wrapper.addNamedGraph(g)
        # The limit holds for the whole query, not for each read from the socket: a watchdog shuts
        # the connection at the deadline, which ends a read however slowly the answer trickles in.
        watchdog = _Watchdog(timeout)
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
            raise _http_error(status, body, "query")
        return _parse(content_type, body)

    def _query_capped(self, wrapper: SPARQLWrapper, timeout: float, max_rows: int,
                      watchdog: _Watchdog) -> QueryResult:
        status, content_type, response = self._send(wrapper, timeout, stream=True, watchdog=watchdog)
        complete = False  # the whole answer was read: the connection can carry the next request
        try:
            if status >= 300 or content_type not in (*_RESULTS, *_GRAPHS):
                body = response.read()
                complete = True
                if status >= 300:
                    raise _http_error(status, body, "query")
                return _parse(content_type, body)
            if content_type in _GRAPHS:
                triples = self._read_capped(
                    (q.triple for q in ox.parse(response, format=_GRAPHS[content_type])), max_rows, timeout)
                complete = len(triples) <= max_rows
                return iter(triples)
            fmt = _RESULTS[content_type]
            result = ox.parse_query_results(response, fmt)
            if isinstance(result, ox.QueryBoolean):
                complete = True
                return result
            variables = list(result.variables)
            rows = self._read_capped(result, max_rows, timeout)
            complete = len(rows) <= max_rows
        finally:
            self._release(response, complete)
        return CappedSolutions(variables, rows)

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
    def _read_capped(items, max_rows: int, timeout: float) -> list:
        """At most ``max_rows + 1`` items of a lazily parsed answer (one more tells it was cut)."""
        out = []
        try:
            for item in items:
                out.append(item)
                if len(out) > max_rows:
                    break
        except SyntaxError as exc:
            raise StoreTimeout(f"the SPARQL endpoint's answer does not parse (cut short?): {exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise StoreTimeout(f"the SPARQL endpoint did not answer within {timeout:g} s") from exc
        return out

    def _wrapper(self, url: str, text: str, *, kind: str) -> SPARQLWrapper:
        wrapper = SPARQLWrapper(url, updateEndpoint=url, agent="outsourcing-kg")
        wrapper.setOnlyConneg(True)
        wrapper.setMethod(POST)
        wrapper.setRequestMethod(POSTDIRECTLY)
        # Set directly rather than by setQuery(): SPARQLWrapper would guess query vs update from the
        # first keyword it finds (and warn on text it cannot classify); the caller knows which it is.
        wrapper.queryString = text
        wrapper.queryType = kind
        wrapper.addCustomHttpHeader("Accept", ACCEPT)
        return wrapper

    def _send(self, wrapper: SPARQLWrapper, timeout: float, *, stream: bool = False,
              watchdog: _Watchdog | None = None) -> tuple[int, str, Any]:
        # SPARQLWrapper builds the protocol request (URL, parameters, headers, body); it is sent on
        # this thread's kept-alive connection instead of a fresh urllib connection per request.
        request = wrapper._createRequest()
        parts = urllib.parse.urlsplit(request.full_url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        headers = dict(request.header_items())
        for attempt in (0, 1):
            conn, reused = self._connection(parts, timeout)
            if watchdog is not None:
                watchdog.watch(conn)
            try:
                conn.request(request.get_method(), target or "/", body=request.data, headers=headers)
                response = conn.getresponse()
                content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
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
                if reused and attempt == 0:
                    continue  # the server closed an idle kept-alive connection: retry on a new one
                raise StoreUnavailable(f"the SPARQL endpoint {self.endpoint} dropped the connection") from exc
            except OSError as exc:
                self.close()
                raise StoreUnavailable(f"cannot reach the SPARQL endpoint {self.endpoint}: {exc}") from exc
        raise StoreUnavailable(f"the SPARQL endpoint {self.endpoint} dropped the connection")

    def _connection(self, parts: urllib.parse.SplitResult, timeout: float):
        key = (parts.scheme, parts.hostname, parts.port)
        conn = getattr(self._local, "conn", None)
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


# -- helpers -------------------------------------------------------------------------------------
class _Watchdog:
    """Shuts a connection's socket when a query's time is up (from a timer thread): a blocked read
    then fails at once, however the endpoint spaces its bytes."""

    def __init__(self, timeout: float):
        self.fired = False
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, timeout), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._conn = conn
            fired = self.fired
        if fired:
            self._shut(conn)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            conn = self._conn
        if conn is not None:
            self._shut(conn)

    @staticmethod
    def _shut(conn: http.client.HTTPConnection) -> None:
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def prologue(prefixes: dict[str, str]) -> str:
    """PREFIX declarations for the configured prefixes (trusted names, IRIs rendered by pyoxigraph)."""
    return "".join(
        f"PREFIX {name}: {ox.NamedNode(ns)}\n"
        for name, ns in prefixes.items()
        if re.fullmatch(r"[A-Za-z][\w.-]*", name)
    )


def _shift_position(message: str, lines: int) -> str:
    """An endpoint's "at LINE:COL" counted in the user's text, not with the PREFIX lines added."""
    if not lines:
        return message

    def move(m: re.Match) -> str:
        line = int(m.group(1))
        return f"{line - lines}:{m.group(2)}" if line > lines else m.group(0)

    return re.sub(r"(?<![\d.])(\d+):(\d+)", move, message, count=1)


def _parse(content_type: str, body: bytes) -> QueryResult:
    """Parse a whole answer; one that does not parse was cut short by the endpoint's time limit."""
    if content_type in _RESULTS:
        fmt = _RESULTS[content_type]
        try:
            result = ox.parse_query_results(body, fmt)
            if isinstance(result, ox.QueryBoolean):
                return result
            for _ in result:  # parsing is lazy: read to the end to see a truncated answer
                pass
        except SyntaxError as exc:
            raise StoreTimeout(f"the SPARQL endpoint's answer does not parse (cut short?): {exc}") from exc
        return ox.parse_query_results(body, fmt)
    if content_type in _GRAPHS:
        try:
            triples = [q.triple for q in ox.parse(body, format=_GRAPHS[content_type])]
        except SyntaxError as exc:
            raise StoreTimeout(f"the SPARQL endpoint's answer does not parse (cut short?): {exc}") from exc
        return iter(triples)
    raise StoreError(f"the SPARQL endpoint answered in an unexpected format: {content_type or 'none'}")


def _http_error(status: int, body: bytes, what: str) -> Exception:
    text = body.decode("utf-8", "replace").strip()[:500]
    if status == 400:
        return SyntaxError(text or f"the endpoint rejected the {what}")
    if status in (408, 504):
        return StoreTimeout(f"the SPARQL endpoint timed out ({status}): {text}")
    if status in (502, 503):
        return StoreUnavailable(f"the SPARQL endpoint is unavailable ({status}): {text}")
    return StoreError(f"the SPARQL endpoint refused the {what} ({status}): {text}")


def _insert(chunk: dict[object, list[str]]) -> str:
    parts = []
    for graph, lines in chunk.items():
        body = "\n".join(lines)
        if isinstance(graph, ox.DefaultGraph) or graph is None:
            parts.append(f"INSERT DATA {{\n{body}\n}}")
        else:
            parts.append(f"INSERT DATA {{ GRAPH {graph} {{\n{body}\n}} }}")
    return " ;\n".join(parts)


def _open(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def _position(handle: IO[bytes]) -> int:
    # Progress in bytes of the file on disk (the compressed size for .gz).
    raw = getattr(handle, "fileobj", None) or handle
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0


# -- substitutions -------------------------------------------------------------------------------
# Oxigraph binds ``substitutions`` natively; over the protocol the same effect is a VALUES block at
# the start of the query's WHERE group, holding terms rendered by pyoxigraph (never raw text).
_TOKEN = re.compile(
    r"""(?P<skip>'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|<[^<>"{}|^`\\\s]*>|\#[^\n]*)
      |(?P<open>\{)|(?P<close>\})|(?P<popen>\()|(?P<pclose>\))
      |(?P<var>[?$]\w+)|(?P<word>[A-Za-z_][\w-]*)""",
    re.VERBOSE | re.DOTALL,
)


def _top_level_groups(sparql: str) -> Iterator[tuple[int, int, str | None]]:
    """(start, end, keyword before it) of each ``{ ... }`` group at the top level of the query."""
    depth = parens = 0
    start = 0
    last_word: str | None = None
    before: str | None = None
    for m in _TOKEN.finditer(sparql):
        kind = m.lastgroup
        if kind == "skip":
            continue
        if kind == "popen":
            parens += 1
        elif kind == "pclose":
            parens = max(0, parens - 1)
        elif kind == "open":
            if depth == 0 and parens == 0:
                start, before = m.start(), last_word
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
            if depth == 0 and parens == 0:
                yield start, m.end(), before
        elif kind == "word" and depth == 0 and parens == 0:
            last_word = m.group().upper()


def bind_values(sparql: str, substitutions: dict) -> str:
    """The query with each variable bound to its term, like Oxigraph's ``substitutions``.

    >>> bind_values("SELECT ?l WHERE { ?t <http://x/p> ?l }", {"t": ox.NamedNode("http://x/a")})
    'SELECT ?l WHERE { VALUES (?t) { (<http://x/a>) } <http://x/a> <http://x/p> ?l }'
    """
    names, terms = [], []
    for name, term in substitutions.items():
        if isinstance(name, ox.Variable):
            name = name.value
        if not re.fullmatch(r"\w+", name):
            raise ValueError(f"not a SPARQL variable name: {name!r}")
        if not isinstance(term, ox.NamedNode | ox.Literal | ox.BlankNode):
            raise TypeError(f"a substitution takes a pyoxigraph term, not {type(term).__name__}")
        if isinstance(term, ox.BlankNode):
            raise ValueError("a blank node cannot be sent to a remote store")
        names.append(f"?{name}")
        terms.append(str(term))
    block = f"VALUES ({' '.join(names)}) {{ ({' '.join(terms)}) }}"
    groups = list(_top_level_groups(sparql))
    where = None
    if groups:
        first = groups[0]
        is_construct = re.search(r"\bCONSTRUCT\b", sparql[: first[0]], re.IGNORECASE) is not None
        if not is_construct:
            where = first
        elif first[2] != "WHERE" and len(groups) > 1:
            where = groups[1]  # CONSTRUCT { template } WHERE { pattern }
    if where is None:
        # DESCRIBE <x> or CONSTRUCT WHERE { ... }: a trailing VALUES clause joins the whole pattern.
        return sparql.rstrip() + "\n" + block
    # The VALUES block binds the variables for the projection; inside the pattern each use is also
    # replaced by the term, so that filters in nested OPTIONALs see it as Oxigraph's substitution does.
    body = _replace_uses(sparql[where[0] + 1 : where[1] - 1], dict(zip(names, terms, strict=True)))
    return sparql[: where[0] + 1] + " " + block + body + sparql[where[1] - 1 :]


def _replace_uses(body: str, terms: dict[str, str]) -> str:
    """``body`` with each use of a variable in ``terms`` replaced, except where SPARQL needs a variable.

    Kept as variables: after ``AS``, in a sub-SELECT's projection, in ``GROUP BY``/``ORDER BY`` and
    in a ``VALUES`` variable list.
    """
    out, last = [], 0
    keep = False  # inside a projection, a VALUES variable list or a GROUP/ORDER BY clause
    previous = ""
    for m in _TOKEN.finditer(body):
        kind, text = m.lastgroup, m.group()
        if kind == "word":
            word = text.upper()
            if word in ("SELECT", "VALUES", "BY"):
                keep = True
            elif word in ("WHERE", "LIMIT", "OFFSET", "HAVING"):
                keep = False
            previous = word
        elif kind == "open" or kind == "close":
            keep = False
            previous = text
        elif kind == "var":
            name = "?" + text[1:]
            if name in terms and not keep and previous != "AS":
                out.append(body[last : m.start()] + terms[name])
                last = m.end()
            previous = "var"
    out.append(body[last:])
    return "".join(out)
