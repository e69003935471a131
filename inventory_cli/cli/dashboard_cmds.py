"""`inventory dashboard`: where this stack's dashboard page is, and opening it."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from inventory_cli.cli.context import app_context


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("dashboard")(dashboard)


def dashboard(
    ctx: typer.Context,
    open_page: Annotated[bool, typer.Option(
        "--open", help="Also open the page in the default web browser.")] = False,
) -> None:
    """Print the URL of this stack's dashboard page (with --open, open it too).

    Private (the default): staff sign in (`inventory staff add`), served by CloudFront on AWS.
    Public (--public-dashboard): anyone with the address reads every store. On the local
    emulator the emulator itself serves it.
    """
    from inventory_cli.dashboard.locate import check_dashboard_page
    from inventory_cli.errors import InventoryError
    from inventory_cli.stack.deployed import dashboard_url_of, deployed_dashboard

    app_ctx = app_context(ctx)
    aws = app_ctx.aws()
    if deployed_dashboard(aws) is False:
        raise InventoryError(
            f"stack {aws.stack!r} has no dashboard: it was provisioned with --no-dashboard",
            hint="`inventory provision --dashboard` adds it (private, staff sign in; "
                 "`--public-dashboard` for the guests' page)")
    check_dashboard_page(aws)
    # The emulator serves the page itself; on AWS, S3 (public) or CloudFront (private) does.
    url = dashboard_url_of(aws)
    # Only the URL on stdout (scripts can use it); never wrapped, however narrow the terminal.
    app_ctx.console.print(url, soft_wrap=True, markup=False, emoji=False, highlight=False)
    if open_page and not webbrowser.open(url, new=2):
        app_ctx.err.print("No web browser could be opened here: open the URL above yourself.",
                          markup=False, soft_wrap=True)
