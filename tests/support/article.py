"""Where the tests find the source article, "Difference Between BPO and KPO".

The article is the project's input, not part of the repository: CI lays it beside the checkout
(``../shared/source/bpo-vs-kpo.txt``), a user's clone has nothing there. One setting says where it
is, ``KG_ARTICLE`` (a file path), defaulting to that CI layout; tests that compare the graph with
the article's words skip, naming the setting, when it cannot be read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTICLE_ENV = "KG_ARTICLE"
DEFAULT_ARTICLE = ROOT.parent / "shared" / "source" / "bpo-vs-kpo.txt"


def article_path() -> Path:
    """The configured location of the article (it may not exist)."""
    value = os.environ.get(ARTICLE_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_ARTICLE


def article_text() -> str:
    """The article's text; skips the calling test, with the reason, when it cannot be read."""
    path = article_path()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        pytest.skip(f"the source article is not at {path} ({exc.strerror or exc}); "
                    f"set {ARTICLE_ENV} to the file 'bpo-vs-kpo.txt' to run this test")
