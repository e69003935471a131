"""The real loader zip on the emulator, with a 5-second timeout and a DynamoDB write limit: a
20,000-row file loads through continuations of its own, completely, with one report.

On a busy machine an invocation can still overrun 5 s (the margin is 1.5 s): Lambda's retry of it
must then neither lose rows nor start a second chain (see lambda_src/load_checkpoint.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_helpers import write_limited_emulator

from inventory_cli.aws import Aws, make_aws
from inventory_cli.config import Settings
from inventory_cli.local.emulator import EmulatorInfo, wait_until_idle
from inventory_cli.provisioning import provision
from lambda_src import inventory_csv
from lambda_src.load_checkpoint import CHECKPOINT_PREFIX

STACK = "scale"
ROWS = 20_000
WRITE_LIMIT = 1_500
TIMEOUT_S = 5


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    with write_limited_emulator(tmp_path_factory.mktemp("scale-home"), WRITE_LIMIT) as info:
        yield info


@pytest.fixture(scope="module")
def aws(emulator: EmulatorInfo) -> Aws:
    return make_aws(Settings(stack=STACK, local=True), endpoint_url=emulator.endpoint)


def the_file() -> bytes:
    lines = ["store,item,count"] + [f"Store{n % 20:02d},Item {n // 20:05d},{n % 50}"
                                    for n in range(ROWS)]
    lines[5] = f"Store01,Item {(ROWS - 1) // 20:05d},3"   # its key's last row is near the end
    lines[ROWS // 2] = "Store02,Item 00000,x"               # rejected
    return ("\n".join(lines) + "\n").encode()


def _log_lines(aws: Aws, group: str) -> list[str]:
    logs = aws.client("logs")
    lines: list[str] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        lines += [event["message"] for event in page["events"]]
    return lines


def _count(aws: Aws, table: str) -> int:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=table,
                                                                  Select="COUNT")
    return sum(int(page["Count"]) for page in pages)


@pytest.mark.slow  # a scale test: 20,000 rows
def test_a_file_larger_than_one_invocation_loads_once_through_continuations(
        aws: Aws, emulator: EmulatorInfo, tmp_path: Path) -> None:
    names = provision(aws).names
    lam = aws.client("lambda")
    lam.update_function_configuration(FunctionName=names.load_function, Timeout=TIMEOUT_S)
    body = the_file()
    expected = inventory_csv.check_bytes(body)
    s3 = aws.client("s3")
    put = s3.put_object(Bucket=names.uploads_bucket, Key="scale.csv", Body=body)
    assert wait_until_idle(emulator, timeout_s=600)

    report: dict[str, Any] = json.loads(s3.get_object(
        Bucket=names.uploads_bucket, Key="reports/scale.csv.json")["Body"].read())
    assert report["source"]["version_id"] == put["VersionId"]
    assert (report["status"], report["rows_read"], report["loaded"]) == (
        "loaded", ROWS, len(expected.rows))
    assert report["rejected"] == [{"line": r.line, "reason": r.reason}
                                  for r in expected.rejected]
    assert report["duplicates"] == [
        {"line": d.line, "store": d.store, "item": d.item, "previous_line": d.previous_line}
        for d in expected.duplicates]
    assert _count(aws, names.table) == len(expected.rows)

    lines = _log_lines(aws, names.load_log_group)
    events = [json.loads(line) for line in lines if line.startswith("{")]
    continued = [e for e in events if e["event"] == "load_continued"]
    assert len(continued) >= 2
    reports = [e for e in events if e["event"] == "load_report"]
    assert reports and all(r == {"event": "load_report", **report} for r in reports)
    assert not [e for e in events if e["event"] == "load_failed"]
    # The workers' peak memory is measured (VmHWM of the worker process, 0 if it was killed).
    memory = [int(m) for m in re.findall(r"Max Memory Used: (\d+) MB", "\n".join(lines))]
    assert len(memory) > len(continued) and 20 < max(memory) < 256
    listed = s3.list_object_versions(Bucket=names.uploads_bucket, Prefix=CHECKPOINT_PREFIX)
    assert listed.get("Versions", []) == [] and listed.get("DeleteMarkers", []) == []


def test_the_emulator_took_the_write_limit_from_its_environment(emulator: EmulatorInfo) -> None:
    # What the limit does is tested in-process (tests/local/test_ddb_write_limit.py), where a
    # fake clock makes it exact; here: that `local start` / the variable reach the server.
    assert (f"DynamoDB writes limited to {WRITE_LIMIT} a second per table"
            in emulator.log_file.read_text())
