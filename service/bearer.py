"""The admin token as a request carries it: one reading for the app's writes (``service/auth.py``)
and for the front processes (``service/front.py``), which hold no Flask and must refuse the same
requests on their headers alone (``Front._body``).

>>> is_admin("Bearer s3cret", "s3cret"), is_admin("bearer  s3cret ", "s3cret"), is_admin("Basic s3cret", "s3cret")
(True, True, False)
>>> is_admin("Bearer ", ""), is_admin("Bearer x", "")
(False, False)
"""

from __future__ import annotations

import hmac


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; empty for anything else."""
    scheme, _, given = (authorization or "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def is_admin(authorization: str | None, expected: str | None) -> bool:
    """Whether the header carries ``expected`` (never, when no token is configured), compared in
    constant time."""
    given = bearer_token(authorization)
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())
