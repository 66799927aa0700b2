"""All settings in one place.

Every setting has a default, can be set by a ``KG_*`` environment variable, and can be overridden
by a CLI flag or a test (``Config.from_env(overrides)``). Code receives a ``Config`` and never reads
the environment itself.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Heap an evaluator may use (RLIMIT_DATA: allocations, not the store's mapped files), in bytes: a query
#: building a huge intermediate result is stopped in its evaluator instead of pushing the machine into swap.
DEFAULT_WORKER_MEMORY = 2 * 1024**3

#: Request threads per HTTP process beyond the evaluator's threads (``KG_THREADS`` defaults to
#: ``KG_QUERY_THREADS`` + this). Each request thread runs Python under one GIL; threads working at once
#: take it from each other at every call that lets it go (pyoxigraph parsing, pipes), each hand-over a
#: context switch: at 8 threads the service's own routes spent a third of the process's CPU in the kernel
#: handing it over, and 4 threads served them 20-60% faster. But with no thread beyond the evaluator's,
#: as many slow queries as it has threads hold every request thread, and even a cached page waits for the
#: time limit: the two spare threads answer cache hits and cheap routes meanwhile
#: (docs/benchmarks.md, "Fewer request threads: the evaluator's plus two").
SPARE_THREADS = 2

#: The service's log lines (both kinds of HTTP process use it: ``service/app.py``, ``service/server.py``).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The canonical namespace. Stored triples always use it; a deployment reached at another address
#: rewrites it in linked-data documents (see ``public_base``).
DEFAULT_NAMESPACE = "https://w3id.org/outsourcing-kg/"

#: Incoming links on one page of a description, and the most a deployment may set: a page is built,
#: labelled and rendered per request, so it stays a page (docs/linked-data.md, "Incoming links, page by page").
DEFAULT_INCOMING_PAGE_SIZE = 100
MAX_INCOMING_PAGE_SIZE = 10_000


def _bool(value: str) -> bool:
    return value.strip().lower() not in {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    """Documentation of one setting: its environment variable and what it does."""

    env: str
    help: str


@dataclass
class Config:
    """The service's settings. Field metadata names the environment variable of each."""

    data_dir: Path = field(
        default=PROJECT_ROOT / "var" / "data",
        metadata={"setting": Setting("KG_DATA_DIR", "Directory of the embedded store (created if missing).")},
    )
    ontology_dir: Path = field(
        default=PROJECT_ROOT / "ontology",
        metadata={"setting": Setting("KG_ONTOLOGY_DIR", "Directory holding the vocabulary, shapes and facts.")},
    )
    queries_dir: Path = field(
        default=PROJECT_ROOT / "queries",
        metadata={"setting": Setting("KG_QUERIES_DIR", "Directory of named SPARQL queries (*.rq).")},
    )
    namespace: str = field(
        default=DEFAULT_NAMESPACE,
        metadata={"setting": Setting("KG_NAMESPACE", "Canonical namespace of every IRI the graph mints.")},
    )
    store: str = field(
        default="embedded",
        metadata={"setting": Setting("KG_STORE", "'embedded' (pyoxigraph on disk) or 'remote' (a SPARQL endpoint).")},
    )
    sparql_endpoint: str | None = field(
        default=None,
        metadata={"setting": Setting("KG_SPARQL_ENDPOINT", "Query endpoint of the remote store.")},
    )
    sparql_update_endpoint: str | None = field(
        default=None,
        metadata={"setting": Setting("KG_SPARQL_UPDATE_ENDPOINT", "Update endpoint of the remote store.")},
    )
    version_ttl: float = field(
        default=0.0,
        metadata={"setting": Setting("KG_VERSION_TTL",
                                     "Seconds a replica over a remote store trusts the graph version it "
                                     "read last (0: each request reads it once, so a write through another "
                                     "replica is seen by the next request).")},
    )
    sparql_transport: str = field(
        default="auto",
        metadata={"setting": Setting("KG_SPARQL_TRANSPORT",
                                     "How queries reach the remote store: 'post' (the query as the body), "
                                     "'form' (form-encoded POST), 'get', or 'auto' (tried at start in that "
                                     "order, the first that answers is kept). Updates are posted: form-encoded "
                                     "unless queries go as 'post'.")},
    )
    sparql_auth: str = field(
        default="basic",
        metadata={"setting": Setting("KG_SPARQL_AUTH",
                                     "HTTP authentication with KG_SPARQL_USER/KG_SPARQL_PASSWORD: 'basic' (sent "
                                     "with every request) or 'digest' (answered when the endpoint asks).")},
    )
    sparql_user: str | None = field(
        default=None,
        metadata={"setting": Setting("KG_SPARQL_USER",
                                     "User name for the remote store's endpoints (HTTP Basic or Digest).")},
    )
    # repr=False: a Config printed in a log or a traceback must not carry the secrets.
    sparql_password: str | None = field(
        default=None, repr=False,
        metadata={"setting": Setting("KG_SPARQL_PASSWORD",
                                     "Password for KG_SPARQL_USER; read from the environment only, never logged "
                                     "or shown.")},
    )
    sparql_token: str | None = field(
        default=None, repr=False,
        metadata={"setting": Setting("KG_SPARQL_TOKEN",
                                     "Bearer token sent to the remote store's endpoints (instead of a user and "
                                     "password); never logged or shown.")},
    )
    admin_token: str | None = field(
        default=None,
        metadata={"setting": Setting("KG_ADMIN_TOKEN", "Bearer token for writes; unset means no writes at all.")},
    )
    query_timeout: float = field(
        default=10.0,
        metadata={"setting": Setting("KG_QUERY_TIMEOUT", "Time limit of one query or SPARQL update, in seconds.")},
    )
    max_rows: int = field(
        default=10_000,
        metadata={"setting": Setting("KG_MAX_ROWS", "Row cap of one query's results.")},
    )
    incoming_page_size: int = field(
        default=DEFAULT_INCOMING_PAGE_SIZE,
        metadata={"setting": Setting(
            "KG_INCOMING_PAGE_SIZE",
            f"Incoming links on one page of a description (1 to {MAX_INCOMING_PAGE_SIZE:,}); past it, "
            "the description is paged (?incoming=N).")},
    )
    max_body: int = field(
        default=1_000_000,
        metadata={"setting": Setting("KG_MAX_BODY", "Largest accepted request body, in bytes.")},
    )
    min_timeout: float = field(
        default=0.5,
        metadata={"setting": Setting("KG_MIN_TIMEOUT",
                                     "Floor of a request's own time limit (timeout=), in seconds: a smaller "
                                     "value is raised to it, so no request can ask to be stopped at once.")},
    )
    max_result_bytes: int = field(
        default=16 * 1024**2,
        metadata={"setting": Setting("KG_MAX_RESULT_BYTES",
                                     "Byte cap of one answer's body; a longer answer is cut and flagged "
                                     "as a row-capped one is (X-KG-Truncated).")},
    )
    max_query_length: int = field(
        default=100_000,
        metadata={"setting": Setting("KG_MAX_QUERY_LENGTH",
                                     "Longest accepted SPARQL query, in characters (updates: KG_MAX_BODY).")},
    )
    max_query_depth: int = field(
        default=64,
        metadata={"setting": Setting("KG_MAX_QUERY_DEPTH",
                                     "Deepest accepted nesting of brackets in a query or update; also bounds "
                                     "operator chains (64 operators per level).")},
    )
    require_confinement: bool = field(
        default=False,
        metadata={"setting": Setting("KG_REQUIRE_CONFINEMENT",
                                     "Refuse to start where the operating system offers no way to keep the "
                                     "query evaluators off the network (otherwise: a warning).")},
    )
    public_base: str | None = field(
        default=None,
        metadata={"setting": Setting("KG_PUBLIC_BASE",
                                     "Address this deployment is reached at (default: the request's host).")},
    )
    cache: bool = field(
        default=True,
        metadata={"setting": Setting("KG_CACHE", "Result cache keyed by the graph's version ('off' to disable).")},
    )
    cache_size: int = field(
        default=1024,
        metadata={"setting": Setting("KG_CACHE_SIZE", "Entries in the result cache.")},
    )
    query_workers: int = field(
        default=2,
        metadata={"setting": Setting("KG_QUERY_WORKERS",
                                     "Threads of the evaluator that reads the store directory (killable at "
                                     "the deadline); it answers while the in-memory copy loads, or always "
                                     "with KG_QUERY_ENGINE=disk.")},
    )
    query_engine: str = field(
        default="memory",
        metadata={"setting": Setting("KG_QUERY_ENGINE",
                                     "'memory': reads are answered from a copy of the embedded store held in "
                                     "memory, which applies each write as the store does (reloaded only after "
                                     "a kill or a bulk load); 'disk': from the store on disk.")},
    )
    # 8, not 4: on two cores under eight clients, the 100k mix ran 3-7% faster in every alternating run
    # (sessions 13, 14, 17 of bench/notes.md): no request waits in the HTTP worker for a free thread, and
    # the engine spent less CPU a query. The price: eight queries share KG_WORKER_MEMORY, and a kill at
    # one deadline stops (and retries) up to seven beside it.
    query_threads: int = field(
        default=8,
        metadata={"setting": Setting("KG_QUERY_THREADS",
                                     "Queries the in-memory engine evaluates at once.")},
    )
    worker_memory: int = field(
        default=DEFAULT_WORKER_MEMORY,
        metadata={"setting": Setting("KG_WORKER_MEMORY",
                                     "Heap limit of one query worker process, of the in-memory "
                                     "engine (its copy included) and of a SPARQL update's process, "
                                     "in bytes (0: none).")},
    )
    host: str = field(default="127.0.0.1", metadata={"setting": Setting("KG_HOST", "Address to listen on.")})
    port: int = field(default=8000, metadata={"setting": Setting("KG_PORT", "Port to listen on.")})
    workers: int = field(
        default=1,
        metadata={"setting": Setting("KG_WORKERS",
                                     "gunicorn worker processes. Over the embedded store one holds the store "
                                     "and the others answer from their cache or hand requests to it "
                                     "(service/front.py).")},
    )
    worker_class: str = field(
        default="gevent",
        metadata={"setting": Setting(
            "KG_WORKER_CLASS",
            "How a gunicorn worker serves its requests. 'gevent': on one thread, each request yielding to the "
            "others while it waits on a socket or an evaluator (validations and store writes run on a thread "
            "beside it); "
            "'gthread': on KG_THREADS threads sharing the GIL (docs/operations.md).")},
    )
    threads: int = field(
        default=0,
        metadata={"setting": Setting("KG_THREADS", "With KG_WORKER_CLASS=gthread, threads per gunicorn worker "
                                     "(0: KG_QUERY_THREADS + 2, so that cache hits are answered while every "
                                     "evaluator thread is busy).")},
    )
    validate_on_load: bool = field(
        default=True,
        metadata={"setting": Setting(
            "KG_VALIDATE",
            "Validate the shipped graph with SHACL at start (once per content of the files: the verdict "
            "is kept in the data directory).")},
    )

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Config:
        """Defaults, then ``KG_*`` environment variables, then explicit overrides (None values ignored)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            setting: Setting = f.metadata["setting"]
            if setting.env in env:
                try:
                    values[f.name] = _convert(f, env[setting.env])
                except ValueError:
                    raise ValueError(f"{setting.env} must be a number, not {env[setting.env]!r}") from None
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        return cls(**values).normalised()

    def normalised(self) -> Config:
        self.data_dir = Path(self.data_dir)
        self.ontology_dir = Path(self.ontology_dir)
        self.queries_dir = Path(self.queries_dir)
        if not self.namespace.endswith(("/", "#")):
            self.namespace += "/"
        if self.public_base:
            self.public_base = self.public_base.rstrip("/") + "/"
        if self.admin_token == "":
            self.admin_token = None
        if self.store not in {"embedded", "remote"}:
            raise ValueError(f"KG_STORE must be 'embedded' or 'remote', not {self.store!r}")
        if self.worker_class not in {"gevent", "gthread"}:
            raise ValueError(f"KG_WORKER_CLASS must be 'gevent' or 'gthread', not {self.worker_class!r}")
        if self.query_engine not in {"memory", "disk"}:
            raise ValueError(f"KG_QUERY_ENGINE must be 'memory' or 'disk', not {self.query_engine!r}")
        for name in ("min_timeout", "max_result_bytes", "max_query_length", "max_query_depth"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")
        if not 1 <= self.incoming_page_size <= MAX_INCOMING_PAGE_SIZE:
            raise ValueError(f"KG_INCOMING_PAGE_SIZE must be between 1 and {MAX_INCOMING_PAGE_SIZE}, "
                             f"not {self.incoming_page_size!r}")
        if self.min_timeout > self.query_timeout:
            self.min_timeout = self.query_timeout
        if self.threads <= 0:
            self.threads = self.query_threads + SPARE_THREADS
        if self.store == "remote" and not self.sparql_endpoint:
            raise ValueError("the remote store needs KG_SPARQL_ENDPOINT (--endpoint)")
        self._check_remote_credentials()
        return self

    def _check_remote_credentials(self) -> None:
        # The messages name the settings, never their values.
        for name in ("sparql_user", "sparql_password", "sparql_token"):
            if getattr(self, name) == "":
                setattr(self, name, None)
        if self.sparql_transport not in {"auto", "post", "form", "get"}:
            raise ValueError(f"KG_SPARQL_TRANSPORT must be auto, post, form or get, not {self.sparql_transport!r}")
        if self.sparql_auth not in {"basic", "digest"}:
            raise ValueError(f"KG_SPARQL_AUTH must be 'basic' or 'digest', not {self.sparql_auth!r}")
        if (self.sparql_user is None) != (self.sparql_password is None):
            raise ValueError("KG_SPARQL_USER and KG_SPARQL_PASSWORD go together: set both or neither")
        if self.sparql_token is not None and self.sparql_user is not None:
            raise ValueError("set KG_SPARQL_TOKEN or KG_SPARQL_USER/KG_SPARQL_PASSWORD, not both")

    # IRIs derived from the namespace, so that one setting moves all of them together.
    @property
    def vocab_ns(self) -> str:
        return self.namespace + "ontology#"

    @property
    def ontology_iri(self) -> str:
        return self.namespace + "ontology"

    @property
    def id_ns(self) -> str:
        return self.namespace + "id/"

    @property
    def graph_ns(self) -> str:
        return self.namespace + "graph/"

    @staticmethod
    def settings() -> list[tuple[str, Setting, Any]]:
        """(field name, setting, default) of every setting: used by docs and a test that all are documented."""
        out = []
        for f in dataclasses.fields(Config):
            default = f.default if f.default is not dataclasses.MISSING else None
            out.append((f.name, f.metadata["setting"], default))
        return out


def _convert(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind.startswith("Path"):
        return Path(raw)
    if kind.startswith("bool"):
        return _bool(raw)
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    return raw
