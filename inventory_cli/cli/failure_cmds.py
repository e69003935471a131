"""`failures` and `retry`: what the pipeline could not do, and doing it again.

The core is `inventory_cli.ops.failures` and `inventory_cli.ops.retry` (imported inside the
commands: they import boto3).
"""

from __future__ import annotations

from typing import Annotated

import typer

from inventory_cli.cli.context import app_context
from inventory_cli.cli.options import OutputOption
from inventory_cli.errors import InventoryError

GraceOption = Annotated[str, typer.Option(
    "--grace", metavar="DURATION",
    help="A stored .csv with no load report counts as never loaded once it is this old "
         "(on AWS a new bucket notification can take minutes to apply).")]


def failures(ctx: typer.Context, output: OutputOption = None, grace: GraceOption = "10m") -> None:
    """List kept failures: loads and alert batches that failed after Lambda's retries, and
    stored files that never reached the loader. Re-drive them with `inventory retry`."""
    from inventory_cli.ops.durations import parse_since

    window = parse_since(grace)

    from inventory_cli import render
    from inventory_cli.ops.clock import utc_now
    from inventory_cli.ops.failures import list_failures
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    stack = find_stack(app.aws())
    rows = list_failures(app.aws(), stack.names, now=utc_now(), grace=window)
    render.failures(app.console, rows, fmt=render.resolve_format(output, app.console),
                    stack=stack.names.stack)


def retry(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ID]...", show_default=False,
        help="Ids from `inventory failures` (unloaded:<key> for a file never loaded).")] = None,
    retry_all: Annotated[bool, typer.Option(
        "--all", help="Every kept failure and every file never loaded.")] = False,
    output: OutputOption = None,
    grace: GraceOption = "10m",
) -> None:
    """Re-drive kept failures with the event that failed (synchronously); forget each that
    succeeds, keep each that fails again (exit 1). Running it twice is harmless."""
    from inventory_cli.ops.durations import parse_since

    window = parse_since(grace)

    from inventory_cli import render
    from inventory_cli.ops.clock import utc_now
    from inventory_cli.ops.retry import retry as redrive
    from inventory_cli.ops.retry import select_failures
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    stack = find_stack(app.aws())
    selected = select_failures(app.aws(), stack.names, ids or [], retry_all=retry_all,
                               now=utc_now(), grace=window)
    fmt = render.resolve_format(output, app.console)
    if not selected:
        if fmt is render.OutputFormat.json:
            render.write_json(app.console, [])
        else:
            app.console.print("Nothing kept: no failures to retry.", markup=False,
                              soft_wrap=True)
        return
    outcomes = redrive(app.aws(), stack.names, selected)
    render.retry_outcomes(app.console, outcomes, fmt=fmt)
    failed = [o for o in outcomes if o.failed]
    if failed:
        from inventory_cli.ops.logs import log_name_of

        # The log of each function that failed again, e.g. `inventory logs summaries`.
        logs = dict.fromkeys(log_name_of(stack.names, o.failure.function) for o in failed)
        where = ", ".join(f"`inventory logs {name}`" for name in logs if name) or \
            "`inventory logs`"
        raise InventoryError(
            f"{len(failed)} of {len(outcomes)} failed again and are still kept",
            hint=f"fix the cause (`inventory status`, {where}), then run `inventory retry` "
                 "again")


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("failures")(failures)
    app.command("retry")(retry)
