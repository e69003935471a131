"""`inventory local ...`: start, inspect and stop the built-in emulator; read its outbox."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inventory_cli.cli.context import app_context

if TYPE_CHECKING:
    from rich.console import Console

    from inventory_cli.local.outbox import OutboxMessage
    from inventory_cli.local.state import EmulatorInfo

local_app = typer.Typer(
    name="local",
    help="The built-in local emulator: the whole pipeline on this machine, no AWS account.",
    no_args_is_help=True,
)


class Output(StrEnum):
    text = "text"
    json = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]


def _running_line(info: EmulatorInfo) -> str:
    return (f"The local emulator is running at {info.endpoint} (pid {info.pid}, "
            f"state in {info.home}).")


@local_app.command("start")
def start_cmd(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port on 127.0.0.1; 0 picks a free one.")] = 4599,
    ddb_write_limit: Annotated[int | None, typer.Option(
        "--ddb-write-limit", min=1, envvar="INVENTORY_LOCAL_DDB_WRITE_LIMIT",
        help="Take at most this many DynamoDB writes a second per table, like a new "
             "on-demand table (about 4000); more are throttled as DynamoDB does "
             "(UnprocessedItems, ProvisionedThroughputExceededException). Default: no limit.",
    )] = None,
    schedule_every: Annotated[float | None, typer.Option(
        "--schedule-every", min=0.1, metavar="SECONDS", envvar="INVENTORY_LOCAL_SCHEDULE_EVERY",
        help="Run every scheduled EventBridge rule this often instead of at its own rate (for "
             "tests and demos: the stack's announcer runs every minute).")] = None,
) -> None:
    """Start the emulator in the background; returns once it answers."""
    import os

    from inventory_cli.errors import EmulatorError
    from inventory_cli.local import emulator
    from inventory_cli.local.server import WRITE_LIMIT_ENV

    out = app_context(ctx).console
    environ = dict(os.environ)
    environ.pop(WRITE_LIMIT_ENV, None)
    if ddb_write_limit is not None:
        environ[WRITE_LIMIT_ENV] = str(ddb_write_limit)
    from inventory_cli.local.scheduler import SCHEDULE_EVERY_ENV

    environ.pop(SCHEDULE_EVERY_ENV, None)
    if schedule_every is not None:
        environ[SCHEDULE_EVERY_ENV] = f"{schedule_every:g}"
    info, started = emulator.start(port=port, environ=environ)
    if not started:
        if port not in (0, info.port):
            raise EmulatorError(f"the local emulator already runs on port {info.port}, "
                                f"not {port}", hint="stop it first with `inventory local stop`")
        out.print(_running_line(info), markup=False, soft_wrap=True)
        return
    out.print(f"Started the local emulator at {info.endpoint} (pid {info.pid}).",
              soft_wrap=True)
    if ddb_write_limit is not None:
        out.print(f"DynamoDB writes are limited to {ddb_write_limit} a second per table.",
                  soft_wrap=True)
    out.print(f"State and log: {info.home}", markup=False, soft_wrap=True)
    out.print(f"Use it with `inventory --local ...`, or any AWS client with "
              f"AWS_ENDPOINT_URL={info.endpoint}", soft_wrap=True)


@local_app.command("status")
def status_cmd(ctx: typer.Context, output: OutputOption = Output.text) -> None:
    """Show whether the emulator runs, its pid and its endpoint."""
    from inventory_cli.local import emulator

    out = app_context(ctx).console
    info = emulator.status()
    if output is Output.json:
        body: dict[str, object] = {"running": info is not None}
        if info is not None:
            body.update(info.to_json())
        else:
            body["home"] = str(emulator.state_home())
        out.print_json(json.dumps(body))
        return
    out.print(_running_line(info) if info else "The local emulator is not running.",
              markup=False, soft_wrap=True)


@local_app.command("stop")
def stop_cmd(ctx: typer.Context) -> None:
    """Stop the emulator and its Lambda workers. Its state (all resources) is discarded."""
    from inventory_cli.local import emulator

    out = app_context(ctx).console
    info = emulator.stop()
    if info is None:
        out.print("The local emulator is not running.")
    else:
        out.print(f"Stopped the local emulator (pid {info.pid}).")


@local_app.command("outbox")
def outbox_cmd(ctx: typer.Context, output: OutputOption = Output.text) -> None:
    """Show the e-mail and SMS messages the emulator would have sent, oldest first."""
    from inventory_cli.local.emulator import state_home
    from inventory_cli.local.outbox import outbox_path, read_outbox

    out = app_context(ctx).console
    messages = read_outbox(outbox_path(state_home()))
    if output is Output.json:
        out.print_json(json.dumps([m.to_json() for m in messages]))
        return
    if not messages:
        out.print("The outbox is empty.")
        return
    _print_messages(out, messages)


def _print_messages(out: Console, messages: list[OutboxMessage]) -> None:
    """Each message as the recipient would see it: headers, a blank line, the text."""
    for message in messages:
        out.print(f"To: {message.to} ({message.protocol})", markup=False, soft_wrap=True)
        if message.subject is not None:
            out.print(f"Subject: {message.subject}", markup=False, soft_wrap=True)
        out.print(f"Date: {message.time}", markup=False, soft_wrap=True)
        out.print()
        out.print(message.message.rstrip("\n"), markup=False, soft_wrap=True)
        out.print()
    out.print(f"{len(messages)} message{'' if len(messages) == 1 else 's'} in the outbox.")


class MeterOutput(StrEnum):
    table = "table"
    json = "json"


@local_app.command("meter")
def meter_cmd(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="MARK", help="Count from this mark on (default: since the emulator "
                                        "started).")] = None,
    mark: Annotated[str | None, typer.Option(
        "--mark", metavar="NAME", help="After reading, set the mark NAME to now (moved if it "
                                       "exists), for a later --since NAME.")] = None,
    prices: Annotated[Path | None, typer.Option(
        "--prices", metavar="FILE", envvar="INVENTORY_PRICES", dir_okay=False,
        help="A JSON file of prices replacing the built-in list prices (see "
             "docs/emulator.md).")] = None,
    output: Annotated[MeterOutput | None, typer.Option(
        "--output", "-o", help="table (default at a terminal) or json.")] = None,
) -> None:
    """What AWS would bill for the requests the emulator served: DynamoDB units, Lambda
    requests and GB-seconds, S3 and SNS requests, and their price."""
    from inventory_cli import render
    from inventory_cli.errors import EmulatorError
    from inventory_cli.local import emulator
    from inventory_cli.local.prices import bill, load_prices

    out = app_context(ctx).console
    table = load_prices(prices)  # a bad file fails before anything is read or marked
    info = emulator.status()
    if info is None:
        raise EmulatorError("the local emulator is not running",
                            hint="start it with `inventory local start`")
    report = emulator.read_meter(info.endpoint, since=since)
    if mark is not None:
        emulator.mark_meter(info.endpoint, mark)
    lines = bill(report, table)
    fmt = output or (MeterOutput.table if out.is_terminal else MeterOutput.json)
    if fmt is MeterOutput.json:
        render.write_json(out, render.meter_json(report, lines, table))
        return
    render.meter(out, report, lines, table)
    if mark is not None:
        out.print(f"Mark {mark!r} set: `inventory local meter --since {mark}` counts from now.",
                  markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.add_typer(local_app, name="local")
