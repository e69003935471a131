"""Output for people (Rich tables) and for scripts (JSON, CSV). No AWS in here.

Every name that came from data (store, item, endpoint, file) goes into a table as a `Text`, never
as a markup string: a store called `[bold]x[/bold]` is shown as typed. JSON and CSV are written
with `Console.out`, which neither wraps nor interprets markup. Colour comes from Rich, which
turns it off when the output is not a terminal and when NO_COLOR is set.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.text import Text

from inventory_cli.errors import visible
from inventory_cli.long_table import print_table, rich_table, write_plain

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from inventory_cli.local.prices import BillLine, PriceTable
    from inventory_cli.ops.alerts import Alert
    from inventory_cli.ops.failures import KeptFailure
    from inventory_cli.ops.logs import LogLine
    from inventory_cli.ops.query import ItemTotal, StockRow
    from inventory_cli.ops.retry import RetryOutcome
    from inventory_cli.ops.staff import StaffMember
    from inventory_cli.ops.stores import StoreRow
    from inventory_cli.ops.subscriptions import Subscription
    from inventory_cli.ops.upload import Duplicate, LoadOutcome, Problem, UploadedFile
    from inventory_cli.provisioning import ProvisionResult
    from inventory_cli.stack.instructions import Plan
    from inventory_cli.stack.status import StackStatus

LOW_STYLE = "bold red"
# The upload format's header: `show --output csv` output can be uploaded again as it is.
STOCK_CSV_HEADER = ("store", "item", "count")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def resolve_format(requested: OutputFormat | None, console: Console) -> OutputFormat:
    """A table for people at a terminal; JSON when the output goes to a pipe or a file."""
    if requested is not None:
        return requested
    return OutputFormat.table if console.is_terminal else OutputFormat.json


def _table(*columns: str, right: Sequence[str] = ()) -> Table:
    """A borderless table; `right` names the right-aligned (numeric) columns."""
    return rich_table(columns, right)


def write_json(console: Console, records: Any) -> None:
    write_plain(console, json.dumps(records, indent=2, ensure_ascii=False))


def write_csv(console: Console, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_plain(console, buffer.getvalue().rstrip("\n"))


# -- stock -------------------------------------------------------------------------------------

def stock(console: Console, rows: Sequence[StockRow], *, threshold: int,
          fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [{"store": r.store, "item": r.item, "count": r.count} for r in rows])
    elif fmt is OutputFormat.csv:
        write_csv(console, STOCK_CSV_HEADER, ((r.store, r.item, r.count) for r in rows))
    else:
        # thousands of rows for one store of a big catalogue: printed in one pass
        print_table(console, ("Store", "Item", "Count", ""), right=("Count",), rows=[
            [Text(row.store), Text(row.item), *_count_cells(row.count, threshold)]
            for row in rows])
        console.print(_threshold_note(threshold))


def totals(console: Console, rows: Sequence[ItemTotal], *, threshold: int,
           fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [{"item": r.item, "count": r.count, "stores": r.stores}
                             for r in rows])
    elif fmt is OutputFormat.csv:
        write_csv(console, ("item", "count", "stores"), ((r.item, r.count, r.stores) for r in rows))
    else:
        cells = []
        for row in rows:
            count, flag = _count_cells(row.count, threshold)
            cells.append([Text(row.item), count, Text(str(row.stores)), flag])
        print_table(console, ("Item", "Total", "Stores", ""), cells, right=("Total", "Stores"))
        console.print(_threshold_note(threshold))


def _count_cells(count: int, threshold: int) -> tuple[Text, Text]:
    """A count, and the "low" flag next to it, both red when at or below the threshold."""
    if count <= threshold:
        return Text(str(count), style=LOW_STYLE), Text("low", style=LOW_STYLE)
    return Text(str(count)), Text("")


def _threshold_note(threshold: int) -> Text:
    return Text(f"low: count at or below the stack's threshold ({threshold})", style="dim")


# -- upload ------------------------------------------------------------------------------------

def problems(console: Console, rows: Iterable[tuple[str, int | None, str]]) -> None:
    table = _table("File", "Line", "Reason", right=["Line"])
    for file, line, reason in rows:
        table.add_row(Text(file), "-" if line is None else str(line), Text(reason))
    console.print(table)


def duplicates(console: Console, rows: Sequence[Duplicate]) -> None:
    for dup in rows:
        console.print(Text(f"Warning: {dup.file} line {dup.line} repeats {dup.store} / "
                           f"{dup.item} from line {dup.previous_line}; the later row wins"),
                      soft_wrap=True)


def other_store_rows(console: Console, rows: Sequence[Problem]) -> None:
    """Rows of other stores in a store's own upload: the loader rejects them (as the store's
    page warns)."""
    for row in rows:
        console.print(Text(f"Warning: {row.file} line {row.line}: {row.reason}"), soft_wrap=True)


def uploaded(console: Console, bucket: str, rows: Sequence[UploadedFile]) -> None:
    for up in rows:
        version = f" (version {up.version_id})" if up.version_id else ""
        console.print(Text(f"Sent {up.path} to s3://{bucket}/{up.key}{version}"), soft_wrap=True)


def load_outcomes(console: Console, outcomes: Sequence[LoadOutcome]) -> None:
    table = _table("File", "Status", "Rows", "Loaded", "Rejected",
                   right=["Rows", "Loaded", "Rejected"])
    for out in outcomes:
        blank = "-"
        style = "" if not out.failed else LOW_STYLE
        table.add_row(Text(out.upload.key), Text(out.status, style=style),
                      blank if out.rows_read is None else str(out.rows_read),
                      blank if out.loaded is None else str(out.loaded),
                      blank if out.report is None else str(len(out.rejected)))
    console.print(table)
    for out in outcomes:
        for row in out.rejected:
            console.print(Text(f"{out.upload.key} line {row.get('line', '?')}: "
                               f"{row.get('reason', '')}"), soft_wrap=True)


# -- subscriptions -----------------------------------------------------------------------------

def stores_label(sub: Subscription) -> str:
    if sub.topic == "ops":
        return "-"  # the operators' topic carries no store's alerts
    if sub.stores is not None:
        return ", ".join(sub.stores)
    return "unknown until confirmed" if sub.arn is None else "all"


def subscription_status(sub: Subscription) -> str:
    """SNS's status, unless the SMS sandbox keeps texts from reaching the number."""
    if sub.sms_sandbox in ("pending", "unverified"):
        return "unverified (SMS sandbox)"
    return sub.status


def subscriptions(console: Console, rows: Sequence[Subscription], *, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [{"endpoint": s.endpoint, "protocol": s.protocol, "status": s.status,
                              "stores": list(s.stores) if s.stores is not None else None,
                              "sms_sandbox": s.sms_sandbox, "topic": s.topic}
                             for s in rows])
    elif fmt is OutputFormat.csv:
        write_csv(console, ("endpoint", "protocol", "status", "stores", "sms_sandbox", "topic"),
                  ((s.endpoint, s.protocol, s.status, ";".join(s.stores or ()),
                    s.sms_sandbox or "", s.topic) for s in rows))
    elif not rows:
        console.print("No subscriptions. Add one with `inventory subscribe EMAIL-OR-PHONE`.",
                      markup=False, soft_wrap=True)
    else:
        table = _table("Topic", "Endpoint", "Protocol", "Status", "Stores")
        for s in rows:
            status = subscription_status(s)
            table.add_row(s.topic, Text(s.endpoint), s.protocol,
                          Text(status, style=LOW_STYLE if status != s.status else ""),
                          Text(stores_label(s)))
        console.print(table)
        if any(subscription_status(s) != s.status for s in rows):
            console.print(Text(
                "unverified (SMS sandbox): this AWS account is in the SNS SMS sandbox, which "
                "texts only verified numbers; alerts to these never arrive. Verify one with "
                "`inventory subscribe NUMBER --verify`, then `inventory verify-phone NUMBER "
                "CODE`."), soft_wrap=True)


# -- alerts and logs ---------------------------------------------------------------------------

def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def alerts(console: Console, rows: Sequence[Alert], *, fmt: OutputFormat,
           since_label: str) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [a.as_json() for a in rows])
    elif fmt is OutputFormat.csv:
        write_csv(console, ("time", "store", "item", "count", "state", "message_id"),
                  ((a.time.isoformat(), a.store, a.item, "" if a.count is None else a.count,
                    a.state, a.message_id or "") for a in rows))
    elif not rows:
        console.print(f"No alerts in the last {since_label}.", markup=False, soft_wrap=True)
    else:
        table = _table("Time (UTC)", "Store", "Item", "Count", "State", "Message id",
                       right=["Count"])
        for a in rows:
            table.add_row(timestamp(a.time), Text(a.store), Text(a.item),
                          Text("?" if a.count is None else str(a.count), style=LOW_STYLE),
                          Text(a.state.replace("_", " "),
                               style="" if a.state == "sent" else LOW_STYLE),
                          Text(a.message_id or "-"))
        console.print(table)


# -- kept failures -----------------------------------------------------------------------------

def failures(console: Console, rows: Sequence[KeptFailure], *, fmt: OutputFormat,
             stack: str) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [f.as_json(stack) for f in rows])
    elif fmt is OutputFormat.csv:
        write_csv(console, ("id", "when", "kind", "function", "what", "error", "attempts"),
                  ((f.id, f.when.isoformat() if f.when else "", f.kind, f.function, f.what,
                    f.error, "" if f.attempts is None else f.attempts) for f in rows))
    elif not rows:
        console.print("No kept failures: every stored file has its load report and no "
                      "invocation failed for good.", markup=False, soft_wrap=True)
    else:
        table = _table("Id", "When (UTC)", "Function", "File / items", "Error", "Attempts",
                       right=["Attempts"])
        for f in rows:
            table.add_row(Text(f.id), timestamp(f.when) if f.when else "-", Text(f.function),
                          Text(f.what), Text(f.error, style=LOW_STYLE),
                          "-" if f.attempts is None else str(f.attempts))
        console.print(table)
        # The same line the operators' message of each failure gives (kept_failures.retry_line).
        lines = [line for line in (f.retry(stack) for f in rows) if line]
        if lines:
            console.print("Re-drive with:", markup=False, soft_wrap=True)
            for line in lines:
                console.print(Text(f"  {line}"), soft_wrap=True)


def retry_outcomes(console: Console, rows: Sequence[RetryOutcome], *, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [o.as_json() for o in rows])
        return
    if fmt is OutputFormat.csv:
        write_csv(console, ("id", "kind", "function", "what", "result", "detail"),
                  ((o.failure.id, o.failure.kind, o.failure.function, o.failure.what, o.result,
                    o.detail) for o in rows))
        return
    for o in rows:
        style = LOW_STYLE if o.failed else ""
        console.print(Text(f"{o.failure.id}: {o.result}: {o.failure.what}: {o.detail}",
                           style=style), soft_wrap=True)


def log_line(console: Console, line: LogLine, label: str, width: int = 5) -> None:
    """One log line: time, the function's name padded to `width` (the longest name shown), the
    message."""
    console.out(f"{timestamp(line.time)} {label:<{width}} {line.message}", highlight=False)


# -- stores --------------------------------------------------------------------------------

def stores(console: Console, rows: Sequence[StoreRow], *, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_json(console, [row.as_json() for row in rows])
        return
    if fmt is OutputFormat.csv:
        write_csv(console, ("store", "created", "last_upload", "state"),
                  [(r.store, r.created, r.last_upload or "", r.state) for r in rows])
        return
    if not rows:
        console.print("No stores yet. Give one a key with `inventory stores add NAME`.",
                      markup=False, soft_wrap=True)
        return
    table = _table("Store", "Created", "Last upload", "State")
    for row in rows:
        # Names with invisible or combining characters are shown quoted and escaped, so two
        # stores never look the same in the table.
        table.add_row(Text(visible(row.store)), row.created, row.last_upload or "never",
                      Text(row.state, style="" if row.state == "active" else LOW_STYLE))
    console.print(table)


def staff(console: Console, members: Sequence[StaffMember], *, fmt: OutputFormat) -> None:
    """`inventory staff list`: who may sign in to the private dashboard, and what they see."""
    if fmt is OutputFormat.json:
        write_json(console, [m.as_json() for m in members])
        return
    if fmt is OutputFormat.csv:
        write_csv(console, ("email", "stores", "status", "enabled", "created"),
                  [(m.email, ";".join(m.stores), m.status, m.enabled, m.created)
                   for m in members])
        return
    if not members:
        console.print("No staff accounts yet. Invite one with `inventory staff add EMAIL "
                      "[--store NAME ...]`.", markup=False, soft_wrap=True)
        return
    table = _table("E-mail", "Stores", "Status", "Created")
    for m in members:
        stores = Text("every store") if m.every_store else Text(
            ", ".join(visible(s) for s in m.stores))
        status = {"FORCE_CHANGE_PASSWORD": "invited", "CONFIRMED": "active",
                  "RESET_REQUIRED": "reset"}.get(m.status, m.status.lower())
        if not m.enabled:
            status = "disabled"
        table.add_row(Text(m.email), stores, status, m.created)
    console.print(table)


def print_stack_status(console: Console, status: StackStatus) -> None:
    """`inventory status`: one row per resource of the stack, in the stack's order."""
    from rich.table import Table

    table = Table(title=f"Stack {status.names.stack} ({status.names.region})",
                  title_justify="left")
    for column in ("resource", "name", "state", "detail"):
        table.add_column(column, overflow="fold")
    styles = {"ok": "green", "missing": "red", "drifted": "yellow", "deploying": "cyan"}
    for r in status.resources:
        table.add_row(r.resource, r.name, f"[{styles[r.state]}]{r.state}[/]", r.detail)
    console.print(table)
    _print_alarm_states(console, status)
    if not status.dashboard:
        console.print("Dashboard: off (provisioned with --no-dashboard)")
    elif status.exists:
        console.print(f"Dashboard access: {DASHBOARD_ACCESS_LINES[status.dashboard_access]}",
                      soft_wrap=True)
    for leftover in status.leftovers:
        console.print(f"Left from before, provision removes it: {leftover}", soft_wrap=True)


ALARM_STYLES = {"OK": "green", "ALARM": "red", "INSUFFICIENT_DATA": "yellow"}


def _print_alarm_states(console: Console, status: StackStatus) -> None:
    """One row per alarm that exists: its state, since when, and CloudWatch's reason."""
    from rich.table import Table

    rows = [r for r in status.resources if r.alarm is not None]
    if not rows:
        return
    table = Table(title="Alarms (to the operators' topic)", title_justify="left")
    for column in ("alarm", "state", "since", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        assert r.alarm is not None
        table.add_row(Text(r.name), Text(r.alarm.value, style=ALARM_STYLES.get(r.alarm.value, "")),
                      r.alarm.since, Text(r.alarm.reason))
    console.print(table)


def print_plan(console: Console, plan: Plan, *, title: str) -> None:
    """A plan as numbered steps: `service.method  summary`."""
    from inventory_cli.stack.instructions import describe_step

    console.print(f"{title}: {len(plan.changes)} change(s)")
    width = len(str(len(plan.steps)))
    for index, step in enumerate(plan.steps, 1):
        console.print(f"  {index:>{width}}. {describe_step(step)}", soft_wrap=True)


DASHBOARD_ACCESS_LINES = {
    "private": "private: staff sign in (`inventory staff add EMAIL`), each reads its stores",
    "public": "PUBLIC: anyone with the address can read the stock of every store",
}


def print_provision_summary(console: Console, result: ProvisionResult) -> None:
    """What `provision` made of the stack: its names, what changed, and what to know."""
    names = result.names
    console.print(f"Stack {names.stack} ({names.region}, account {names.account_id})")
    dashboard = result.dashboard_url if result.dashboard else "none (--no-dashboard)"
    rows: tuple[tuple[str, str], ...] = (
        ("Uploads bucket", names.uploads_bucket), ("Table", names.table),
            ("Alert topic", names.topic_arn), ("Dashboard", dashboard),
            ("Low-stock threshold", str(result.threshold)))
    if result.dashboard:
        rows += (("Dashboard access", DASHBOARD_ACCESS_LINES[result.dashboard_access]),)
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
    if result.notification_settling:
        console.print(
            "Note: S3 takes up to about 5 minutes to apply a new or changed bucket notification. "
            "A file uploaded before then may be stored but never loaded: `inventory failures` "
            "lists such files and `inventory retry` loads them.", soft_wrap=True)


# -- the emulator's meter ----------------------------------------------------------------------

def _units(value: float) -> str:
    """Read units come in halves: 12.5, not 12.50 or 12.500000001."""
    return f"{value:,.1f}" if value % 1 else f"{int(value):,}"


def meter_json(report: dict[str, Any], lines: Sequence[BillLine],
               table: PriceTable) -> dict[str, Any]:
    """The meter's counts as the emulator reported them, with the bill."""
    from inventory_cli.local.prices import total_usd

    return {**report,
            "prices": {"region": table.region, "as_of": table.as_of, "origin": table.origin},
            "bill": [{"price": line.price, "quantity": float(line.quantity),
                      "usd": float(line.usd)} for line in lines],
            "total_usd": float(total_usd(list(lines)))}


def meter(console: Console, report: dict[str, Any], lines: Sequence[BillLine],
          table: PriceTable) -> None:
    """`inventory local meter`: what was counted, per service, then what it costs."""
    from inventory_cli.local.prices import total_usd

    since = "the start" if report["since"] == "start" else f"mark {report['since']!r}"
    console.print(Text(f"Counted since {since} ({report['from']} to {report['to']})"))
    sections: list[tuple[str, Sequence[str], Sequence[str], list[list[str]]]] = [
        ("DynamoDB", ("Table", "Caller", "Read units", "Write units"),
         ("Read units", "Write units"),
         [[r["table"], r["caller"], _units(r["read_units"]), f"{r['write_units']:,}"]
          for r in report["dynamodb"]]),
        ("Lambda", ("Function", "Requests", "Errors", "Billed ms", "GB-seconds"),
         ("Requests", "Errors", "Billed ms", "GB-seconds"),
         [[r["function"], f"{r['requests']:,}", f"{r['errors']:,}", f"{r['billed_ms']:,}",
           f"{r['gb_seconds']:,.3f}"] for r in report["lambda"]]),
        ("S3", ("Bucket", "Caller", "PUT/COPY/POST/LIST", "GET/other", "DELETE"),
         ("PUT/COPY/POST/LIST", "GET/other", "DELETE"),
         [[r["bucket"], r["caller"], f"{r['put_copy_post_list']:,}", f"{r['get_and_other']:,}",
           f"{r['delete']:,}"] for r in report["s3"]]),
        ("SNS publishes", ("Topic", "Caller", "Requests"), ("Requests",),
         [[r["topic"], r["caller"], f"{r['requests']:,}"] for r in report["sns_publishes"]]),
        ("SNS deliveries", ("Topic", "Protocol", "Deliveries"), ("Deliveries",),
         [[r["topic"], r["protocol"], f"{r['deliveries']:,}"]
          for r in report["sns_deliveries"]]),
    ]
    for title, columns, right, rows in sections:
        if not rows:
            continue
        console.print(Text(title, style="bold"))
        print_table(console, columns, [[Text(cell) for cell in row] for row in rows],
                    right=right)
    if not lines:
        console.print("Nothing billable was counted.")
        return
    bill = _table("Price", "Quantity", "USD", right=("Quantity", "USD"))
    for line in lines:
        price = table.prices.get(line.price)
        label = f"{line.price} ({price.unit})" if price else f"{line.price} (no price)"
        bill.add_row(Text(label), f"{line.quantity.normalize():,f}", f"{line.usd:,.8f}")
    bill.add_row(Text("total", style="bold"), "", f"{total_usd(list(lines)):,.8f}")
    console.print(bill)
    console.print(Text(f"List prices of {table.region} as of {table.as_of} ({table.origin}); "
                       "not counted: free tier, storage, data transfer, CloudWatch, stream "
                       "reads by Lambda (free).", style="dim"), soft_wrap=True)
