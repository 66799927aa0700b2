"""Deadlines for the remote store's queries: a watchdog per query, one alarm thread per process.

A socket timeout bounds each read from the endpoint, not the query: an endpoint that sends a byte every
so often would hold a reader for ever. A ``Watchdog`` shuts the query's connection at its deadline, so
that a blocked read fails at once (``kg.store.remote`` then reports ``StoreTimeout``). Every watchdog of
the process waits in one heap, watched by one thread (``_Alarms``), rather than a timer thread each.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import os
import socket
import threading
import time


class Watchdog:
    """Shuts a connection's socket when a query's time is up (from the alarm thread): a blocked read
    then fails at once, however the endpoint spaces its bytes. Once ``cancel`` returns it never fires."""

    def __init__(self, timeout: float):
        self.fired = False
        self.cancelled = False
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        _ALARMS.add(time.monotonic() + max(0.0, timeout), self)

    def watch(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._conn = conn
            fired = self.fired
        if fired:
            self._shut(conn)

    def fire(self) -> None:
        with self._lock:
            if self.cancelled:
                return
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
        with self._lock:
            self.cancelled = True
        _ALARMS.dropped()


class _Alarms:
    """One thread that fires every watchdog of the process at its time. A timer thread per query cost
    more than the query at small sizes: starting a thread waits for it to run (0.6 ms a query in a
    profile of the mix over a remote Oxigraph, two per request with the version read)."""

    #: Cancelled watchdogs left in the heap before it is swept of them (most are cancelled long before
    #: their time: a query's limit is seconds, its answer milliseconds).
    SWEEP = 1024

    def __init__(self) -> None:
        self._fresh()
        # A forked child (gunicorn's workers) has no alarm thread, and may hold a copy of the lock
        # taken at the moment of the fork: it starts afresh.
        os.register_at_fork(after_in_child=self._fresh)

    def _fresh(self) -> None:
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    def add(self, when: float, dog: Watchdog) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), dog))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="kg-remote-watchdog")
                self._thread.start()
            elif self._heap[0][2] is dog:
                self._cond.notify()  # sooner than what the thread is waiting for

    def dropped(self) -> None:
        with self._cond:
            self._cancelled += 1
            if self._cancelled > self.SWEEP and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                        self._cancelled = max(0, self._cancelled - 1)
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        dog = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
            dog.fire()


_ALARMS = _Alarms()
