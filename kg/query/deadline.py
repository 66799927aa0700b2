"""One deadline per request, shared by every store call the request causes.

Why: a page or an API answer runs several queries (a lookup, its labels, its evidence); giving
each its own full time limit would let one request run for several limits. The service opens a
deadline when a request starts (``within``); every evaluation under it gets what is left
(``remaining``), and none starts once it has passed. Outside a request (the CLI, loading) there
is no deadline and each call keeps its own limit.

It is a context variable, so each request thread sees its own.

>>> with within(5.0):
...     0 < remaining(10.0) <= 5.0
True
>>> remaining(10.0)
10.0
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("kg_request_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block under a deadline ``seconds`` from now (an outer, earlier deadline stays)."""
    token = _deadline.set(_earliest(time.monotonic() + seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def start(seconds: float) -> object:
    """Open a deadline without a block (a request hook); ``end`` with the token it returns."""
    return _deadline.set(_earliest(time.monotonic() + seconds))


def end(token: object) -> None:
    _deadline.reset(token)  # type: ignore[arg-type]


def remaining(limit: float) -> float:
    """The time a call may take: its own ``limit``, or less when the request's deadline is nearer
    (0 once it has passed)."""
    deadline = _deadline.get()
    if deadline is None:
        return limit
    return max(0.0, min(limit, deadline - time.monotonic()))


def _earliest(candidate: float) -> float:
    current = _deadline.get()
    return candidate if current is None else min(current, candidate)
