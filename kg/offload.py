"""Long computations and blocking native calls that must not stop the other requests of a gevent worker.

Under gunicorn's gevent worker (``service/server.py``) every request of the process runs on one thread:
a request waiting on a socket or a pipe lets the others run; a request computing, or blocked in native
code gevent cannot see, does not. Two such things run on a real thread of their own instead, which
takes turns with the requests for the GIL as request threads do under ``gthread``:

- pySHACL's validation of a submission, the longest computation a request makes (tens of
  milliseconds a type; in the soak's write loop, 45% of the worker's time);
- Oxigraph applying the service's own writes to the store (``kg.store.embedded``: a type added or
  removed), opening the store directory, and RocksDB's commit. (A user's SPARQL Update is parsed and
  applied in a process of its own, ``kg.store.update_process``, which the request waits for on a pipe.)

Only such work goes there: nothing that takes a lock, a queue or a pipe the requests also use.
gevent's locks and queues do not reliably wake a waiter on another real thread (a trial that ran
whole writes there left readers waiting for their time limit on the evaluator's queue). Outside a
gevent worker (threads, the CLI, tests) the work runs where it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_thread_pool = None  #: gevent's pool of one thread, made in the worker on first use


def _gevent_worker() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def compute(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, on the computing thread in a gevent worker (one call at a time there),
    else here; its exception is raised here."""
    global _thread_pool
    if not _gevent_worker():
        return fn(*args, **kwargs)
    if _thread_pool is None:
        from gevent.threadpool import ThreadPool

        _thread_pool = ThreadPool(1)
    return _thread_pool.apply(fn, args, kwargs)
