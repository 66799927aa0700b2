"""What the remote store's error messages may say: an endpoint that echoes the request in its error
(a header, the URL, the form) must not pass the configured secret on to a client or the log."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from kg.store.remote_auth import Credentials

PASSWORD = "pä ss/w+rd=1&x"
TOKEN = "t0k3n/with+plus=="


def _echoes(secret: str, user: str = "writer") -> list[str]:
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return [secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
            f"Authorization: Basic {basic}", f"Authorization: Bearer {secret}",
            f"http://host/sparql?token={urllib.parse.quote(secret)}"]


@pytest.mark.parametrize("kind", ["basic", "digest"])
def test_a_password_is_redacted_in_every_form_an_echo_carries(kind):
    credentials = Credentials(kind, user="writer", password=PASSWORD)
    for echo in _echoes(PASSWORD):
        redacted = credentials.redact(f"400 bad request: {echo} (line 3)")
        assert PASSWORD not in redacted and "***" in redacted, redacted
        for form in _echoes(PASSWORD)[:3]:
            assert form not in redacted, (form, redacted)
        assert base64.b64encode(f"writer:{PASSWORD}".encode()).decode() not in redacted


def test_a_token_is_redacted_as_given_and_percent_encoded():
    credentials = Credentials("bearer", token=TOKEN)
    for echo in _echoes(TOKEN)[:3] + _echoes(TOKEN)[4:]:
        redacted = credentials.redact(echo)
        assert TOKEN not in redacted and urllib.parse.quote(TOKEN, safe="") not in redacted, redacted


def test_a_message_without_a_secret_is_left_as_it_is():
    text = "400 Bad Request: SPARQL syntax error at line 1, column 8"
    assert Credentials("basic", user="writer", password=PASSWORD).redact(text) == text
    assert Credentials(None).redact(text) == text
