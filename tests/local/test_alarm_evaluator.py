"""The emulator's alarm evaluator against hand-made datapoints: statistics per period, M of N,
each TreatMissingData, the AWS/DynamoDB exception, state changes published once, in CloudWatch's
message shape; and Lambda's metrics as the runtime's records produce them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from inventory_cli.local.alarms import (
    EXTRA_PERIODS,
    AlarmEvaluator,
    evaluate,
    period_values,
)
from inventory_cli.local.invocation_records import InvocationRecord
from inventory_cli.local.lambda_dispatch import iterator_age_ms
from inventory_cli.local.metrics import LambdaMetrics, lambda_datapoints
from inventory_cli.local.seam.cloudwatch import Datapoint, MetricAlarm

TOPIC = "arn:aws:sns:us-east-1:123456789012:s-ops"
FN = (("FunctionName", "s-check-stock"),)


def _alarm(**changes: Any) -> MetricAlarm:
    alarm = MetricAlarm(
        account_id="123456789012", region="us-east-1", name="s-check-stock-errors",
        arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:s-check-stock-errors",
        description="the checker failed", namespace="AWS/Lambda", metric="Errors",
        dimensions=FN, statistic="Sum", period_s=60, evaluation_periods=1,
        datapoints_to_alarm=1, comparison="GreaterThanOrEqualToThreshold", threshold=1.0,
        treat_missing_data="notBreaching", actions_enabled=True, alarm_actions=(TOPIC,),
        ok_actions=(TOPIC,), insufficient_data_actions=(), state="OK",
        configuration_updated=datetime(2026, 12, 3, tzinfo=UTC))
    return replace(alarm, **changes)


def _point(value: float, at: float, metric: str = "Errors") -> Datapoint:
    return Datapoint("AWS/Lambda", metric, FN, value, at)


# -- periods and statistics --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("Sum", [None, 6.0, 4.0]), ("Maximum", [None, 3.0, 4.0]), ("Minimum", [None, 1.0, 4.0]),
    ("Average", [None, 2.0, 4.0]), ("SampleCount", [None, 3.0, 1.0])])
def test_period_values_apply_the_statistic_per_clock_aligned_period(
        name: str, expected: list[float | None]) -> None:
    points = [_point(1, 1060), _point(2, 1100), _point(3, 1119.9), _point(4, 1120),
              _point(9, 1180), _point(9, 999)]  # the last two: outside [1000, 1180)
    assert period_values(points, statistic_name=name, period_s=60, end=1180,
                         count=3) == expected


# -- one evaluation: M of N and missing data --------------------------------------------------

def test_m_of_n_alarms_on_three_breaching_of_five_in_any_order() -> None:
    alarm = _alarm(evaluation_periods=5, datapoints_to_alarm=3)
    assert evaluate(alarm, [5, 0, 5, 0, 5]).state == "ALARM"
    assert evaluate(alarm, [5, 0, 5, 0, 0]).state == "OK"
    assert evaluate(alarm, [5, 5, 5, 0, 0, 0, 0, 0]).state == "OK"  # only the last 5 count
    assert evaluate(alarm, [0, 1, 1, 1, 0]).breaching == 3


def test_the_comparison_and_threshold_decide_what_breaches() -> None:
    assert evaluate(_alarm(comparison="GreaterThanThreshold"), [1.0]).state == "OK"
    assert evaluate(_alarm(comparison="GreaterThanThreshold"), [1.5]).state == "ALARM"
    assert evaluate(_alarm(comparison="LessThanThreshold", threshold=2), [1.0]).state == "ALARM"
    assert evaluate(_alarm(comparison="LessThanOrEqualToThreshold", threshold=1),
                    [1.0]).state == "ALARM"


@pytest.mark.parametrize(("treat", "current", "expected"), [
    ("missing", "OK", "INSUFFICIENT_DATA"), ("ignore", "ALARM", "ALARM"),
    ("ignore", "OK", "OK"), ("breaching", "OK", "ALARM"), ("notBreaching", "ALARM", "OK")])
def test_with_no_datapoint_in_the_range_treat_missing_data_decides(
        treat: str, current: str, expected: str) -> None:
    alarm = _alarm(treat_missing_data=treat, state=current, evaluation_periods=3,
                   datapoints_to_alarm=2)
    assert evaluate(alarm, [None] * (3 + EXTRA_PERIODS)).state == expected


def test_enough_real_datapoints_in_the_range_decide_whatever_missing_data_says() -> None:
    # 3 of 3 needed; the range holds three real values (one older than the last 3 periods):
    # CloudWatch uses the most recent real ones and the missing treatment plays no part.
    for treat in ("missing", "ignore", "breaching", "notBreaching"):
        alarm = _alarm(treat_missing_data=treat, evaluation_periods=3, datapoints_to_alarm=3)
        assert evaluate(alarm, [None, 2, None, 2, 2, None]).state == "ALARM", treat
        assert evaluate(alarm, [None, 0, None, 2, 2, None]).state == "OK", treat


@pytest.mark.parametrize(("treat", "expected"), [
    ("breaching", "ALARM"), ("notBreaching", "OK"), ("missing", "OK"), ("ignore", "OK")])
def test_fewer_real_datapoints_than_periods_are_filled_as_treat_missing_data_says(
        treat: str, expected: str) -> None:
    # 2 of 3 needed, one breaching value only: filled with breaching it alarms, else not.
    alarm = _alarm(treat_missing_data=treat, evaluation_periods=3, datapoints_to_alarm=2)
    assert evaluate(alarm, [None, None, None, None, 5, None]).state == expected


def test_dynamodb_alarms_ignore_missing_data_whatever_they_say() -> None:
    alarm = _alarm(namespace="AWS/DynamoDB", metric="WriteThrottleEvents",
                   treat_missing_data="notBreaching", state="ALARM")
    assert evaluate(alarm, [None] * 4).state == "ALARM"
    assert evaluate(replace(alarm, namespace="AWS/Lambda"), [None] * 4).state == "OK"


def test_the_reason_names_the_datapoints_and_the_threshold() -> None:
    assert evaluate(_alarm(), [3.0]).reason == (
        "Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).")
    assert evaluate(_alarm(), [0.0]).reason == (
        "Threshold Crossed: 1 datapoint [0.0] was not greater than or equal to the threshold "
        "(1.0).")


# -- the evaluator: state changes and their messages ------------------------------------------

class FakeSource:
    def __init__(self, alarms: list[MetricAlarm], points: list[Datapoint]) -> None:
        self.alarms_ = alarms
        self.points = points
        self.published: list[tuple[str, str, dict[str, Any]]] = []

    def alarms(self) -> list[MetricAlarm]:
        return list(self.alarms_)

    def datapoints(self, account_id: str, region: str, since: float) -> list[Datapoint]:
        return [p for p in self.points if p.timestamp >= since]

    def set_state(self, alarm: MetricAlarm, state: str, reason: str, reason_data: str) -> bool:
        json.loads(reason_data)  # CloudWatch refuses reason data that is not JSON
        self.alarms_ = [replace(a, state=state) if a.name == alarm.name else a
                        for a in self.alarms_]
        return True

    def publish(self, topic_arn: str, subject: str, message: str) -> bool:
        self.published.append((topic_arn, subject, json.loads(message)))
        return True


def test_a_state_change_is_published_once_to_the_new_states_actions() -> None:
    clock = [1000.0]
    source = FakeSource([_alarm(period_s=300)], [_point(0, 900), _point(1, 910)])
    evaluator = AlarmEvaluator(source, time_scale=5.0, clock=lambda: clock[0])  # 60 s periods
    # At 1000 the newest complete period is [900, 960): its Sum is 1.
    changes = evaluator.evaluate_all()
    assert [(a.name, e.state) for a, e in changes] == [("s-check-stock-errors", "ALARM")]
    assert evaluator.evaluate_all() == []  # no change, no message
    [(topic, subject, structured)] = source.published
    assert (topic, subject) == (TOPIC, 'ALARM: "s-check-stock-errors" in US East (N. Virginia)')
    message = json.loads(structured["default"])
    assert {k: message[k] for k in ("AlarmName", "NewStateValue", "OldStateValue",
                                    "AWSAccountId", "AlarmArn", "AlarmActions")} == {
        "AlarmName": "s-check-stock-errors", "NewStateValue": "ALARM", "OldStateValue": "OK",
        "AWSAccountId": "123456789012", "AlarmArn": _alarm().arn, "AlarmActions": [TOPIC]}
    assert message["Trigger"]["Dimensions"] == [{"value": "s-check-stock", "name":
                                                 "FunctionName"}]
    assert message["Trigger"]["Statistic"] == "SUM" and message["Trigger"]["Period"] == 300
    assert "State Change:               OK -> ALARM" in structured["email"]

    # Successful invocations later: the most recent real value is 0 -> OK, published once.
    source.points.append(_point(0, 1010))
    clock[0] = 1090.0
    assert [e.state for _, e in evaluator.evaluate_all()] == ["OK"]
    assert [s for _, s, _ in source.published][-1].startswith('OK: "s-check-stock-errors"')
    assert len(source.published) == 2


def test_an_alarm_with_actions_disabled_changes_state_silently() -> None:
    source = FakeSource([_alarm(actions_enabled=False)], [_point(2, 950)])
    AlarmEvaluator(source, clock=lambda: 1000.0).evaluate_all()
    assert source.alarms_[0].state == "ALARM" and source.published == []


def test_a_woken_evaluator_evaluates_at_once_not_at_its_next_tick() -> None:
    import time

    source = FakeSource([_alarm(state="INSUFFICIENT_DATA")], [])
    evaluator = AlarmEvaluator(source, tick_s=60.0)
    evaluator.start()
    try:
        evaluator.wake()
        deadline = time.monotonic() + 5.0
        while source.alarms_[0].state != "OK" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert source.alarms_[0].state == "OK"  # notBreaching with no data at all
    finally:
        evaluator.stop()


def test_bad_settings_of_the_evaluator_are_refused_or_replaced() -> None:
    with pytest.raises(ValueError, match="positive"):
        AlarmEvaluator(FakeSource([], []), tick_s=0)
    evaluator = AlarmEvaluator.from_environment({"INVENTORY_LOCAL_ALARM_TIME_SCALE": "x",
                                                 "INVENTORY_LOCAL_ALARM_TICK_S": "0.5"})
    assert (evaluator.time_scale, evaluator.tick_s) == (1.0, 0.5)


# -- Lambda's metrics from invocation records -------------------------------------------------

def _record(**changes: Any) -> InvocationRecord:
    base: dict[str, Any] = dict(
        function_name="s-check-stock",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:s-check-stock",
        memory_mb=128, duration_ms=12.5, ok=True, throttled=False, finished_at=1000.0)
    base.update(changes)
    return InvocationRecord(**base)


def test_each_record_gives_the_datapoints_lambda_publishes() -> None:
    def values(record: InvocationRecord) -> dict[str, float]:
        points = lambda_datapoints(record)
        assert {p.dimensions for p in points} == {FN}
        return {p.metric: p.value for p in points}

    assert values(_record()) == {"Invocations": 1, "Errors": 0, "Throttles": 0,
                                 "Duration": 12.5}
    assert values(_record(ok=False)) == {"Invocations": 1, "Errors": 1, "Throttles": 0,
                                         "Duration": 12.5}
    assert values(_record(iterator_age_ms=2500.0))["IteratorAge"] == 2500.0
    assert values(_record(throttled=True)) == {"Throttles": 1}


def test_a_batchs_iterator_age_is_measured_from_its_newest_record() -> None:
    records = [{"dynamodb": {"ApproximateCreationDateTime": t}} for t in (990.0, 998.5, 995)]
    assert iterator_age_ms(records, 1000.0) == 1500.0
    assert iterator_age_ms(records, 998.0) == 0.0  # a clock behind the stream is not negative


# -- through moto: the seam's alarm states, metrics, and the message in the outbox ------------

def test_alarms_metrics_and_messages_through_moto(tmp_path: Path,
                                                  aws_credentials: None) -> None:
    from moto import mock_aws

    from inventory_cli.local import seam
    from inventory_cli.local.outbox import Outbox, read_outbox
    from inventory_cli.local.seam import cloudwatch as seam_cloudwatch

    seam.install()
    outbox = Outbox(tmp_path / "outbox.jsonl")
    with mock_aws():
        seam.attach(outbox=outbox)
        try:
            sns = boto3.client("sns", region_name="us-east-1")
            topic = sns.create_topic(Name="s-ops")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
            cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
            params = dict(AlarmName="s-check-stock-errors", Namespace="AWS/Lambda",
                          MetricName="Errors", Dimensions=[{"Name": "FunctionName",
                                                            "Value": "s-check-stock"}],
                          Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                          ComparisonOperator="GreaterThanOrEqualToThreshold",
                          TreatMissingData="notBreaching", AlarmActions=[topic],
                          OKActions=[topic])
            woken: list[bool] = []
            seam_cloudwatch.alarm_changed.append(lambda: woken.append(True))
            try:
                cloudwatch.put_metric_alarm(**params)
            finally:
                seam_cloudwatch.alarm_changed.clear()
            assert woken == [True]  # the emulator's evaluator looks at a new alarm at once

            def state() -> str:
                return str(cloudwatch.describe_alarms(AlarmNames=["s-check-stock-errors"])[
                    "MetricAlarms"][0]["StateValue"])

            assert state() == "INSUFFICIENT_DATA"  # a new alarm, as on AWS
            now = datetime.now(UTC).timestamp()
            LambdaMetrics()(_record(ok=False, finished_at=now - 1.0))
            # 1-second periods: the failure's period is complete a second later.
            evaluator = AlarmEvaluator(time_scale=60.0, clock=lambda: now + 1.0)
            assert [e.state for _, e in evaluator.evaluate_all()] == ["ALARM"]
            assert state() == "ALARM"
            cloudwatch.put_metric_alarm(**{**params, "Threshold": 5.0})
            assert state() == "ALARM"  # an updated alarm keeps its state, as on AWS

            [mail] = read_outbox(outbox.path)
            assert (mail.to, mail.topic_arn, mail.subject) == (
                "ops@example.com", topic, 'ALARM: "s-check-stock-errors" in US East '
                                          "(N. Virginia)")
            assert "State Change:               INSUFFICIENT_DATA -> ALARM" in mail.message
            stats = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda", MetricName="Errors", Statistics=["Sum"], Period=60,
                Dimensions=[{"Name": "FunctionName", "Value": "s-check-stock"}],
                StartTime=datetime.fromtimestamp(now - 120, UTC),
                EndTime=datetime.fromtimestamp(now + 60, UTC))["Datapoints"]
            assert sum(d["Sum"] for d in stats) == 1.0  # readable by any CloudWatch client
        finally:
            seam.detach()


@pytest.mark.parametrize(("late_minutes", "expected"), [(2, "OK"), (3, "ALARM")])
def test_the_stacks_iterator_age_alarm_fires_on_10_minutes_behind_in_3_of_5_minutes(
        late_minutes: int, expected: str, aws_credentials: None) -> None:
    """The provisioned alarm's own settings, fed the metric the runtime publishes."""
    from moto import mock_aws

    from inventory_cli.config import StackNames
    from inventory_cli.local import seam
    from inventory_cli.stack import resources

    seam.install()
    names = StackNames(stack="s", account_id="123456789012", region="us-east-1")
    spec = next(a for a in resources.alarms(names) if a.id == "check-iterator-age-alarm")
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        cloudwatch.put_metric_alarm(**spec.parameters())
        start = 1_800_000_000.0  # a minute boundary
        metrics = LambdaMetrics()
        for minute in range(5):  # one batch a minute; the last `late_minutes` 11 minutes late
            late = minute >= 5 - late_minutes
            metrics(_record(function_name=names.check_function,
                            function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:"
                                         f"{names.check_function}",
                            finished_at=start + 60 * minute + 30,
                            iterator_age_ms=(11 if late else 1) * 60_000.0))
        evaluator = AlarmEvaluator(clock=lambda: start + 300)
        evaluator.evaluate_all()
        alarm = cloudwatch.describe_alarms(AlarmNames=[spec.name])["MetricAlarms"][0]
        assert alarm["StateValue"] == expected, alarm["StateReason"]
