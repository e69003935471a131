"""`inventory demo`: the whole product on a private local emulator, in one command."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inventory_cli.cli.context import app_context

if TYPE_CHECKING:
    from rich.console import Console

    from inventory_cli.demo import DemoResult


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Keep the emulator and the dashboard up until Ctrl-C.")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the result as one JSON document (for scripts).")] = False,
) -> None:
    """Run the whole pipeline locally: provision, upload the six sample stores, show the
    inventory, the out-of-stock alerts as the staff receive them, and the dashboard URL.

    It uses an emulator of its own (own port and state), so a running `inventory local`
    emulator is not disturbed, and it leaves no process behind. Needs no AWS account.
    """
    from inventory_cli.demo import demo_emulator, run_demo

    app = app_context(ctx)
    progress = _StepPrinter(app.err)
    with tempfile.TemporaryDirectory(prefix="inventory-demo-") as work:
        progress.step("Starting a private local emulator")
        with demo_emulator(Path(work)) as info:
            progress.done(info.endpoint)
            result = run_demo(info, Path(work), progress)
            if json_output:
                _print_json(app.console, result)
            else:
                _print_result(app.console, result)
            if serve:
                app.err.print(f"\nServing the dashboard at {result.dashboard_url}\n"
                              f"The emulator answers at {result.endpoint} (e.g. `inventory "
                              f"--endpoint-url {result.endpoint} --stack {result.stack} show`). "
                              "Press Ctrl-C to stop.", markup=False, soft_wrap=True)
                _wait_for_interrupt()
        progress.step("Stopping the emulator")
        progress.done("no process left")


class _StepPrinter:
    """One line per step on stderr: what is being done, then how it ended and how long it took."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._started = 0.0

    def step(self, message: str) -> None:
        self._started = time.monotonic()
        self.console.print(f"{message} ...", end=" ", markup=False, soft_wrap=True)

    def done(self, detail: str) -> None:
        seconds = time.monotonic() - self._started
        self.console.print(f"{detail} ({seconds:.1f} s)", markup=False, soft_wrap=True)


def _print_result(console: Console, result: DemoResult) -> None:
    from inventory_cli import render

    console.print(f"\nInventory of stack '{result.stack}' ({len(result.rows)} items in "
                  f"{len({r.store for r in result.rows})} stores):", markup=False)
    render.stock(console, result.rows, threshold=result.threshold,
                 fmt=render.OutputFormat.table)
    console.print(f"\nOut-of-stock alerts, as the staff received them ({len(result.alerts)}):",
                  markup=False)
    for message in result.alerts:
        console.print(f"\n  To:      {message.to} ({message.protocol})\n"
                      f"  Subject: {message.subject or ''}", markup=False, soft_wrap=True)
        for line in message.message.splitlines():
            console.print(f"    {line}", markup=False, soft_wrap=True)
    if result.store_upload:
        up = result.store_upload
        console.print(f"\nUpload as store {up['store']} through {up['upload_url']}: "
                      f"{up['loaded']} row loaded, {up['rejected_count']} rejected:",
                      markup=False, soft_wrap=True)
        for row in up["rejected"]:
            console.print(f"  line {row['line']}: {row['reason']}", markup=False, soft_wrap=True)
        console.print(f"Store upload page: {up['page_url']}", markup=False, soft_wrap=True)
    console.print(f"\nDashboard: {result.dashboard_url}", markup=False, soft_wrap=True)
    console.print(f"Pipeline settled {result.seconds:.1f} s after the emulator started.",
                  markup=False)


def _print_json(console: Console, result: DemoResult) -> None:
    from inventory_cli import render

    render.write_json(console, {
        "stack": result.stack,
        "endpoint": result.endpoint,
        "emulator_pid": result.pid,
        "dashboard_url": result.dashboard_url,
        "threshold": result.threshold,
        "files": result.files,
        "loaded": result.loaded,
        "rejected": result.rejected,
        "inventory": [{"store": r.store, "item": r.item, "count": r.count} for r in result.rows],
        "alerts": [{"to": m.to, "protocol": m.protocol, "subject": m.subject,
                    "message": m.message} for m in result.alerts],
        "seconds": round(result.seconds, 2),
        "store_upload": result.store_upload,
    })


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
