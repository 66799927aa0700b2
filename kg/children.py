"""The child processes that do the server's dangerous work: how one is started and how it begins.

Evaluators (``kg.query.evaluator_process``) and update processes (``kg.store.update_process``) are
the processes the server kills at a deadline. Each is a fresh interpreter (fork+exec, never a bare
fork of the threaded server) and starts the same way: it ignores the SIGTERM meant for its server,
confines itself before it opens anything (``kg.safety.confine``), limits its memory, and ends when
its server is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from kg.config import PROJECT_ROOT


def start_module(module: str, args: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen:
    """``python -m module args...`` in a fresh interpreter that finds this project's packages and
    inherits ``pass_fds``."""
    root = str(PROJECT_ROOT)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen([sys.executable, "-m", module, *args], pass_fds=pass_fds,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": path}, cwd=root)


def confine_child(name: str, required: bool) -> dict:
    """No internet sockets from here on (``kg.safety.confine``). Returns what was achieved, for the
    server to show; exits when confinement is ``required`` and impossible."""
    from kg.safety import confine

    result = confine.confine()
    if not result.confined:
        print(f"kg {name}: cannot confine this process ({result.reason})", file=sys.stderr, flush=True)
        if required:
            os._exit(3)
    return result.as_dict()


def limit_memory(limit: int) -> None:
    try:
        import resource

        if limit > 0:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def outlive_sigterm() -> None:
    """A SIGTERM to the server's whole process group (systemd, a container runtime) asks the server to
    finish what it is answering: the children working for it must not be the first to go. They end
    with their server instead: killed by it, or on their own once it is gone (``watch_parent``)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def watch_parent(parent: int) -> None:
    # A child outliving its server (killed with SIGKILL) would hold memory for nothing.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)
