"""A user's SPARQL Update to the embedded store, applied in a process the server can kill.

Why: Oxigraph cannot stop an update once it runs, any more than a query (``docs/engine-facts.md``),
and an update's ``WHERE`` can run as long as any query, or fill memory. So the server hands the
store directory over for the time of one update (``EmbeddedStore.update``): it lets go of its
read-write open, reading from a read-only one meanwhile, and runs the update here, under the
request's deadline and the evaluators' memory limit. Past the deadline this process is killed, and
RocksDB keeps nothing of the update: the update and its version bump commit as one transaction or
not at all. Like an evaluator, it confines itself before it opens anything (``LOAD`` cannot fetch),
and it parses on a large stack (Oxigraph's parser recurses). Run as ``python -m kg.store.update_process``.

Each process is started one update ahead (``_Spare``), once the update before has finished: it starts
the interpreter, imports the engine, confines itself and sets its memory limit, then waits without
opening anything. The update that takes it pays only for opening the store and applying; starting
a process (50-80 ms of the ~120 an update took) happens between updates. A process serves one
update and ends; the first update of a server starts its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from kg.children import confine_child, limit_memory, outlive_sigterm, start_module, watch_parent
from kg.store.base import StoreError, StoreTimeout, UpdateStopped
from kg.store.directory import open_directory
from kg.store.remote_text import own_syntax_error

log = logging.getLogger(__name__)

#: Stack of the thread that parses and applies the update: as the server's threads have
#: (``service/server.py``), on which the deepest updates the pre-check lets through were measured.
UPDATE_STACK = 32 * 1024**2


@dataclass(frozen=True)
class Request:
    """What the server sends an update process: picklable values only."""

    path: str
    own: str  #: the user's update, as sent
    update: str  #: the user's update and the version bump, one request
    prefixes: dict[str, str]
    seconds: float  #: the time left to the deadline when sent
    memory: int
    require_confinement: bool


class _Started:
    """An update process waiting for its update, and our end of its connection."""

    def __init__(self, memory: int, require_confinement: bool):
        self.settings = (memory, require_confinement)
        theirs, self.conn = Pipe(duplex=True)
        for conn in (theirs, self.conn):
            os.set_blocking(conn.fileno(), True)  # gevent's socketpair is non-blocking; the child reads plainly
        try:
            self.proc = start_module("kg.store.update_process",
                                     [str(theirs.fileno()), str(memory), "1" if require_confinement else "0"],
                                     (theirs.fileno(),))
        except OSError:
            self.conn.close()
            raise
        finally:
            theirs.close()

    def discard(self) -> None:
        """Kill it (whatever it is doing), reap it and close our end."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        self.conn.close()


class _Spare:
    """The process the next update runs in, started once the one before has finished."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: _Started | None = None

    def take(self, memory: int, require_confinement: bool) -> _Started:
        """The waiting process when it was started with these settings and still waits, else a new one."""
        with self._lock:
            taken, self._waiting = self._waiting, None
        if taken is not None and (taken.settings != (memory, require_confinement) or taken.proc.poll() is not None):
            taken.discard()  # another store's settings, or it ended while it waited (killed from outside)
            taken = None
        return taken or _Started(memory, require_confinement)

    def prepare(self, memory: int, require_confinement: bool) -> None:
        """Start the process for the next update, unless one waits already."""
        with self._lock:
            if self._waiting is not None:
                return
            try:
                self._waiting = _Started(memory, require_confinement)
            except OSError as exc:  # none now: the next update starts its own, as the first did
                log.warning("could not start the next update process ahead: %s", exc)


_SPARE = _Spare()


def apply(request: Request, deadline: float) -> tuple[str, str]:
    """Run ``request`` in a process of its own and return its outcome: ``("ok", "")``, or
    ``("syntax" | "error" | "unavailable", message)`` when it was not applied. Raises StoreTimeout
    (stopped at ``deadline``) or UpdateStopped (the process died)."""
    started = _SPARE.take(request.memory, request.require_confinement)
    proc, ours = started.proc, started.conn
    try:
        ours.send_bytes(pickle.dumps(request))
        replies = select.poll()  # cooperative under gevent's worker: other requests go on meanwhile
        replies.register(ours.fileno(), select.POLLIN)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not replies.poll(max(0, math.ceil(remaining * 1000))):
            raise StoreTimeout("the update did not finish within its time limit and was stopped; "
                               "nothing of it was kept")
        return pickle.loads(ours.recv_bytes())
    except (EOFError, OSError):
        code = proc.wait()
        why = {-signal.SIGABRT: "it needed more memory than KG_WORKER_MEMORY allows",
               3: "it could not be kept off the network, which KG_REQUIRE_CONFINEMENT requires"}
        raise UpdateStopped(f"the update stopped the process applying it ({why.get(code, f'exit status {code}')}); "
                            "nothing of it was kept") from None
    finally:
        started.discard()  # reaped before the server opens the directory again: its lock is free by then
        _SPARE.prepare(request.memory, request.require_confinement)


def _run(request: Request) -> tuple[str, str]:
    kwargs = {"prefixes": request.prefixes} if request.prefixes else {}
    try:
        store = open_directory(request.path, within=request.seconds)
        store.update(request.update, **kwargs)
        store.flush()
    except SyntaxError as exc:
        # Said again for the user's text alone: its line and column, not those of the text with the bump.
        return "syntax", own_syntax_error(request.own, request.prefixes, update=True) or str(exc)
    except MemoryError:
        return "error", "the update needed more memory than KG_WORKER_MEMORY allows"
    except StoreError as exc:  # the directory stayed locked: another program holds it
        return "unavailable", str(exc)
    except (OSError, ValueError) as exc:
        return "error", str(exc)
    return "ok", ""


def main(fd: int, memory: int, require_confinement: bool) -> None:
    outlive_sigterm()
    conn = Connection(fd)
    # Everything before the update arrives, so that it waits for none of it.
    confine_child("update", require_confinement)
    limit_memory(memory)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        request: Request = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):  # the server went away, or discarded this process unused
        return
    outcome: list[tuple[str, str]] = []
    threading.stack_size(UPDATE_STACK)
    worker = threading.Thread(target=lambda: outcome.append(_run(request)))
    worker.start()
    worker.join()
    with contextlib.suppress(OSError):
        conn.send_bytes(pickle.dumps(outcome[0] if outcome else ("error", "the update failed")))


if __name__ == "__main__":
    from kg.store import update_process as _module

    _module.main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1")
