"""The settings (kg/config.py): every one documented where users look; defaults, then ``KG_*``
variables, then command-line flags; values normalised, and a setting that cannot work refused at
start with a message naming it."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.common import config_options
from kg.config import Config
from tests.support.server import ROOT


def test_every_setting_has_a_variable_and_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, setting, _ in Config.settings():
        assert setting.env.startswith("KG_") and setting.help, name
        assert f"`{setting.env}`" in readme, f"{setting.env} is not documented in README.md"


def test_variables_then_overrides():
    env = {"KG_QUERY_TIMEOUT": "2.5", "KG_MAX_ROWS": "7", "KG_CACHE": "off", "KG_ADMIN_TOKEN": ""}
    config = Config.from_env({"max_rows": 9}, environ=env)
    assert config.query_timeout == 2.5 and config.max_rows == 9 and config.cache is False
    assert config.admin_token is None  # an empty token is no token: writes stay refused


def test_variables_arrive_as_the_type_of_their_setting():
    config = Config.from_env(environ={"KG_DATA_DIR": "/srv/kg", "KG_PORT": "8080", "KG_QUERY_TIMEOUT": "0.75",
                                      "KG_VALIDATE": "no", "KG_ADMIN_TOKEN": "s3cret"})
    assert (config.data_dir, config.port, config.query_timeout, config.validate_on_load, config.admin_token) == (
        Path("/srv/kg"), 8080, 0.75, False, "s3cret")


@pytest.mark.parametrize(("raw", "expected"), [
    ("off", False), ("OFF", False), ("0", False), ("false", False), ("no", False), ("", False), (" No ", False),
    ("on", True), ("1", True), ("yes", True), ("true", True), ("TRUE", True),
])
def test_a_switch_reads_the_usual_words(raw, expected):
    assert Config.from_env(environ={"KG_CACHE": raw}).cache is expected


def test_without_variables_the_defaults_hold_and_other_variables_are_ignored():
    config = Config.from_env(environ={"PATH": "/bin", "QUERY_TIMEOUT": "1", "kg_max_rows": "1"})
    assert (config.store, config.query_timeout, config.max_rows, config.cache) == ("embedded", 10.0, 10_000, True)


def test_an_override_left_unset_keeps_the_variable():
    # A flag the user did not give arrives as None: it must not erase what the environment says.
    config = Config.from_env({"max_rows": None, "store": None}, environ={"KG_MAX_ROWS": "5"})
    assert config.max_rows == 5 and config.store == "embedded"


def test_the_namespace_moves_every_derived_iri():
    config = Config.from_env(environ={"KG_NAMESPACE": "https://example.org/kg"})
    assert config.namespace == "https://example.org/kg/"
    assert (config.vocab_ns, config.id_ns, config.graph_ns, config.ontology_iri) == (
        "https://example.org/kg/ontology#", "https://example.org/kg/id/", "https://example.org/kg/graph/",
        "https://example.org/kg/ontology")
    assert Config.from_env(environ={"KG_NAMESPACE": "urn:x:kg#"}).namespace == "urn:x:kg#"


def test_the_public_base_always_ends_with_one_slash():
    assert Config.from_env(environ={"KG_PUBLIC_BASE": "https://kg.example//"}).public_base == "https://kg.example/"


def test_a_minimum_time_limit_above_the_limit_is_lowered_to_it():
    config = Config.from_env(environ={"KG_QUERY_TIMEOUT": "0.2", "KG_MIN_TIMEOUT": "1"})
    assert config.min_timeout == 0.2


@pytest.mark.parametrize(("env", "named"), [
    ({"KG_STORE": "nosql"}, "KG_STORE"),
    ({"KG_QUERY_ENGINE": "gpu"}, "KG_QUERY_ENGINE"),
    ({"KG_WORKER_CLASS": "sync"}, "KG_WORKER_CLASS"),
    ({"KG_WORKER_CLASS": "GEVENT"}, "KG_WORKER_CLASS"),
    ({"KG_STORE": "remote"}, "KG_SPARQL_ENDPOINT"),
    ({"KG_MAX_QUERY_DEPTH": "0"}, "max_query_depth"),
    ({"KG_MAX_QUERY_LENGTH": "-1"}, "max_query_length"),
    ({"KG_MAX_RESULT_BYTES": "0"}, "max_result_bytes"),
    ({"KG_MIN_TIMEOUT": "0"}, "min_timeout"),
    ({"KG_INCOMING_PAGE_SIZE": "0"}, "KG_INCOMING_PAGE_SIZE"),
    ({"KG_INCOMING_PAGE_SIZE": "10001"}, "KG_INCOMING_PAGE_SIZE"),
])
def test_a_setting_that_cannot_work_is_refused_naming_it(env, named):
    with pytest.raises(ValueError, match=named):
        Config.from_env(environ=env)


@pytest.mark.parametrize(("env", "named"), [({"KG_MAX_ROWS": "lots"}, "KG_MAX_ROWS"),
                                            ({"KG_QUERY_TIMEOUT": "10s"}, "KG_QUERY_TIMEOUT")])
def test_a_variable_that_is_not_a_number_is_refused_naming_it(env, named):
    with pytest.raises(ValueError, match=named):
        Config.from_env(environ=env)


# -- command-line flags (cli/common.py) -----------------------------------------------------------

@click.command()
@config_options
def show(config: Config) -> None:
    """Print the settings a command received."""
    click.echo(json.dumps({"store": config.store, "endpoint": config.sparql_endpoint,
                           "namespace": config.namespace, "data_dir": str(config.data_dir)}))


def _invoke(args: list[str], env: dict[str, str]):
    # Only the variables given here: none of the developer's own KG_* settings leak in.
    clean: dict[str, str | None] = {setting.env: None for _, setting, _ in Config.settings()}
    return CliRunner().invoke(show, args, env={**clean, **env})


def test_flags_win_over_variables_which_win_over_defaults(tmp_path):
    result = _invoke(["--store", "remote", "--endpoint", "http://127.0.0.1:7878/query", "--data-dir", str(tmp_path)],
                     {"KG_STORE": "embedded", "KG_NAMESPACE": "https://example.org/kg/", "KG_DATA_DIR": "/elsewhere"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"store": "remote", "endpoint": "http://127.0.0.1:7878/query",
                                         "namespace": "https://example.org/kg/", "data_dir": str(tmp_path)}


@pytest.mark.parametrize(("args", "message"), [
    (["--store", "remote"], "KG_SPARQL_ENDPOINT"),
    (["--store", "nosql"], "'nosql' is not one of 'embedded', 'remote'"),
])
def test_flags_that_cannot_work_are_a_usage_error_naming_the_setting(args, message):
    result = _invoke(args, {})
    assert result.exit_code == 2 and message in result.output, result.output
