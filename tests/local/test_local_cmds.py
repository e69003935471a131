"""`inventory local start|status|stop|outbox` and the emulator's process life cycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from inventory_cli.cli.app import app
from inventory_cli.errors import EmulatorError
from inventory_cli.local import emulator
from inventory_cli.local.state import STATE_FILE

INVENTORY = str(Path(sys.executable).with_name("inventory"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("INVENTORY_HOME", str(home))
    yield home
    emulator.stop(home)  # whatever a failed test left running


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVENTORY_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([INVENTORY, *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_start_status_stop_through_the_installed_command_leaves_no_process(home: Path,
                                                                           probe_zip: bytes
                                                                           ) -> None:
    assert json.loads(_run("local", "status", "--output", "json", home=home).stdout) == {
        "running": False, "home": str(home)}
    started = _run("local", "start", "--port", "0", home=home)
    assert started.returncode == 0, started.stderr
    status = json.loads(_run("local", "status", "--output", "json", home=home).stdout)
    assert status["running"] is True
    assert status["endpoint"] == f"http://127.0.0.1:{status['port']}"
    assert status["home"] == str(home)
    pid = status["pid"]
    assert started.stdout.splitlines()[0] == (
        f"Started the local emulator at {status['endpoint']} (pid {pid}).")
    text = _run("local", "status", home=home)
    assert text.stdout == (f"The local emulator is running at {status['endpoint']} (pid {pid}, "
                           f"state in {home}).\n")
    # The server outlived the command that started it, and runs a function in a worker.
    lam = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t",
                                region_name="us-east-1").client(
        "lambda", endpoint_url=status["endpoint"])
    iam = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t",
                                region_name="us-east-1").client(
        "iam", endpoint_url=status["endpoint"])
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="probe", Runtime="python3.12", Role=role,
                        Handler="probe.handler", Code={"ZipFile": probe_zip})
    worker = json.loads(lam.invoke(FunctionName="probe", Payload=b"{}")["Payload"].read())["pid"]
    assert emulator.process_group_members(pid) == sorted([pid, worker])

    stopped = _run("local", "stop", home=home)
    assert (stopped.returncode, stopped.stdout) == (0, f"Stopped the local emulator (pid {pid}).\n")
    assert emulator.process_group_members(pid) == []
    assert not _alive(pid) and not _alive(worker)
    assert not (home / STATE_FILE).exists()
    again = _run("local", "stop", home=home)
    assert (again.returncode, again.stdout) == (0, "The local emulator is not running.\n")


def test_start_twice_reuses_the_running_emulator_and_refuses_another_port(home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["local", "start", "--port", "0"])
    assert first.exit_code == 0, first.output
    info = emulator.status(home)
    assert info is not None
    second = runner.invoke(app, ["local", "start", "--port", str(info.port)])
    assert second.exit_code == 0
    assert second.output == (f"The local emulator is running at {info.endpoint} "
                             f"(pid {info.pid}, state in {home}).\n")
    other_port = 45199 if info.port != 45199 else 45198
    third = runner.invoke(app, ["local", "start", "--port", str(other_port)])
    assert third.exit_code == 1
    assert third.output == (f"Error: the local emulator already runs on port {info.port}, "
                            f"not {other_port}\nHint: stop it first with `inventory local "
                            "stop`\n")
    assert runner.invoke(app, ["local", "stop"]).exit_code == 0


def test_a_port_in_use_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    with emulator.start_private(tmp_path / "other") as other:
        result = CliRunner().invoke(app, ["local", "start", "--port", str(other.port)])
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: cannot start the local emulator: port {other.port} is in use\n")
    assert emulator.status(home) is None


def test_a_record_left_by_a_dead_emulator_is_recognised_as_stale(home: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    home.mkdir(parents=True)
    (home / STATE_FILE).write_text(json.dumps({
        "endpoint": "http://127.0.0.1:45150", "pid": dead.pid, "port": 45150,
        "home": str(home), "started_at": "2026-01-01T00:00:00+00:00"}))
    result = CliRunner().invoke(app, ["local", "status"])
    assert (result.exit_code, result.output) == (0, "The local emulator is not running.\n")
    assert not (home / STATE_FILE).exists()


def test_a_recycled_pid_is_never_signalled(home: Path) -> None:
    # The record names a live process that is not our server: stop must leave it alone.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        home.mkdir(parents=True)
        (home / STATE_FILE).write_text(json.dumps({
            "endpoint": "http://127.0.0.1:45151", "pid": bystander.pid, "port": 45151}))
        result = CliRunner().invoke(app, ["local", "stop"])
        assert (result.exit_code, result.output) == (0, "The local emulator is not running.\n")
        assert bystander.poll() is None
    finally:
        bystander.send_signal(signal.SIGKILL)
        bystander.wait()


def test_ensure_running_starts_once_and_says_so_once(home: Path) -> None:
    console = Console(record=True, width=200, color_system=None)
    first = emulator.ensure_running(console=console, home=home, port=0)
    second = emulator.ensure_running(console=console, home=home, port=0)
    assert first == second
    assert console.export_text() == (
        f"Started the local emulator at {first.endpoint} (pid {first.pid}); stop it with "
        "`inventory local stop`.\n")
    emulator.stop(home)
    with pytest.raises(EmulatorError):
        emulator.wait_until_idle(first, timeout_s=1)


def test_the_outbox_is_empty_before_anything_was_sent(home: Path) -> None:
    result = CliRunner().invoke(app, ["local", "outbox"])
    assert (result.exit_code, result.output) == (0, "The outbox is empty.\n")
    as_json = CliRunner().invoke(app, ["local", "outbox", "--output", "json"])
    assert (as_json.exit_code, json.loads(as_json.output)) == (0, [])


def test_a_damaged_outbox_line_is_an_error_naming_file_and_line(home: Path) -> None:
    home.mkdir(parents=True)
    good = {"time": "t", "topic_arn": "arn", "protocol": "email", "to": "a@example.com",
            "subject": "s", "message": "m"}
    (home / "outbox.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    result = CliRunner().invoke(app, ["local", "outbox"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {home / 'outbox.jsonl'}, line 2: not a JSON object")
