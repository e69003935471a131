"""`inventory provision | status | teardown` as users see them: exact output and exit codes."""

from __future__ import annotations

import json

import boto3
import pytest
from stack_fixtures import leftovers, provisioned
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli import stack_cmds
from inventory_cli.cli.app import app
from inventory_cli.stack import resources as r

ACCOUNT = "123456789012"


def _run(aws: Aws, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), obj=aws, input=input)
    return result.exit_code, result.stdout, result.stderr


def test_provision_prints_a_summary_then_says_no_changes(aws: Aws) -> None:
    code, out, _ = _run(aws, "provision", "--low-stock-threshold", "3", "--public-dashboard")
    assert code == 0
    bucket = f"inventory-uploads-{ACCOUNT}-us-east-1"
    dashboard = f"inventory-dashboard-{ACCOUNT}-us-east-1"
    lines = out.splitlines()
    assert lines[:6] == [
        f"Stack inventory (us-east-1, account {ACCOUNT})",
        f"  Uploads bucket       {bucket}",
        "  Table                inventory-inventory",
        f"  Alert topic          arn:aws:sns:us-east-1:{ACCOUNT}:inventory-alerts",
        f"  Dashboard            https://{dashboard}.s3.us-east-1.amazonaws.com/index.html",
        "  Low-stock threshold  3",
    ]
    assert lines[6] == ("  Dashboard access     PUBLIC: anyone with the address can read the "
                        "stock of every store")
    lines = lines[:6] + lines[7:]
    assert lines[6].startswith("Changed: ")
    assert lines[6].endswith(f"on {len(r.resource_ids(r.PUBLIC))} resource(s): " + ", ".join(
        ["load-role", "check-role", "summarize-role", "store-upload-role", "announce-role",
         "uploads-bucket", "failures-bucket", "table", "alert-table", "summary-table",
         "store-keys-table", "announcement-table", "topic", "ops_topic", "load-log-group",
         "check-log-group", "summarize-log-group", "store-upload-log-group", "announce-log-group",
         "load-function", "load-failure-destination", "load-recursion", "s3-invoke-permission",
         "uploads-notification", "check-function", "stream-mapping", "summarize-function",
         "summary-mapping", "announce-function", "failures-invoke-permission",
         "failures-notification", "announce-schedule-permission", "announce-schedule",
         "store-upload-function", "store-upload-url", "uploads-cors", "load-errors-alarm",
         "load-throttles-alarm", "check-errors-alarm", "check-throttles-alarm",
         "check-iterator-age-alarm", "summarize-errors-alarm", "summarize-throttles-alarm",
         "summarize-iterator-age-alarm", "store-upload-errors-alarm",
         "store-upload-throttles-alarm", "announce-errors-alarm", "announce-throttles-alarm",
         "table-write-throttles-alarm",
         "identity-pool", "dashboard-role",
         "identity-pool-roles", "dashboard-bucket", "dashboard-files"]))
    # On AWS a new notification takes minutes to apply; a new summary table is
    # computed by provision.
    assert lines[7] == "Summaries computed from 0 row(s) of the table (threshold 3)."
    assert lines[8].startswith("Note: S3 takes up to about 5 minutes to apply a new")

    code, out, _ = _run(aws, "provision")
    assert code == 0
    assert out.splitlines()[-3:] == ["  Low-stock threshold  3",
                                     "  Dashboard access     PUBLIC: anyone with the address "
                                     "can read the stock of every store",
                                     "No changes: the stack is up to date."]


def test_dry_run_prints_the_plan(session: boto3.session.Session, aws: Aws) -> None:
    code, out, _ = _run(aws, "provision", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Plan for stack inventory: ")
    # Step numbers are right-aligned to the widest one (the plan has over a hundred steps).
    assert lines[1].lstrip() == "1. iam.create_role  create role inventory-load-inventory-role"
    assert lines[-1] == "Dry run: nothing was changed."
    assert leftovers(session, aws.names) == []


def test_status_json_and_exit_codes(session: boto3.session.Session, aws: Aws) -> None:
    code, out, err = _run(aws, "status", "--output", "json")
    assert code == 1
    assert json.loads(out)[0] == {"resource": "load-role", "name": "inventory-load-inventory-role",
                                  "state": "missing", "detail": "not found"}
    assert err == ("Error: stack inventory does not exist in us-east-1\n"
                   "Hint: run `inventory provision` to create it\n")

    provisioned(aws)
    code, out, err = _run(aws, "status", "--output", "json")
    assert (code, err) == (0, "")
    assert [(e["resource"], e["state"]) for e in json.loads(out)] == [
        *((rid, "ok") for rid in r.resource_ids(r.PRIVATE)), ("kept-failures", "ok")]
    assert json.loads(out)[-1]["count"] == 0

    session.client("s3").put_bucket_notification_configuration(
        Bucket=aws.names.uploads_bucket, NotificationConfiguration={})
    code, out, err = _run(aws, "status")
    assert code == 1
    assert "uploads-notification" in out and "missing" in out
    assert err == ("Error: stack inventory is incomplete: 1 missing, 0 drifted\n"
                   "Hint: run `inventory provision` to repair it\n")


def test_teardown_refuses_without_a_terminal_or_yes(session: boto3.session.Session,
                                                   aws: Aws, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    provisioned(aws)
    monkeypatch.setattr(stack_cmds, "stdin_is_interactive", lambda: False)
    code, _, err = _run(aws, "teardown")
    assert code == 1
    assert err == ("Error: refusing to delete stack inventory without confirmation\n"
                   "Hint: no terminal to ask on: pass --yes\n")
    assert stack_cmds_status_ok(aws)


def stack_cmds_status_ok(aws: Aws) -> bool:
    from inventory_cli.stack.status import stack_status

    return stack_status(aws).complete


def test_teardown_asks_for_the_stack_name(session: boto3.session.Session, aws: Aws,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    provisioned(aws)
    monkeypatch.setattr(stack_cmds, "stdin_is_interactive", lambda: True)
    code, out, err = _run(aws, "teardown", input="shop\n")
    assert code == 1
    assert "Teardown of stack inventory: " in out
    assert err == "Error: teardown of stack inventory cancelled: nothing was deleted\n"
    assert stack_cmds_status_ok(aws)

    code, out, _ = _run(aws, "teardown", input="inventory\n")
    assert code == 0
    assert out.splitlines()[-1].startswith("Stack inventory deleted (")
    assert leftovers(session, aws.names) == []

    code, out, _ = _run(aws, "teardown", "--yes")
    assert (code, out) == (0, "Nothing to delete: stack inventory does not exist in us-east-1.\n")
