"""``kg serve``: the HTTP service behind gunicorn."""

from __future__ import annotations

import click

from kg.commands.common import config_options


@click.command()
@click.option("--host", help="Address to listen on [KG_HOST, 127.0.0.1].")
@click.option("--port", type=int, help="Port [KG_PORT, 8000].")
@click.option("--workers", type=int, help="gunicorn worker processes [KG_WORKERS] (1 with the embedded store).")
@click.option("--threads", type=int, help="Threads per worker [KG_THREADS].")
@click.option("--no-cache", is_flag=True, default=None, help="Turn the result cache off [KG_CACHE=off].")
@click.option("--query-timeout", type=float, help="Query time limit in seconds [KG_QUERY_TIMEOUT].")
@click.option("--max-rows", type=int, help="Row cap of one query [KG_MAX_ROWS].")
@config_options
def serve(config, host, port, workers, threads, no_cache, query_timeout, max_rows) -> None:
    """Serve the SPARQL endpoint, linked data, API and pages."""
    from kg.config import Config

    overrides = {"host": host, "port": port, "workers": workers, "threads": threads,
                 "query_timeout": query_timeout, "max_rows": max_rows,
                 "cache": False if no_cache else None}
    config = Config(**{**config.__dict__, **{k: v for k, v in overrides.items() if v is not None}}).normalised()
    _preflight(config)
    from service.server import run

    run(config)


def _preflight(config) -> None:
    """Refuse to start, with the file, line and problem, when the shipped data is broken.

    The worker would refuse too, but gunicorn reports that as "worker failed to boot"; checking here
    puts the reason on the operator's screen and exits with status 1.
    """
    from kg.loader import LoadError, read_checked

    try:
        read_checked(config)
    except LoadError as exc:
        raise click.ClickException(f"cannot start: {exc}") from exc


command = serve
