"""The emulator's scheduler: due rules' Lambda targets run at their rate, not before, not twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from inventory_cli.local.scheduler import Scheduler, every_from_env, rate_seconds
from inventory_cli.local.seam.events import ScheduledRule

ARN = "arn:aws:events:us-east-1:123456789012:rule/shop-announce-schedule"
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:shop-announce-failures"


def rule(schedule: str = "rate(1 minute)", constant: str | None = None) -> ScheduledRule:
    return ScheduledRule(ARN, "shop-announce-schedule", "123456789012", "us-east-1", schedule,
                         (("t", TARGET, constant),))


@pytest.mark.parametrize(("expression", "seconds"), [
    ("rate(1 minute)", 60.0), ("rate(5 minutes)", 300.0), ("rate(2 hours)", 7200.0),
    ("rate(1 day)", 86400.0), ("rate(0 minutes)", None), ("cron(0 12 * * ? *)", None),
    ("rate(1 week)", None)])
def test_rate_expressions(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


class Fixture:
    def __init__(self, rules: list[ScheduledRule], every: float | None = None) -> None:
        self.now = 1000.0
        self.rules = rules
        self.invoked: list[tuple[str, dict[str, object]]] = []
        self.scheduler = Scheduler(lambda: self.rules, self.invoke, every=every,
                                   clock=lambda: self.now,
                                   wall=lambda: datetime(2026, 12, 3, 7, 0, tzinfo=UTC))

    def invoke(self, scheduled: ScheduledRule, arn: str, event: str) -> bool:
        self.invoked.append((arn, json.loads(event)))
        return True


def test_a_rule_runs_once_per_period_with_the_scheduled_event() -> None:
    f = Fixture([rule()])
    assert f.scheduler.run_due() == 0  # first seen: due one period later
    f.now += 59
    assert f.scheduler.run_due() == 0
    f.now += 1
    assert f.scheduler.run_due() == 1
    assert f.scheduler.run_due() == 0  # not twice in one period
    [(arn, event)] = f.invoked
    assert arn == TARGET
    assert {k: v for k, v in event.items() if k != "id"} == {
        "version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-03T07:00:00Z", "region": "us-east-1",
        "resources": [ARN], "detail": {}}
    f.now += 600  # a long pause: one run, not ten to catch up
    assert f.scheduler.run_due() == 1


def test_every_overrides_the_rate_cron_is_not_run_and_constant_input_is_sent() -> None:
    f = Fixture([rule(constant='{"x": 1}'), rule("cron(0 12 * * ? *)")], every=2)
    f.rules[1] = ScheduledRule(ARN + "-cron", "cron-rule", "123456789012", "us-east-1",
                               "cron(0 12 * * ? *)", (("t", TARGET, None),))
    for _ in range(3):
        f.now += 2
        f.scheduler.run_due()
    assert f.invoked == [(TARGET, {"x": 1}), (TARGET, {"x": 1})]
    f.rules = []  # deleted: forgotten
    f.now += 2
    assert f.scheduler.run_due() == 0


@pytest.mark.parametrize(("raw", "every"), [("", None), ("2", 2.0), ("0.5", 0.5), ("0", None),
                                            ("x", None)])
def test_the_override_from_the_environment(raw: str, every: float | None) -> None:
    assert every_from_env(raw) == every


def test_the_seam_reads_moto_rules_and_checks_the_function_permission(
        session: Any) -> None:
    """What `seam/events.py` relies on in moto: rules on event buses, their expression, state
    and targets (fails loudly if an upgrade of moto moves them)."""
    from types import SimpleNamespace

    from inventory_cli.local.seam import events as seam_events

    client = session.client("events")
    arn = client.put_rule(Name="r1", ScheduleExpression="rate(1 minute)")["RuleArn"]
    client.put_targets(Rule="r1", Targets=[{"Id": "t", "Arn": TARGET}])
    client.put_rule(Name="off", ScheduleExpression="rate(1 minute)", State="DISABLED")
    client.put_rule(Name="pattern", EventPattern='{"source": ["x"]}')
    [found] = seam_events.scheduled_rules()
    assert (found.arn, found.name, found.schedule, found.targets) == (
        arn, "r1", "rate(1 minute)", (("t", TARGET, None),))
    assert seam_events.invoke_target(found, TARGET, "{}") is False  # no such function here

    def function(*statements: dict[str, Any]) -> Any:
        return SimpleNamespace(policy=SimpleNamespace(statements=list(statements)))

    allow = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "lambda:InvokeFunction",
             "Condition": {"ArnLike": {"AWS:SourceArn": arn}}}
    assert seam_events._allows(function(allow), arn)
    assert not seam_events._allows(function(allow), arn + "-other")
    assert not seam_events._allows(function({**allow, "Principal": {
        "Service": "s3.amazonaws.com"}}), arn)
    assert not seam_events._allows(function(), arn)
