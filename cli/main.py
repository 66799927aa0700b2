"""The ``kg`` command: the knowledge graph from a terminal.

The CLI is the outermost layer beside ``service/``: each sub-command lives in ``cli/<name>.py``,
exposes ``command`` (or ``commands``), and calls the core in ``kg/``; this module only assembles them.
"""

from __future__ import annotations

import sys

import click

from cli import compare, describe, export, extend, load, query, serve, validate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="outsourcing-kg")
def main() -> None:
    """Query, browse and extend the outsourcing knowledge graph."""


for _module in (serve, query, describe, compare, validate, extend, load, export):
    for _command in getattr(_module, "commands", [getattr(_module, "command", None)]):
        if _command is not None:
            main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
