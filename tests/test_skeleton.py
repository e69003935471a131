"""The package's entry point and settings behave as documented."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from inventory_cli.cli.app import app
from inventory_cli.config import Settings, StackNames
from inventory_cli.errors import ConfigError


def test_help_lists_global_options() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for option in ("--stack", "--region", "--profile", "--endpoint-url", "--local", "--debug"):
        assert option in result.output


def test_cli_values_win_over_environment() -> None:
    env = {"INVENTORY_STACK": "from-env", "AWS_REGION": "eu-west-1", "INVENTORY_LOCAL": "1"}
    assert Settings.resolve(environ=env).stack == "from-env"
    assert Settings.resolve(environ=env).local is True
    s = Settings.resolve(stack="cli", region="eu-central-1", environ=env)
    assert (s.stack, s.region) == ("cli", "eu-central-1")
    assert Settings.resolve(environ={}).stack == "inventory"


@pytest.mark.parametrize("bad", ["Shop", "-shop", "shop-", "a" * 26, "shop_1", ""])
def test_bad_stack_names_are_refused(bad: str) -> None:
    if bad == "":
        assert Settings.resolve(stack=bad, environ={}).stack == "inventory"  # empty = not given
        return
    with pytest.raises(ConfigError, match="invalid stack name"):
        Settings.resolve(stack=bad, environ={})


def test_names_fit_aws_limits() -> None:
    names = StackNames(stack="a" * 25, account_id="123456789012", region="ap-southeast-3")
    assert len(names.dashboard_bucket) <= 63
    assert len(names.uploads_bucket) <= 63
    assert names.identity_pool.replace("_", "").isalnum()


def test_bad_stack_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["--stack", "Bad_Name", "status"])
    assert result.exit_code == 2


@pytest.mark.parametrize(("argv", "expected"), [
    (["show", "--local", "--store", "Berlin"], ["--local", "show", "--store", "Berlin"]),
    (["--stack", "shop", "show"], ["--stack", "shop", "show"]),
    (["upload", "a.csv", "--stack", "shop", "--wait"], ["--stack", "shop", "upload", "a.csv",
                                                         "--wait"]),
    (["local", "status", "--region=eu-west-1"], ["--region=eu-west-1", "local", "status"]),
    (["upload", "--", "--local"], ["upload", "--", "--local"]),
    (["--help"], ["--help"]),
])
def test_global_options_may_follow_the_command(argv: list[str], expected: list[str]) -> None:
    from inventory_cli.cli.app import hoist_global_options

    assert hoist_global_options(argv) == expected


def test_the_hoisted_options_are_exactly_the_root_options() -> None:
    import typer

    from inventory_cli.cli.app import GLOBAL_OPTIONS

    root = typer.main.get_command(app)
    declared = {opt: not param.is_flag for param in root.params
                for opt in param.opts if opt.startswith("--") and opt != "--help"}
    assert declared == GLOBAL_OPTIONS


def test_every_package_is_in_the_installed_distribution() -> None:
    """`pip install .` (the quick start) installs only the packages pyproject.toml lists; an
    editable install hides a missing one, so compare the list with the folders."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {str(init.parent.relative_to(root)).replace("/", ".")
             for top in ("inventory_cli", "lambda_src")
             for init in (root / top).rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
