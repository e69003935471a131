"""EventBridge: a rule that runs a function on a schedule, and its one target.

A scheduled rule lives on the account's default event bus; EventBridge invokes the target
asynchronously, allowed by the function's resource policy (lambda:InvokeFunction for
events.amazonaws.com with the rule's ARN as source: EventBridge User Guide, "Using
resource-based policies for Amazon EventBridge", Lambda permissions), which is an
`InvokePermissionSpec` of its own. The rule carries the stack's tag (PutRule's Tags), and is
deleted only with it, its targets first (DeleteRule refuses a rule that still has targets:
EventBridge API Reference, DeleteRule).
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
from inventory_cli.stack.model import ScheduleRuleSpec
from inventory_cli.stack.remote import RemoteState


def rule_arn(names: StackNames, rule: str) -> str:
    return f"arn:aws:events:{names.region}:{names.account_id}:rule/{rule}"


def plan_rule(spec: ScheduleRuleSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names = ctx.names
    put = {"Name": spec.name, "ScheduleExpression": spec.schedule, "State": "ENABLED",
           "Description": spec.description}
    targets = APICall(spec.id, "events", "put_targets",
                      {"Rule": spec.name, "Targets": [{"Id": spec.target_id,
                                                       "Arn": spec.target_arn}]},
                      f"let rule {spec.name} invoke {spec.target_arn.rsplit(':', 1)[-1]}")
    current = remote.rule(spec.name)
    if current is None:
        return [APICall(spec.id, "events", "put_rule", {**put, "Tags": tag_list(names.tags)},
                        f"create rule {spec.name} ({spec.schedule})", creates=True),
                targets]
    steps: Planned = []
    arn = str(current.get("Arn") or rule_arn(names, spec.name))
    if not owned_or_fail(names, "rule", spec.name, remote.rule_tags(arn)):
        steps.append(APICall(spec.id, "events", "tag_resource",
                             {"ResourceARN": arn, "Tags": tag_list(names.tags)},
                             f"tag rule {spec.name}"))
    if any(current.get(k) != put[k] for k in ("ScheduleExpression", "State", "Description")):
        steps.append(APICall(spec.id, "events", "put_rule", put,
                             f"set rule {spec.name} back to {spec.schedule}, enabled"))
    present = remote.rule_targets(spec.name)
    others = [t["Id"] for t in present if t.get("Id") != spec.target_id]
    if others:
        steps.append(APICall(spec.id, "events", "remove_targets",
                             {"Rule": spec.name, "Ids": others},
                             f"remove targets of rule {spec.name} it should not have"))
    wanted = next((t for t in present if t.get("Id") == spec.target_id), None)
    if wanted is None or _target_key(wanted) != _target_key(targets.params["Targets"][0]):
        steps.append(targets)
    return steps


def _target_key(target: dict[str, Any]) -> Any:
    # Input, InputPath or a transformer would change what the function is sent.
    return (target.get("Arn"), target.get("Input"), target.get("InputPath"),
            target.get("InputTransformer"))


def delete_rule(spec: ScheduleRuleSpec, remote: RemoteState, names: StackNames) -> Deleted:
    current = remote.rule(spec.name)
    if current is None:
        return []
    arn = str(current.get("Arn") or rule_arn(names, spec.name))
    skip = ours_to_delete(names, "rule", spec.name, remote.rule_tags(arn))
    if skip:
        return [skip]
    steps: Deleted = []
    ids = [t["Id"] for t in remote.rule_targets(spec.name)]
    if ids:
        steps.append(APICall(spec.id, "events", "remove_targets",
                             {"Rule": spec.name, "Ids": ids},
                             f"remove the targets of rule {spec.name}"))
    steps.append(APICall(spec.id, "events", "delete_rule", {"Name": spec.name},
                         f"delete rule {spec.name}"))
    return steps


KINDS = {ScheduleRuleSpec.kind: Kind(plan_rule, delete_rule)}
