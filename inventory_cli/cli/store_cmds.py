"""`inventory stores add|list|rotate|revoke`: the stores' own upload keys.

A key is printed once, when it is made (add, rotate), with the upload page's URL and the line a
store's nightly job runs; the stack keeps only a salted HMAC of it.
"""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from inventory_cli.cli.context import app_context
from inventory_cli.errors import printable
from inventory_cli.render import OutputFormat

stores_app = typer.Typer(
    name="stores",
    help="Upload keys for the stores: each key uploads only its own store's inventory, with no "
         "AWS account (through the stack's upload endpoint, a web page or a script).",
    no_args_is_help=True,
)

StoreArgument = Annotated[str, typer.Argument(
    metavar="STORE", show_default=False,
    help="The store's name exactly as its CSV files spell it (\"São Paulo\", \"Store #7\").")]
OutputOption = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", case_sensitive=False, show_default=False,
    help="table or json (default: table on a terminal, json otherwise).")]


def _print_issued(ctx: typer.Context, issued: object, output: OutputFormat | None,
                  verb: str) -> None:
    from inventory_cli import render
    from inventory_cli.ops.stores import IssuedKey

    assert isinstance(issued, IssuedKey)
    app = app_context(ctx)
    fmt = render.resolve_format(output, app.console)
    if fmt is OutputFormat.json:
        render.write_json(app.console, issued.as_json())
        return
    script = (f"inventory upload --store-key {issued.key} --upload-url "
              f"{shlex.quote(issued.upload_url)} inventory.csv --wait")
    lines = [
        f"{verb} an upload key for store {printable(issued.store)}. It is shown only now: "
        "keep it secret, the stack keeps only a hash of it.",
        "",
        f"  Key          {issued.key}",
        f"  Upload URL   {issued.upload_url}",
        *([f"  Upload page  {issued.page_url}"] if issued.page_url else []),
        "",
        "A script or nightly job (no AWS account needed):",
        f"  {script}",
    ]
    for line in lines:
        app.console.print(line, markup=False, soft_wrap=True, highlight=False, emoji=False)


@stores_app.command("add")
def add(ctx: typer.Context, store: StoreArgument, output: OutputOption = None) -> None:
    """Create a store's upload key and print it (once), with the upload page and script line."""
    from inventory_cli.ops import stores as core
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    names = find_stack(app.aws()).names
    _print_issued(ctx, core.add_store(app.aws(), names, store), output, "Created")


@stores_app.command("list")
def list_(ctx: typer.Context, output: OutputOption = None) -> None:
    """List the stores: created, last upload, state (active or revoked). Keys are never shown."""
    from inventory_cli import render
    from inventory_cli.ops import stores as core
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    names = find_stack(app.aws()).names
    rows = core.stores_with_keys(app.aws(), names)
    render.stores(app.console, rows, fmt=render.resolve_format(output, app.console))


@stores_app.command("rotate")
def rotate(ctx: typer.Context, store: StoreArgument, output: OutputOption = None) -> None:
    """Give a store a new key and print it; the old key stops working at once."""
    from inventory_cli.ops import stores as core
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    names = find_stack(app.aws()).names
    _print_issued(ctx, core.rotate_store(app.aws(), names, store), output, "Made a new")


@stores_app.command("revoke")
def revoke(ctx: typer.Context, store: StoreArgument) -> None:
    """Stop a store's keys from working (`stores add` gives it a new one later)."""
    from inventory_cli.ops import stores as core
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    names = find_stack(app.aws()).names
    count = core.revoke_store(app.aws(), names, store)
    name = printable(core.store_name(store))
    message = (f"Revoked the key of store {name}: uploads with it are refused."
               if count else f"Store {name} had no working key; nothing changed.")
    app.console.print(message, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.add_typer(stores_app, name="stores")
