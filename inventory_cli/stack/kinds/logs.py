"""CloudWatch Logs: each function's log group, made by provision with retention and tags (so
the functions need no logs:CreateLogGroup)."""

from __future__ import annotations

from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import APICall
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    ours_to_delete,
    owned_or_fail,
)
from inventory_cli.stack.model import LogGroupSpec
from inventory_cli.stack.remote import RemoteState


def _arn(group: dict[str, str]) -> str:
    return group.get("logGroupArn") or group["arn"].removesuffix(":*")


def plan_log_group(spec: LogGroupSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names, name = ctx.names, spec.name
    group = remote.log_group(name)
    retention = APICall(spec.id, "logs", "put_retention_policy",
                        {"logGroupName": name, "retentionInDays": spec.retention_days},
                        f"keep the logs of {name} for {spec.retention_days} days")
    if group is None:
        return [APICall(spec.id, "logs", "create_log_group",
                        {"logGroupName": name, "tags": dict(names.tags)},
                        f"create log group {name}", creates=True), retention]
    steps: Planned = []
    arn = _arn(group)
    if not owned_or_fail(names, "log group", name, remote.log_group_tags(arn)):
        steps.append(APICall(spec.id, "logs", "tag_resource",
                             {"resourceArn": arn, "tags": dict(names.tags)},
                             f"tag log group {name}"))
    if group.get("retentionInDays") != spec.retention_days:
        steps.append(retention)
    return steps


def delete_log_group(spec: LogGroupSpec, remote: RemoteState, names: StackNames) -> Deleted:
    group = remote.log_group(spec.name)
    if group is None:
        return []
    # Untagged is ours: Lambda creates a deleted log group again, untagged, and the name
    # embeds this stack's.
    skip = ours_to_delete(names, "log group", spec.name, remote.log_group_tags(_arn(group)),
                          untagged_is_ours=True)
    if skip:
        return [skip]
    return [APICall(spec.id, "logs", "delete_log_group", {"logGroupName": spec.name},
                    f"delete log group {spec.name}")]


KINDS = {LogGroupSpec.kind: Kind(plan_log_group, delete_log_group)}
