"""CloudWatch in moto: metric data the emulator writes, alarms it reads and sets, and the
state-change messages it publishes through SNS.

- `install_alarm_states`: a new alarm starts in INSUFFICIENT_DATA and an updated one keeps its
  state, as PutMetricAlarm documents ("When this operation creates an alarm, the alarm state is
  immediately set to INSUFFICIENT_DATA ... When you update an existing alarm, its state is left
  unchanged", CloudWatch API Reference, PutMetricAlarm:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
  moto starts every alarm, new or updated, in OK.
- `put_datapoints`, `metric_alarms`, `datapoints`, `set_alarm_state`: plain data in and out,
  so `local.metrics` and `local.alarms` never see a moto object.
- `publish`: a message to an SNS topic of the emulator, delivered as any publish is (e-mail and
  SMS to the outbox).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# moto keeps metric data in a plain list per backend; the metrics listener appends from the
# runtime's threads while the evaluator reads.
_lock = threading.Lock()
# Called after an alarm was created or changed (the evaluator looks at it at once, as
# CloudWatch evaluates a new alarm within moments, not at its next round).
alarm_changed: list[Callable[[], None]] = []


@dataclass(frozen=True)
class Datapoint:
    """One value of one metric at one time (epoch seconds)."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    timestamp: float
    unit: str = "None"


@dataclass(frozen=True)
class MetricAlarm:
    """What an evaluator needs of a metric alarm, as moto keeps it."""

    account_id: str
    region: str
    name: str
    arn: str
    description: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing_data: str
    actions_enabled: bool
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    state: str
    configuration_updated: datetime


def install_alarm_states() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    upstream = CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        before = self.alarms.get(name)
        alarm = upstream(self, name, *args, **kwargs)
        if before is None:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_reason = "Unchecked: Initial alarm creation"
        else:
            alarm.state_value = before.state_value
            alarm.state_reason = before.state_reason
            alarm.state_reason_data = before.state_reason_data
            alarm.state_updated_timestamp = before.state_updated_timestamp
            alarm.history = before.history
        for listener in list(alarm_changed):
            listener()
        return alarm

    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]


def _backends() -> Iterator[tuple[str, str, Any]]:
    """(account, region, backend) of every CloudWatch backend moto has made so far."""
    from moto.cloudwatch.models import cloudwatch_backends

    for account_id, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            yield account_id, region, backend


def _backend(account_id: str, region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id][region]


def put_datapoints(account_id: str, region: str, datapoints: Sequence[Datapoint]) -> None:
    from moto.cloudwatch.models import MetricDatum

    backend = _backend(account_id, region)
    data = [MetricDatum(d.namespace, d.metric, d.value,
                        [{"Name": n, "Value": v} for n, v in d.dimensions],
                        # naive UTC, as moto stamps the data it keeps
                        datetime.fromtimestamp(d.timestamp, UTC).replace(tzinfo=None), d.unit)
            for d in datapoints]
    with _lock:
        backend.metric_data.extend(data)


def _dimensions(items: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(d.name), str(d.value)) for d in items))


def _utc(moment: datetime) -> datetime:
    """moto stamps in naive UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def metric_alarms() -> list[MetricAlarm]:
    """Every metric alarm (composite and metric-math alarms are not evaluated here)."""
    found = []
    for account_id, region, backend in _backends():
        for alarm in list(backend.alarms.values()):
            if alarm.rule is not None or alarm.metric_data_queries or not alarm.metric_name:
                continue
            evaluation_periods = int(alarm.evaluation_periods or 1)
            found.append(MetricAlarm(
                account_id=account_id, region=region, name=alarm.name, arn=alarm.alarm_arn,
                description=alarm.description or "", namespace=alarm.namespace,
                metric=alarm.metric_name, dimensions=_dimensions(alarm.dimensions),
                statistic=alarm.statistic or "Average", period_s=int(alarm.period or 60),
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=int(alarm.datapoints_to_alarm or evaluation_periods),
                comparison=alarm.comparison_operator, threshold=float(alarm.threshold),
                treat_missing_data=alarm.treat_missing_data or "missing",
                actions_enabled=bool(alarm.actions_enabled),
                alarm_actions=tuple(alarm.alarm_actions or ()),
                ok_actions=tuple(alarm.ok_actions or ()),
                insufficient_data_actions=tuple(alarm.insufficient_data_actions or ()),
                state=alarm.state_value,
                configuration_updated=_utc(alarm.configuration_updated_timestamp)))
    return found


def datapoints(account_id: str, region: str, since: float) -> list[Datapoint]:
    """Every datapoint of one account and region stamped at or after `since` (epoch s)."""
    backend = _backend(account_id, region)
    with _lock:
        data = list(backend.metric_data)
    found = []
    for datum in data:
        value = getattr(datum, "value", None)
        stamp = datum.timestamp
        if value is None or not isinstance(stamp, datetime):
            continue  # statistic sets (StatisticValues) are not written by the emulator
        epoch = _utc(stamp).timestamp()
        if epoch >= since:
            found.append(Datapoint(datum.namespace, datum.name, _dimensions(datum.dimensions),
                                   float(value), epoch, str(datum.unit or "None")))
    return found


def set_alarm_state(alarm: MetricAlarm, state: str, reason: str, reason_data: str) -> bool:
    """Set the alarm's state unless it changed or went away meanwhile; True if set."""
    backend = _backend(alarm.account_id, alarm.region)
    current = backend.alarms.get(alarm.name)
    if current is None or current.state_value != alarm.state:
        return False
    backend.set_alarm_state(alarm.name, reason, reason_data, state)
    return True


def publish(topic_arn: str, *, subject: str, message: str) -> bool:
    """Publish to a topic of the emulator (message structure "json": one text per protocol);
    False when there is no such topic."""
    from moto.sns.models import sns_backends

    parts = topic_arn.split(":")
    if len(parts) < 6 or parts[2] != "sns":
        return False
    region, account_id = parts[3], parts[4]
    backend = sns_backends[account_id][region]
    if topic_arn not in backend.topics:
        return False
    backend.publish(message, arn=topic_arn, subject=subject, message_structure="json")
    return True
