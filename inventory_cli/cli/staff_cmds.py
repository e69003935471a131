"""`inventory staff add|list|remove|reset`: who may sign in to the private dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from inventory_cli.cli.context import app_context
from inventory_cli.errors import printable
from inventory_cli.render import OutputFormat

staff_app = typer.Typer(
    name="staff",
    help="Accounts for the private dashboard: Cognito e-mails each an invitation with a "
         "temporary password; a member reads only its stores (none given: every store).",
    no_args_is_help=True,
)

EmailArgument = Annotated[str, typer.Argument(
    metavar="EMAIL", show_default=False, help="The member's e-mail address (the sign-in name).")]


@staff_app.command("add")
def add(ctx: typer.Context, email: EmailArgument,
        store: Annotated[list[str] | None, typer.Option(
            "--store", metavar="NAME", show_default=False,
            help="A store the member may read (repeat for several); none: every store, "
                 "the summaries included.")] = None) -> None:
    """Invite a member: Cognito e-mails a temporary password, the first sign-in replaces it."""
    from inventory_cli.ops import staff as core

    app = app_context(ctx)
    aws = app.aws()
    member = core.add_staff(aws, aws.names, email, list(store or []))
    scope = ("every store" if member.every_store
             else "store(s) " + ", ".join(printable(s) for s in member.stores))
    where = ("`inventory local outbox` shows it" if aws.builtin_emulator
             else "Cognito e-mails it")
    app.console.print(f"Invited {member.email} to read {scope}: the invitation carries a "
                      f"temporary password ({where}); the first sign-in sets a new one.",
                      markup=False, soft_wrap=True)


@staff_app.command("list")
def list_(ctx: typer.Context, output: Annotated[OutputFormat | None, typer.Option(
        "--output", "-o", case_sensitive=False, show_default=False,
        help="table or json (default: table on a terminal, json otherwise).")] = None) -> None:
    """List the accounts: e-mail, stores, status (invited until the first sign-in)."""
    from inventory_cli import render
    from inventory_cli.ops import staff as core

    app = app_context(ctx)
    aws = app.aws()
    render.staff(app.console, core.list_staff(aws, aws.names),
                 fmt=render.resolve_format(output, app.console))


@staff_app.command("remove")
def remove(ctx: typer.Context, email: EmailArgument) -> None:
    """Delete an account; its sessions stop working."""
    from inventory_cli.ops import staff as core

    app = app_context(ctx)
    aws = app.aws()
    core.remove_staff(aws, aws.names, email)
    app.console.print(f"Removed {core.valid_email(email)}: it can no longer sign in.",
                      markup=False, soft_wrap=True)


@staff_app.command("reset")
def reset(ctx: typer.Context, email: EmailArgument) -> None:
    """Send a new invitation with a new temporary password; the member's sessions end."""
    from inventory_cli.ops import staff as core

    app = app_context(ctx)
    aws = app.aws()
    member = core.reset_staff(aws, aws.names, email)
    app.console.print(f"Sent {member.email} a new invitation with a new temporary password; "
                      "its sessions have ended.", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.add_typer(staff_app, name="staff")
