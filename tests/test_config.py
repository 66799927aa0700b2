"""Every setting is documented where users look, and reaches the service from its variable."""

from __future__ import annotations

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
