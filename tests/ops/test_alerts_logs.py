"""`inventory alerts` and `inventory logs`, read from the functions' CloudWatch log groups."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cli_runner import Cli
from ops_doubles import put_alert_record, put_log_lines

from inventory_cli.aws import Aws
from inventory_cli.cli import ops_cmds
from inventory_cli.config import StackNames
from inventory_cli.errors import UsageError
from inventory_cli.ops import clock
from inventory_cli.ops import logs as logs_core
from inventory_cli.ops.durations import parse_since

# Whole seconds, recent enough for CloudWatch (and moto) to accept the events.
NOW = datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("24h", 86400), ("7d", 604800), ("90s", 90), ("2w", 1209600), (" 1h ", 3600),
])
def test_durations(text: str, seconds: int) -> None:
    assert parse_since(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "0m", "-1h", "1y", "24 hours"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="invalid duration"):
        parse_since(text)


def test_alerts_of_the_window_from_the_alert_log(cli: Cli, aws: Aws, stack: StackNames) -> None:
    one_hour, two_hours, yesterday = (NOW - timedelta(hours=h) for h in (1, 2, 25))
    put_alert_record(aws, stack, store="Pusan", item="Echo Show", count=0, event_id="e-1",
                     at=yesterday)
    put_alert_record(aws, stack, store="Berlin", item="Echo Plus", count=0, event_id="e-2",
                     at=two_hours, message_id="m-2")
    put_alert_record(aws, stack, store="[bold]x[/bold]", item="Echo Dot", count=1,
                     event_id="e-3", at=one_hour, threshold=2, state="failed", message_id=None,
                     error="AuthorizationError: not allowed")
    # A record without its time is not an alert this tool can show: skipped, no crash.
    aws.client("dynamodb").put_item(TableName=stack.alert_table, Item={
        "Store": {"S": "Berlin"}, "EventId": {"S": "e-4"}})
    result = cli("alerts", "--output", "table")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Time (UTC)            Store            Item        Count   State    Message id\n"
        "──────────────────────────────────────────────────────────────────────────────\n"
        f"{stamp(two_hours)}   Berlin           Echo Plus       0   sent     m-2       \n"
        f"{stamp(one_hour)}   [bold]x[/bold]   Echo Dot        1   failed   -         \n")
    week = json.loads(cli("alerts", "--since", "7d").stdout)
    assert [(a["store"], a["item"], a["count"], a["threshold"], a["state"]) for a in week] == [
        ("Pusan", "Echo Show", 0, 0, "sent"), ("Berlin", "Echo Plus", 0, 0, "sent"),
        ("[bold]x[/bold]", "Echo Dot", 1, 2, "failed")]
    assert week[1] == {"time": two_hours.isoformat(), "store": "Berlin", "item": "Echo Plus",
                       "count": 0, "threshold": 0, "message_id": "m-2", "state": "sent",
                       "event_id": "e-2", "attempts": 1, "error": None}
    berlin = json.loads(cli("alerts", "--since", "7d", "--store", "Berlin").stdout)
    assert [(a["store"], a["event_id"]) for a in berlin] == [("Berlin", "e-2")]
    csv_out = cli("alerts", "--store", "Pusan", "--since", "2d", "--output", "csv")
    assert csv_out.stdout == ("time,store,item,count,state,message_id\n"
                              f"{yesterday.isoformat()},Pusan,Echo Show,0,sent,m-1\n")


def test_no_alerts_and_a_missing_alert_log(cli: Cli, aws: Aws, stack: StackNames) -> None:
    result = cli("alerts", "--since", "30m", "--output", "table")
    assert (result.exit_code, result.stdout) == (0, "No alerts in the last 30m.\n")
    quiet = cli("alerts", "--store", "Berlin", "--output", "table")
    assert (quiet.exit_code, quiet.stdout) == (0, "No alerts in the last 24h for Berlin.\n")
    aws.client("dynamodb").delete_table(TableName=stack.alert_table)
    gone = cli("alerts")
    assert gone.exit_code == 1
    assert gone.stderr == (f"Error: the stack's alert log table {stack.alert_table} does not "
                           "exist\nHint: `inventory provision` creates what is missing\n")


def test_a_bad_since_is_a_usage_error(cli: Cli, aws: Aws) -> None:
    result = cli("alerts", "--since", "yesterday")
    assert result.exit_code == 2
    assert result.stderr == ("Error: invalid duration 'yesterday': use a positive number and a "
                             "unit, like 30m, 24h or 7d (units: s, m, h, d, w)\n")


def test_logs_of_both_functions_interleaved_by_time(cli: Cli, aws: Aws, stack: StackNames) -> None:
    t1, t2, t3 = (NOW - timedelta(minutes=m) for m in (30, 20, 10))
    put_log_lines(aws, stack.load_log_group, [(t1, "load one\n"), (t3, "load [two]\n")])
    put_log_lines(aws, stack.check_log_group, [(t2, "check one\n"),
                                               (NOW - timedelta(hours=3), "too old\n")])
    both = cli("logs")
    assert both.exit_code == 0
    assert both.stdout == (f"{stamp(t1)} load         load one\n"
                           f"{stamp(t2)} check        check one\n"
                           f"{stamp(t3)} load         load [two]\n")
    check = cli("logs", "check", "--since", "4h")
    assert check.stdout == (f"{stamp(NOW - timedelta(hours=3))} check too old\n"
                            f"{stamp(t2)} check check one\n")
    quiet = cli("logs", "check", "--since", "1m")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (
        0, "", "No log lines in the last 1m.\n")


def test_logs_of_an_unknown_function_is_a_usage_error(cli: Cli, aws: Aws) -> None:
    result = cli("logs", "dashboard")
    assert result.exit_code == 2
    assert result.stderr == ("Error: unknown function 'dashboard': use load, check, summaries, "
                             "store-upload or announce\n")


def test_logs_of_every_function_and_lines_of_one_moment_in_the_service_order(cli: Cli,
        aws: Aws, stack: StackNames) -> None:
    """START, the function's lines, END and REPORT often share a millisecond: they keep the
    order CloudWatch returns them in (not sorted by text, which would put END first)."""
    t1, t2 = NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)
    moment = [(t1, "START RequestId: r-1 Version: $LATEST\n"),
              (t1, '{"event": "summaries_updated", "cells": 2}\n'),
              (t1, "END RequestId: r-1\n"),
              (t1, "REPORT RequestId: r-1 Duration: 3.1 ms\n")]
    put_log_lines(aws, stack.summarize_log_group, moment)
    put_log_lines(aws, stack.store_upload_log_group, [(t2, '{"event": "store_request"}\n')])
    put_log_lines(aws, stack.load_log_group, [(t1, "load at the same moment\n")])
    summaries = cli("logs", "summaries")
    assert summaries.exit_code == 0, summaries.stderr
    assert summaries.stdout == "".join(f"{stamp(t1)} summaries {m}" for _, m in moment)
    upload = cli("logs", "store-upload")
    assert upload.stdout == f'{stamp(t2)} store-upload {{"event": "store_request"}}\n'
    every = cli("logs").stdout.splitlines()
    # Groups are read in the order load, check, summaries, store-upload; a stable merge by time
    # keeps each group's own order.
    assert [line.split(None, 3)[2:] for line in every] == [
        ["load", "load at the same moment"],
        *[["summaries", m.rstrip("\n")] for _, m in moment],
        ["store-upload", '{"event": "store_request"}']]


def test_logs_of_the_announcer(cli: Cli, aws: Aws, stack: StackNames) -> None:
    at = NOW - timedelta(minutes=5)
    line = '{"event": "announced", "trigger": "failure", "count": 1}'
    put_log_lines(aws, stack.announce_log_group, [(at, line + "\n")])
    announce = cli("logs", "announce")
    assert (announce.exit_code, announce.stdout) == (0, f"{stamp(at)} announce {line}\n")
    assert f"{stamp(at)} announce     {line}" in cli("logs").stdout.splitlines()


def test_follow_keeps_the_service_order_of_one_moment(cli: Cli, aws: Aws, stack: StackNames,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(clock, "utc_now", lambda: now)
    at = now - timedelta(seconds=10)
    moment = [(at, "START RequestId: r-2\n"), (at, "END RequestId: r-2\n"),
              (at, "REPORT RequestId: r-2\n")]

    def sleep(_: float) -> None:
        raise KeyboardInterrupt

    put_log_lines(aws, stack.store_upload_log_group, moment)
    monkeypatch.setattr(ops_cmds, "SLEEP", sleep)
    result = cli("logs", "store-upload", "--follow")
    assert result.exit_code == 0
    assert result.stdout == "".join(f"{stamp(at)} store-upload {m}" for _, m in moment)


def test_follow_prints_new_lines_until_ctrl_c(cli: Cli, aws: Aws, stack: StackNames,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Following looks back a minute from the real clock: this test's "now" must be fresh, not
    # the module's (imported maybe a minute ago on a busy machine).
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(clock, "utc_now", lambda: now)
    put_log_lines(aws, stack.load_log_group, [(now - timedelta(seconds=30), "first\n")])
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            put_log_lines(aws, stack.load_log_group, [(now - timedelta(seconds=5), "second\n")])
        elif len(sleeps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ops_cmds, "SLEEP", sleep)
    result = cli("logs", "load", "--follow")
    assert result.exit_code == 0
    # Each poll looks back a minute; lines already shown are not shown again.
    assert result.stdout == (f"{stamp(now - timedelta(seconds=30))} load first\n"
                             f"{stamp(now - timedelta(seconds=5))} load second\n")
    assert sleeps == [2.0, 2.0, 2.0]


@pytest.mark.parametrize(("function", "log"), [("summarize_function", "summaries"),
                                               ("check_function", "check")])
def test_a_batch_that_fails_again_on_retry_names_its_own_functions_log(
        aws: Aws, stack: StackNames, function: str, log: str) -> None:
    import io

    from botocore.awsrequest import AWSResponse
    from botocore.response import StreamingBody

    from inventory_cli.ops import retry

    body = json.dumps({"batchItemFailures": [{"itemIdentifier": "1"}]}).encode()

    def answer(**_: object) -> tuple[AWSResponse, dict[str, object]]:
        return (AWSResponse("https://lambda.example", 200, {}, None),
                {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))})

    aws.client("lambda").meta.events.register("before-call.lambda.Invoke", answer)
    outcome = retry._invoke(aws, getattr(stack, function), {"Records": []})
    assert outcome.error == f"1 record(s) of the batch failed again (see `inventory logs {log}`)"
    assert logs_core.log_name_of(stack, stack.store_upload_function) == "store-upload"
    assert logs_core.log_name_of(stack, stack.announce_function) == "announce"
    assert logs_core.log_name_of(stack, "someone-else") is None
