"""The planner: compares the desired stack with what exists and emits the calls that close the gap.

A loop over `resources.stack_resources`: each spec goes to its kind's planner
(`stack.kinds`), which reads what exists through one `RemoteState` and decides. The list's
order is the plan's: every call finds what it needs. Values unknown until an earlier call has
run (a new identity pool's id, a new stream's ARN) are `Ref`s, passed from spec to spec in the
`PlanContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inventory_cli.stack.instructions import Plan, Step
from inventory_cli.stack.kinds import KINDS, deletion
from inventory_cli.stack.kinds.common import PlanContext
from inventory_cli.stack.model import DesiredStack
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import stack_resources, stack_resources_of

ClientFactory = Callable[[str], Any]


class StackPlanner:
    def __init__(self, client: ClientFactory, desired: DesiredStack,
                 remote: RemoteState | None = None) -> None:
        self.desired = desired
        self.remote = remote or RemoteState(client)

    def plan(self) -> Plan:
        context = PlanContext(self.desired)
        specs = stack_resources(self.desired)
        steps: list[Step] = []
        for spec in specs:
            if spec.dashboard and not self.desired.dashboard:
                continue
            steps += KINDS[spec.kind].plan(spec, self.remote, context)
        if not self.desired.dashboard:
            # A dashboard left from before the stack was switched to --no-dashboard: an
            # identity pool that hands out read access to the table should not outlive its
            # page. Removed as teardown would; what is not ours stays.
            leftovers = [spec for spec in reversed(stack_resources_of(self.desired.names))
                         if spec.dashboard]
            steps += deletion(leftovers, self.remote, self.desired.names)[0]
        else:
            # What only the other dashboard mode has (the guests' role of a public stack made
            # private; the user pool, staff role and distribution of a private one made public).
            wanted = {spec.id for spec in specs}
            other = [spec for spec in reversed(stack_resources_of(self.desired.names))
                     if spec.dashboard and spec.id not in wanted]
            steps += deletion(other, self.remote, self.desired.names)[0]
        return Plan(tuple(steps), inapplicable=tuple(context.inapplicable),
                    notes=tuple(context.notes.items()), deploying=tuple(context.deploying))
