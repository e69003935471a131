"""Recent low-stock alerts, read back from the check function's log lines.

The checker logs one JSON line per alert it sent (TEAM-CONTRACTS.md):
`{"event": "alert_sent", "store", "item", "count", "threshold", "message_id"}`. Reading the
log, not SNS, is what works on AWS and on the emulator alike (SNS keeps no message history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from inventory_cli.ops.logs import read_log_lines

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames

ALERT_EVENT = "alert_sent"
# A quoted term: CloudWatch and the emulator both match it as a substring, and it narrows the
# lines transferred; the JSON is then checked here.
_ALERT_PATTERN = f'"{ALERT_EVENT}"'


@dataclass(frozen=True)
class Alert:
    time: datetime
    store: str
    item: str
    count: int
    threshold: int | None
    message_id: str | None


def read_alerts(aws: Aws, names: StackNames, *, since: timedelta, now: datetime) -> list[Alert]:
    """Alerts sent from `now - since` until now, oldest first."""
    lines = read_log_lines(aws, [names.check_log_group], start=now - since, pattern=_ALERT_PATTERN)
    alerts = []
    for line in lines:
        record = parse_log_json(line.message)
        alert = _alert_from(record, line.time) if record else None
        if alert is not None:
            alerts.append(alert)
    return alerts


def parse_log_json(message: str) -> dict[str, Any] | None:
    """The JSON object in a log line, which may carry a runtime prefix (level, time, request)."""
    start = message.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(message, start)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _alert_from(record: dict[str, Any], at: datetime) -> Alert | None:
    if record.get("event") != ALERT_EVENT:
        return None
    try:
        threshold = record.get("threshold")
        return Alert(time=at, store=str(record["store"]), item=str(record["item"]),
                     count=int(record["count"]),
                     threshold=int(threshold) if threshold is not None else None,
                     message_id=record.get("message_id"))
    except (KeyError, TypeError, ValueError):
        return None  # a line from an older checker: not an alert this tool can show
