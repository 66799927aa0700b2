"""Credentials for the remote store: HTTP Basic, Digest and a bearer token, from settings.

Its own module because a secret needs care everywhere it goes: it is sent only to the configured
endpoints, answered on the thread's kept-alive connection (Digest), and never appears in a message,
a log line or a ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import urllib.parse
import urllib.request

from SPARQLWrapper import BASIC, SPARQLWrapper

from kg.config import Config
from kg.store.base import StoreUnavailable


class CredentialsRefused(StoreUnavailable):
    """The endpoint refused the configured credentials, or wants some and none are configured.

    A ``StoreUnavailable``: the service cannot use its store until an operator fixes the settings,
    which is what a 503 and the server log say. The message names settings, never their values."""


# -- credentials ---------------------------------------------------------------------------------
class Credentials:
    """What proves who the service is to the endpoints: a user and password (Basic, or Digest when
    the endpoint asks) or a bearer token. ``repr`` shows the kind only."""

    def __init__(self, kind: str | None, user: str | None = None, password: str | None = None,
                 token: str | None = None):
        self.kind = kind
        self._user, self._password, self._token = user, password, token

    @classmethod
    def from_config(cls, config: Config) -> Credentials:
        if config.sparql_token:
            return cls("bearer", token=config.sparql_token)
        if config.sparql_user is not None and config.sparql_password is not None:
            return cls(config.sparql_auth, user=config.sparql_user, password=config.sparql_password)
        return cls(None)

    def __repr__(self) -> str:
        return f"<credentials: {self.kind or 'none'}>"

    def apply(self, wrapper: SPARQLWrapper) -> None:
        """Basic and bearer go on every request, through SPARQLWrapper's own headers. Digest is not
        given to SPARQLWrapper: it would install a process-wide urllib opener, which this store does
        not use; ``_send`` answers the challenge instead."""
        if self.kind == "basic":
            wrapper.setHTTPAuth(BASIC)
            wrapper.setCredentials(self._user, self._password)
        elif self.kind == "bearer":
            wrapper.addCustomHttpHeader("Authorization", f"Bearer {self._token}")

    def digest_for(self, local: threading.local) -> Digest | None:
        """This thread's Digest state (its nonce and count), made on first use."""
        if self.kind != "digest":
            return None
        state = getattr(local, "digest", None)
        if state is None:
            state = local.digest = Digest(self._user or "", self._password or "")
        return state

    def redact(self, text: str) -> str:
        """``text`` (an endpoint's error message) without the secrets in any form an echo of the request
        could carry them: as given, %-encoded (a URL, a form), and as a Basic header (base64)."""
        secrets = [s for s in (self._password, self._token) if s]
        if self._user is not None and self._password:
            secrets.append(base64.b64encode(f"{self._user}:{self._password}".encode()).decode())
        secrets += [encoded for s in secrets
                    for encoded in (urllib.parse.quote(s), urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s))]
        for secret in sorted(set(secrets), key=len, reverse=True):  # the longest first: one may hold another
            text = text.replace(secret, "***")
        return text


class Digest:
    """HTTP Digest (RFC 7616, qop=auth, MD5 or SHA-256, -sess or not) for one thread.

    After the first challenge every request carries an answer at once, with the nonce count raised,
    so a kept-alive connection is not challenged on each request; a stale nonce gets one new try."""

    _HASHES = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256",
               "SHA-512-256": "sha512_256", "SHA-512-256-SESS": "sha512_256"}

    def __init__(self, user: str, password: str):
        self._user, self._password = user, password
        self._challenge: dict[str, str] | None = None
        self._count = 0

    def __repr__(self) -> str:
        return "<digest state>"

    def challenged(self, headers: list[str]) -> bool:
        """Take the endpoint's Digest challenge; False when it offers none this class can answer."""
        for header in headers:
            scheme, _, rest = header.strip().partition(" ")
            if scheme.lower() != "digest":
                continue
            fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(rest))
            fields = {k.lower(): v for k, v in fields.items()}
            if fields.get("algorithm", "MD5").upper() not in self._HASHES or "nonce" not in fields:
                continue
            qop = [q.strip() for q in fields.get("qop", "").split(",") if q.strip()]
            if qop and "auth" not in qop:
                continue  # auth-int only: the body would have to be hashed, not supported
            self._challenge, self._count = fields, 0
            return True
        return False

    def authorization(self, method: str, uri: str) -> str | None:
        chal = self._challenge
        if chal is None:
            return None
        algorithm = chal.get("algorithm", "MD5").upper()
        name = self._HASHES[algorithm]

        def h(text: str) -> str:
            return hashlib.new(name, text.encode("utf-8")).hexdigest()

        self._count += 1
        realm, nonce = chal.get("realm", ""), chal["nonce"]
        cnonce = os.urandom(8).hex()
        nc = f"{self._count:08x}"
        ha1 = h(f"{self._user}:{realm}:{self._password}")
        if algorithm.endswith("-SESS"):
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        qop = "auth" if "qop" in chal else None
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}") if qop else h(f"{ha1}:{nonce}:{ha2}")
        user = self._user.replace("\\", "\\\\").replace('"', '\\"')
        parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
                 f'response="{response}"', f"algorithm={chal.get('algorithm', 'MD5')}"]
        if qop:
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        if "opaque" in chal:
            parts.append(f'opaque="{chal["opaque"]}"')
        return "Digest " + ", ".join(parts)
