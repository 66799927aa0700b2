"""A TCP listener on loopback that records every connection made to it (and the first bytes sent):
the witness of the tests that prove no input makes the server connect anywhere."""

from __future__ import annotations

import socket
import threading
import time


class Listener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def connections(self) -> int:
        return len(self.seen)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(0.2)
                try:
                    self.seen.append(conn.recv(200))
                except OSError:
                    self.seen.append(b"")

    def quiet(self) -> bool:
        """True when nothing connected (after giving a late connection a moment to arrive)."""
        time.sleep(0.1)
        return not self.seen

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
