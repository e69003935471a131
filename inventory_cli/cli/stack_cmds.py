"""`provision`, `status` and `teardown`: parse, call `inventory_cli.stack`, render.

boto3-using modules are imported inside the commands so `inventory --help` stays light.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from inventory_cli.cli.context import AppContext, app_context
from inventory_cli.errors import KeptFailuresFound, StackIncomplete, StackNotFound

if TYPE_CHECKING:
    from inventory_cli.stack.instructions import Plan
    from inventory_cli.stack.status import StackStatus


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


def stdin_is_interactive() -> bool:
    """Whether a person can answer a prompt (tests replace this)."""
    return sys.stdin.isatty()


def _command(app_ctx: AppContext, command: str) -> str:
    """The command line that reaches the same stack, for hints."""
    s = app_ctx.settings
    parts = ["inventory"]
    if s.stack != "inventory":
        parts += ["--stack", s.stack]
    if s.local:
        parts.append("--local")
    # Region, profile and endpoint usually come from the environment the user is already in.
    return " ".join([*parts, command])


def provision_command(
    ctx: typer.Context,
    low_stock_threshold: Annotated[int | None, typer.Option(
        "--low-stock-threshold", min=0, metavar="N",
        help="Alert when an item's count drops to N or below "
             "(default: keep the stack's current value; 0 for a new stack).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the plan of API calls and change nothing.")] = False,
    dashboard: Annotated[bool | None, typer.Option(
        "--dashboard/--no-dashboard",
        help="With or without the public dashboard (identity pool, its role, the dashboard "
             "bucket). --no-dashboard suits accounts that block public bucket policies and "
             "endpoints without Cognito identity pools; it removes a dashboard made before. "
             "Default: keep the stack's choice (a dashboard for a new stack).")] = None,
    warm_writes: Annotated[int | None, typer.Option(
        "--warm-writes", min=1, metavar="N",
        help="Pre-warm the inventory table for N writes a second (above the 4,000 a new "
             "on-demand table takes): big files load at that rate from the start. AWS "
             "charges once for the increase; it cannot be lowered. Default: keep what an "
             "earlier run asked for (nothing).")] = None,
    public_dashboard: Annotated[bool, typer.Option(
        "--public-dashboard",
        help="Anyone with the dashboard's address may read the stock of every store (guest "
             "access, no sign-in). Kept by later runs until --private-dashboard.")] = False,
    private_dashboard: Annotated[bool, typer.Option(
        "--private-dashboard",
        help="Staff sign in (accounts: `inventory staff add`) and each reads only its stores; "
             "on AWS served by CloudFront from a private bucket. The default for a new stack; "
             "moves a public stack.")] = False,
) -> None:
    """Create the whole pipeline, or bring an existing stack back to the right state."""
    from inventory_cli import render
    from inventory_cli.errors import UsageError
    from inventory_cli.provisioning import provision

    if public_dashboard and private_dashboard:
        raise UsageError("--public-dashboard and --private-dashboard contradict each other: "
                         "pick one")
    access = "public" if public_dashboard else "private" if private_dashboard else None
    app_ctx = app_context(ctx)
    result = provision(app_ctx.aws(), threshold=low_stock_threshold, dry_run=dry_run,
                       console=app_ctx.err, dashboard=dashboard, dashboard_access=access,
                       warm_writes=warm_writes)
    console = app_ctx.console
    if dry_run:
        if result.plan.is_empty:
            console.print("No changes: the stack is up to date.")
        else:
            render.print_plan(console, result.plan, title=f"Plan for stack {result.names.stack}")
            console.print("Dry run: nothing was changed.")
        return
    render.print_provision_summary(console, result)


def status_command(
    ctx: typer.Context,
    output: Annotated[StatusFormat, typer.Option(
        "--output", "-o", help="table, or json: a list of {resource, name, state, detail} with "
                               "state ok|missing|drifted (an alarm's row adds alarm_state "
                               "OK|ALARM|INSUFFICIENT_DATA, alarm_reason, alarm_since), then a "
                               "kept-failures entry with its count.")] = StatusFormat.table,
) -> None:
    """Show every resource of the stack: ok, missing, or drifted (and how), each alarm's state,
    and how many failures are kept. Exit 1 unless all resources are ok and no failure is kept
    (an alarm in ALARM does not change the exit code: its e-mail has told the operators)."""
    from inventory_cli import render
    from inventory_cli.stack.status import stack_status

    app_ctx = app_context(ctx)
    status = stack_status(app_ctx.aws())
    kept = _kept_failures(app_ctx, status)
    if output is StatusFormat.json:
        rows: list[dict[str, object]] = [{**r.as_json()} for r in status.resources]
        rows.append(_kept_failures_row(status, kept))
        typer.echo(json.dumps(rows, indent=2))
    else:
        render.print_stack_status(app_ctx.console, status)
        if kept:
            app_ctx.console.print(f"{kept} kept failure(s) in {status.names.failures_bucket}",
                                  markup=False, soft_wrap=True)
    if status.complete and not kept:
        return
    hint = f"run `{_command(app_ctx, 'provision')}`"
    if not status.exists:
        raise StackNotFound(f"stack {status.names.stack} does not exist in "
                            f"{status.names.region}", hint=hint + " to create it")
    if status.complete:
        raise KeptFailuresFound(
            f"stack {status.names.stack} is complete, but {kept} failure(s) are kept: files not "
            "loaded or alerts not sent",
            hint=f"`{_command(app_ctx, 'failures')}` lists them; "
                 f"`{_command(app_ctx, 'retry --all')}` re-drives them")
    raise StackIncomplete(
        f"stack {status.names.stack} is incomplete: {status.count('missing')} missing, "
        f"{status.count('drifted')} drifted", hint=hint + " to repair it")


def _kept_failures(app_ctx: AppContext, status: StackStatus) -> int:
    """How many failure records the stack keeps (0 while its failures bucket is missing)."""
    if not status.exists:
        return 0
    from inventory_cli.ops.failures import count_kept

    return count_kept(app_ctx.aws(), status.names)


def _kept_failures_row(status: StackStatus, kept: int) -> dict[str, object]:
    return {"resource": "kept-failures", "name": status.names.failures_bucket,
            "state": "failures" if kept else "ok",
            "detail": f"{kept} kept: see `inventory failures`" if kept else "", "count": kept}


def teardown_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would be deleted and delete nothing.")] = False,
) -> None:
    """Delete every resource of the stack (buckets with all object versions, logs included)."""
    from inventory_cli import render
    from inventory_cli.stack.errors import TeardownRefused
    from inventory_cli.stack.teardown import teardown

    app_ctx = app_context(ctx)
    stack = app_ctx.settings.stack
    if not (yes or dry_run or stdin_is_interactive()):
        raise TeardownRefused(f"refusing to delete stack {stack} without confirmation",
                              hint="no terminal to ask on: pass --yes")
    console = app_ctx.console

    def confirm(plan: Plan) -> bool:
        render.print_plan(console, plan, title=f"Teardown of stack {stack}")
        typed = typer.prompt(f"Type the stack name ({stack}) to delete all of this",
                             default="", show_default=False)
        return bool(typed.strip() == stack)

    result = teardown(app_ctx.aws(), confirm=None if yes else confirm, dry_run=dry_run,
                      console=app_ctx.err)
    for skipped in result.skipped:
        app_ctx.err.print(f"Skipped {skipped}", soft_wrap=True)
    if result.plan.is_empty:
        console.print(f"Nothing to delete: stack {stack} does not exist in {result.names.region}.")
    elif dry_run:
        render.print_plan(console, result.plan, title=f"Teardown of stack {stack}")
        console.print("Dry run: nothing was deleted.")
    else:
        console.print(f"Stack {stack} deleted ({len(result.plan.changes)} call(s)).")


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("provision")(provision_command)
    app.command("status")(status_command)
    app.command("teardown")(teardown_command)
