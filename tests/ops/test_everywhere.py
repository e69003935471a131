"""What every ops command shares: the no-stack message, a light start-up, colour rules."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from inventory_cli import render
from inventory_cli.aws import Aws
from inventory_cli.ops.query import StockRow

NO_STACK = ("Error: no stack 'inventory' in region us-east-1 (function inventory-check-stock not "
            "found)\nHint: create it with `inventory provision` (or choose another one with "
            "--stack / --region)\n")


@pytest.mark.parametrize("args", [
    ["show"], ["show", "--store", "Berlin"], ["subscribe", "alice@example.com"],
    ["subscriptions"], ["unsubscribe", "alice@example.com"], ["alerts"], ["logs"],
])
def test_no_stack_is_one_clear_error(aws: Aws, args: list[str]) -> None:
    from inventory_cli.cli.app import app

    result = CliRunner().invoke(app, args, obj=aws, env={"COLUMNS": "80"})
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == NO_STACK


def test_another_stack_name_and_region_are_named(session: object) -> None:
    import boto3

    from inventory_cli.cli.app import app

    other = Aws(boto3.session.Session(region_name="eu-central-1"), stack="shop")
    result = CliRunner().invoke(app, ["show"], obj=other)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no stack 'shop' in region eu-central-1 (function "
                                    "shop-check-stock not found)\n")


def test_help_and_option_errors_do_not_import_boto3() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from inventory_cli.cli.app import app\n"
        "r = CliRunner()\n"
        "codes = [r.invoke(app, a).exit_code for a in (['--help'], ['show', '--help'],\n"
        "         ['show', '--output', 'xml'], ['upload'], ['alerts', '--since', 'x'])]\n"
        "print(codes, 'boto3' in sys.modules, 'botocore' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    # `alerts --since x` is refused before any AWS call, too.
    assert out.stdout.strip() == "[0, 0, 2, 2, 2] False False"


def test_low_counts_are_coloured_on_a_terminal_unless_no_color(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [StockRow("Berlin", "Echo Plus", 0), StockRow("Berlin", "Echo Dot", 12)]

    def rendered() -> str:
        out = io.StringIO()
        console = Console(file=out, force_terminal=True, width=60)
        render.stock(console, rows, threshold=0, fmt=render.OutputFormat.table)
        return out.getvalue()

    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = rendered()
    assert coloured.count("\x1b[1;31m") == 2  # the count 0 and its "low" mark; not the 12
    assert "Echo Dot       12" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[1;31m" not in rendered()
    plain = io.StringIO()
    render.stock(Console(file=plain, width=60), rows, threshold=0,
                 fmt=render.OutputFormat.table)
    assert "\x1b" not in plain.getvalue()


def test_default_output_is_a_table_on_a_terminal_and_json_otherwise() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO())
    assert render.resolve_format(None, terminal) is render.OutputFormat.table
    assert render.resolve_format(None, pipe) is render.OutputFormat.json
    assert render.resolve_format(render.OutputFormat.csv, terminal) is render.OutputFormat.csv
