"""`inventory local start --ddb-write-limit N` (or INVENTORY_LOCAL_DDB_WRITE_LIMIT)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inventory_cli.cli.app import app
from inventory_cli.local import emulator


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("INVENTORY_HOME", str(home))
    monkeypatch.delenv("INVENTORY_LOCAL_DDB_WRITE_LIMIT", raising=False)
    yield home
    emulator.stop(home)


def test_the_write_limit_option_reaches_the_server(home: Path) -> None:
    runner = CliRunner()
    started = runner.invoke(app, ["local", "start", "--port", "0", "--ddb-write-limit", "4000"])
    assert started.exit_code == 0, started.output
    assert started.output.splitlines()[1] == (
        "DynamoDB writes are limited to 4000 a second per table.")
    info = emulator.status(home)
    assert info is not None
    assert "DynamoDB writes limited to 4000 a second per table" in info.log_file.read_text()
    assert runner.invoke(app, ["local", "stop"]).exit_code == 0


def test_the_variable_sets_it_too_and_no_limit_is_the_default(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("INVENTORY_LOCAL_DDB_WRITE_LIMIT", "250")
    assert "limited to 250 a second" in runner.invoke(
        app, ["local", "start", "--port", "0"]).output
    assert runner.invoke(app, ["local", "stop"]).exit_code == 0
    monkeypatch.delenv("INVENTORY_LOCAL_DDB_WRITE_LIMIT")
    started = runner.invoke(app, ["local", "start", "--port", "0"])
    assert "limited" not in started.output
    info = emulator.status(home)
    assert info is not None and "limited" not in info.log_file.read_text()
    assert runner.invoke(app, ["local", "stop"]).exit_code == 0


def test_a_limit_below_one_is_a_usage_error(home: Path) -> None:
    result = CliRunner().invoke(app, ["local", "start", "--ddb-write-limit", "0"])
    assert result.exit_code == 2
    assert emulator.status(home) is None
