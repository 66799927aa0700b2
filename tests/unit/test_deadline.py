"""One deadline per request (kg/query/deadline.py): the store calls a request causes share its time
limit, so a route that runs several queries cannot take several limits; outside a request each call
keeps its own limit, and one request's deadline never reaches another's thread."""

from __future__ import annotations

import threading
import time

import pytest

from kg.query import deadline
from kg.store import StoreTimeout

EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def test_outside_a_request_a_call_keeps_its_own_limit():
    assert deadline.remaining(7.5) == 7.5


def test_the_time_left_shrinks_and_ends_at_zero():
    with deadline.within(0.3):
        first = deadline.remaining(60)
        assert 0 < first <= 0.3
        time.sleep(0.05)
        assert deadline.remaining(60) < first
        assert deadline.remaining(0.01) == 0.01  # a call's own shorter limit still wins
        time.sleep(0.3)
        assert deadline.remaining(60) == 0.0  # never negative: nothing may start
    assert deadline.remaining(60) == 60


def test_an_inner_deadline_never_extends_an_outer_one():
    with deadline.within(0.2):
        with deadline.within(60):
            assert deadline.remaining(60) <= 0.2
    assert deadline.remaining(60) == 60


def test_an_inner_deadline_may_shorten_an_outer_one_for_its_block_only():
    with deadline.within(60):
        with deadline.within(0.1):
            assert deadline.remaining(60) <= 0.1
        assert deadline.remaining(60) > 50


def test_a_deadline_opened_by_a_request_hook_ends_with_its_token():
    token = deadline.start(0.5)
    try:
        assert deadline.remaining(60) <= 0.5
    finally:
        deadline.end(token)
    assert deadline.remaining(60) == 60


def test_one_request_thread_never_sees_another_ones_deadline():
    seen: dict[str, float] = {}
    opened, checked = threading.Event(), threading.Event()

    def short_request() -> None:
        with deadline.within(0.1):
            opened.set()
            checked.wait(5)
            seen["short"] = deadline.remaining(60)

    def other_request() -> None:
        opened.wait(5)
        seen["other"] = deadline.remaining(60)
        checked.set()

    threads = [threading.Thread(target=short_request), threading.Thread(target=other_request)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["other"] == 60 and seen["short"] <= 0.1


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
