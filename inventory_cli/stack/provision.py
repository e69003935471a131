"""`provision`: plan the stack against what exists, then apply the plan (unless a dry run).

Only the stack's resources: computing the summaries a new stack or a new threshold needs is
`inventory_cli.provisioning.provision`'s, which calls this (the stack does not import `ops`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.errors import UsageError
from inventory_cli.stack.account import check_public_dashboard_allowed
from inventory_cli.stack.deployed import (
    dashboard_url_of,
    deployed_dashboard,
    deployed_dashboard_access,
    deployed_threshold,
)
from inventory_cli.stack.executor import BeforeStep, ExecutionReport, Executor
from inventory_cli.stack.instructions import APICall, Plan
from inventory_cli.stack.model import DesiredStack
from inventory_cli.stack.packaging import LambdaZip, build_zip
from inventory_cli.stack.planner import StackPlanner
from inventory_cli.stack.resources import ON_DEMAND_WARM_WRITES, PRIVATE, PUBLIC


@dataclass(frozen=True)
class ProvisionResult:
    names: StackNames
    plan: Plan
    threshold: int
    # Where the dashboard is (or would be: see `dashboard`).
    dashboard_url: str
    applied: bool
    report: ExecutionReport | None = None
    # On AWS only: the plan created or changed the uploads bucket's notification, which S3 can
    # take about five minutes to apply (files uploaded meanwhile may never reach the loader).
    notification_settling: bool = False
    # False: the stack has no dashboard (--no-dashboard).
    dashboard: bool = True
    # "private" or "public", and what it was before this run (None: a new stack).
    dashboard_access: str = "private"
    access_before: str | None = None

    @property
    def changed_resources(self) -> list[str]:
        """Ids of the resources the plan changes, in plan order."""
        return list(dict.fromkeys(step.resource for step in self.plan.changes))


def desired_stack(aws: Aws, *, threshold: int | None, code: LambdaZip | None = None,
                  dashboard: bool | None = None, warm_writes: int | None = None,
                  dashboard_access: str | None = None) -> DesiredStack:
    """What the stack should be. `threshold=None` keeps the deployed one (0 for a new stack);
    `dashboard=None` keeps the stack's choice (a dashboard, for a new stack);
    `dashboard_access=None` keeps the stack's mode (private, for a new stack)."""
    from inventory_cli.dashboard import iter_assets

    if dashboard is None:
        dashboard = deployed_dashboard(aws) is not False
    if dashboard_access is None:
        dashboard_access = deployed_dashboard_access(aws) or PRIVATE
    if dashboard_access not in (PRIVATE, PUBLIC):
        raise UsageError(f"invalid dashboard access {dashboard_access!r}: use "
                         f"{PRIVATE} or {PUBLIC}")
    if threshold is None:
        threshold = deployed_threshold(aws) or 0
    if threshold < 0:
        raise UsageError(f"invalid low-stock threshold {threshold}: use 0 or more")
    if warm_writes is not None and warm_writes <= ON_DEMAND_WARM_WRITES:
        raise UsageError(f"invalid --warm-writes {warm_writes}: a new on-demand table already "
                         f"takes {ON_DEMAND_WARM_WRITES:,} writes/s; ask for more")
    return DesiredStack(
        names=aws.names,
        threshold=threshold,
        code=code or build_zip(),
        assets=tuple(iter_assets()),
        endpoint=aws.endpoint_url if aws.is_local else None,
        dashboard=dashboard,
        warm_writes=warm_writes,
        dashboard_access=dashboard_access,
    )


def plan_provision(aws: Aws, desired: DesiredStack) -> Plan:
    return StackPlanner(aws.client, desired).plan()


def access_notice(before: str | None, after: str, *, dashboard: bool) -> str | None:
    """What provision says about the dashboard's access before it changes anything."""
    if not dashboard:
        return None
    if after == PUBLIC:
        change = ("Dashboard access: private -> public. The staff user pool and its accounts, "
                  "the staff role and the CloudFront distribution are deleted; guests get the "
                  "read role. " if before == PRIVATE else "")
        kept = "" if before != PUBLIC else "kept as it was made (--public-dashboard). "
        return (f"{change}The dashboard is PUBLIC: {kept}anyone with its address can read "
                "the stock of every store. `inventory provision --private-dashboard` makes it "
                "private.")
    if before == PUBLIC:
        return ("Dashboard access: public -> private. Guests lose their read access (the "
                "guest role is deleted); staff sign in with accounts made by `inventory staff "
                "add EMAIL [--store NAME ...]`, and each reads only its stores.")
    return None


def provision(aws: Aws, *, threshold: int | None = None, dry_run: bool = False,
              console: Console | None = None, sleep: Callable[[float], None] = time.sleep,
              before_step: BeforeStep | None = None, code: LambdaZip | None = None,
              dashboard: bool | None = None, warm_writes: int | None = None,
              dashboard_access: str | None = None) -> ProvisionResult:
    """Bring the stack to the desired state; with `dry_run`, only plan.

    `dashboard`: True/False adds or removes the dashboard; None keeps the stack's choice.
    `dashboard_access`: "private"/"public"; None keeps the stack's mode (private when new).
    What changes about access is printed on `console` before anything changes. Before
    anything is created, a public dashboard checks that the account lets its bucket be public
    (`AccountBlocksPublicDashboard` otherwise); a private one needs no public policy.
    """
    before = deployed_dashboard_access(aws)
    desired = desired_stack(aws, threshold=threshold, code=code, dashboard=dashboard,
                            warm_writes=warm_writes, dashboard_access=dashboard_access)
    plan = plan_provision(aws, desired)
    notice = access_notice(before, desired.dashboard_access, dashboard=desired.dashboard)
    if notice and console is not None:
        console.print(notice, soft_wrap=True, markup=False)
    if desired.dashboard and not desired.private:
        check_public_dashboard_allowed(aws, sets_dashboard_policy=any(
            isinstance(step, APICall) and step.method == "put_bucket_policy"
            and step.resource == "dashboard-bucket" for step in plan.steps))
    report = None
    if not dry_run and not plan.is_empty:
        executor = Executor(aws.client, console=console or Console(quiet=True), sleep=sleep,
                            before_step=before_step)
        report = executor.execute(plan)
    settling = not aws.is_local and any(step.resource == "uploads-notification"
                                        for step in plan.changes)
    return ProvisionResult(names=desired.names, plan=plan, threshold=desired.threshold,
                           dashboard_url=dashboard_url_of(aws, desired.dashboard_access),
                           applied=not dry_run, report=report,
                           notification_settling=settling, dashboard=desired.dashboard,
                           dashboard_access=desired.dashboard_access, access_before=before)

