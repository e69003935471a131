"""Everyday commands: upload, show, subscribe, subscriptions, unsubscribe, alerts, logs.

Each command parses its options, calls `inventory_cli.ops`, and renders. The ops modules import
boto3, so they are imported inside the command functions: `inventory --help` stays light.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inventory_cli.cli.context import app_context
from inventory_cli.cli.options import OutputOption, SinceOption, VerifyOption
from inventory_cli.cli.phone import after_phone_subscribe
from inventory_cli.errors import InvalidInventoryFile, InventoryError, OperationTimedOut, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from inventory_cli.cli.context import AppContext
    from inventory_cli.ops.upload import CheckedFile, LoadOutcome, UploadProgress

# Side effects of the long-running commands; tests replace them so they run instantly.
SLEEP: Callable[[float], None] = time.sleep
CLOCK: Callable[[], float] = time.monotonic
# Above this size a single file gets a progress bar too.
LARGE_FILE_BYTES = 8 * 1024 * 1024
OpsOption = Annotated[bool, typer.Option(
    "--ops", help="The operators' topic (failures, files never loaded, alarms) instead of the "
                  "staff's stock alerts.")]


def upload(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE", show_default=False,
        help="Inventory CSV files (store,item,count); each is stored under its file name.")],
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait for each file's load report; exit 1 if rows were rejected.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, metavar="SECONDS", help="How long --wait waits in all.")] = 120.0,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Send files with invalid rows anyway (the loader skips those "
        "rows). Unreadable files are never sent.")] = False,
    store_key: Annotated[str | None, typer.Option(
        "--store-key", envvar="INVENTORY_STORE_KEY", show_default=False, show_envvar=True,
        metavar="KEY",
        help="Upload as a store, with the key `inventory stores add` printed: no AWS "
        "credentials needed; only that store's rows load.")] = None,
    upload_url: Annotated[str | None, typer.Option(
        "--upload-url", envvar="INVENTORY_UPLOAD_URL", show_default=False, show_envvar=True,
        metavar="URL",
        help="The stack's upload endpoint (printed by `inventory stores add`), with "
        "--store-key.")] = None,
) -> None:
    """Check inventory files with the loader's rules, then send them to the stack.

    With --store-key and --upload-url, the files go through the stack's upload endpoint as that
    store (no AWS account); otherwise straight to S3 with your AWS credentials.
    """
    from inventory_cli import render
    from inventory_cli.ops import upload as core
    from inventory_cli.ops.failures import FailureReader
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    as_store = store_key is not None or upload_url is not None
    # As a store, the key's store is asked first: the files are then checked the way the
    # loader will load them from that store's folder (other stores' rows are rejected).
    store = _store_of_key(store_key, upload_url) if as_store else None
    try:
        checked = core.check_files(files, skip_invalid=skip_invalid, store=store)
    except InvalidInventoryFile as exc:
        render.problems(app.err, exc.problems)
        raise
    render.duplicates(app.err, [dup for file in checked for dup in file.duplicates])
    if as_store:
        render.other_store_rows(app.err, [row for file in checked for row in file.other_store])
        assert store_key and upload_url  # _store_of_key checked both
        _upload_as_store(app, checked, store_key, upload_url, wait=wait, timeout=timeout)
        return
    stack = find_stack(app.aws())
    bucket = stack.names.uploads_bucket
    with _progress(app.err, checked) as progress:
        uploads = core.upload_files(app.aws(), bucket, checked, progress=progress)
    render.uploaded(app.console, bucket, uploads)
    if not wait:
        return
    outcomes = core.wait_for_reports(app.aws(), bucket, uploads, timeout=timeout,
                                     poll_interval=core.POLL_INTERVAL, sleep=SLEEP,
                                     clock=CLOCK, failures=FailureReader(app.aws(), stack.names))
    render.load_outcomes(app.console, outcomes)
    _raise_for_unloaded(outcomes, timeout)
    if any(o.failed for o in outcomes):
        raise InventoryError("the loader rejected rows (listed above)")


def _raise_for_unloaded(outcomes: Sequence[LoadOutcome], timeout: float) -> None:
    """A load kept as failed, or a file that got neither a report nor a failure, ends `upload
    --wait` with exit 1 and what to run."""
    kept = [o.failure for o in outcomes if o.failure is not None]
    if kept:
        lines = "; ".join(f"{file.key}: {f.error} (after {f.attempts or '?'} attempts, "
                          f"kept as {f.id})" for f in kept for file in f.files[:1])
        raise InventoryError(
            f"the loader failed for {len(kept)} file(s): {lines}",
            hint="fix the cause (`inventory status` shows drift), then `inventory retry "
                 + " ".join(dict.fromkeys(f.id for f in kept)) + "`")
    late = [o.upload.key for o in outcomes if o.timed_out]
    if late:
        raise OperationTimedOut(
            f"no load report and no kept failure after {timeout:g} s for: {', '.join(late)}: "
            "stored, but never loaded (the loader was not invoked, or is still running)",
            hint="`inventory retry " + " ".join(f"unloaded:{key}" for key in late)
                 + "` loads them; `inventory logs load` shows what the loader did")


def _store_of_key(store_key: str | None, upload_url: str | None) -> str:
    """The store a key belongs to, as the endpoint says (the key is checked before anything)."""
    from inventory_cli.ops import store_upload_client as client

    if not store_key or not upload_url:
        raise UsageError("--store-key and --upload-url go together (or INVENTORY_STORE_KEY "
                         "and INVENTORY_UPLOAD_URL)")
    client.valid_upload_url(upload_url)
    return client.whoami(upload_url, store_key)


def _upload_as_store(app: AppContext, checked: list[CheckedFile], store_key: str,
                     upload_url: str, *, wait: bool, timeout: float) -> None:
    """`upload --store-key`: through the stack's upload endpoint, no AWS credentials."""
    from inventory_cli import render
    from inventory_cli.errors import printable
    from inventory_cli.ops import store_upload_client as client

    uploads = client.upload_files(upload_url, store_key, checked)
    for up in uploads:
        app.console.print(f"Sent {up.file.path} for store {printable(up.store)} as "
                          f"{up.file.key}", markup=False, soft_wrap=True)
    if not wait:
        return
    outcomes = client.wait_for_reports(store_key, uploads, timeout=timeout, sleep=SLEEP,
                                       clock=CLOCK)
    render.load_outcomes(app.console, outcomes)
    if any(o.timed_out for o in outcomes):
        raise OperationTimedOut(f"no load report after {timeout:g} s",
                                hint="ask the stack's operator to check `inventory logs load`")
    if any(o.failed for o in outcomes):
        raise InventoryError("the loader rejected rows (listed above)")


@contextmanager
def _progress(err: Console, files: Sequence[CheckedFile]) -> Iterator[UploadProgress | None]:
    """A progress bar on stderr, only on a terminal and only when there is something to watch."""
    if not err.is_terminal or not (len(files) > 1 or
                                   any(f.size >= LARGE_FILE_BYTES for f in files)):
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  console=err, transient=True) as bar:
        tasks = {f.key: bar.add_task(f.key, total=f.size, start=False) for f in files}

        class _Bar:
            def started(self, key: str, size: int) -> None:
                bar.start_task(tasks[key])

            def advanced(self, key: str, sent: int) -> None:
                bar.advance(tasks[key], sent)

            def finished(self, key: str) -> None:
                bar.update(tasks[key], completed=bar.tasks[tasks[key]].total)

        yield _Bar()


def show(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Option(
        "--store", metavar="NAME", help="Only this store (read with a Query).")] = None,
    totals: Annotated[bool, typer.Option(
        "--totals", help="One row per item, summed over all stores.")] = False,
    low: Annotated[bool, typer.Option(
        "--low", help="Only counts at or below the stack's low-stock threshold.")] = False,
    output: OutputOption = None,
) -> None:
    """Show stock levels, sorted by store, then item."""
    from inventory_cli import render
    from inventory_cli.ops import query
    from inventory_cli.ops.stack_info import find_stack

    if store is not None and totals:
        raise UsageError("--totals sums over all stores; it cannot be combined with --store")
    app = app_context(ctx)
    stack = find_stack(app.aws())
    fmt = render.resolve_format(output, app.console)
    if totals:
        # From the summaries the stream keeps: one row per item, not a Scan of every row.
        summed = query.summary_totals(app.aws(), stack.names)
        if low:
            summed = [t for t in summed if t.count <= stack.threshold]
        render.totals(app.console, summed, threshold=stack.threshold, fmt=fmt)
        return
    rows = (query.read_store(app.aws(), stack.names, store) if store is not None
            else query.read_all(app.aws(), stack.names))
    if low:
        rows = query.at_or_below(rows, stack.threshold)
    if not rows and fmt is render.OutputFormat.table and store is None and not low:
        app.console.print("No stock recorded yet. Load a file with `inventory upload FILE`.",
                          markup=False, soft_wrap=True)
        return
    render.stock(app.console, rows, threshold=stack.threshold, fmt=fmt)


def subscribe(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(
        metavar="EMAIL-OR-PHONE", help="An e-mail address, or a phone number in E.164 form "
        "(+4915112345678).")],
    store: Annotated[list[str] | None, typer.Option(
        "--store", metavar="NAME", help="Only alerts for this store (repeat for several).")] = None,
    protocol: Annotated[str | None, typer.Option(
        "--protocol", metavar="email|sms", help="Default: inferred from the endpoint.")] = None,
    verify: VerifyOption = None,
    ops: OpsOption = False,
) -> None:
    """Send low-stock alerts to an e-mail address or phone; subscribing twice changes nothing.
    With --ops: the operators' messages (kept failures, files never loaded, alarms)."""
    from inventory_cli.ops import subscriptions as core
    from inventory_cli.ops.stack_info import find_stack

    resolved = core.infer_protocol(endpoint, protocol)
    if ops and store:
        raise UsageError("--store chooses stock alerts; the operators' topic (--ops) carries "
                         "the stack's health, not a store's")
    app = app_context(ctx)
    stack = find_stack(app.aws())
    result = core.subscribe(app.aws(), stack.names, endpoint, resolved,
                            tuple(store) if store else None, ops=ops)
    sub = result.subscription
    scope = ("the operators' messages" if ops else
             f"alerts for {', '.join(sub.stores)}" if sub.stores else "alerts for every store")
    who = f"{sub.endpoint} ({sub.protocol})"
    message = {"created": f"Subscribed {who} to {scope}.",
               "updated": f"Updated {who}: now {scope}. SNS takes up to 15 minutes to apply "
                          "a changed filter.",
               "unchanged": f"{who} is already subscribed to {scope}; nothing changed."}
    app.console.print(message[result.change], markup=False, soft_wrap=True)
    if sub.status == "pending":
        app.console.print(
            f"Pending: AWS sent a confirmation message to {sub.endpoint}. "
            f"{'Messages are' if ops else 'Alerts are'} delivered "
            f"only after the link in it is clicked; unconfirmed subscriptions are deleted after "
            f"{core.PENDING_EXPIRY}.", markup=False, soft_wrap=True)
    if sub.protocol == "sms":
        after_phone_subscribe(app, sub.endpoint, verify)


def subscriptions(ctx: typer.Context, output: OutputOption = None) -> None:
    """List who gets alerts (topic "alerts") and the operators' messages (topic "ops"):
    endpoint, protocol, status (confirmed/pending), stores.

    In the SNS SMS sandbox, phones that are not verified are shown as "unverified (SMS
    sandbox)": their messages never arrive."""
    from inventory_cli import render
    from inventory_cli.errors import StackIncomplete
    from inventory_cli.ops import subscriptions as core
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    stack = find_stack(app.aws())
    rows = core.list_subscriptions(app.aws(), stack.names)
    try:
        rows += core.list_subscriptions(app.aws(), stack.names, ops=True)
    except StackIncomplete as exc:  # a stack provisioned before the operators' topic
        app.err.print(f"Note: {exc.message}; {exc.hint}.", markup=False, soft_wrap=True)
    from inventory_cli.ops.sms_sandbox import mark_subscriptions

    rows, note = mark_subscriptions(app.aws(), rows)
    if note:
        app.err.print(f"Note: {note}.", markup=False, soft_wrap=True)
    render.subscriptions(app.console, rows, fmt=render.resolve_format(output, app.console))


def unsubscribe(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(metavar="EMAIL-OR-PHONE")],
    ops: OpsOption = False,
) -> None:
    """Stop sending alerts (with --ops: the operators' messages) to an endpoint."""
    from inventory_cli.ops import subscriptions as core
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    stack = find_stack(app.aws())
    for sub in core.unsubscribe(app.aws(), stack.names, endpoint, ops=ops):
        app.console.print(f"Unsubscribed {sub.endpoint} ({sub.protocol})"
                          f"{' from the operators topic' if ops else ''}.", markup=False,
                          soft_wrap=True)


def alerts(
    ctx: typer.Context,
    since: SinceOption = "24h",
    store: Annotated[str | None, typer.Option(
        "--store", metavar="NAME", help="Only this store's alerts.")] = None,
    output: OutputOption = None,
) -> None:
    """Low-stock alerts from the stack's alert log: sent (with the SNS message id), failed, or
    in progress. Each alert is published at most once."""
    from inventory_cli.ops.durations import parse_since

    window = parse_since(since)  # before boto3 is imported: a typo costs nothing

    from inventory_cli import render
    from inventory_cli.ops.alerts import read_alerts
    from inventory_cli.ops.clock import utc_now
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    stack = find_stack(app.aws())
    rows = read_alerts(app.aws(), stack.names, since=window, now=utc_now(), store=store)
    render.alerts(app.console, rows, fmt=render.resolve_format(output, app.console),
                  since_label=since.strip() + (f" for {store}" if store else ""))


def logs(
    ctx: typer.Context,
    function: Annotated[str | None, typer.Argument(
        metavar="[load|check|summaries|store-upload|announce]",
        help="One function's log (default: all five; announce: the operators' messages).")
    ] = None,
    since: SinceOption = "1h",
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
) -> None:
    """Log lines of the pipeline's functions, oldest first (lines of one moment in the order
    the function wrote them)."""
    from inventory_cli.ops.durations import parse_since

    functions = ("load", "check", "summaries", "store-upload", "announce")  # ops.logs.FUNCTION_LOGS
    if function is not None and function not in functions:
        raise UsageError(f"unknown function {function!r}: use {', '.join(functions[:-1])} or "
                         f"{functions[-1]}")
    window = parse_since(since)

    from inventory_cli import render
    from inventory_cli.ops.clock import utc_now
    from inventory_cli.ops.logs import follow_log_lines, log_groups, read_log_lines
    from inventory_cli.ops.stack_info import find_stack

    app = app_context(ctx)
    names = find_stack(app.aws()).names
    groups = log_groups(names)
    if function is not None:
        groups = {function: groups[function]}
    labels = {group: label for label, group in groups.items()}
    width = max(len(label) for label in groups)
    start = utc_now() - window
    if not follow:
        lines = read_log_lines(app.aws(), list(groups.values()), start=start)
        for line in lines:
            render.log_line(app.console, line, labels[line.group], width)
        if not lines:
            app.err.print(f"No log lines in the last {since.strip()}.", markup=False,
                          soft_wrap=True)
        return
    try:
        for line in follow_log_lines(app.aws(), list(groups.values()), start=start, sleep=SLEEP):
            render.log_line(app.console, line, labels[line.group], width)
    except KeyboardInterrupt:
        return  # Ctrl-C is how one stops following: a normal end, not an error


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("upload")(upload)
    app.command("show")(show)
    app.command("subscribe")(subscribe)
    app.command("subscriptions")(subscriptions)
    app.command("unsubscribe")(unsubscribe)
    app.command("alerts")(alerts)
    app.command("logs")(logs)
