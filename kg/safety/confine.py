"""Keep a process off the network, by the operating system.

Why: Oxigraph evaluates ``SERVICE`` (and ``LOAD``) by connecting to the target from Rust, where no
Python hook sees it, and its parser reads keywords where a scan in front of it may not
(``docs/engine-facts.md``). So every process that evaluates a query or an update of the embedded
store calls ``confine()`` before it opens the store: from then on the kernel refuses it any socket
but a Unix-domain one, whatever the engine parses. Pipes and Unix sockets (how the server talks to
its evaluators) keep working; sockets the process already holds (a server's listening socket) too.

How: a seccomp filter (``pyseccomp`` over the system's libseccomp) that answers ``socket()`` and
``socketpair()`` with EACCES for every address family but ``AF_UNIX``, and ``io_uring_setup`` with
EPERM (io_uring can open sockets without the ``socket`` system call). It applies to every thread of
the process (TSYNC) and to every process it starts, and cannot be lifted. ``confine()`` then checks
itself: it tries to open an internet socket and reports what happened.

Where the system offers no way to confine (not Linux, no libseccomp), ``confine()`` reports why and
the caller decides: the service warns in its log and on ``/healthz``, or refuses to start when
``KG_REQUIRE_CONFINEMENT`` is set.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Confinement:
    """What ``confine()`` achieved in this process."""

    confined: bool
    method: str = ""  #: e.g. "seccomp"
    reason: str = ""  #: why not, when not

    def as_dict(self) -> dict:
        out: dict = {"confined": self.confined}
        if self.method:
            out["method"] = self.method
        if self.reason:
            out["reason"] = self.reason
        return out


_state: Confinement | None = None


def state() -> Confinement | None:
    """What ``confine()`` did in this process (None: not called)."""
    return _state


def confine() -> Confinement:
    """Refuse this process (all its threads, and its children) every non-Unix socket from now on.

    Idempotent; never raises: the result says whether it worked and, if not, why.
    """
    global _state
    if _state is not None and _state.confined:
        return _state
    try:
        _install_seccomp()
    except Exception as exc:  # noqa: BLE001 - every failure is reported, and the caller decides
        _state = Confinement(False, reason=f"{type(exc).__name__}: {exc}")
        return _state
    _state = _verify("seccomp")
    return _state


def _install_seccomp() -> None:
    if not sys.platform.startswith("linux"):
        raise OSError(f"seccomp is a Linux facility; this system is {sys.platform}")
    import pyseccomp as seccomp

    refuse = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    refuse.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    for call in ("socket", "socketpair"):
        refuse.add_rule(seccomp.ERRNO(errno.EACCES), call, seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    try:
        refuse.add_rule(seccomp.ERRNO(errno.EPERM), "io_uring_setup")
    except Exception:  # noqa: BLE001,S110 - a libseccomp too old to know the call: the kernel too
        pass
    refuse.load()


def _verify(method: str) -> Confinement:
    """Try what the filter must refuse; confined only if the kernel said no."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except PermissionError:
            continue
        except OSError as exc:
            if exc.errno == errno.EAFNOSUPPORT:  # no IPv6 here: nothing to refuse
                continue
            return Confinement(False, reason=f"unexpected error while checking: {exc}")
        probe.close()
        return Confinement(False, reason=f"the filter was loaded but socket({family.name}) still works")
    return Confinement(True, method)


def probe() -> Confinement:
    """Whether a process of this system can be confined, asked of a short-lived child (this process
    stays as it is): what a server checks at start before it relies on it."""
    done = subprocess.run([sys.executable, "-c", "from kg.safety import confine; import json; "
                           "print(json.dumps(confine.confine().as_dict()))"],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=_project_root(), env=_child_env())
    import json

    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Confinement(False, reason=f"the check could not run: {done.stderr.strip()[-300:]}")
    return Confinement(bool(answer.get("confined")), answer.get("method", ""), answer.get("reason", ""))


def _project_root() -> str:
    from kg.config import PROJECT_ROOT

    return str(PROJECT_ROOT)


def _child_env() -> dict:
    import os

    root = _project_root()
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}
