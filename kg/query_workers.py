"""Worker processes that evaluate user SPARQL, so that a runaway query can be stopped.

Why processes: pyoxigraph has no query cancellation and evaluates inside Rust, where neither a
thread nor a signal can stop it (``docs/engine-facts.md``). A query that outlives its deadline is stopped
the only sure way, by killing the process evaluating it; the server answers 503 itself and starts a
replacement, and the other workers keep serving meanwhile.

Each worker is a fresh interpreter (``python -m kg.query_workers``, fork+exec: never a bare fork of
the threaded server) talking over two pipes. It opens the embedded store read-only
(``pyoxigraph.Store.read_only``), reopens it when the graph's version in a job differs from the one
it opened, applies the row cap while iterating, serialises the answer and sends back bytes plus a
small header, in one message. The hop costs two pipe writes and two small pickles per query; workers
stay warm.

``execute`` (evaluation + cap + serialisation) is shared with the in-process path of the remote
store, so both paths answer byte-for-byte alike.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_attr

import pyoxigraph as ox

from kg.formats import BY_KEY, Format, serialize_triples
from kg.store.base import CappedSolutions

log = logging.getLogger(__name__)

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
#: Heap a worker may use (RLIMIT_DATA: allocations, not the store's mapped files), in bytes: a query
#: building a huge intermediate result fails in its
#: worker (answered 503) instead of pushing the machine into swap. Set by Config.worker_memory.
DEFAULT_WORKER_MEMORY = 2 * 1024**3


class WorkerError(Exception):
    """Base of the pool's failures."""


class WorkerTimeout(WorkerError):
    """The query did not finish within its time limit; its worker was killed."""


class WorkerBusy(WorkerTimeout):
    """No worker became free within the time limit."""


class WorkerCrashed(WorkerError):
    """The worker died while evaluating (out of memory, a crash in the engine)."""


@dataclass(frozen=True)
class Job:
    """One query to evaluate: small, picklable, no live objects."""

    query: str
    version: str = ""
    union_default: bool = True
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    substitutions: tuple[tuple[str, Any], ...] = ()
    results_format: str | None = "json"  #: key in kg.formats for SELECT/ASK answers
    graph_format: str | None = "turtle"  #: key for CONSTRUCT/DESCRIBE answers
    max_rows: int = 10_000
    max_bytes: int = 16 * 1024**2  #: byte cap of the serialised answer (Config.max_result_bytes)


@dataclass(frozen=True)
class Write:
    """A committed write to apply to the in-memory copy: the exact update text the store applied
    (the version triples included), and the version it leads to."""

    update: str
    version: str  #: the version after the write
    previous: str  #: the version the copy must hold for the write to apply


@dataclass
class Outcome:
    """What a job produced. ``status`` is ok | syntax | unacceptable | error."""

    status: str
    kind: str = ""  #: results | boolean | graph
    format: str | None = None
    truncated: bool = False
    count: int = 0
    message: str = ""
    body: bytes = b""
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)


# -- evaluation, cap and serialisation (shared by workers and the in-process remote path) ---------

def execute(store: Any, job: Job, prefixes: dict[str, str] | None, *, embedded: bool = True,
            timeout: float | None = None) -> Outcome:
    """Evaluate ``job`` on ``store`` and serialise at most ``job.max_rows`` rows/triples.

    ``store`` is a ``pyoxigraph.Store`` (``embedded``) or a ``kg.store.Store`` (remote).
    """
    started = time.perf_counter()
    try:
        result = _query(store, job, prefixes, embedded=embedded, timeout=timeout)
        outcome = _serialise(result, job, prefixes)
    except SyntaxError as exc:
        outcome = Outcome("syntax", message=str(exc))
    outcome.elapsed = time.perf_counter() - started
    return outcome


def execute_reported(store: Any, job: Job, prefixes: dict[str, str] | None) -> Outcome:
    """``execute`` in a worker process: a failure becomes an Outcome the server answers with
    (OSError, the store's own, is left to the caller)."""
    try:
        return execute(store, job, prefixes)
    except MemoryError:
        return Outcome("error", message="the query needed more memory than a worker may use")
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported to the server, which answers with it
        return Outcome("error", message=f"{type(exc).__name__}: {exc}")


def _query(store: Any, job: Job, prefixes: dict[str, str] | None, *, embedded: bool, timeout: float | None):
    subs = dict(job.substitutions) if job.substitutions else None
    if embedded:
        kwargs: dict[str, Any] = {}
        if job.default_graphs is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
        elif job.union_default:
            kwargs["use_default_graph_as_union"] = True
        if job.named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
        if subs:
            kwargs["substitutions"] = {ox.Variable(k): v for k, v in subs.items()}
        if prefixes:
            kwargs["prefixes"] = prefixes
        return store.query(job.query, **kwargs)
    return store.query(
        job.query, union_default=job.union_default,
        default_graphs=list(job.default_graphs) if job.default_graphs is not None else None,
        named_graphs=list(job.named_graphs) if job.named_graphs is not None else None,
        substitutions=subs, prefixes=prefixes, timeout=timeout, max_rows=job.max_rows,
    )


def _serialise(result: Any, job: Job, prefixes: dict[str, str] | None) -> Outcome:
    if isinstance(result, ox.QueryBoolean):
        fmt = BY_KEY.get(job.results_format or "")
        if fmt is None:
            return Outcome("unacceptable", kind="boolean")
        return Outcome("ok", kind="boolean", format=fmt.key, count=1,
                       body=result.serialize(format=fmt.ox_results))
    if isinstance(result, (ox.QuerySolutions, CappedSolutions)):
        fmt = BY_KEY.get(job.results_format or "")
        if fmt is None:
            return Outcome("unacceptable", kind="results")
        variables = [v.value for v in result.variables]
        rows, truncated = _take(result, job.max_rows, job.max_bytes, _row_weight)
        body, cut = _fit(rows, job.max_bytes, lambda part: serialize_solutions(variables, part, fmt))
        return Outcome("ok", kind="results", format=fmt.key, truncated=truncated or cut > 0, count=len(rows) - cut,
                       body=body)
    fmt = BY_KEY.get(job.graph_format or "")
    if fmt is None:
        return Outcome("unacceptable", kind="graph")
    triples, truncated = _take(iter(result), job.max_rows, job.max_bytes, _triple_weight)
    body, cut = _fit(triples, job.max_bytes, lambda part: serialize_triples(part, fmt, prefixes))
    return Outcome("ok", kind="graph", format=fmt.key, truncated=truncated or cut > 0, count=len(triples) - cut,
                   body=body)


# -- the caps: rows and bytes --------------------------------------------------------------------------

def _term_weight(term: Any) -> int:
    if term is None:
        return 0
    if isinstance(term, ox.Literal):
        return len(term.value) + len(term.datatype.value) + len(term.language or "") + 8
    if isinstance(term, ox.Triple):
        return _triple_weight(term)
    return len(term.value) + 8


def _row_weight(row: Any) -> int:
    return sum(_term_weight(term) for term in row) + 8


def _triple_weight(triple: Any) -> int:
    return _term_weight(triple.subject) + _term_weight(triple.predicate) + _term_weight(triple.object)


def _take(items: Any, max_rows: int, max_bytes: int, weight: Any) -> tuple[list, bool]:
    """At most ``max_rows`` items, stopping early once their text outweighs ``max_bytes``: the rows of
    an answer are held in the evaluator only as far as the answer may be sent. True when cut."""
    out: list = []
    total = 0
    for item in items:
        if len(out) == max_rows:
            return out, True
        total += weight(item)
        if total > max_bytes and out:
            return out, True
        out.append(item)
    return out, False


def _fit(items: list, max_bytes: int, serialise: Any) -> tuple[bytes, int]:
    """The serialisation of the longest prefix of ``items`` within ``max_bytes`` (escapes and markup
    can outgrow the weights ``_take`` counted) and how many items were left out."""
    body = serialise(items)
    if len(body) <= max_bytes or not items:
        return body, 0
    low, high = 0, len(items) - 1  # the longest fitting prefix has between low and high items
    best = serialise(items[:0])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = serialise(items[:middle])
        if len(candidate) <= max_bytes:
            low, best = middle, candidate
        else:
            high = middle - 1
    if low == 0:
        best = serialise(items[:0])
    return best, len(items) - low


def serialize_solutions(variables: list[str], rows: list, fmt: Format) -> bytes:
    """SELECT rows (already capped) in a SPARQL results format.

    Oxigraph's native writers consume a whole ``QuerySolutions`` and cannot be told to stop at the
    cap, so capped rows are written here, following the W3C result-format specifications.
    """
    if fmt.key == "json":
        return _json(variables, rows)
    if fmt.key == "xml":
        return _xml(variables, rows)
    if fmt.key == "csv":
        return _csv(variables, rows)
    if fmt.key == "tsv":
        return _tsv(variables, rows)
    raise ValueError(f"{fmt.label} is not a SPARQL results format")


def _json_term(term: Any) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    return {"type": "literal", "value": str(term)}


def _json(variables: list[str], rows: list) -> bytes:
    bindings = []
    for row in rows:
        binding = {}
        for name in variables:
            term = row[name]
            if term is not None:
                binding[name] = _json_term(term)
        bindings.append(binding)
    return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_term(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{_xml_escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{_xml_escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={_xml_attr(term.language)}>{_xml_text(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={_xml_attr(term.datatype.value)}>{_xml_text(term.value)}</literal>"
        return f"<literal>{_xml_text(term.value)}</literal>"
    if isinstance(term, ox.Triple):
        return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}"
                f"</predicate><object>{_xml_term(term.object)}</object></triple>")
    return f"<literal>{_xml_text(str(term))}</literal>"


def _xml_text(text: str) -> str:
    # \r would be normalised to \n by an XML parser: keep it as a character reference.
    return _xml_escape(text).replace("\r", "&#13;")


def _xml(variables: list[str], rows: list) -> bytes:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    out += [f"<variable name={_xml_attr(v)}/>" for v in variables]
    out.append("</head><results>")
    for row in rows:
        out.append("<result>")
        for name in variables:
            term = row[name]
            if term is not None:
                out.append(f"<binding name={_xml_attr(name)}>{_xml_term(term)}</binding>")
        out.append("</result>")
    out.append("</results></sparql>\n")
    return "".join(out).encode("utf-8")


def _csv_value(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, (ox.NamedNode, ox.Literal)):
        return term.value
    return str(term)


def _csv(variables: list[str], rows: list) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow([_csv_value(row[name]) for name in variables])
    return buffer.getvalue().encode("utf-8")


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _tsv_term(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.Literal):
        quoted = '"' + term.value.translate(_TSV_ESCAPES) + '"'
        if term.language:
            return f"{quoted}@{term.language}"
        if term.datatype.value != XSD_STRING:
            return f"{quoted}^^<{term.datatype.value}>"
        return quoted
    if isinstance(term, ox.Triple):
        return f"<< {_tsv_term(term.subject)} {_tsv_term(term.predicate)} {_tsv_term(term.object)} >>"
    return str(term)


def _tsv(variables: list[str], rows: list) -> bytes:
    lines = ["\t".join("?" + v for v in variables)]
    for row in rows:
        lines.append("\t".join(_tsv_term(row[name]) for name in variables))
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- the pool (server side) ---------------------------------------------------------------------

def start_module(module: str, args: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen:
    """``python -m module args...`` in a fresh interpreter (fork+exec, never a bare fork of the
    threaded server) that finds this project's packages and inherits ``pass_fds``."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen([sys.executable, "-m", module, *args], pass_fds=pass_fds,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": path}, cwd=root)


class _Worker:
    def __init__(self, init: dict):
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            self.proc = start_module("kg.query_workers", [str(job_r), str(res_w)], (job_r, res_w))
        finally:
            os.close(job_r)
            os.close(res_w)
        self.jobs = Connection(job_w, readable=False)
        self.results = Connection(res_r, writable=False)
        self.jobs.send(init)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        for conn in (self.jobs, self.results):
            with contextlib.suppress(OSError):
                conn.close()
        # Reap in the background: a killed worker must not linger as a zombie.
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)


class WorkerPool:
    """A fixed number of warm worker processes over one read-only store directory."""

    def __init__(self, store_path: Path | str, prefixes: dict[str, str], size: int = 2,
                 allow: list[tuple[str, int]] | None = None, memory: int = DEFAULT_WORKER_MEMORY,
                 require_confinement: bool = False):
        self.size = max(1, int(size))
        self._init = {"path": str(store_path), "prefixes": dict(prefixes), "allow": list(allow or []),
                      "memory": int(memory), "require_confinement": require_confinement}
        self.confinement: dict = {}  #: what the workers reported of their confinement (kg.confine)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.killed = 0  #: workers stopped at a deadline (observability)
        for _ in range(self.size):
            self._add()

    def _add(self) -> None:
        try:
            worker = _Worker(self._init)
        except OSError as exc:  # cannot start a process (limits): the pool shrinks, the log says why
            log.error("cannot start a query worker: %s", exc)
            return
        with self._lock:
            if self._closed:
                worker.kill()
                return
            self._all.add(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            if self._closed:
                return
        threading.Thread(target=self._add, daemon=True, name="kg-query-worker-start").start()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all]

    def run(self, job: Job, timeout: float) -> Outcome:
        """Evaluate ``job`` in a worker within ``timeout`` seconds (waiting for a free worker included)."""
        deadline = time.monotonic() + timeout
        try:
            worker = self._idle.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise WorkerBusy(f"every query worker stayed busy for the whole time limit ({timeout:g} s)") \
                from None
        try:
            worker.jobs.send(job)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not worker.results.poll(remaining):
                self.killed += 1
                self._replace(worker)
                raise WorkerTimeout(f"the query did not finish within its time limit of {timeout:g} s "
                                    "and was stopped")
            header: Outcome = worker.results.recv()
            self.confinement = header.extra.pop("confinement", self.confinement)
        except (EOFError, OSError, BrokenPipeError) as exc:
            try:  # the pipe closes a moment before the process is reaped
                code = worker.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            self._replace(worker)
            raise WorkerCrashed("the query worker stopped while evaluating"
                                + (" (it ran out of memory)" if code in (-9, -6, 134, 137) else "")
                                + f": {type(exc).__name__}") from exc
        self._idle.put(worker)
        return header

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()


# -- the worker process --------------------------------------------------------------------------

def limit_memory(limit: int) -> None:
    try:
        import resource

        if limit > 0:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def watch_parent(parent: int) -> None:
    # A worker outliving its server (killed with SIGKILL) would hold memory for nothing.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


#: Stack of each evaluating thread. Oxigraph's parser and evaluator recurse; the pre-check bounds
#: nesting far below what 8 MiB holds, and this leaves a wide margin (the pages are reserved, not
#: used, but RLIMIT_DATA counts them: KG_WORKER_MEMORY must leave room for them).
EVALUATOR_STACK = 64 * 1024**2


def confine_evaluator(init: dict) -> dict:
    """The first thing an evaluator process does: no internet sockets from here on (``kg.confine``).

    Returns what was achieved, for the server to show; exits when confinement is required and
    impossible (the server then reports that no evaluator could start)."""
    from kg import confine

    result = confine.confine()
    if not result.confined:
        print(f"kg evaluator: cannot confine this process ({result.reason})", file=sys.stderr, flush=True)
        if init.get("require_confinement"):
            os._exit(3)
    return result.as_dict()


def start_evaluating_threads(targets: list[tuple[Any, tuple]]) -> list[threading.Thread]:
    """Threads with the evaluator's large stack (set process-wide: every thread after it gets it)."""
    threading.stack_size(EVALUATOR_STACK)
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in targets]
    for thread in threads:
        thread.start()
    return threads


def worker_main(job_fd: int, result_fd: int) -> None:
    jobs = Connection(job_fd, writable=False)
    results = Connection(result_fd, readable=False)
    init = jobs.recv()
    confinement = confine_evaluator(init)
    from kg import guard

    guard.install(extra=[tuple(x) for x in init.get("allow", [])], rdflib=False)
    limit_memory(int(init.get("memory", DEFAULT_WORKER_MEMORY)))
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    (evaluating,) = start_evaluating_threads([(_worker_loop, (init, jobs, results, confinement))])
    evaluating.join()


def _worker_loop(init: dict, jobs: Connection, results: Connection, confinement: dict) -> None:
    path, prefixes = init["path"], init["prefixes"]
    store: ox.Store | None = None
    opened: str | None = None
    while True:
        try:
            job: Job = jobs.recv()
        except (EOFError, OSError):
            return
        try:
            if store is None or job.version != opened:
                store = None
                store = ox.Store.read_only(path)
                opened = job.version
            outcome = execute_reported(store, job, prefixes)
        except OSError as exc:
            store, opened = None, None
            outcome = Outcome("error", message=f"the store could not be read: {exc}")
        outcome.extra["confinement"] = confinement
        try:
            # One message, body included: a second write and read per query cost more (measured)
            # than pickling the bytes along.
            results.send(outcome)
        except (BrokenPipeError, OSError):
            return


if __name__ == "__main__":
    # Run the imported module's copy, so the classes pickled back are ``kg.query_workers.*``.
    from kg.query_workers import worker_main as _main

    _main(int(sys.argv[1]), int(sys.argv[2]))
