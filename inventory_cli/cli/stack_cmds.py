"""`provision`, `status` and `teardown`: parse, call `inventory_cli.stack`, render.

boto3-using modules are imported inside the commands so `inventory --help` stays light.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from inventory_cli.cli.context import AppContext, app_context
from inventory_cli.errors import StackIncomplete, StackNotFound

if TYPE_CHECKING:
    from inventory_cli.stack.instructions import Plan
    from inventory_cli.stack.provision import ProvisionResult
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


def print_plan(console: Console, plan: Plan, *, title: str) -> None:
    from inventory_cli.stack.instructions import describe_step

    console.print(f"{title}: {len(plan.changes)} change(s)")
    width = len(str(len(plan.steps)))
    for index, step in enumerate(plan.steps, 1):
        console.print(f"  {index:>{width}}. {describe_step(step)}", soft_wrap=True)


def print_provision_summary(console: Console, result: ProvisionResult) -> None:
    names = result.names
    console.print(f"Stack {names.stack} ({names.region}, account {names.account_id})")
    rows = (("Uploads bucket", names.uploads_bucket), ("Table", names.table),
            ("Alert topic", names.topic_arn), ("Dashboard", result.dashboard_url),
            ("Low-stock threshold", str(result.threshold)))
    for label, value in rows:
        console.print(f"  {label:<20} {value}", soft_wrap=True)
    if result.plan.is_empty:
        console.print("No changes: the stack is up to date.")
    else:
        changed = result.changed_resources
        console.print(f"Changed: {len(result.plan.changes)} call(s) on {len(changed)} "
                      f"resource(s): {', '.join(changed)}", soft_wrap=True)
    if result.summaries_rebuilt is not None:
        console.print(f"Summaries computed from {result.summaries_rebuilt.rows_scanned} row(s) "
                      f"of the table (threshold {result.threshold}).", soft_wrap=True)


def print_status(console: Console, status: StackStatus) -> None:
    table = Table(title=f"Stack {status.names.stack} ({status.names.region})", title_justify="left")
    for column in ("resource", "name", "state", "detail"):
        table.add_column(column, overflow="fold")
    styles = {"ok": "green", "missing": "red", "drifted": "yellow"}
    for r in status.resources:
        table.add_row(r.resource, r.name, f"[{styles[r.state]}]{r.state}[/]", r.detail)
    console.print(table)


def provision_command(
    ctx: typer.Context,
    low_stock_threshold: Annotated[int | None, typer.Option(
        "--low-stock-threshold", min=0, metavar="N",
        help="Alert when an item's count drops to N or below "
             "(default: keep the stack's current value; 0 for a new stack).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the plan of API calls and change nothing.")] = False,
) -> None:
    """Create the whole pipeline, or bring an existing stack back to the right state."""
    from inventory_cli.stack.provision import provision

    app_ctx = app_context(ctx)
    result = provision(app_ctx.aws(), threshold=low_stock_threshold, dry_run=dry_run,
                       console=app_ctx.err)
    console = app_ctx.console
    if dry_run:
        if result.plan.is_empty:
            console.print("No changes: the stack is up to date.")
        else:
            print_plan(console, result.plan, title=f"Plan for stack {result.names.stack}")
            console.print("Dry run: nothing was changed.")
        return
    print_provision_summary(console, result)


def status_command(
    ctx: typer.Context,
    output: Annotated[StatusFormat, typer.Option(
        "--output", "-o", help="table, or json: a list of {resource, name, state, detail} with "
                               "state ok|missing|drifted.")] = StatusFormat.table,
) -> None:
    """Show every resource of the stack: ok, missing, or drifted (and how). Exit 1 unless all ok."""
    from inventory_cli.stack.status import stack_status

    app_ctx = app_context(ctx)
    status = stack_status(app_ctx.aws())
    if output is StatusFormat.json:
        typer.echo(json.dumps([r.as_json() for r in status.resources], indent=2))
    else:
        print_status(app_ctx.console, status)
    if status.complete:
        return
    hint = f"run `{_command(app_ctx, 'provision')}`"
    if not status.exists:
        raise StackNotFound(f"stack {status.names.stack} does not exist in "
                            f"{status.names.region}", hint=hint + " to create it")
    raise StackIncomplete(
        f"stack {status.names.stack} is incomplete: {status.count('missing')} missing, "
        f"{status.count('drifted')} drifted", hint=hint + " to repair it")


def teardown_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would be deleted and delete nothing.")] = False,
) -> None:
    """Delete every resource of the stack (buckets with all object versions, logs included)."""
    from inventory_cli.stack.errors import TeardownRefused
    from inventory_cli.stack.teardown import teardown

    app_ctx = app_context(ctx)
    stack = app_ctx.settings.stack
    if not (yes or dry_run or stdin_is_interactive()):
        raise TeardownRefused(f"refusing to delete stack {stack} without confirmation",
                              hint="no terminal to ask on: pass --yes")
    console = app_ctx.console

    def confirm(plan: Plan) -> bool:
        print_plan(console, plan, title=f"Teardown of stack {stack}")
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
        print_plan(console, result.plan, title=f"Teardown of stack {stack}")
        console.print("Dry run: nothing was deleted.")
    else:
        console.print(f"Stack {stack} deleted ({len(result.plan.changes)} call(s)).")


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("provision")(provision_command)
    app.command("status")(status_command)
    app.command("teardown")(teardown_command)
