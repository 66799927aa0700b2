"""Concurrent readers never see half of a type that a writer adds and removes, over every store,
Virtuoso included (whose readers do not wait for a write: ``docs/remote-stores.md``, Writes).

A few seconds of ``bench/soak.py`` against the shared server; the long run is ``make bench``.
"""

from __future__ import annotations

from bench import soak


def test_readers_never_see_half_a_type_while_a_writer_churns(server, admin_token):
    """A few seconds of bench/soak.py against the shared server: many readers on the query mix and the
    lookup routes, one writer adding and removing a type; every answer 200, every read of the type
    absent or complete."""
    result = soak.run(server.url, admin_token, seconds=3, clients=6, min_type_reads=6)
    assert result.ok, result.report()
    assert result.writes >= 1
    assert result.type_reads["complete"] + result.type_reads["absent"] >= 3, result.report()
