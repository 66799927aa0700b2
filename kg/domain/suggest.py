"""Closest-term suggestions, so a misspelt property or slug comes back with what was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _local(name: str) -> str:
    for sep in ("#", "/", ":"):
        if sep in name:
            name = name.rsplit(sep, 1)[-1]
    return name.lower()


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word`` (whole IRIs compared by their local names), or None.

    >>> closest("https://w3id.org/outsourcing-kg/ontology#requireSkill",
    ...         ["https://w3id.org/outsourcing-kg/ontology#requiresSkill", "http://x/#label"])
    'https://w3id.org/outsourcing-kg/ontology#requiresSkill'
    >>> closest("zzz", ["label"]) is None
    True
    """
    candidates = list(dict.fromkeys(candidates))
    by_local: dict[str, list[str]] = {}
    for c in candidates:
        by_local.setdefault(_local(c), []).append(c)
    target = _local(word)
    matches = difflib.get_close_matches(target, list(by_local), n=1, cutoff=cutoff)
    if not matches:
        return None
    options = by_local[matches[0]]
    # Same local name in several namespaces: prefer the one sharing the word's namespace.
    prefix = word[: len(word) - len(word.rsplit("#", 1)[-1].rsplit("/", 1)[-1])]
    return next((o for o in options if o.startswith(prefix)), options[0])
