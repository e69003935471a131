"""End-to-end: the installed `inventory` command, in subprocesses, against a real endpoint.

Nothing is imported from the tool to drive it: each step runs `inventory ...` (found next to
this interpreter) with an environment cleaned of the caller's AWS_* and INVENTORY_* variables,
its own INVENTORY_HOME under tmp_path, and a unique stack name (`e2e-<random>`).

Where it runs, chosen by environment variables:

- (none) -- the default, and what CI runs: `inventory local start --port <free port>` starts
  an emulator process in the test's INVENTORY_HOME, every command uses `--local`, and the test
  ends with `inventory local stop` and checks that no process of the emulator is left. Only
  here are the local-only parts checked: the outbox (the e-mails and SMS the staff would
  receive) and the emulator's processes.
- `INVENTORY_E2E_ENDPOINT=http://host:port` -- any running endpoint (an emulator started with
  `inventory local start`, a moto server, LocalStack...): commands use `--endpoint-url`;
  nothing is started or stopped, the outbox is not read.
- `INVENTORY_E2E_TARGET=aws` -- real AWS through the default credential chain (AWS_PROFILE,
  AWS_REGION, keys...; those variables are passed on). Creates the stack `e2e-<random>` and
  deletes it. E-mail subscriptions stay pending (nobody clicks the link) and no SMS subscriber
  is created (it would text a real phone), so the outbox part does not apply.
- `INVENTORY_E2E_TIMEOUT` -- seconds to wait for loads, alerts and logs (default 60; 300 on
  AWS). `INVENTORY_E2E_GRACE` -- where the pipeline cannot be asked whether it is idle (any
  endpoint but our emulator), how long to watch for an alert that must not come (default 5;
  30 on AWS).

Run only these: `pytest -m e2e tests/e2e`.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2e_target import Target, loaded_rows, poll, write_csv

from inventory_cli.local.emulator import process_group_members

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "samples").glob("*.csv"))
EMAIL = "ops@example.com"
PHONE = "+4915112345678"

# The six sample stores each have exactly one item at 0.
SAMPLE_ALERTS = [
    ("Berlin", "Echo Plus", 0),
    ("Calcutta", "Echo (2nd Gen)", 0),
    ("Karachi", "Echo Plus", 0),
    ("Pusan", "Echo Show", 0),
    ("Shanghai", "Amazon Tap", 0),
    ("Springfield", "Echo Show", 0),
]
BERLIN = [
    {"store": "Berlin", "item": "Amazon Tap", "count": 15},
    {"store": "Berlin", "item": "Echo (2nd Gen)", "count": 19},
    {"store": "Berlin", "item": "Echo Dot", "count": 12},
    {"store": "Berlin", "item": "Echo Look", "count": 10},
    {"store": "Berlin", "item": "Echo Plus", "count": 0},
    {"store": "Berlin", "item": "Echo Show", "count": 18},
]


def sample_rows() -> list[tuple[str, str, int]]:
    rows = []
    for path in SAMPLES:
        with path.open(newline="", encoding="utf-8") as handle:
            rows += [(r["store"], r["item"], int(r["count"])) for r in csv.DictReader(handle)]
    return rows


def expected_totals() -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "stores": 0})
    for _store, item, count in sample_rows():
        totals[item]["count"] += count
        totals[item]["stores"] += 1
    return dict(totals)


def alert_keys(alerts: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((a["store"], a["item"], a["count"]) for a in alerts)


def load_reports_in_log(text: str) -> dict[str, list[dict[str, Any]]]:
    """The loader's `load_report` lines in `inventory logs load` output, by object key."""
    reports: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in text.splitlines():
        start = line.find("{")
        if start < 0 or '"load_report"' not in line:
            continue
        entry = json.loads(line[start:])
        if entry.get("event") == "load_report":
            reports[entry["source"]["key"]].append(entry)
    return dict(reports)


def copy_samples(target: Target) -> list[str]:
    names = []
    for path in SAMPLES:
        shutil.copy(path, target.work / path.name)
        names.append(path.name)
    return names


# -- the whole pipeline ------------------------------------------------------------------------

def test_pipeline_end_to_end(e2e: Target) -> None:
    assert len(SAMPLES) == 6 and len(sample_rows()) == 36

    # -- the emulator answers (local only) --------------------------------------------------
    if e2e.is_local:
        status = e2e.json("local", "status", "--output", "json", stack=False)
        assert status["running"] is True
        assert status["endpoint"] == e2e.endpoint
        assert status["endpoint"] == f"http://127.0.0.1:{status['port']}"
        assert status["pid"] == e2e.emulator_pid
        assert Path(status["home"]) == e2e.home.resolve()

    # -- provision and subscribe ------------------------------------------------------------
    provisioned = e2e.run("provision")
    assert f"Stack {e2e.stack} " in provisioned.stdout
    assert f"{e2e.stack}-inventory" in provisioned.stdout
    with_sms = e2e.kind != "aws"
    subscribed = e2e.run("subscribe", EMAIL)
    assert EMAIL in subscribed.stdout
    if with_sms:
        subscribed = e2e.run("subscribe", PHONE, "--store", "Berlin")
        assert f"Subscribed {PHONE} (sms) to alerts for Berlin." in subscribed.stdout

    # -- upload the six samples and wait for their load reports ------------------------------
    names = copy_samples(e2e)
    uploaded = e2e.run("upload", "--wait", *names)
    summary = loaded_rows(uploaded.stdout)
    assert summary == {name: ("loaded", 6, 6, 0) for name in names}, uploaded.stdout
    assert sum(loaded for _, _, loaded, _ in summary.values()) == 36

    # -- what the table holds ---------------------------------------------------------------
    assert e2e.json("show", "--store", "Berlin", "--output", "json") == BERLIN
    # The summaries follow the loads within seconds (their mapping waits up to 2 s to fill a
    # batch): the pipeline is settled before the totals are read.
    alerts = e2e.settle(expected_alerts=6)
    totals = e2e.json("show", "--totals", "--output", "json")
    assert {t["item"]: {"count": t["count"], "stores": t["stores"]} for t in totals} \
        == expected_totals()
    assert [t["item"] for t in totals] == sorted(expected_totals())
    everything = e2e.json("show", "--output", "json")
    assert sorted((r["store"], r["item"], r["count"]) for r in everything) \
        == sorted(sample_rows())

    # -- the alerts: six, one per store -----------------------------------------------------
    assert alert_keys(alerts) == SAMPLE_ALERTS
    assert {a["threshold"] for a in alerts} == {0}
    if e2e.is_local:
        check_outbox_after_samples(e2e, alerts)

    # -- an invalid file is refused before anything is sent ----------------------------------
    bad = write_csv(e2e.work / "bad-berlin.csv",
                    [("Berlin", "Echo Dot", 3), ("Berlin", "Echo Look", -1)])
    refused = e2e.run("upload", "--wait", bad.name, expect=1)
    assert "Error: 1 file refused, nothing was sent" in refused.stderr
    assert any(line.split()[:2] == ["bad-berlin.csv", "3"]
               for line in refused.stderr.splitlines()), refused.stderr
    assert "Traceback" not in refused.stderr
    s3 = e2e.boto3_client("s3")
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=e2e.uploads_bucket(), Key=bad.name)
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    assert e2e.json("show", "--store", "Berlin", "--output", "json") == BERLIN

    # -- a restock says nothing; running out again alerts once -------------------------------
    restock = write_csv(e2e.work / "restock-berlin.csv", [("Berlin", "Echo Plus", 5)])
    assert loaded_rows(e2e.run("upload", "--wait", restock.name).stdout) \
        == {restock.name: ("loaded", 1, 1, 0)}
    assert alert_keys(e2e.settle(expected_alerts=6)) == SAMPLE_ALERTS
    berlin = e2e.json("show", "--store", "Berlin", "--output", "json")
    assert {r["item"]: r["count"] for r in berlin}["Echo Plus"] == 5
    if e2e.is_local:
        assert len(e2e.outbox()) == 7

    drop = write_csv(e2e.work / "drop-berlin.csv", [("Berlin", "Echo Plus", 0)])
    assert loaded_rows(e2e.run("upload", "--wait", drop.name).stdout) \
        == {drop.name: ("loaded", 1, 1, 0)}
    alerts = e2e.settle(expected_alerts=7)
    assert alert_keys(alerts) == sorted([*SAMPLE_ALERTS, ("Berlin", "Echo Plus", 0)])
    assert e2e.json("show", "--store", "Berlin", "--output", "json") == BERLIN
    if e2e.is_local:
        newest = e2e.outbox()[7:]
        line = "Berlin is out of stock of Echo Plus"
        assert sorted((m["protocol"], m["to"], m["subject"] or "", m["message"])
                      for m in newest) == [("email", EMAIL, "Inventory Alert: Berlin", line),
                                           ("sms", PHONE, "", line)]

    # -- the loader's log -------------------------------------------------------------------
    def read_log() -> dict[str, list[dict[str, Any]]]:
        return load_reports_in_log(e2e.run("logs", "load", "--since", "1h").stdout)

    loaded_keys = {*names, restock.name, drop.name}
    reports = poll(read_log, lambda r: set(r) >= loaded_keys, e2e.timeout_s,
                   "every load report in the loader's log")
    assert set(reports) == loaded_keys  # the refused file never reached the loader
    for key in names:
        assert [(r["status"], r["rows_read"], r["loaded"]) for r in reports[key]] \
            == [("loaded", 6, 6)], key
    assert [(r["status"], r["loaded"]) for r in reports[drop.name]] == [("loaded", 1)]

    # -- status, teardown, status -----------------------------------------------------------
    e2e.run("status")
    torn = e2e.run("teardown", "--yes")
    assert f"Stack {e2e.stack} deleted" in torn.stdout
    gone = e2e.run("status", expect=1)
    assert f"Error: stack {e2e.stack} does not exist" in gone.stderr

    # -- stop the emulator: nothing of it is left (local only) -------------------------------
    if e2e.is_local:
        assert e2e.emulator_pid is not None
        stopped = e2e.run("local", "stop", stack=False)
        assert stopped.stdout.strip() == f"Stopped the local emulator (pid {e2e.emulator_pid})."
        assert process_group_members(e2e.emulator_pid) == []
        status = e2e.json("local", "status", "--output", "json", stack=False)
        assert status["running"] is False
        assert "pid" not in status


def check_outbox_after_samples(e2e: Target, alerts: list[dict[str, Any]]) -> None:
    """Six e-mails, one per store, and one SMS: only the Berlin-filtered phone's store."""
    outbox = e2e.outbox()
    emails = [m for m in outbox if m["protocol"] == "email"]
    texts = [m for m in outbox if m["protocol"] == "sms"]
    assert len(outbox) == 7, outbox
    assert sorted((m["to"], m["subject"], m["message"]) for m in emails) == sorted(
        (EMAIL, f"Inventory Alert: {store}", f"{store} is out of stock of {item}")
        for store, item, _ in SAMPLE_ALERTS)
    assert [(m["to"], m["message"], m["attributes"]) for m in texts] == [
        (PHONE, "Berlin is out of stock of Echo Plus", {"store": "Berlin"})]
    for message in emails:
        store = message["subject"].removeprefix("Inventory Alert: ")
        assert message["attributes"] == {"store": store}
        assert message["topic_arn"].endswith(f":{e2e.stack}-alerts")
    # What the check function logged is what SNS delivered.
    assert {m["message_id"] for m in emails} == {a["message_id"] for a in alerts}


# -- any other client --------------------------------------------------------------------------

def test_any_client_put_object_is_loaded(e2e: Target) -> None:
    """A file put into the uploads bucket by plain boto3 (not the CLI) is loaded too."""
    e2e.run("provision")
    s3 = e2e.boto3_client("s3")
    body = "store,item,count\nHamburg,Echo Dot,4\nHamburg,Echo Show,0\n"
    s3.put_object(Bucket=e2e.uploads_bucket(), Key="incoming/hamburg.csv", Body=body.encode(),
                  ContentType="text/csv")

    def read() -> Any:
        proc = e2e.run("show", "--store", "Hamburg", "--output", "json", expect=None)
        return json.loads(proc.stdout) if proc.returncode == 0 else proc.stderr.strip()

    rows = poll(read, lambda r: isinstance(r, list) and len(r) == 2, e2e.timeout_s,
                "the two Hamburg rows")
    assert rows == [{"store": "Hamburg", "item": "Echo Dot", "count": 4},
                    {"store": "Hamburg", "item": "Echo Show", "count": 0}]
    alerts = e2e.settle(expected_alerts=1)
    assert alert_keys(alerts) == [("Hamburg", "Echo Show", 0)]
    report = json.loads(s3.get_object(Bucket=e2e.uploads_bucket(),
                                      Key="reports/incoming/hamburg.csv.json")["Body"].read())
    assert (report["status"], report["rows_read"], report["loaded"]) == ("loaded", 2, 2)
