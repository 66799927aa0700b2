"""Start and stop the servers under test, and read their peak memory, all on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from kg.config import Config

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oxigraph_binary() -> str:
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.exists() else "oxigraph"


class Proc:
    """A server process in its own process group, waited for until ``ready_path`` answers."""

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        ready_path: str = "/",
        port: int | None = None,
        cwd: Path = ROOT,
    ):
        self.port = port or free_port()
        self.cwd = cwd
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = {**os.environ, **(env or {})}
        self.ready_path = ready_path
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300) -> Proc:
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited:\n{self.output()}")
            try:
                if requests.get(self.url + self.ready_path, timeout=5).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{' '.join(self.args)} did not answer within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def _members(self) -> list[str]:
        """The /proc entries of the processes in the group (gunicorn master, workers, evaluators)."""
        if self.proc is None:
            return []
        members = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and os.getpgid(int(entry)) == self.proc.pid:
                    members.append(f"/proc/{entry}")
            except ProcessLookupError:
                continue
        return members

    def peak_rss_mb(self) -> float:
        """Peak resident memory (VmHWM) summed over the process group."""
        total = 0
        for member in self._members():
            try:
                with open(f"{member}/status") as status:
                    total += sum(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            except OSError:
                continue
        return total / 1024

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, seconds) used so far by the process group, by kind: "evaluator"
        for the service's query evaluators, "http" for every other process (the whole of a server
        that is not ours). A round's share is the difference of two readings."""
        used: dict[str, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for member in self._members():
            try:
                with open(f"{member}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"{member}/cmdline", "rb") as cmdline:
                    kind = "evaluator" if b"kg.query.evaluator_process" in cmdline.read() else "http"
            except OSError:
                continue
            used[kind] = used.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return used

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.proc = None
        self.log.close()


def service(data_dir: Path, *, cache: bool, extra_env: dict[str, str] | None = None,
            tree: Path = ROOT, cli: str = "cli") -> Proc:
    """``kg serve`` as a user runs it (gunicorn, the configured workers and threads); ``tree`` and ``cli``:
    another checkout of the project, and the module its command line is in."""
    env = {
        "KG_DATA_DIR": str(data_dir),
        "KG_CACHE": "on" if cache else "off",
        "KG_HOST": "127.0.0.1",
        "KG_STORE": "embedded",
        **({"PYTHONPATH": str(tree)} if tree != ROOT else {}),
        **(extra_env or {}),
    }
    proc = Proc([sys.executable, "-m", cli, "serve", "--port", "{port}"], env=env, ready_path="/healthz",
                cwd=tree)
    proc.env["KG_PORT"] = str(proc.port)
    # gunicorn's access log to a file costs little but is noise here.
    return proc


def wait_for_query_engine(proc: Proc, timeout: float = 600) -> None:
    """Wait until the service's in-memory query engine holds the current graph (``/healthz``), so
    a measurement starts on the evaluator users get, not on the disk workers that stand in while
    the copy loads. Returns at once over the remote store or with ``KG_QUERY_ENGINE=disk``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = requests.get(proc.url + "/healthz", timeout=10).json()
        engine = health.get("query_engine") or {}
        if engine.get("mode") != "memory":
            return
        copy = engine.get("engine") or {}
        if copy.get("state") == "ready" and copy.get("version") == health.get("version"):
            return
        if engine.get("error") and not engine.get("loading"):
            raise RuntimeError(f"the in-memory query engine could not load the graph: {engine['error']}\n"
                               + proc.output())
        time.sleep(0.2)
    raise RuntimeError(f"the in-memory query engine did not load within {timeout:g} s")


def post_file(url: str, path: Path, content_type: str, graph: str) -> None:
    """Add ``path`` to ``graph`` of the Oxigraph server at ``url`` (Graph Store Protocol)."""
    with open(path, "rb") as body:
        requests.post(url + "/store", params={"graph": graph}, data=body,
                      headers={"Content-Type": content_type}, timeout=600).raise_for_status()


def oxigraph_holding(data: Path, graph_ns: str) -> Proc:
    """Oxigraph server in memory, holding what ``kg serve`` holds after ``kg load data``: the data, the
    vocabulary and the facts, each in its graph (the service's meta graph aside)."""
    oxi = oxigraph_server().start()
    try:
        post_file(oxi.url, data, "application/n-triples", graph_ns + "data")
        post_file(oxi.url, ROOT / "ontology" / "outsourcing.ttl", "text/turtle", graph_ns + "vocabulary")
        for facts in sorted((ROOT / "ontology" / "data").glob("*.ttl")):
            post_file(oxi.url, facts, "text/turtle", graph_ns + "facts")
    except BaseException:
        oxi.stop()
        raise
    return oxi


def oxigraph_server(location: Path | None = None) -> Proc:
    args = [oxigraph_binary(), "serve", "--bind", "127.0.0.1:{port}", "--union-default-graph"]
    if location is not None:
        args += ["--location", str(location)]
    return Proc(args, ready_path="/query?query=ASK%7B%7D")


def service_threads() -> int:
    """The request threads ``kg serve`` runs with here under ``KG_WORKER_CLASS=gthread`` (``KG_THREADS``,
    else its default): the granian trial is given as many."""
    return Config.from_env().threads


def service_serving() -> str:
    """How ``kg serve`` serves its requests here, in words for the report."""
    config = Config.from_env()
    if config.worker_class == "gevent":
        return "gevent worker"
    return f"{config.threads} threads"


def engine_threads() -> int:
    """The in-memory engine's threads in ``kg serve`` here (``KG_QUERY_THREADS``), for the report."""
    return Config.from_env().query_threads


def hello_app(workers: int) -> Proc:
    """The bare Flask app under gunicorn as ``kg serve`` runs it here: its worker class (``KG_WORKER_CLASS``)
    and, with threads, as many threads."""
    config = Config.from_env()
    serving = ["-k", "gevent"]
    if config.worker_class == "gthread":
        serving = ["-k", "gthread", "--threads", str(config.threads)]
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return Proc([gunicorn, "-w", str(workers), *serving, "-b", "127.0.0.1:{port}", "bench.hello:app"])


def granian(target: str, *, threads: int | None = None, env: dict[str, str] | None = None,
            ready_path: str = "/") -> Proc:
    """``target`` (``module:app``) under granian: one worker process, ``threads`` threads for the app
    (default: as many as ``kg serve``)."""
    binary = str(Path(sys.executable).parent / "granian")
    threads = threads or service_threads()
    return Proc([binary, "--interface", "wsgi", "--workers", "1", "--blocking-threads", str(threads),
                 "--host", "127.0.0.1", "--port", "{port}", "--no-ws", target], env=env, ready_path=ready_path)

