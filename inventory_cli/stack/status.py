"""`status`: every resource of the stack, present or missing, wired as provision would wire it.

Status is the provision plan read per resource: a resource whose plan creates it is missing,
one with any other planned call is drifted, one with none is ok. So status and provision can
never disagree about what "correct" means. The threshold compared is the deployed one: status
reports drift, not a threshold the user might want.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import APICall
from inventory_cli.stack.model import AlarmSpec
from inventory_cli.stack.packaging import LambdaZip
from inventory_cli.stack.planner import StackPlanner
from inventory_cli.stack.provision import desired_stack
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import stack_resources

# deploying: in place and right, but AWS is still rolling it out (a CloudFront distribution).
State = Literal["ok", "missing", "drifted", "deploying"]


@dataclass(frozen=True)
class AlarmState:
    """What CloudWatch says of an alarm: OK, ALARM or INSUFFICIENT_DATA, why, and since when."""

    value: str
    reason: str
    since: str


@dataclass(frozen=True)
class ResourceStatus:
    resource: str
    name: str
    state: State
    detail: str
    # For an alarm that exists: its state (apart from whether its settings are right).
    alarm: AlarmState | None = None

    def as_json(self) -> dict[str, str]:
        row = asdict(self)
        alarm = row.pop("alarm")
        if alarm is not None:
            row.update(alarm_state=alarm["value"], alarm_reason=alarm["reason"],
                       alarm_since=alarm["since"])
        return row


@dataclass(frozen=True)
class StackStatus:
    names: StackNames
    resources: tuple[ResourceStatus, ...]
    # False: provisioned with --no-dashboard (its resources are then not listed).
    dashboard: bool = True
    # What provision would delete: a dashboard left from before it was turned off.
    leftovers: tuple[str, ...] = ()
    dashboard_access: str = "private"

    @property
    def complete(self) -> bool:
        # A deploying resource needs nothing more from anyone: AWS finishes it.
        return (all(r.state in ("ok", "deploying") for r in self.resources)
                and not self.leftovers)

    @property
    def exists(self) -> bool:
        return any(r.state != "missing" for r in self.resources)

    def count(self, state: State) -> int:
        return sum(1 for r in self.resources if r.state == state)


def stack_status(aws: Aws, *, code: LambdaZip | None = None) -> StackStatus:
    desired = desired_stack(aws, threshold=None, code=code)
    remote = RemoteState(aws.client)
    plan = StackPlanner(aws.client, desired, remote).plan()
    specs = stack_resources(desired)
    result = []
    for spec in specs:
        if (spec.dashboard and not desired.dashboard) or spec.id in plan.inapplicable:
            continue
        steps = [s for s in plan.changes if s.resource == spec.id]
        state: State = "ok"
        if any(isinstance(s, APICall) and s.creates for s in steps):
            state = "missing"
        elif steps:
            state = "drifted"
        elif spec.id in plan.deploying:
            state = "deploying"
        detail = {"ok": dict(plan.notes).get(spec.id, ""), "missing": "not found",
                  "deploying": "AWS is still rolling it out (a few minutes)",
                  "drifted": "; ".join(s.summary for s in steps)}[state]
        alarm = _alarm_state(remote, spec) if isinstance(spec, AlarmSpec) else None
        result.append(ResourceStatus(spec.id, spec.display, state, detail, alarm))
    # What provision would delete: a dashboard left from before it was turned off, or what
    # only the other access mode has.
    listed = {r.resource for r in result}
    leftovers = tuple(s.summary for s in plan.changes
                      if s.resource not in listed and s.resource not in plan.inapplicable)
    return StackStatus(desired.names, tuple(result), dashboard=desired.dashboard,
                       leftovers=leftovers, dashboard_access=desired.dashboard_access)


def _alarm_state(remote: RemoteState, spec: AlarmSpec) -> AlarmState | None:
    """The alarm's state as the plan read it (no further call)."""
    alarm: dict[str, Any] | None = remote.alarm(spec.name)
    if alarm is None:
        return None
    since = alarm.get("StateUpdatedTimestamp")
    return AlarmState(value=str(alarm.get("StateValue", "")),
                      reason=str(alarm.get("StateReason", "")),
                      since=since.isoformat(timespec="seconds")
                      if isinstance(since, datetime) else str(since or ""))
