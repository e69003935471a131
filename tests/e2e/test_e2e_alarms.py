"""End-to-end alarms: break the checker from outside, watch its Errors alarm reach the
operators, repair with the installed command, and see the alarm return to OK.

On our own emulator the operators' e-mails are read from the outbox; the emulator's alarm
periods are shortened (a 5-minute period lasts 15 s) so the test takes about a minute. On any
other target the alarm's states are read from CloudWatch instead (allow INVENTORY_E2E_TIMEOUT
of 15 minutes or more on AWS: its periods are real).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from e2e_target import Target, poll, write_csv

from inventory_cli.local.alarms import EXTRA_PERIODS
from inventory_cli.stack.resources import FUNCTION_ALARM_PERIOD_S

TIME_SCALE = 20
pytestmark = [pytest.mark.e2e,
              pytest.mark.emulator_env(INVENTORY_LOCAL_ALARM_TIME_SCALE=str(TIME_SCALE),
                                       INVENTORY_LOCAL_ALARM_TICK_S="1")]
# The Errors alarm's period as the emulator runs it. The retry's successes can share a period
# with the last failures (then still breaching); that period then decides until it leaves the
# evaluation range (EvaluationPeriods + EXTRA_PERIODS periods), as on CloudWatch.
ERRORS_PERIOD_S = FUNCTION_ALARM_PERIOD_S / TIME_SCALE
OK_WITHIN_S = ERRORS_PERIOD_S * (1 + EXTRA_PERIODS + 2)

STAFF = "staff@example.com"
OPS = "ops@example.com"
# Two stores, one zero each: an alert each once the checker works again.
ZEROS = [("Bremen", "Echo Dot", 0), ("Bremen", "Echo Show", 5), ("Dresden", "Echo Plus", 0),
         ("Dresden", "Amazon Tap", 8)]


def _ops_topic(e2e: Target) -> str:
    account = e2e.boto3_client("sts").get_caller_identity()["Account"]
    return f"arn:aws:sns:us-east-1:{account}:{e2e.stack}-ops"


def _alarm_messages(e2e: Target, alarm: str) -> list[dict[str, Any]]:
    """CloudWatch's messages about `alarm` that reached the operators' address."""
    found = []
    for mail in e2e.outbox():
        if mail["to"] == OPS and f'"{alarm}"' in (mail["subject"] or ""):
            state, _, _ = mail["subject"].partition(":")
            found.append({"state": state, "subject": mail["subject"], "body": mail["message"],
                          "topic": mail["topic_arn"]})
    return found


def _alarm_state(e2e: Target, resource: str) -> str:
    rows = json.loads(e2e.run("status", "--output", "json", expect=None).stdout)
    return str(next(r for r in rows if r["resource"] == resource).get("alarm_state"))


def _staff_alerts(e2e: Target, alerts_topic: str) -> Counter[tuple[str, str]]:
    """(store, item) of every stock alert the staff received, counted."""
    lines: Counter[tuple[str, str]] = Counter()
    for mail in e2e.outbox():
        if mail["to"] != STAFF:
            continue
        assert mail["topic_arn"] == alerts_topic, mail  # no operator noise for the staff
        for line in mail["message"].splitlines():
            store, sep, item = line.partition(" is out of stock of ")
            assert sep, line
            lines[(store, item)] += 1
    return lines


def test_a_broken_checker_raises_its_errors_alarm_and_repair_brings_it_back_to_ok(
        e2e: Target) -> None:
    e2e.run("provision")
    e2e.run("subscribe", STAFF)
    ops_topic = _ops_topic(e2e)
    alerts_topic = ops_topic.removesuffix("-ops") + "-alerts"
    e2e.boto3_client("sns").subscribe(TopicArn=ops_topic, Protocol="email", Endpoint=OPS)
    checker = f"{e2e.stack}-check-stock"
    alarm = f"{checker}-errors"

    # Another client breaks the checker: every stream batch now fails to start.
    lam = e2e.boto3_client("lambda")
    lam.update_function_configuration(FunctionName=checker,
                                      Handler="lambda_src.check_stock.no_such_handler")
    lam.get_waiter("function_updated_v2").wait(FunctionName=checker)
    e2e.run("upload", "--wait", write_csv(e2e.work / "zeros.csv", ZEROS).name)

    if e2e.is_local:
        raised = poll(lambda: _alarm_messages(e2e, alarm),
                      lambda m: any(x["state"] == "ALARM" for x in m), e2e.timeout_s,
                      f"the ALARM e-mail of {alarm} to {OPS}")
        mail = next(x for x in raised if x["state"] == "ALARM")
        assert mail["topic"] == ops_topic
        assert "-> ALARM" in mail["body"] and "MetricName:                          Errors" in (
            mail["body"])
        assert _staff_alerts(e2e, alerts_topic) == Counter()  # nothing sent while broken
    else:
        poll(lambda: _alarm_state(e2e, "check-errors-alarm"), lambda s: s == "ALARM",
             e2e.timeout_s * 3, f"{alarm} in ALARM")
    # Lambda retries the batch (bisected) with the configuration it started with, until the
    # records are kept as failures: only then is everything there to re-drive.
    wanted = {(s, i) for s, i, c in ZEROS if c == 0}
    poll(lambda: e2e.json("failures", "--output", "json"),
         lambda kept: {(x["store"], x["item"]) for f in kept if f["kind"] == "stream"
                       for x in f["items"]} >= wanted, e2e.timeout_s * 3,
         "the failed batches in `inventory failures`")
    assert _alarm_state(e2e, "check-errors-alarm") == "ALARM"  # what `status` shows

    e2e.run("provision")  # puts the handler back
    retried = e2e.run("retry", "--all", "--output", "json")
    assert {o["result"] for o in json.loads(retried.stdout)} == {"done"}

    if e2e.is_local:
        settled = poll(lambda: _alarm_messages(e2e, alarm),
                       lambda m: [x["state"] for x in m if x["state"] != "OK" or
                                  "ALARM -> OK" in x["body"]][-1:] == ["OK"],
                       e2e.timeout_s + OK_WITHIN_S, f"the OK e-mail of {alarm} after the repair")
        # One ALARM and one OK after it: no flood, nothing twice. The new alarms left
        # INSUFFICIENT_DATA during the provision that made them, before anyone subscribed, so
        # these two are all the operators received.
        assert [x["state"] for x in settled] == ["ALARM", "OK"]
        assert "ALARM -> OK" in settled[-1]["body"]
        # Besides the alarm, the operators hear of each batch the broken checker kept (the
        # announcer): the alarm's two mails and those announcements, nothing else.
        to_ops = [m["subject"] or "" for m in e2e.outbox() if m["to"] == OPS]
        assert [x for x in to_ops if f'"{alarm}"' in x] == [x["subject"] for x in settled]
        announced = [x for x in to_ops if "an alert batch failed for good" in x]
        assert len(to_ops) == len(settled) + len(announced)
        assert announced and len(set(announced)) == len(announced)  # each batch told once
        # The staff got each alert once, none lost, and nothing of the operators'.
        received = _staff_alerts(e2e, alerts_topic)
        assert received == Counter(dict.fromkeys(wanted, 1))
        assert not any(mail["to"] == OPS and mail["topic_arn"] == alerts_topic
                       for mail in e2e.outbox())
    else:
        poll(lambda: _alarm_state(e2e, "check-errors-alarm"), lambda s: s == "OK",
             e2e.timeout_s * 3, f"{alarm} back in OK")
    assert _alarm_state(e2e, "check-errors-alarm") == "OK"
    sent = [(a["store"], a["item"]) for a in e2e.alerts() if a["state"] == "sent"]
    assert sorted(sent) == sorted(wanted)
