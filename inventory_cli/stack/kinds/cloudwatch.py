"""CloudWatch: the stack's metric alarms (their actions notify the operators' topic).

PutMetricAlarm creates an alarm or overwrites its whole configuration (a new alarm starts in
INSUFFICIENT_DATA; an updated one keeps its state), so one call repairs any drift. Tags given to
PutMetricAlarm are ignored for an existing alarm: an untagged one is tagged with TagResource.
(CloudWatch API Reference, PutMetricAlarm:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)
"""

from __future__ import annotations

from typing import Any

from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import APICall
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    ours_to_delete,
    owned_or_fail,
    tag_list,
)
from inventory_cli.stack.model import AlarmSpec
from inventory_cli.stack.remote import RemoteState


def _comparable(parameters: dict[str, Any]) -> dict[str, Any]:
    """An alarm's settings in a form where order and number types do not count."""
    out = dict(parameters)
    out["Dimensions"] = sorted((d["Name"], d["Value"]) for d in out.get("Dimensions", []))
    for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        out[key] = sorted(out.get(key) or [])
    out["Threshold"] = float(out.get("Threshold", 0.0))
    # DescribeAlarms omits DatapointsToAlarm when it was never set: it then equals
    # EvaluationPeriods (every period must breach).
    out["DatapointsToAlarm"] = out.get("DatapointsToAlarm") or out.get("EvaluationPeriods")
    out["AlarmDescription"] = out.get("AlarmDescription") or ""
    # Missing data is treated as "missing" when TreatMissingData was never set.
    out["TreatMissingData"] = out.get("TreatMissingData") or "missing"
    return out


def drifted_settings(spec: AlarmSpec, alarm: dict[str, Any]) -> list[str]:
    """The settings of `alarm` (as DescribeAlarms answers) that differ from the spec's."""
    wanted = _comparable(spec.parameters())
    actual = _comparable({key: alarm.get(key) for key in wanted})
    return [key for key in wanted if wanted[key] != actual[key]]


def plan_alarm(spec: AlarmSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names = ctx.names
    alarm = remote.alarm(spec.name)
    put = {**spec.parameters(), "Tags": tag_list(names.tags)}
    if alarm is None:
        return [APICall(spec.id, "cloudwatch", "put_metric_alarm", put,
                        f"create alarm {spec.name} ({spec.metric} "
                        f"{_operator(spec.comparison)} {_number(spec.threshold)})",
                        creates=True)]
    steps: Planned = []
    if not owned_or_fail(names, "alarm", spec.name, remote.alarm_tags(alarm["AlarmArn"])):
        steps.append(APICall(spec.id, "cloudwatch", "tag_resource",
                             {"ResourceARN": alarm["AlarmArn"], "Tags": tag_list(names.tags)},
                             f"tag alarm {spec.name}"))
    drifted = drifted_settings(spec, alarm)
    if drifted:
        steps.append(APICall(spec.id, "cloudwatch", "put_metric_alarm", put,
                             f"reset {', '.join(drifted)} of alarm {spec.name}"))
    return steps


def delete_alarm(spec: AlarmSpec, remote: RemoteState, names: StackNames) -> Deleted:
    alarm = remote.alarm(spec.name)
    if alarm is None:
        return []
    skip = ours_to_delete(names, "alarm", spec.name, remote.alarm_tags(alarm["AlarmArn"]))
    if skip:
        return [skip]
    return [APICall(spec.id, "cloudwatch", "delete_alarms", {"AlarmNames": [spec.name]},
                    f"delete alarm {spec.name}")]


_OPERATORS = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">",
              "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}


def _operator(comparison: str) -> str:
    return _OPERATORS.get(comparison, comparison)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


KINDS = {AlarmSpec.kind: Kind(plan_alarm, delete_alarm)}
