"""``kg serve``: the HTTP service behind gunicorn."""

from __future__ import annotations

import click

from cli.common import config_options


@click.command()
@click.option("--host", help="Address to listen on [KG_HOST, 127.0.0.1].")
@click.option("--port", type=int, help="Port [KG_PORT, 8000].")
@click.option("--workers", type=int, help="gunicorn worker processes [KG_WORKERS].")
@click.option("--worker-class", type=click.Choice(["gevent", "gthread"]),
              help="How a worker serves its requests [KG_WORKER_CLASS, gevent].")
@click.option("--threads", type=int, help="Threads per worker with --worker-class gthread [KG_THREADS].")
@click.option("--no-cache", is_flag=True, default=None, help="Turn the result cache off [KG_CACHE=off].")
@click.option("--query-timeout", type=float, help="Query time limit in seconds [KG_QUERY_TIMEOUT].")
@click.option("--max-rows", type=int, help="Row cap of one query [KG_MAX_ROWS].")
@config_options
def serve(config, host, port, workers, worker_class, threads, no_cache, query_timeout, max_rows) -> None:
    """Serve the SPARQL endpoint, linked data, API and pages."""
    from kg.config import Config

    overrides = {"host": host, "port": port, "workers": workers, "worker_class": worker_class,
                 "threads": threads,
                 "query_timeout": query_timeout, "max_rows": max_rows,
                 "cache": False if no_cache else None}
    config = Config(**{**config.__dict__, **{k: v for k, v in overrides.items() if v is not None}}).normalised()
    _preflight(config)
    _check_confinement(config)
    from service.server import run

    run(config)


def _preflight(config) -> None:
    """Refuse to start, with the file, line and problem, when the shipped data is broken.

    The worker would refuse too, but gunicorn reports that as "worker failed to boot"; checking here
    puts the reason on the operator's screen and exits with status 1. The check runs in a forked
    child: parsing and SHACL validation grow a process by about 25 MB that this process, which
    becomes gunicorn's master, would otherwise hold for its whole life.
    """
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: check, report, exit without running the parent's cleanup
        os.close(read_end)
        code = 0
        try:
            from kg.ontology.loader import LoadError, read_checked

            try:
                read_checked(config)
            except LoadError as exc:
                os.write(write_end, str(exc).encode("utf-8", "replace"))
                code = 1
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
            code = 2
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        message = reader.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise click.ClickException(f"cannot start: {message or 'the data check failed'}")


def _check_confinement(config) -> None:
    """Whether this system can keep the query evaluators off the network (``kg.safety.confine``): a warning
    when not, or a refusal to start when ``KG_REQUIRE_CONFINEMENT`` says it must."""
    import logging

    from kg.safety import confine

    if config.store != "embedded":
        return  # the remote store's engine is not ours to confine; the pre-check guards it
    result = confine.probe()
    if result.confined:
        return
    message = f"the query evaluators cannot be kept off the network on this system: {result.reason}"
    if config.require_confinement:
        raise click.ClickException(f"cannot start: {message} (KG_REQUIRE_CONFINEMENT is set)")
    logging.getLogger("kg.serve").warning("%s; SERVICE and LOAD are refused by the pre-check only", message)
    click.echo(f"warning: {message}", err=True)


command = serve
