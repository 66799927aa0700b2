"""The ``kg`` command: the knowledge graph from a terminal.

The CLI is the outermost layer beside ``service/``: each sub-command lives in ``cli/<name>.py``,
exposes ``command`` (or ``commands``), and calls the core in ``kg/``; this module only assembles them.
"""

from __future__ import annotations

import importlib
import sys

import click

#: Each sub-command and the module under ``cli/`` that defines it. A module is imported when its command
#: runs (or ``--help`` lists them all): ``kg serve`` becomes gunicorn's master, and every HTTP worker is a
#: fork of it, so what the other commands import (the graph, rdflib, SHACL) would be held by each of them.
COMMANDS = {
    "serve": "serve", "query": "query", "describe": "describe", "compare": "compare", "validate": "validate",
    "add-type": "extend", "remove-type": "extend", "load": "load", "export": "export",
}


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"cli.{COMMANDS[name]}")
        found = [c for c in getattr(module, "commands", [getattr(module, "command", None)]) if c is not None]
        return next((c for c in found if c.name == name), None)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="outsourcing-kg")
def main() -> None:
    """Query, browse and extend the outsourcing knowledge graph."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
