"""Who may write: the bearer of ``KG_ADMIN_TOKEN``, and nobody when it is not set.

The token is compared in constant time and never logged or echoed.
"""

from __future__ import annotations

from flask import request

from service.bearer import bearer_token, is_admin
from service.current import current_kg
from service.errors import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="outsourcing-kg"'}


def require_admin() -> str:
    """Return the writer's identity, or raise 403 (writes disabled) / 401 (no or wrong token)."""
    expected = current_kg().config.admin_token
    if not expected:
        raise Problem(403, "Writes disabled",
                      "this deployment has no admin token configured (KG_ADMIN_TOKEN), so every write is refused")
    authorization = request.headers.get("Authorization")
    if not bearer_token(authorization):
        raise Problem(401, "Unauthorized", "writes need the header 'Authorization: Bearer <admin token>'",
                      headers=_CHALLENGE)
    if not is_admin(authorization, expected):
        raise Problem(401, "Unauthorized", "the bearer token is not valid", headers=_CHALLENGE)
    return "admin"
