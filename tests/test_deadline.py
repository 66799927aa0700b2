"""One deadline per request: the store calls a request causes share its time limit (kg.query.deadline),
so a route that runs several queries cannot take several limits."""

from __future__ import annotations

import time

import pytest

from kg.query import deadline
from kg.store import StoreTimeout

EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def test_the_queries_of_one_request_share_its_deadline(kg):
    assert bool(kg.query("ASK { ?s ?p ?o }", timeout=10))  # evaluators started and warm
    started = time.monotonic()
    with deadline.within(1.0):
        with pytest.raises(StoreTimeout):
            list(kg.query(EXPLOSIVE, timeout=10))  # its own limit is 10 s: the request's is 1 s
        with pytest.raises(StoreTimeout, match="before this query could start"):
            kg.query("ASK {}", timeout=10)
    assert time.monotonic() - started < 5
    # Outside a request each call keeps its own limit again.
    assert bool(kg.query("ASK { ?s ?p ?o }", timeout=10))


def test_an_inner_deadline_never_extends_an_outer_one():
    with deadline.within(0.2):
        with deadline.within(60):
            assert deadline.remaining(60) <= 0.2
    assert deadline.remaining(60) == 60
