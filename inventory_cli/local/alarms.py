"""The emulator's CloudWatch alarm evaluator: metric alarms change state as CloudWatch would
change them, and each change is published to the alarm's actions through the emulator's SNS.

How CloudWatch evaluates (Amazon CloudWatch User Guide, "Evaluating an alarm" and "Configuring
how CloudWatch alarms treat missing data":
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
- The metric is cut into periods of `Period` seconds, aligned to the clock; each period's
  datapoints give one value by `Statistic` (Sum, Average, Minimum, Maximum, SampleCount); a
  period without datapoints is missing.
- The alarm looks at the `EvaluationPeriods` (N) most recent periods and goes to ALARM when at
  least `DatapointsToAlarm` (M) of them breach the threshold (`ComparisonOperator`), else OK.
- Missing periods: CloudWatch reads an evaluation range longer than N. When N periods of the
  range have values, the most recent N values decide and TreatMissingData plays no part; with
  fewer, the values there are are all used and missing ones fill the rest as TreatMissingData
  says (breaching, notBreaching; missing and ignore add nothing). With no value at all in the
  range: missing -> INSUFFICIENT_DATA, ignore -> the state stays, breaching -> ALARM,
  notBreaching -> OK. AWS does not state the range's length; here it is N + `EXTRA_PERIODS`.
- Alarms on `AWS/DynamoDB` metrics always treat missing data as ignore (PutMetricAlarm,
  TreatMissingData).
- A state change runs the actions of the new state (AlarmActions, OKActions,
  InsufficientDataActions) when ActionsEnabled; SNS topics get CloudWatch's alarm message.

The evaluator thread evaluates every alarm each `tick_s`, and at once when an alarm is created
or changed (so a new alarm leaves INSUFFICIENT_DATA during the provision that made it, as on
CloudWatch within moments); `time_scale` divides every alarm's period (tests make a 5-minute
period last 15 seconds). Periods are evaluated once complete.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from inventory_cli.local.seam.cloudwatch import Datapoint, MetricAlarm

logger = logging.getLogger(__name__)

# Periods read before the N evaluated ones, where missing data leaves fewer than N values.
EXTRA_PERIODS = 3
TIME_SCALE_ENV = "INVENTORY_LOCAL_ALARM_TIME_SCALE"
TICK_ENV = "INVENTORY_LOCAL_ALARM_TICK_S"
DEFAULT_TICK_S = 10.0

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
# The region names CloudWatch puts in its messages ("in US East (N. Virginia)").
_REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                 "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
                 "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}


def statistic(values: Sequence[float], name: str) -> float:
    if name == "Sum":
        return math.fsum(values)
    if name == "Maximum":
        return max(values)
    if name == "Minimum":
        return min(values)
    if name == "SampleCount":
        return float(len(values))
    if name == "Average":
        return math.fsum(values) / len(values)
    raise ValueError(f"unsupported statistic {name!r}")


def period_values(points: Sequence[Datapoint], *, statistic_name: str, period_s: float,
                  end: float, count: int) -> list[float | None]:
    """The values of the `count` periods ending at `end` (oldest first; None: missing)."""
    buckets: list[list[float]] = [[] for _ in range(count)]
    start = end - count * period_s
    for point in points:
        if start <= point.timestamp < end:
            index = min(count - 1, int((point.timestamp - start) // period_s))
            buckets[index].append(point.value)
    return [statistic(b, statistic_name) if b else None for b in buckets]


@dataclass(frozen=True)
class Evaluation:
    state: str
    # The period values that decided, oldest first (None: missing, filled as the alarm says).
    evaluated: tuple[float | None, ...]
    breaching: int
    reason: str


def evaluate(alarm: MetricAlarm, values: Sequence[float | None]) -> Evaluation:
    """The state `alarm` goes to given the values of its evaluation range (oldest first)."""
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    breaches, words = _COMPARISONS[alarm.comparison]
    missing = "ignore" if alarm.namespace == "AWS/DynamoDB" else alarm.treat_missing_data
    present = [v for v in values if v is not None]
    if not present:
        state = {"missing": "INSUFFICIENT_DATA", "ignore": alarm.state, "breaching": "ALARM",
                 "notBreaching": "OK"}.get(missing, "INSUFFICIENT_DATA")
        treated = {"breaching": "Breaching", "notBreaching": "NonBreaching"}.get(missing)
        reason = (f"Threshold Crossed: no datapoints were received for {n} "
                  f"period{'s' * (n != 1)}" + (f" and {n} missing datapoint"
                                              f"{'s were' if n != 1 else ' was'} treated as "
                                              f"[{treated}]." if treated else "."))
        return Evaluation(state, (None,) * n, n if state == "ALARM" else 0, reason)
    window: list[float | None] = list(present[-n:])
    fill = n - len(window)
    breaching = sum(1 for v in window if v is not None and breaches(v, alarm.threshold))
    if fill and missing == "breaching":
        breaching += fill
    if fill and missing in ("breaching", "notBreaching"):
        window = [*([None] * fill), *window]
    state = "ALARM" if breaching >= m else "OK"
    shown = [v for v in window if v is not None]
    numbers = ", ".join(_number(v) for v in reversed(shown))  # newest first, as CloudWatch
    verb = ("was" if len(shown) == 1 else "were") + ("" if state == "ALARM" else " not")
    if n == 1:
        reason = (f"Threshold Crossed: 1 datapoint [{numbers}] {verb} {words} the threshold "
                  f"({_number(alarm.threshold)}).")
    else:
        reason = (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{numbers}] "
                  f"{'were' if state == 'ALARM' else 'were not'} {words} the threshold "
                  f"({_number(alarm.threshold)}) (minimum {m} datapoints for OK -> ALARM "
                  "transition).")
    return Evaluation(state, tuple(window), breaching, reason)


def _number(value: float) -> str:
    return repr(float(value))


def _timestamp(epoch: float) -> str:
    """CloudWatch's message timestamps: 2026-12-03T07:31:00.000+0000."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def alarm_message(alarm: MetricAlarm, *, old_state: str, evaluation: Evaluation,
                  changed_at: float) -> dict[str, object]:
    """CloudWatch's JSON message for a state change, as SNS subscribers receive it."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": alarm.account_id,
        "AlarmConfigurationUpdatedTimestamp": _timestamp(
            alarm.configuration_updated.timestamp()),
        "NewStateValue": evaluation.state,
        "NewStateReason": evaluation.reason,
        "StateChangeTime": _timestamp(changed_at),
        "Region": _REGION_NAMES.get(alarm.region, alarm.region),
        "AlarmArn": alarm.arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": alarm.statistic.upper(),
            "Unit": None,
            "Dimensions": [{"value": v, "name": n} for n, v in alarm.dimensions],
            "Period": alarm.period_s,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm,
            "ComparisonOperator": alarm.comparison,
            "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data,
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def alarm_subject(message: dict[str, object]) -> str:
    """`ALARM: "name" in US East (N. Virginia)`, cut to SNS's 100 characters."""
    subject = f'{message["NewStateValue"]}: "{message["AlarmName"]}" in {message["Region"]}'
    return subject[:100]


def alarm_email(message: dict[str, object]) -> str:
    """The readable text e-mail subscribers get, laid out like CloudWatch's notification."""
    trigger = message["Trigger"]
    assert isinstance(trigger, dict)
    dimensions = ", ".join(f"[{d['name']} = {d['value']}]" for d in trigger["Dimensions"])
    return "\n".join([
        f'You are receiving this email because your Amazon CloudWatch Alarm '
        f'"{message["AlarmName"]}" in the {message["Region"]} region has entered the '
        f'{message["NewStateValue"]} state, because "{message["NewStateReason"]}" at '
        f'"{message["StateChangeTime"]}".',
        "",
        "Alarm Details:",
        f"- Name:                       {message['AlarmName']}",
        f"- Description:                {message['AlarmDescription'] or ''}",
        f"- State Change:               {message['OldStateValue']} -> "
        f"{message['NewStateValue']}",
        f"- Reason for State Change:    {message['NewStateReason']}",
        f"- Timestamp:                  {message['StateChangeTime']}",
        f"- AWS Account:                {message['AWSAccountId']}",
        f"- Alarm Arn:                  {message['AlarmArn']}",
        "",
        "Threshold:",
        f"- The alarm is in the ALARM state when the metric is {trigger['ComparisonOperator']} "
        f"{trigger['Threshold']} for at least {trigger['DatapointsToAlarm']} of the last "
        f"{trigger['EvaluationPeriods']} period(s) of {trigger['Period']} seconds.",
        "",
        "Monitored Metric:",
        f"- MetricNamespace:                     {trigger['Namespace']}",
        f"- MetricName:                          {trigger['MetricName']}",
        f"- Dimensions:                          {dimensions}",
        f"- Period:                              {trigger['Period']} seconds",
        f"- Statistic:                           {trigger['Statistic']}",
        f"- TreatMissingData:                    {trigger['TreatMissingData']}",
    ])


class AlarmSource:
    """Where the evaluator reads and writes (default: moto's CloudWatch and SNS via the seam)."""

    def alarms(self) -> list[MetricAlarm]:
        from inventory_cli.local.seam import cloudwatch

        return cloudwatch.metric_alarms()

    def datapoints(self, account_id: str, region: str, since: float) -> list[Datapoint]:
        from inventory_cli.local.seam import cloudwatch

        return cloudwatch.datapoints(account_id, region, since)

    def set_state(self, alarm: MetricAlarm, state: str, reason: str, reason_data: str) -> bool:
        from inventory_cli.local.seam import cloudwatch

        return cloudwatch.set_alarm_state(alarm, state, reason, reason_data)

    def publish(self, topic_arn: str, subject: str, message: str) -> bool:
        from inventory_cli.local.seam import cloudwatch

        return cloudwatch.publish(topic_arn, subject=subject, message=message)


class AlarmEvaluator:
    """Evaluates every metric alarm each `tick_s` on a thread of its own (`start`/`stop`)."""

    def __init__(self, source: AlarmSource | None = None, *, tick_s: float = DEFAULT_TICK_S,
                 time_scale: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        if time_scale <= 0 or tick_s <= 0:
            raise ValueError("the alarm tick and time scale must be positive")
        self._source = source or AlarmSource()
        self.tick_s = tick_s
        self.time_scale = time_scale
        self._clock = clock
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> AlarmEvaluator:
        env = os.environ if environ is None else environ
        return cls(tick_s=_positive(env, TICK_ENV, DEFAULT_TICK_S),
                   time_scale=_positive(env, TIME_SCALE_ENV, 1.0))

    def period_of(self, alarm: MetricAlarm) -> float:
        return alarm.period_s / self.time_scale

    def evaluate_all(self) -> list[tuple[MetricAlarm, Evaluation]]:
        """One evaluation of every alarm; returns the state changes made."""
        now = self._clock()
        alarms = self._source.alarms()
        by_place: dict[tuple[str, str], list[MetricAlarm]] = defaultdict(list)
        for alarm in alarms:
            by_place[(alarm.account_id, alarm.region)].append(alarm)
        changes = []
        for (account_id, region), group in by_place.items():
            longest = max(self.period_of(a) * (a.evaluation_periods + EXTRA_PERIODS + 1)
                          for a in group)
            points = self._source.datapoints(account_id, region, now - longest)
            by_metric: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Datapoint]] = (
                defaultdict(list))
            for point in points:
                by_metric[(point.namespace, point.metric, point.dimensions)].append(point)
            for alarm in group:
                try:
                    change = self._evaluate_one(alarm, by_metric[
                        (alarm.namespace, alarm.metric, alarm.dimensions)], now)
                except Exception:  # noqa: BLE001 - one bad alarm must not stop the others
                    logger.exception("could not evaluate alarm %s", alarm.name)
                    continue
                if change is not None:
                    changes.append((alarm, change))
        return changes

    def _evaluate_one(self, alarm: MetricAlarm, points: Sequence[Datapoint],
                      now: float) -> Evaluation | None:
        if alarm.comparison not in _COMPARISONS:
            return None  # anomaly-detection operators need a model the emulator has not
        period = self.period_of(alarm)
        end = math.floor(now / period) * period  # the newest complete period ends here
        count = alarm.evaluation_periods + EXTRA_PERIODS
        values = period_values(points, statistic_name=alarm.statistic, period_s=period,
                               end=end, count=count)
        evaluation = evaluate(alarm, values)
        if evaluation.state == alarm.state:
            return None
        reason_data = json.dumps({
            "version": "1.0", "queryDate": _timestamp(now),
            "startDate": _timestamp(end - alarm.evaluation_periods * period),
            "statistic": alarm.statistic, "period": alarm.period_s,
            "recentDatapoints": [v for v in evaluation.evaluated if v is not None],
            "threshold": alarm.threshold})
        if not self._source.set_state(alarm, evaluation.state, evaluation.reason, reason_data):
            return None
        logger.info("alarm %s: %s -> %s (%s)", alarm.name, alarm.state, evaluation.state,
                    evaluation.reason)
        self._notify(alarm, evaluation, now)
        return evaluation

    def _notify(self, alarm: MetricAlarm, evaluation: Evaluation, now: float) -> None:
        if not alarm.actions_enabled:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[evaluation.state]
        message = alarm_message(alarm, old_state=alarm.state, evaluation=evaluation,
                                changed_at=now)
        body = json.dumps(message)
        structured = json.dumps({"default": body, "email": alarm_email(message),
                                 "sms": alarm_subject(message)})
        for action in actions:
            if not action.startswith("arn:aws:sns:"):
                logger.warning("alarm %s: action %s is not an SNS topic; the emulator runs "
                               "SNS actions only", alarm.name, action)
                continue
            if not self._source.publish(action, alarm_subject(message), structured):
                logger.warning("alarm %s: no topic %s; its %s message is lost", alarm.name,
                               action, evaluation.state)

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="alarm-evaluator")
        self._thread.start()

    def wake(self) -> None:
        """Evaluate now rather than at the next tick (an alarm was created or changed)."""
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                self.evaluate_all()
            except Exception:  # noqa: BLE001 - the evaluator must outlive a bad tick
                logger.exception("alarm evaluation failed")

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def _positive(env: os._Environ[str] | dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    if value <= 0:
        logger.warning("%s=%r must be positive; using %s", name, raw, default)
        return default
    return value
