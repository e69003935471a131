"""The end-to-end target: a local emulator of the test's own, or what the environment names.

See the docstring of `test_e2e_pipeline.py` for the variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_target import INVENTORY, Target, clean_env, free_port, unique_stack

from inventory_cli.local.emulator import process_group_members


def _kind() -> str:
    target = os.environ.get("INVENTORY_E2E_TARGET", "").strip().lower()
    if target == "aws":
        return "aws"
    if target not in ("", "local"):
        raise pytest.UsageError(f"INVENTORY_E2E_TARGET={target!r}: use 'aws' or 'local'")
    return "endpoint" if os.environ.get("INVENTORY_E2E_ENDPOINT") else "local"


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@pytest.fixture
def e2e(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> Iterator[Target]:
    """A target with a unique stack name; a local emulator is started and, at the end, stopped.

    The test itself may stop the emulator (the pipeline test does, and checks that); this
    fixture stops it if it still runs and then fails if any process of it is left. On any
    other target the stack is torn down at the end, whatever the test left.
    """
    if not INVENTORY.exists():
        pytest.fail(f"the installed `inventory` command is missing: {INVENTORY}")
    kind = _kind()
    work = tmp_path / "work"
    home = tmp_path / "home"
    work.mkdir()
    # The test process's own boto3 clients: same isolation as the commands'.
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or (kind != "aws" and name.startswith("AWS_")):
            monkeypatch.delenv(name)
    if kind != "aws":
        monkeypatch.setenv("AWS_CONFIG_FILE", str(work / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(work / "no-aws-credentials"))
    target = Target(
        kind=kind, stack=unique_stack(), work=work, home=home,
        env=clean_env(kind, home, work),
        endpoint=os.environ["INVENTORY_E2E_ENDPOINT"].rstrip("/") if kind == "endpoint"
        else None,
        timeout_s=_float_env("INVENTORY_E2E_TIMEOUT", 300.0 if kind == "aws" else 60.0),
        grace_s=_float_env("INVENTORY_E2E_GRACE", 30.0 if kind == "aws" else 5.0),
    )
    # `@pytest.mark.emulator_env(NAME="value")`: settings of the emulator a test starts.
    marker = request.node.get_closest_marker("emulator_env")
    if marker is not None:
        target.env.update({name: str(value) for name, value in marker.kwargs.items()})
    if kind == "local":
        port = free_port()
        started = target.run("local", "start", "--port", str(port), stack=False)
        assert f"Started the local emulator at http://127.0.0.1:{port}" in started.stdout
        status = target.json("local", "status", "--output", "json", stack=False)
        target.endpoint = status["endpoint"]
        target.emulator_pid = int(status["pid"])
    try:
        yield target
    finally:
        if kind == "local":
            _stop_local(target)  # the emulator's state, the stack included, goes with it
        else:
            target.run("teardown", "--yes", expect=None)


def _stop_local(target: Target) -> None:
    status = json.loads(target.run("local", "status", "--output", "json", stack=False,
                                   expect=None).stdout or "{}")
    if status.get("running"):
        target.run("local", "stop", stack=False, expect=None)
    assert target.emulator_pid is not None
    left = process_group_members(target.emulator_pid)
    assert left == [], f"processes of the emulator are still running: {left}"
