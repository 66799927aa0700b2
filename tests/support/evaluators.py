"""Driving the evaluators directly, as the core does: one job in a batch of its own."""

from __future__ import annotations

from typing import Any

from kg.query.evaluation import Batch, Job, Outcome


def run_one(runner: Any, job: Job, limit: float, *, version: str = "") -> Outcome:
    """The outcome of ``job`` alone, from a ``QueryPool`` (``limit`` in seconds) or an ``Evaluator``
    (``limit`` a ``time.monotonic`` deadline), at ``version`` of the graph."""
    return runner.run(Batch(version, (job,)), limit)[0]
