"""`teardown`: delete every resource of one stack, planned (reads only) then applied.

The stack's list of resources backwards, each through its kind's `delete`. Resources are found
by their derived names and deleted only when tagged with this stack, so a stack never deletes
another's. Two exceptions, both unambiguous because their names embed this stack's name:
buckets (S3 cannot tag a bucket in CreateBucket, so an interrupted provision can leave one
untagged) and log groups (Lambda creates them untagged if they were deleted). Anything found
but not ours is reported as skipped. Idempotent: what is gone is simply not planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.stack.errors import TeardownRefused
from inventory_cli.stack.executor import BeforeStep, Executor
from inventory_cli.stack.instructions import Plan
from inventory_cli.stack.kinds import deletion
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import stack_resources_of

Confirm = Callable[[Plan], bool]


@dataclass(frozen=True)
class TeardownPlan:
    plan: Plan
    # "<kind> <name>: <reason>" for resources found under our names but not ours to delete.
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class TeardownResult:
    names: StackNames
    plan: Plan
    skipped: tuple[str, ...]
    applied: bool


class TeardownPlanner:
    def __init__(self, client: Callable[[str], Any], names: StackNames) -> None:
        self.remote = RemoteState(client)
        self.names = names

    def plan(self) -> TeardownPlan:
        steps, skipped = deletion(tuple(reversed(stack_resources_of(self.names))),
                                  self.remote, self.names)
        return TeardownPlan(Plan(tuple(steps)), tuple(skipped))


def plan_teardown(aws: Aws) -> TeardownPlan:
    return TeardownPlanner(aws.client, aws.names).plan()


def teardown(aws: Aws, *, confirm: Confirm | None = None, dry_run: bool = False,
             console: Console | None = None, sleep: Callable[[float], None] = time.sleep,
             before_step: BeforeStep | None = None) -> TeardownResult:
    """Delete the stack. `confirm` sees the plan and must return True for anything to happen
    (None: no confirmation, as with --yes)."""
    planned = plan_teardown(aws)
    plan = planned.plan
    if not dry_run and not plan.is_empty:
        if confirm is not None and not confirm(plan):
            raise TeardownRefused(f"teardown of stack {aws.stack} cancelled: nothing was deleted")
        Executor(aws.client, console=console or Console(quiet=True), sleep=sleep,
                 before_step=before_step).execute(plan)
    return TeardownResult(names=aws.names, plan=plan, skipped=planned.skipped,
                          applied=not dry_run)
