"""Low-stock alerts, read from the stack's alert log table.

The checker keeps one record per alert (store + the stream record's eventID) in the alert table
(docs/data-formats.md, "Kept failures and the alert log"): its exactly-once claim, then the
outcome (`sent` with the SNS message id, or `failed` with the error). That table is the history
of alerts: it does not depend on log retention, and DynamoDB expires records 90 days after the
alert (TTL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.ops.stack_info import missing_resource

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames


@dataclass(frozen=True)
class Alert:
    time: datetime
    store: str
    item: str
    count: int | None
    threshold: int | None
    message_id: str | None
    # sent | failed | in_progress
    state: str
    event_id: str = ""
    attempts: int | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "store": self.store, "item": self.item,
                "count": self.count, "threshold": self.threshold,
                "message_id": self.message_id, "state": self.state,
                "event_id": self.event_id, "attempts": self.attempts, "error": self.error}


def read_alerts(aws: Aws, names: StackNames, *, since: timedelta, now: datetime,
                store: str | None = None) -> list[Alert]:
    """Alerts from `now - since` until now (by when they were sent, or first seen if not sent),
    oldest first; one store's with a Query, all with a paginated Scan."""
    ddb = aws.client("dynamodb")
    if store is not None:
        method = "query"
        params: dict[str, Any] = {
            "TableName": names.alert_table,
            "KeyConditionExpression": "#store = :store",
            "ExpressionAttributeNames": {"#store": "Store"},
            "ExpressionAttributeValues": {":store": {"S": store}}}
    else:
        method, params = "scan", {"TableName": names.alert_table}
    start = now - since
    alerts = []
    try:
        for page in ddb.get_paginator(method).paginate(**params):
            for item in page.get("Items", []):
                alert = alert_from_item(item)
                if alert is not None and alert.time >= start:
                    alerts.append(alert)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise missing_resource("alert log table", names.alert_table) from None
        raise
    return sorted(alerts, key=lambda a: (a.time, a.store, a.item))


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def _int(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    if not isinstance(value, dict) or "N" not in value:
        return None
    try:
        return int(value["N"])
    except ValueError:
        return None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alert_from_item(item: dict[str, Any]) -> Alert | None:
    """One record of the alert table; None for one without the keys or a time (not an alert
    this tool can show)."""
    store, event_id = _text(item, "Store"), _text(item, "EventId")
    state = _text(item, "State") or "unknown"
    when = _moment(_text(item, "SentAt") if state == "sent" else None) or _moment(
        _text(item, "FirstSeen")) or _moment(_text(item, "SentAt"))
    if store is None or event_id is None or when is None:
        return None
    return Alert(time=when, store=store, item=_text(item, "Item") or "?",
                 count=_int(item, "Count"), threshold=_int(item, "Threshold"),
                 message_id=_text(item, "MessageId"), state=state, event_id=event_id,
                 attempts=_int(item, "Attempts"), error=_text(item, "Error"))
