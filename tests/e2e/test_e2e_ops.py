"""End to end: the operators hear about trouble on their own, through the installed command on
the emulator process.

- A loader broken from outside: its failed load is announced to the operators' topic once, with
  the file and the exact `inventory retry` line; `provision` and that line load every row, and
  the staff's stock alerts are what they would have been (none lost, none twice, no operator
  message among them).
- A file stored with the bucket's notification removed (S3 never invokes the loader): announced
  once, within the grace the test gives the announcer plus a few scheduled runs.

The messages are read from `inventory local outbox`, so these run on our own emulator only. It is
started with `--schedule-every` (the scheduled rule runs every second or two instead of every
minute), and the test gives the deployed announcer a grace of a few seconds through another
client, as an operator's colleague could; `provision` puts the stack's own values back.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import pytest
from e2e_target import Target, free_port, poll, write_csv
from test_e2e_failures import set_env

from inventory_cli.local.emulator import process_group_members

pytestmark = pytest.mark.e2e

OPS = "ops@example.com"
STAFF = "staff@example.com"
# One file: a zero (an alert for the staff once loaded) and a count that alerts nothing.
ROWS = [("Hamburg", "Echo Dot", 0), ("Hamburg", "Echo Show", 7)]


@pytest.fixture
def local(e2e: Target) -> Target:
    if not e2e.is_local:
        pytest.skip("the operators' messages are read from the local emulator's outbox")
    return e2e


def restart_with_schedule(e2e: Target, every: float) -> None:
    """The same emulator home, started again so that scheduled rules run every `every` s."""
    e2e.run("local", "stop", stack=False)
    assert e2e.emulator_pid is not None
    assert process_group_members(e2e.emulator_pid) == []
    port = free_port()
    e2e.run("local", "start", "--port", str(port), "--schedule-every", f"{every:g}",
            stack=False)
    status = e2e.json("local", "status", "--output", "json", stack=False)
    e2e.endpoint, e2e.emulator_pid = status["endpoint"], int(status["pid"])


def received(e2e: Target, to: str) -> list[dict[str, Any]]:
    return [m for m in e2e.outbox() if m["to"] == to]


def announcements(e2e: Target) -> list[dict[str, Any]]:
    """The announcer's messages to the operators (CloudWatch's alarm mails on the same topic,
    subjects "ALARM: ..." and "OK: ...", are the alarms' own: tests/e2e/test_e2e_alarms.py)."""
    return [m for m in received(e2e, OPS)
            if not (m["subject"] or "").startswith(("ALARM: ", "OK: ", "INSUFFICIENT_DATA: "))]


def redrive(e2e: Target, line: str) -> Any:
    """Run the retry line of an operators' message as it is written (on the local emulator)."""
    argv = shlex.split(line)
    assert argv[:1] == ["inventory"], line
    return json.loads(e2e.run("--local", *argv[1:], "--output", "json", stack=False).stdout)


def alert_lines(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(line for m in messages for line in m["message"].splitlines())


def test_a_broken_loader_is_announced_once_and_its_retry_line_repairs_it(
        local: Target) -> None:
    e2e = local
    restart_with_schedule(e2e, 2)
    e2e.run("provision")
    e2e.run("subscribe", OPS, "--ops")
    e2e.run("subscribe", STAFF)
    loader = f"{e2e.stack}-load-inventory"
    set_env(e2e, loader, INVENTORY_TABLE=f"{e2e.stack}-no-such-table")
    name = write_csv(e2e.work / "hamburg.csv", ROWS).name

    waited = e2e.run("upload", "--wait", "--timeout", str(int(e2e.timeout_s * 4)), name,
                     expect=1)
    assert "Error: the loader failed for 1 file(s): " in waited.stderr, waited.stderr
    [kept] = e2e.json("failures", "--output", "json")
    kept_at = time.monotonic()
    [message] = poll(lambda: announcements(e2e), lambda m: len(m) >= 1, 60,
                     "the operators' message")
    announced_after = time.monotonic() - kept_at
    print(f"operators' message {announced_after:.1f} s after the failure was listed")
    assert message["topic_arn"].endswith(f":{e2e.stack}-ops")
    assert message["subject"] == f"inventory {e2e.stack}: the load of {name} failed for good"
    text = message["message"]
    assert f"The load of {name}" in text
    assert "AccessDeniedException" in text  # why: the role may write only the stack's table
    retry_line = f"inventory --stack {e2e.stack} retry {kept['id']}"
    assert kept["retry"] == retry_line
    assert f"  re-drive, once the cause is fixed: {retry_line}\n" in text
    assert f"  log: inventory --stack {e2e.stack} logs load\n" in text
    # Several scheduled runs later there is still one message, and nothing for the staff.
    time.sleep(6)
    e2e.settle(0)
    assert announcements(e2e) == [message]
    assert received(e2e, STAFF) == []

    e2e.run("provision")
    assert [o["result"] for o in redrive(e2e, retry_line)] == ["done"]
    assert {(r["store"], r["item"], r["count"])
            for r in e2e.json("show", "--output", "json")} == set(ROWS)
    assert e2e.json("failures", "--output", "json") == []
    e2e.settle(1)
    time.sleep(4)  # more scheduled runs: a re-driven failure is not announced again
    e2e.settle(1)
    staff = received(e2e, STAFF)
    assert alert_lines(staff) == ["Hamburg is out of stock of Echo Dot"]  # once, none lost
    assert announcements(e2e) == [message]  # no operator noise after the repair either
    # Besides it, only the loader's Errors alarm may have mailed them (ALARM, then OK).
    alarm = f'"{loader}-errors"'
    assert all(alarm in (m["subject"] or "") for m in received(e2e, OPS) if m != message)
    assert announced_after < 60, announced_after


def test_a_file_whose_notification_never_fired_is_announced_once_within_the_grace(
        local: Target) -> None:
    e2e = local
    restart_with_schedule(e2e, 1)
    e2e.run("provision")
    e2e.run("subscribe", OPS, "--ops")
    grace_s = 3
    set_env(e2e, f"{e2e.stack}-announce-failures", UNLOADED_GRACE_S=str(grace_s))
    bucket = e2e.uploads_bucket()
    s3 = e2e.boto3_client("s3")
    # Another client removes the bucket's notification: S3 no longer invokes the loader.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    lost = write_csv(e2e.work / "lost.csv", ROWS)
    stored_at = time.time()
    s3.put_object(Bucket=bucket, Key="lost.csv", Body=lost.read_bytes())
    # The grace counts from the object's LastModified, which S3 gives in whole seconds: up to a
    # second before the PUT, so the announcement may come less than the grace after it.
    last_modified = s3.head_object(Bucket=bucket, Key="lost.csv")["LastModified"].timestamp()

    [message] = poll(lambda: received(e2e, OPS), lambda m: len(m) >= 1, 60,
                     "the operators' message about lost.csv")
    seen_at = time.time()
    print(f"unloaded file announced {seen_at - stored_at:.1f} s after it was stored, "
          f"{seen_at - last_modified:.1f} s after its LastModified (grace {grace_s} s)")
    # Not before the grace; within it plus a few scheduled runs (the scheduler runs once a
    # second).
    assert seen_at - last_modified >= grace_s, seen_at - last_modified
    assert seen_at - stored_at < grace_s + 10, seen_at - stored_at
    assert message["subject"] == f"inventory {e2e.stack}: lost.csv was stored but never loaded"
    retry_line = f"inventory --stack {e2e.stack} retry unloaded:lost.csv"
    assert f"  re-drive, once the cause is fixed: {retry_line}\n" in message["message"]
    time.sleep(5)  # five more scheduled runs: announced once only
    assert received(e2e, OPS) == [message]

    e2e.run("provision")  # the notification and the announcer's own grace are back
    assert [o["result"] for o in redrive(e2e, retry_line)] == ["done"]
    assert {(r["store"], r["item"], r["count"])
            for r in e2e.json("show", "--output", "json")} == set(ROWS)
    status = json.loads(e2e.run("status", "--output", "json").stdout)
    assert status  # complete again (exit 0)
