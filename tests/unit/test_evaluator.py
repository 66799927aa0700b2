"""The evaluators of the embedded store, without HTTP: a real store in a temporary directory, real
evaluator processes (kg/query/evaluator.py), the pool that routes to them (kg/query/pool.py) and
what they do with one job (kg/query/evaluation.py).

What a user relies on: an answer holds what the store holds, the latest write included; it is cut at
the row and byte caps and still parses; a query past its deadline is stopped by killing the process
evaluating it, the queries beside it are answered anyway, and the next query answers; an evaluator
that dies is replaced. Expected answers come from the data each test writes, not from the code.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.config import Config
from kg.query.evaluation import Batch, Job, WorkerCrashed, WorkerTimeout, execute
from kg.query.evaluator import EngineLost, Evaluator
from kg.query.pool import LOAD_ATTEMPTS, MIN_SPACING, QueryPool
from kg.store.embedded import EmbeddedStore
from tests.support.evaluators import run_one

N = 200  #: numbered subjects in the store: <urn:x:s{i}> x:n i
PREFIXES = {"x": "urn:x:"}
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s x:n ?i }"
#: 3 N^3 = 24 million solutions: well over a second, in memory and on disk (N^3 alone took 0.5 s on
#: a machine where it once took 1.5: too close to the runaway's limit below to stay evaluating past it).
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a x:n ?b . ?c x:n ?d . ?e x:n ?f VALUES ?k { 1 2 3 } }"
#: N^5 solutions: never finishes within any limit used here.
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a x:n ?b . ?c x:n ?d . ?e x:n ?f . ?g x:n ?h . ?i x:n ?j }"
#: Nesting far past the pre-check's bounds overflows an evaluating thread's stack: the process dies.
CRASHER = "SELECT ?x WHERE { BIND(" + "CONCAT(" * 20_000 + "'a'" + ")" * 20_000 + " AS ?x) }"


def _numbers(count: int, start: int = 0) -> str:
    return " ".join(f"<urn:x:s{i}> <urn:x:n> {i} ." for i in range(start, start + count))


def _bindings(body: bytes) -> list[dict]:
    return json.loads(body)["results"]["bindings"]


def _count(outcome) -> int:
    assert outcome.status == "ok", outcome
    return int(_bindings(outcome.body)[0]["n"]["value"])


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def _engine(pool: QueryPool) -> dict:
    return pool.status().get("engine") or {}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    """An embedded store on disk with N numbered subjects, held open read-write as the server does."""
    config = Config.from_env({"data_dir": tmp_path / "data"}, environ={})
    store = EmbeddedStore(config)
    store.update(f"INSERT DATA {{ GRAPH <urn:x:g> {{ {_numbers(N)} }} }}")
    yield store
    store.close()


@pytest.fixture
def pool_of(store: EmbeddedStore) -> Iterator[Callable[..., QueryPool]]:
    """Start the evaluators of ``store`` as the server does (writes reach them through the store's
    listeners); every process is killed at the end."""
    pools: list[QueryPool] = []

    def start(engine: str = "memory", threads: int = 2) -> QueryPool:
        pool = QueryPool(store.path, PREFIXES, graph_ns=store.config.graph_ns, engine=engine,
                         engine_threads=threads, workers=2, version=store.version())
        pools.append(pool)
        store.listeners.append(pool.version_changed)
        if engine == "memory":
            _wait_for(lambda: _engine(pool).get("state") == "ready")
        return pool

    yield start
    for pool in pools:
        pool.close()


@pytest.fixture
def disk_evaluators(store: EmbeddedStore) -> Iterator[Callable[[], Evaluator]]:
    started: list[Evaluator] = []
    init = {"path": str(store.path), "prefixes": PREFIXES, "allow": [], "memory": 0,
            "graph_ns": store.config.graph_ns}

    def start() -> Evaluator:
        evaluator = Evaluator(init, 1, source="disk")
        started.append(evaluator)
        _wait_for(lambda: evaluator.state != "loading")
        assert evaluator.state == "ready", evaluator.error
        return evaluator

    yield start
    for evaluator in started:
        evaluator.kill()


# -- what one job gives: the answer, cut at the caps ------------------------------------------------

TEXT = 'a "quoted" <tag> & \\ \t tab\nline ,;é'  # what each format must escape


@pytest.fixture(scope="module")
def texts() -> ox.Store:
    """40 subjects, each with a 150-character text full of characters every format escapes."""
    store = ox.Store()
    for i in range(40):
        store.add(ox.Quad(ox.NamedNode(f"urn:x:t{i:02}"), ox.NamedNode("urn:x:text"),
                          ox.Literal(f"{i:02} " + TEXT * 4)))
    return store


def _rows(fmt: str, body: bytes) -> list[str]:
    """The subjects of a SELECT ?s ?text answer, read with the standard library's parsers."""
    text = body.decode("utf-8")
    if fmt == "json":
        return [b["s"]["value"] for b in json.loads(text)["results"]["bindings"]]
    if fmt == "xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        return [r.find(f"{ns}binding[@name='s']/{ns}uri").text for r in ET.fromstring(body).iter(f"{ns}result")]
    if fmt == "csv":
        return [row[0] for row in list(csv.reader(io.StringIO(text, newline="")))[1:]]
    lines = text.split("\n")
    assert lines[-1] == "", "a TSV answer ends with a newline"
    return [line.split("\t")[0][1:-1] for line in lines[1:-1]]


SUBJECTS = [f"urn:x:t{i:02}" for i in range(40)]
SELECT_TEXTS = "SELECT ?s ?text WHERE { ?s <urn:x:text> ?text } ORDER BY ?s"


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_an_answer_under_its_caps_holds_every_row(texts, fmt):
    outcome = execute(texts, Job(SELECT_TEXTS, results_format=fmt), None)
    assert (outcome.status, outcome.truncated, outcome.count) == ("ok", False, 40)
    assert _rows(fmt, outcome.body) == SUBJECTS


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_rows_past_the_row_cap_are_cut_and_flagged(texts, fmt):
    outcome = execute(texts, Job(SELECT_TEXTS, results_format=fmt, max_rows=7), None)
    assert (outcome.truncated, outcome.count) == (True, 7)
    assert _rows(fmt, outcome.body) == SUBJECTS[:7]
    exact = execute(texts, Job(SELECT_TEXTS, results_format=fmt, max_rows=40), None)
    assert (exact.truncated, exact.count) == (False, 40)  # a cap the answer fits is no cut


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
@pytest.mark.parametrize("cap", [1500, 4000])
def test_an_answer_past_the_byte_cap_is_cut_to_whole_rows_and_still_parses(texts, fmt, cap):
    outcome = execute(texts, Job(SELECT_TEXTS, results_format=fmt, max_bytes=cap), None)
    assert outcome.truncated and len(outcome.body) <= cap
    rows = _rows(fmt, outcome.body)
    assert 0 < len(rows) == outcome.count < 40
    assert rows == SUBJECTS[: len(rows)]
    # Cut to the longest answer that fits, in every format: one more row would not have fitted.
    longer = execute(texts, Job(SELECT_TEXTS, results_format=fmt, max_rows=len(rows) + 1), None)
    assert len(longer.body) > cap


def _variables(fmt: str, body: bytes) -> list[str]:
    text = body.decode("utf-8")
    if fmt == "json":
        return json.loads(text)["head"]["vars"]
    if fmt == "xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        return [v.get("name") for v in ET.fromstring(body).iter(f"{ns}variable")]
    if fmt == "csv":
        return next(csv.reader(io.StringIO(text, newline="")))
    return [name[1:] for name in text.split("\n")[0].split("\t")]


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
@pytest.mark.parametrize("cap", [1, 5, 40])
def test_a_byte_cap_below_the_first_row_gives_an_empty_answer_that_still_names_its_variables(texts, fmt, cap):
    """Even a cap smaller than the header: the answer is the empty one, flagged, never unparseable."""
    outcome = execute(texts, Job(SELECT_TEXTS, results_format=fmt, max_bytes=cap), None)
    assert (outcome.status, outcome.truncated, outcome.count) == ("ok", True, 0)
    assert _variables(fmt, outcome.body) == ["s", "text"] and _rows(fmt, outcome.body) == []
    native = execute(texts, Job(SELECT_TEXTS, native=True, max_bytes=cap), None)
    assert (native.truncated, native.count, native.body) == (True, 0, b"?s\t?text\n")


@pytest.mark.parametrize("fmt", ["ntriples", "turtle"])
def test_a_graph_answer_is_cut_at_the_caps_and_still_parses(texts, fmt):
    construct = "CONSTRUCT { ?s <urn:x:text> ?text } WHERE { ?s <urn:x:text> ?text }"
    rdf = {"ntriples": ox.RdfFormat.N_TRIPLES, "turtle": ox.RdfFormat.TURTLE}[fmt]
    whole = execute(texts, Job(construct, graph_format=fmt), None)
    assert (whole.truncated, len(list(ox.parse(whole.body, format=rdf)))) == (False, 40)
    cut = execute(texts, Job(construct, graph_format=fmt, max_bytes=2000), None)
    assert cut.truncated and len(cut.body) <= 2000
    parsed = list(ox.parse(cut.body, format=rdf))
    assert 0 < len(parsed) == cut.count < 40
    assert {str(t.object) for t in parsed} <= {str(q.object) for q in texts}
    rows = execute(texts, Job(construct, graph_format=fmt, max_rows=5), None)
    assert (rows.truncated, len(list(ox.parse(rows.body, format=rdf)))) == (True, 5)


def _native_rows(body: bytes) -> list[tuple[str, str]]:
    """A trusted query's answer as ``kg.query.trusted`` reads it back (Oxigraph's TSV parser)."""
    return [(row["s"].value, row["text"].value) for row in ox.parse_query_results(body, ox.QueryResultsFormat.TSV)]


def test_a_trusted_answer_is_written_by_the_engine_and_reads_back_term_for_term(texts):
    """The texts hold a tab, a line break, quotes and a backslash: a TSV line per row holds only if
    the engine escapes them, and the answer must read back to the very values the store holds."""
    outcome = execute(texts, Job(SELECT_TEXTS, results_format="tsv", native=True), None)
    assert (outcome.status, outcome.truncated, outcome.count) == ("ok", False, 40)
    expected = [(str(row["s"].value), row["text"].value) for row in texts.query(SELECT_TEXTS)]
    assert _native_rows(outcome.body) == expected
    assert outcome.body.count(b"\n") == 41  # one line per row, and the variables'


@pytest.mark.parametrize("cap", [7, 40])
def test_a_trusted_answer_stops_at_the_row_cap_and_says_so_only_when_rows_were_left(texts, cap):
    outcome = execute(texts, Job(SELECT_TEXTS, results_format="tsv", native=True, max_rows=cap), None)
    assert (outcome.truncated, outcome.count) == (cap < 40, cap)
    assert [s for s, _ in _native_rows(outcome.body)] == SUBJECTS[:cap]


@pytest.mark.parametrize("cap", [200, 1500, 4000])
def test_a_trusted_answer_past_the_byte_cap_is_cut_to_whole_lines(texts, cap):
    outcome = execute(texts, Job(SELECT_TEXTS, results_format="tsv", native=True, max_bytes=cap), None)
    assert outcome.truncated and len(outcome.body) <= cap
    rows = _native_rows(outcome.body) if outcome.body else []
    assert len(rows) == outcome.count < 40 and [s for s, _ in rows] == SUBJECTS[: len(rows)]
    # The longest run of whole lines that fits: one more line would not have.
    longer = execute(texts, Job(SELECT_TEXTS, results_format="tsv", native=True, max_rows=len(rows) + 1), None)
    assert len(longer.body) > cap


def test_a_trusted_graph_answer_is_n_triples_cut_at_whole_triples(texts):
    construct = "CONSTRUCT { ?s <urn:x:text> ?text } WHERE { ?s <urn:x:text> ?text }"
    whole = execute(texts, Job(construct, native=True), None)
    assert (whole.format, whole.truncated, whole.count) == ("ntriples", False, 40)
    assert {q.triple for q in ox.parse(whole.body, format=ox.RdfFormat.N_TRIPLES)} == {q.triple for q in texts}
    for job in (Job(construct, native=True, max_rows=5), Job(construct, native=True, max_bytes=2000)):
        cut = execute(texts, job, None)
        parsed = [q.triple for q in ox.parse(cut.body, format=ox.RdfFormat.N_TRIPLES)]
        assert cut.truncated and 0 < len(parsed) == cut.count < 40 and len(cut.body) <= job.max_bytes
        assert set(parsed) <= {q.triple for q in texts}


def test_a_syntax_error_is_an_answer_not_a_failure(texts):
    outcome = execute(texts, Job("SELECT ?s WHERE { ?s ?p }"), None)
    assert outcome.status == "syntax" and outcome.message


# -- evaluator processes -------------------------------------------------------------------------------

def test_the_copy_answers_what_the_store_holds(pool_of, store):
    pool = pool_of()
    select = run_one(pool, Job("SELECT ?i WHERE { ?s x:n ?i }"), 30, version=store.version())
    assert sorted(int(b["i"]["value"]) for b in _bindings(select.body)) == list(range(N))
    construct = run_one(pool, Job("CONSTRUCT { ?s x:n ?i } WHERE { ?s x:n ?i FILTER(?i < 3) }",
                             graph_format="ntriples"), 30, version=store.version())
    triples = {str(t) for t in ox.parse(construct.body, format=ox.RdfFormat.N_TRIPLES)}
    assert triples == {f'<urn:x:s{i}> <urn:x:n> "{i}"^^<http://www.w3.org/2001/XMLSchema#integer>'
                       for i in range(3)}
    ask = run_one(pool, Job("ASK { <urn:x:s7> x:n 7 }", results_format="xml"), 30, version=store.version())
    assert b"<boolean>true</boolean>" in ask.body
    assert pool.answered == {"memory": 3, "disk": 0}  # the copy answered; the disk evaluator never started
    assert pool.status()["disk"] is None


def test_a_bad_query_costs_the_evaluator_nothing(pool_of, store):
    pool = pool_of()
    pid = _engine(pool)["pid"]
    outcome = run_one(pool, Job("SELECT ?s WHERE { ?s x:n }"), 30, version=store.version())
    assert outcome.status == "syntax" and outcome.message
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N
    assert _engine(pool)["pid"] == pid


def test_a_query_past_its_deadline_stops_its_own_evaluator_and_no_other(disk_evaluators):
    runaway, other = disk_evaluators(), disk_evaluators()
    started = time.monotonic()
    with pytest.raises(WorkerTimeout):
        run_one(runaway, Job(RUNAWAY), time.monotonic() + 0.5)
    assert time.monotonic() - started < 5, "stopped at its deadline, not when it would have finished"
    assert runaway.proc.wait(timeout=10) == -signal.SIGKILL  # the process evaluating it is gone
    assert other.proc.poll() is None
    assert _count(run_one(other, Job(COUNT), time.monotonic() + 30)) == N


def test_an_evaluator_killed_under_a_query_is_said_to_be_killed_not_out_of_memory(disk_evaluators):
    """SIGKILL comes from outside (the system's OOM killer, an operator); running past KG_WORKER_MEMORY
    aborts the engine instead. The reason given is the one that happened."""
    victim = disk_evaluators()
    lost: list[BaseException] = []
    runner = threading.Thread(target=lambda: _catch(lost, lambda: run_one(victim, Job(RUNAWAY), time.monotonic() + 30)))
    runner.start()
    _wait_for(lambda: victim._busy == 1)
    time.sleep(0.2)  # the query is evaluating
    os.kill(victim.proc.pid, signal.SIGKILL)
    runner.join(30)
    assert len(lost) == 1 and isinstance(lost[0], EngineLost), lost
    assert "killed from outside" in str(lost[0]) and "KG_WORKER_MEMORY" not in str(lost[0])


def _catch(into: list, call: Callable[[], object]) -> None:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - handed to the test
        into.append(exc)


def test_after_a_timeout_the_next_query_answers(pool_of, store):
    pool = pool_of()
    with pytest.raises(WorkerTimeout, match="time limit of 0.5 s"):
        run_one(pool, Job(RUNAWAY), 0.5, version=store.version())
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N
    assert pool.status()["stopped_at_deadline"] == 1


def test_the_queries_beside_a_runaway_are_answered_anyway(pool_of, store):
    # Both run in the same evaluator; stopping the runaway kills it under the other one, which is
    # evaluated again, within its own time left, elsewhere.
    pool = pool_of(threads=2)
    answers: list = []
    bystander = threading.Thread(target=lambda: answers.append(run_one(pool, Job(SLOW), 60, version=store.version())))
    bystander.start()
    _wait_for(lambda: pool._engine is not None and pool._engine._busy == 1)
    with pytest.raises(WorkerTimeout):
        run_one(pool, Job(RUNAWAY), 0.5, version=store.version())
    bystander.join(60)
    assert len(answers) == 1 and _count(answers[0]) == 3 * N**3
    assert pool.answered["disk"] == 1, "the bystander was answered again on disk after the kill"


def test_an_evaluator_killed_from_outside_costs_no_answer_and_comes_back(pool_of, store):
    pool = pool_of()
    lost = _engine(pool)["pid"]
    os.kill(lost, signal.SIGKILL)
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N
    # A new copy is loaded and answers again from memory.
    _wait_for(lambda: _engine(pool).get("state") == "ready" and _engine(pool)["pid"] != lost)
    before = pool.answered["memory"]
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N
    assert pool.answered["memory"] == before + 1


def test_a_query_that_crashes_its_evaluator_is_reported_and_the_next_query_answers(pool_of, store):
    pool = pool_of()
    with pytest.raises(WorkerCrashed, match="stopped the evaluator"):
        run_one(pool, Job(CRASHER), 30, version=store.version())
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N


# -- writes reach the copy -------------------------------------------------------------------------

def test_a_committed_write_reaches_the_copy_without_reloading_it(pool_of, store):
    pool = pool_of()
    pid, loads = _engine(pool)["pid"], pool.status()["loads"]
    store.update(f"INSERT DATA {{ GRAPH <urn:x:g> {{ {_numbers(5, start=N)} }} }}")
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N + 5
    store.update("DELETE WHERE { GRAPH <urn:x:g> { <urn:x:s0> ?p ?o } }")
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N + 4
    status = pool.status()
    assert (status["writes_applied"], status["loads"], status["engine"]["pid"]) == (2, loads, pid)
    assert pool.answered == {"memory": 2, "disk": 0}


def test_a_write_is_applied_beside_a_long_query_which_answers_from_the_version_it_began_with(pool_of, store):
    """One query reads a snapshot of the copy, so a write does not wait for it: the write is applied,
    and acknowledged, while the query runs, and the query's answer is still that of its own version.
    (A batch of several queries holds the copy instead, so that they all see one version.)"""
    pool = pool_of()
    long_count = "SELECT (COUNT(*) AS ?n) WHERE { ?a x:n ?b . ?c x:n ?d . ?e x:n ?f . ?g x:n ?h FILTER(?h < 5) }"
    answers: list = []
    reader = threading.Thread(
        target=lambda: answers.append(run_one(pool, Job(long_count), 120, version=store.version())))
    reader.start()
    _wait_for(lambda: pool._engine is not None and pool._engine._busy == 1)
    time.sleep(0.2)  # the query is sent, and evaluating (it takes seconds)
    store.update(f"INSERT DATA {{ GRAPH <urn:x:g> {{ {_numbers(1, start=N)} }} }}")
    assert reader.is_alive(), "the write waited for the query to finish"
    assert pool.status()["writes_applied"] == 1
    reader.join(120)
    assert _count(answers[0]) == N**3 * 5  # the N subjects it began with, not the N + 1 after the write
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N + 1


def test_a_write_the_copy_cannot_take_is_answered_from_disk_until_a_new_copy_holds_it(pool_of, store, tmp_path):
    pool = pool_of()
    more = tmp_path / "more.ttl"
    more.write_text(_numbers(10, start=N) + "\n", encoding="utf-8")
    store.bulk_load(str(more), ox.RdfFormat.TURTLE, graph="urn:x:g")  # no update text to apply
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N + 10  # never the stale copy
    _wait_for(lambda: _engine(pool).get("version") == store.version())
    before = pool.answered["memory"]
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N + 10
    assert pool.answered["memory"] == before + 1


@pytest.fixture
def pool_while_away(store: EmbeddedStore, tmp_path: Path) -> Iterator[tuple[QueryPool, Path]]:
    """A pool started while the store's directory is out of place (as when its files are being replaced),
    so its first load of the copy fails; with where the directory is meanwhile."""
    away = tmp_path / "away"
    store.path.rename(away)
    pool = QueryPool(store.path, PREFIXES, graph_ns=store.config.graph_ns, engine="memory",
                     engine_threads=2, workers=2, version=store.version())
    yield pool, away
    pool.close()
    if away.exists():
        away.rename(store.path)


def test_a_copy_whose_load_fails_once_is_loaded_again_without_waiting_for_a_write(store, pool_while_away):
    pool, away = pool_while_away
    _wait_for(lambda: "error" in pool.status())
    away.rename(store.path)  # back: the next try loads, no write needed
    _wait_for(lambda: _engine(pool).get("state") == "ready")
    status = pool.status()
    assert status["loads"] == 2 and _engine(pool)["version"] == store.version(), status
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N
    assert pool.answered == {"memory": 1, "disk": 0}


def test_a_copy_that_never_loads_is_tried_a_bounded_number_of_times(pool_while_away):
    pool, _ = pool_while_away
    _wait_for(lambda: "error" in pool.status() and not pool.status()["loading"])
    assert pool.status()["loads"] == LOAD_ATTEMPTS
    time.sleep(MIN_SPACING * 2 ** LOAD_ATTEMPTS)
    assert pool.status()["loads"] == LOAD_ATTEMPTS and pool.status()["engine"] is None


def test_reads_racing_writes_never_make_the_copy_reload(pool_of, store):
    """Readers pin the version a request began with: some ask for the one a write has just replaced,
    some for the one it is committing. Each is answered (the disk takes those the copy does not hold),
    and every write is applied to the copy, which is never reloaded for them."""
    pool = pool_of()
    pid, loads = _engine(pool)["pid"], pool.status()["loads"]
    stop, answers, failures = threading.Event(), [], []

    def read() -> None:
        while not stop.is_set():
            version = store.version()
            try:
                answers.append(_count(run_one(pool, Job(COUNT), 30, version=version)))
            except Exception as exc:  # noqa: BLE001 - collected and shown below
                failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for i in range(20):
            store.update(f"INSERT DATA {{ GRAPH <urn:x:g> {{ {_numbers(1, start=N + i)} }} }}")
            time.sleep(0.02)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not failures, failures[:3]
    assert answers and all(N <= n <= N + 20 for n in answers)
    status = pool.status()
    assert (status["writes_applied"], status["loads"], status["engine"]["pid"]) == (20, loads, pid)
    assert _count(run_one(pool, Job(COUNT), 30, version=store.version())) == N + 20


def test_a_batch_pinned_before_writes_the_copy_has_taken_is_answered_by_the_copy_at_its_version(pool_of, store):
    """A request that began before some writes, and whose batch reached the engine after them, is
    answered by the copy with their result (it overlapped them), not sent to the disk."""
    pool = pool_of()
    began = store.version()
    for i in range(3):
        store.update(f"INSERT DATA {{ GRAPH <urn:x:g> {{ {_numbers(1, start=N + i)} }} }}")
    assert _engine(pool)["version"] == store.version() != began
    before = dict(pool.answered)
    assert _count(run_one(pool, Job(COUNT), 30, version=began)) == N + 3
    assert pool.answered == {**before, "memory": before["memory"] + 1}, "answered by the copy"


def test_a_batch_pinned_at_a_version_the_copy_never_held_goes_to_the_disk(pool_of, store):
    """A version the copy has not held (a write it has not taken yet, here one it never will) is
    never answered from the copy's older state."""
    pool = pool_of()
    before = dict(pool.answered)
    assert _count(run_one(pool, Job(COUNT), 30, version="not-a-version-of-this-copy")) == N
    assert pool.answered == {**before, "disk": before["disk"] + 1}
    assert _engine(pool)["version"] == store.version(), "and the copy was not reloaded for it"


def test_a_batch_pinned_at_the_write_being_applied_waits_for_the_copy_to_take_it(pool_of, store):
    """Readers pinned at the version a write is applying now (the store committed it) wait for the
    copy to take it rather than go to the disk, and see the write."""
    pool = pool_of()
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a x:n ?i . ?b x:n ?j . ?c x:n ?k }"
    # A batch of two queries holds the copy at its version; the write waits for it there.
    holding = threading.Thread(target=lambda: pool.run(Batch(store.version(), (Job(slow), Job(COUNT))), 30))
    counts: list[int] = []

    def read_during_the_apply() -> None:
        _wait_for(lambda: pool._applying is not None, 10)
        counts.append(_count(run_one(pool, Job(COUNT), 30, version=store.version())))

    reader = threading.Thread(target=read_during_the_apply)
    holding.start()
    time.sleep(0.2)
    reader.start()
    before = dict(pool.answered)
    store.update(f"INSERT DATA {{ GRAPH <urn:x:g> {{ {_numbers(1, start=N)} }} }}")
    reader.join()
    holding.join()
    assert counts == [N + 1]
    assert pool.answered["disk"] == before["disk"], "answered by the copy, not the disk"


def test_a_query_that_ran_out_of_memory_is_a_stopped_query_not_a_failed_store():
    # Its own doing, as when it stops its evaluator: 503 "Query stopped" on every route, not "Store
    # unavailable" (kg.query.sparql maps the same outcome to Stopped).
    from kg.query.evaluation import Outcome, WorkerCrashed
    from kg.query.trusted import result_of

    with pytest.raises(WorkerCrashed, match="more memory"):
        result_of(Outcome("memory", message="the query needed more memory than an evaluator may use"))
