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
from inventory_cli.stack.deployed import deployed_dashboard, deployed_threshold
from inventory_cli.stack.executor import BeforeStep, ExecutionReport, Executor
from inventory_cli.stack.instructions import APICall, Plan
from inventory_cli.stack.model import DesiredStack
from inventory_cli.stack.packaging import LambdaZip, build_zip
from inventory_cli.stack.planner import StackPlanner
from inventory_cli.stack.resources import ON_DEMAND_WARM_WRITES


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

    @property
    def changed_resources(self) -> list[str]:
        """Ids of the resources the plan changes, in plan order."""
        return list(dict.fromkeys(step.resource for step in self.plan.changes))


def desired_stack(aws: Aws, *, threshold: int | None, code: LambdaZip | None = None,
                  dashboard: bool | None = None, warm_writes: int | None = None) -> DesiredStack:
    """What the stack should be. `threshold=None` keeps the deployed one (0 for a new stack);
    `dashboard=None` keeps the stack's choice (a dashboard, for a new stack)."""
    from inventory_cli.dashboard import iter_assets

    if dashboard is None:
        dashboard = deployed_dashboard(aws) is not False
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
    )


def plan_provision(aws: Aws, desired: DesiredStack) -> Plan:
    return StackPlanner(aws.client, desired).plan()


def dashboard_url_of(aws: Aws) -> str:
    from inventory_cli.dashboard import dashboard_url

    return dashboard_url(bucket=aws.names.dashboard_bucket, region=aws.region,
                         endpoint=aws.endpoint_url if aws.is_local else None)


def provision(aws: Aws, *, threshold: int | None = None, dry_run: bool = False,
              console: Console | None = None, sleep: Callable[[float], None] = time.sleep,
              before_step: BeforeStep | None = None, code: LambdaZip | None = None,
              dashboard: bool | None = None, warm_writes: int | None = None) -> ProvisionResult:
    """Bring the stack to the desired state; with `dry_run`, only plan.

    `dashboard`: True/False adds or removes the public dashboard; None keeps the stack's choice.
    Before anything is created, a stack with a dashboard checks that the account lets its
    bucket be public (`AccountBlocksPublicDashboard` otherwise).
    """
    desired = desired_stack(aws, threshold=threshold, code=code, dashboard=dashboard,
                            warm_writes=warm_writes)
    plan = plan_provision(aws, desired)
    if desired.dashboard:
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
                           dashboard_url=dashboard_url_of(aws), applied=not dry_run,
                           report=report, notification_settling=settling,
                           dashboard=desired.dashboard)

