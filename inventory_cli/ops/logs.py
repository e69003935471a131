"""Reading the pipeline's Lambda log groups (CloudWatch Logs), once or following new lines.

A log group that does not exist yet is not an error: Lambda creates it on the function's first
invocation, so a stack that never loaded a file simply has no lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.ops.clock import utc_now
from inventory_cli.ops.durations import parse_since

__all__ = ["FUNCTION_LOGS", "LogLine", "follow_log_lines", "log_groups", "log_name_of",
           "parse_since", "read_log_lines"]

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames

FOLLOW_POLL_SECONDS = 2.0
# CloudWatch may ingest a line seconds after its timestamp; each poll looks back this far and
# skips the event ids it has already shown.
FOLLOW_LOOKBACK = timedelta(seconds=60)


# The functions whose logs `inventory logs` reads, by the name the command takes
# (`StackNames.function_logs` maps each to its function).
FUNCTION_LOGS = ("load", "check", "summaries", "store-upload", "announce")


@dataclass(frozen=True)
class LogLine:
    time: datetime
    group: str
    stream: str
    message: str
    event_id: str


def read_log_lines(aws: Aws, groups: Sequence[str], *, start: datetime,
                   end: datetime | None = None, pattern: str | None = None) -> list[LogLine]:
    """Lines of all `groups` from `start` (and until `end`), oldest first.

    Lines that share a timestamp keep the service's order: FilterLogEvents returns events
    "sorted by event timestamp, the timestamp when the event was ingested by CloudWatch Logs,
    and the ID of the PutLogEvents request" (CloudWatch Logs API Reference, FilterLogEvents), so
    a function's START, its lines, END and REPORT of one millisecond stay in that order. Groups
    are merged by timestamp alone (a stable sort), each group's order kept."""
    logs = aws.client("logs")
    lines: list[LogLine] = []
    for group in groups:
        kwargs: dict[str, object] = {"logGroupName": group, "startTime": _millis(start)}
        if end is not None:
            kwargs["endTime"] = _millis(end)
        if pattern:
            kwargs["filterPattern"] = pattern
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                lines.extend(
                    LogLine(time=datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                            group=group, stream=event.get("logStreamName", ""),
                            message=event.get("message", "").rstrip("\n"),
                            event_id=event.get("eventId", ""))
                    for event in page.get("events", []))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
    return sorted(lines, key=lambda line: line.time)


def follow_log_lines(aws: Aws, groups: Sequence[str], *, start: datetime,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], datetime] = utc_now,
                     poll_interval: float = FOLLOW_POLL_SECONDS,
                     pattern: str | None = None) -> Iterator[LogLine]:
    """Yield lines as they arrive, forever (the caller stops on Ctrl-C or by closing it)."""
    seen: dict[str, datetime] = {}
    cursor = start
    while True:
        for line in read_log_lines(aws, groups, start=cursor, pattern=pattern):
            if line.event_id in seen:
                continue
            seen[line.event_id] = line.time
            yield line
        cursor = max(start, clock() - FOLLOW_LOOKBACK)
        # Forget what is older than the look-back window: those lines are never read again.
        seen = {event_id: at for event_id, at in seen.items() if at >= cursor}
        sleep(poll_interval)


def log_groups(names: StackNames) -> dict[str, str]:
    """Each function's log group, by the name `inventory logs` takes (in FUNCTION_LOGS order)."""
    # Lambda's default log group of each function: /aws/lambda/<function name>.
    return {name: f"/aws/lambda/{function}" for name, function in names.function_logs.items()}


def log_name_of(names: StackNames, function: str) -> str | None:
    """The `inventory logs` name of a deployed function (its AWS name), or None."""
    return next((name for name, aws_name in names.function_logs.items() if aws_name == function),
                None)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
