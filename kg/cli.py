"""The ``kg`` command: the knowledge graph from a terminal.

Each sub-command lives in ``kg/commands/<name>.py`` and exposes ``command`` (a click command);
this module only assembles them, so a feature brings its own command with it.
"""

from __future__ import annotations

import importlib
import sys

import click

COMMANDS = ("serve", "query", "describe", "compare", "validate", "extend", "load", "export")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="outsourcing-kg")
def main() -> None:
    """Query, browse and extend the outsourcing knowledge graph."""


for _name in COMMANDS:
    try:
        _module = importlib.import_module(f"kg.commands.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"kg.commands.{_name}":
            raise
        continue
    for _command in getattr(_module, "commands", [getattr(_module, "command", None)]):
        if _command is not None:
            main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
