"""The largest texts the pre-check's default bounds accept (kg/query/precheck.py) are safe for an
evaluator's stack: each is evaluated in a process of its own, as the evaluators do.

Slow (a process per text): the rest of the pre-check's tests, which start nothing, are in the fast
tier, ``tests/unit/test_precheck.py``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kg.query.precheck import Bounds, analyse
from tests.support.server import ROOT
from tests.unit.test_precheck import CHAINS, NESTINGS


@pytest.mark.slow
def test_what_the_bounds_let_through_does_not_crash_an_evaluator():
    """The largest texts the default bounds accept, evaluated as the evaluators do (in a thread with
    the evaluator's stack): no process dies of a signal. Oxigraph crashes on about 1,000 nested
    CONCATs or 8,000 '+' on an 8 MiB stack; the bounds must sit far below. A text that is merely slow
    (a 4,000-step path) is stopped by the time limit in service, and here by ours: that is no crash."""
    bounds = Bounds()
    texts = [NESTINGS[name](bounds.max_depth - 2) for name in sorted(NESTINGS)]
    texts += [CHAINS[name](bounds.max_operators - 10) for name in sorted(CHAINS)]
    script = textwrap.dedent("""
        import sys, pyoxigraph as ox
        from kg.query.evaluator_process import start_evaluating_threads
        text = sys.stdin.read()
        def run():
            try:
                result = ox.Store().query(text)
                if not isinstance(result, ox.QueryBoolean):
                    list(result)
            except (SyntaxError, OSError, RuntimeError, ValueError):
                pass
            print("survived")
        for thread in start_evaluating_threads([(run, ())]):
            thread.join()
    """)
    for text in texts:
        analyse(text, {}, bounds=bounds)  # accepted: so it must be safe to evaluate
        try:
            done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                                  timeout=5, input=text)
        except subprocess.TimeoutExpired:
            continue
        assert done.returncode == 0 and "survived" in done.stdout, (text[:80], done.returncode, done.stderr[-500:])
