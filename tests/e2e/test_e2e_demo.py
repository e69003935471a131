"""`inventory demo`, as a new user runs it: the installed command, a private emulator, no AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inventory_cli.local.emulator import process_group_members

INVENTORY = Path(sys.executable).with_name("inventory")

EXPECTED_ALERTS = sorted([
    ("Inventory Alert: Berlin", "Berlin is out of stock of Echo Plus"),
    ("Inventory Alert: Calcutta", "Calcutta is out of stock of Echo (2nd Gen)"),
    ("Inventory Alert: Karachi", "Karachi is out of stock of Echo Plus"),
    ("Inventory Alert: Pusan", "Pusan is out of stock of Echo Show"),
    ("Inventory Alert: Shanghai", "Shanghai is out of stock of Amazon Tap"),
    ("Inventory Alert: Springfield", "Springfield is out of stock of Echo Show"),
])


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "INVENTORY_"))}
    env["INVENTORY_HOME"] = str(tmp_path / "home")
    env["NO_COLOR"] = "1"
    return env


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.e2e
def test_demo_runs_the_whole_pipeline_and_leaves_nothing_running(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run([str(INVENTORY), "demo", "--json"], env=_clean_env(tmp_path),
                            capture_output=True, text=True, timeout=180, check=False)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    demo = json.loads(result.stdout)

    assert (demo["files"], demo["loaded"], demo["rejected"]) == (6, 36, 0)
    # One upload as store Berlin through the endpoint: its row loads, Pusan's is refused.
    store = demo["store_upload"]
    assert (store["store"], store["loaded"], store["rejected_count"]) == ("Berlin", 1, 1)
    assert store["key"].startswith("stores/Berlin/")
    inventory = demo["inventory"]
    assert len(inventory) == 36
    assert [r for r in inventory if r["store"] == "Berlin" and r["item"] == "Echo Plus"] == [
        {"store": "Berlin", "item": "Echo Plus", "count": 0}]
    assert sorted((a["subject"], a["message"]) for a in demo["alerts"]) == EXPECTED_ALERTS
    assert {a["to"] for a in demo["alerts"]} == {"staff@example.com"}
    assert demo["dashboard_url"] == (
        f"{demo['endpoint']}/demo-dashboard-123456789012-us-east-1/index.html")
    # Progress went to stderr, step by step.
    assert "Provisioning stack 'demo'" in result.stderr
    assert "36 rows loaded, 0 rejected" in result.stderr

    # The private emulator and its Lambda workers are gone.
    pid = demo["emulator_pid"]
    assert not _alive(pid)
    assert process_group_members(pid) == []
    # "Finishes in seconds": generous for a loaded 2-core CI machine, still far from minutes.
    assert elapsed < 90


@pytest.mark.e2e
def test_demo_does_not_disturb_a_running_emulator(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    start = subprocess.run([str(INVENTORY), "local", "start", "--port", "0"], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert start.returncode == 0, start.stderr
    try:
        before = json.loads(subprocess.run(
            [str(INVENTORY), "local", "status", "--output", "json"], env=env,
            capture_output=True, text=True, timeout=30, check=True).stdout)
        assert before["running"] is True
        demo = subprocess.run([str(INVENTORY), "demo", "--json"], env=env,
                              capture_output=True, text=True, timeout=180, check=False)
        assert demo.returncode == 0, demo.stderr
        assert json.loads(demo.stdout)["endpoint"] != before["endpoint"]
        after = json.loads(subprocess.run(
            [str(INVENTORY), "local", "status", "--output", "json"], env=env,
            capture_output=True, text=True, timeout=30, check=True).stdout)
        assert (after["running"], after["pid"], after["endpoint"]) == (
            True, before["pid"], before["endpoint"])
    finally:
        subprocess.run([str(INVENTORY), "local", "stop"], env=env, capture_output=True,
                       timeout=60, check=False)
