"""EventBridge in moto: the scheduled rules, read for the emulator's scheduler.

moto stores rules and their targets (PutRule, PutTargets, DescribeRule, ...) but runs nothing
on a schedule. `scheduled_rules` hands the emulator's scheduler (`inventory_cli.local.scheduler`)
the enabled rules that have a schedule expression, as plain data, and `invoke_target` starts
one Lambda target the way EventBridge does: an asynchronous invocation (the function's own
retries and destinations apply), allowed only if the function's resource policy lets
events.amazonaws.com invoke it from that rule (EventBridge User Guide, "Using resource-based
policies for Amazon EventBridge": Lambda permissions). A target without that permission is not
invoked, as on AWS (where it counts as a FailedInvocation).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from inventory_cli.local.seam import attached

logger = logging.getLogger(__name__)

EVENTS_PRINCIPAL = "events.amazonaws.com"


@dataclass(frozen=True)
class ScheduledRule:
    arn: str
    name: str
    account_id: str
    region: str
    schedule: str
    # (target id, target ARN, the Input the target is sent instead of the event, or None)
    targets: tuple[tuple[str, str, str | None], ...]


def scheduled_rules() -> list[ScheduledRule]:
    """Every enabled rule with a schedule expression, on any bus, account and region."""
    from moto.events.models import events_backends

    found = []
    for account_id, regions in list(events_backends.items()):
        for region, backend in list(regions.items()):
            for bus in list(backend.event_buses.values()):
                for rule in list(bus.rules.values()):
                    if rule.state != "ENABLED" or not rule.scheduled_expression:
                        continue
                    targets = tuple((str(t.get("Id")), str(t.get("Arn")), t.get("Input"))
                                    for t in list(rule.targets))
                    found.append(ScheduledRule(rule.arn, rule.name, account_id, region,
                                               str(rule.scheduled_expression), targets))
    return found


def invoke_target(rule: ScheduledRule, target_arn: str, event_json: str) -> bool:
    """Invoke a Lambda target asynchronously through the attached runtime; False (and a log
    line) when it is not a function the emulator holds, or the function's policy does not
    let this rule invoke it."""
    runtime = attached.runtime
    fn = _function(target_arn)
    if runtime is None or fn is None:
        logger.warning("rule %s: target %s is not a function here; not invoked", rule.name,
                       target_arn)
        return False
    if not _allows(fn, rule.arn):
        logger.warning("rule %s: %s has no permission for %s from this rule; not invoked "
                       "(as on AWS)", rule.name, fn.function_name, EVENTS_PRINCIPAL)
        return False
    from inventory_cli.local.seam.awslambda import async_config, function_spec

    runtime.submit_event(function_spec(fn), event_json, async_config(fn))
    return True


def _function(arn: str) -> Any:
    from moto.awslambda.models import lambda_backends

    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        return None
    try:
        return lambda_backends[parts[4]][parts[3]].get_function(parts[6])
    except Exception:  # noqa: BLE001 - moto raises several kinds for "no function"
        return None


def _allows(fn: Any, rule_arn: str) -> bool:
    """Whether the function's resource policy lets EventBridge invoke it from `rule_arn`."""
    statements = getattr(getattr(fn, "policy", None), "statements", None) or []
    policy = {"Statement": [s if isinstance(s, dict) else json.loads(s) for s in statements]}
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or service != EVENTS_PRINCIPAL or not any(
                a in ("lambda:InvokeFunction", "lambda:*") for a in actions):
            continue
        conditions: dict[str, Any] = {}
        for block in (statement.get("Condition") or {}).values():
            conditions.update({k.lower(): v for k, v in block.items()})
        source = conditions.get("aws:sourcearn")
        if source is None or source == rule_arn:
            return True
    return False
