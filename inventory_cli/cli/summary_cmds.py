"""`rebuild-summaries`: compute the per-store and per-item summaries from the table again.

boto3-using modules are imported inside the command so `inventory --help` stays light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from inventory_cli.cli.context import app_context
from inventory_cli.cli.options import OutputOption


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("rebuild-summaries")(rebuild_summaries)


def rebuild_summaries(
    ctx: typer.Context,
    output: OutputOption = None,
    only_if_needed: Annotated[bool, typer.Option(
        "--if-needed", help="Only when never computed or computed for another threshold.")
    ] = False,
) -> None:
    """Compute the summaries (`show --totals`, the dashboard's All stores) from the table.

    The summary function keeps them up to date from the table's stream; `provision` computes
    them when the summary table is new or the threshold changed. Run this if they ever look
    wrong: it reads the table once (one Scan) and is safe while uploads go on.
    """
    from inventory_cli import render
    from inventory_cli.ops import summaries
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    aws = app.aws()
    stack = find_stack(aws)
    fmt = render.resolve_format(output, app.console)
    if only_if_needed and not summaries.needs_rebuild(aws, stack.names, stack.threshold):
        result = None
    else:
        result = summaries.rebuild_summaries(aws, stack.names, stack.threshold)
    if fmt is render.OutputFormat.json:
        render.write_json(app.console, {
            "rebuilt": result is not None,
            "rows_scanned": result.rows_scanned if result else 0,
            "cells_changed": result.cells_changed if result else 0,
            "threshold": stack.threshold})
        return
    if result is None:
        app.console.print("The summaries are up to date; nothing to rebuild.")
        return
    app.console.print(f"Summaries rebuilt from {result.rows_scanned} row(s) of "
                      f"{stack.names.table}: {result.cells_changed} changed "
                      f"(threshold {result.threshold}).", soft_wrap=True, markup=False)
