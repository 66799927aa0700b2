"""The knowledge graph of the app answering this request, for every blueprint.

Its own module so that blueprints need not import the app factory, which imports them.
"""

from __future__ import annotations

from flask import current_app

from kg.graph import KnowledgeGraph


def current_kg() -> KnowledgeGraph:
    return current_app.extensions["kg"]
