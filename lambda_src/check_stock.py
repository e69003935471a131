"""Lambda `check_stock`: alerts by SNS when an item's count drops to or below the threshold.

Triggered by the inventory table's stream (NEW_AND_OLD_IMAGES) through an event source mapping
with `ReportBatchItemFailures`. An item alerts when its count goes from above the threshold (or
from not existing) to at or below it; staying low, a restock or a REMOVE says nothing.

Each alert is sent exactly once, however often its stream record arrives (Lambda's retries, a
bisected batch, a replay by `inventory retry`, two invocations at once): before publishing, the
invocation claims the alert in the alert log (`alert_log.py`, table `ALERT_LOG_TABLE`); an alert
already sent is skipped, one claimed by another live invocation is retried later.

One SNS message per store per invocation lists that store's items this invocation claimed, so a
subscriber gets one mail per store however many items ran out, and can filter on the message
attribute `store`. A failed publish releases the claims of that message and fails only its
records (`batchItemFailures`); the rest of the batch is done. Every alert sent is logged as one
JSON line and recorded as `sent` (with its MessageId) in the alert log.
"""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_src.alert_log import AlertKey, AlertLog, Claim
from lambda_src.aws_clients import client
from lambda_src.environment import ALERT_TOPIC_ARN, alert_log_table, threshold_from_env
from lambda_src.stream_batch import batch_response
from lambda_src.stream_images import RecordError, string_attribute
from lambda_src.structured_log import Log, event_line, write_line

SUBJECT_PREFIX = "Inventory Alert: "
# SNS subjects: ASCII, no control characters, fewer than 100 characters.
MAX_SUBJECT = 99
# SNS messages are at most 256 KiB including attributes; a store with thousands of items running
# out in one batch is split into several messages below that.
MAX_MESSAGE_BYTES = 200_000
# How long claims last when the caller gives no deadline (tests, direct calls).
DEFAULT_CLAIM_S = 60.0
# Waiting for another invocation's claim: how often the alert log is read again, and how much
# of the invocation's time is kept back for publishing what the wait won.
CLAIM_POLL_S = 1.0
CLAIM_WAIT_MARGIN_S = 5.0


@dataclass(frozen=True)
class LowStock:
    """One item that dropped to or below the threshold, and the stream record that said so."""

    store: str
    item: str
    count: Decimal
    sequence_number: str
    # The stream record's eventID: with the store, the alert's identity in the alert log.
    event_id: str = ""

    @property
    def key(self) -> AlertKey:
        return AlertKey(self.store, self.event_id or self.sequence_number)



def _count(image: Mapping[str, Any] | None) -> Decimal | None:
    if not image or "Count" not in image:
        return None
    value = image["Count"]
    if not isinstance(value, Mapping) or "N" not in value:
        raise RecordError(f"Count is not a number attribute: {value!r}")
    try:
        return Decimal(value["N"])
    except InvalidOperation:
        raise RecordError(f"Count is not a number: {value['N']!r}") from None


def low_stock_in_record(record: Mapping[str, Any], threshold: int) -> LowStock | None:
    """The alert a stream record calls for, or None. Raises RecordError for unreadable records."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record.get("dynamodb") or {}
    new_image = change.get("NewImage")
    if new_image is None:
        raise RecordError("no NewImage: the table's stream must be NEW_AND_OLD_IMAGES")
    new_count = _count(new_image)
    if new_count is None or new_count > threshold:
        return None
    old_count = _count(change.get("OldImage"))
    if old_count is not None and old_count <= threshold:
        return None  # it was already low: alerted when it dropped
    return LowStock(store=string_attribute(new_image, "Store"),
                    item=string_attribute(new_image, "Item"), count=new_count,
                    sequence_number=str(change.get("SequenceNumber", "")),
                    event_id=str(record.get("eventID") or ""))


def low_stock_by_store(records: Iterable[Mapping[str, Any]], threshold: int, *,
                       log: Log) -> dict[str, list[LowStock]]:
    """Alerts grouped by store, stores and items in stream order."""
    by_store: dict[str, list[LowStock]] = {}
    for record in records:
        try:
            alert = low_stock_in_record(record, threshold)
        except RecordError as exc:
            log(event_line("record_skipped", reason=str(exc),
                           sequence_number=(record.get("dynamodb") or {}).get("SequenceNumber")))
            continue
        if alert is not None:
            by_store.setdefault(alert.store, []).append(alert)
    return by_store


def alert_line(alert: LowStock, threshold: int) -> str:
    if alert.count == 0:
        return f"{alert.store} is out of stock of {alert.item}"
    return (f"{alert.store} is low on stock of {alert.item}: {_number(alert.count)} left "
            f"(threshold {threshold})")


def alert_subject(store: str) -> str:
    """`Inventory Alert: <store>`, made acceptable to SNS (ASCII, no controls, < 100 chars)."""
    ascii_store = unicodedata.normalize("NFKD", store).encode("ascii", "ignore").decode("ascii")
    printable = "".join(ch if ch.isprintable() else " " for ch in ascii_store).strip()
    subject = SUBJECT_PREFIX + (printable or "store")
    if len(subject) > MAX_SUBJECT:
        subject = subject[:MAX_SUBJECT - 3] + "..."
    return subject


def alert_messages(alerts: list[LowStock], threshold: int) -> list[tuple[str, list[LowStock]]]:
    """(body, alerts in it) for one store: one message unless the body would exceed SNS's limit."""
    messages: list[tuple[str, list[LowStock]]] = []
    lines: list[str] = []
    members: list[LowStock] = []
    size = 0
    for alert in alerts:
        line = alert_line(alert, threshold)
        line_size = len(line.encode("utf-8")) + 1
        if members and size + line_size > MAX_MESSAGE_BYTES:
            messages.append(("\n".join(lines), members))
            lines, members, size = [], [], 0
        lines.append(line)
        members.append(alert)
        size += line_size
    if members:
        messages.append(("\n".join(lines), members))
    return messages


@dataclass(frozen=True)
class ClaimWait:
    """How long an invocation may wait for claims held by another invocation.

    A claim lives until the invocation that made it is over for sure. An invocation that dies
    between claiming and publishing (a timeout, the runtime killed) leaves its claims, and the
    stream mapping retries the batch at once, well within their life: without waiting, every
    retry would find them busy, and the mapping's 5 retries could all run out before they expire
    (the batch then kept as a failure for `inventory retry`). So a retry waits for the holder:
    until the alert is sent (skip it), released or expired (claim and publish it), or until
    `until` (then it reports the record as failed and the mapping's next retry goes on). A claim
    lives at most one checker timeout plus a second, and each retry waits up to its own timeout
    less a margin, so the second retry at the latest takes the claim over."""

    until: float  # epoch s: stop waiting
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    poll_s: float = CLAIM_POLL_S


@dataclass
class Claimed:
    """The alerts this invocation holds claims on, by store, and what it must retry."""

    by_store: dict[str, list[LowStock]] = field(default_factory=dict)
    expiry: dict[AlertKey, int] = field(default_factory=dict)
    retry: list[str] = field(default_factory=list)


def claim_alerts(by_store: Mapping[str, list[LowStock]], *, alert_log: AlertLog | None,
                 threshold: int, claim_until: float, log: Log,
                 wait: ClaimWait | None = None) -> Claimed:
    """Claim every alert in the alert log. Alerts already sent are dropped; alerts another
    invocation holds are waited for (`wait`), else to be retried. If the log cannot be written
    at all, the claims taken so far are released and the error is raised (the invocation fails
    and Lambda retries it)."""
    claimed = Claimed()
    busy: list[LowStock] = []
    try:
        for store, alerts in by_store.items():
            for alert in alerts:
                if alert_log is None:  # a stack without an alert log: at least once
                    claimed.by_store.setdefault(store, []).append(alert)
                    continue
                outcome, expires = alert_log.claim(alert.key, item=alert.item, count=alert.count,
                                                   threshold=threshold, claim_until=claim_until)
                if outcome is Claim.CLAIMED:
                    claimed.by_store.setdefault(store, []).append(alert)
                    claimed.expiry[alert.key] = expires
                    continue
                if outcome is Claim.BUSY:
                    busy.append(alert)
                log(event_line("alert_skipped" if outcome is Claim.ALREADY_SENT else "alert_busy",
                               store=store, item=alert.item, event_id=alert.key.event_id))
        if busy and wait is not None and alert_log is not None:
            busy = _wait_for_holders(busy, claimed, alert_log=alert_log, threshold=threshold,
                                     claim_until=claim_until, wait=wait, log=log)
        claimed.retry.extend(alert.sequence_number for alert in busy)
    except (ClientError, BotoCoreError) as exc:
        _release_all(claimed, alert_log, f"claiming failed: {type(exc).__name__}: {exc}", log)
        raise
    return claimed


def _wait_for_holders(busy: list[LowStock], claimed: Claimed, *, alert_log: AlertLog,
                      threshold: int, claim_until: float, wait: ClaimWait,
                      log: Log) -> list[LowStock]:
    """Try the busy alerts again until each is ours or sent, or time is up; the rest."""
    started = wait.clock()
    while busy and wait.clock() + wait.poll_s <= wait.until:
        wait.sleep(wait.poll_s)
        still: list[LowStock] = []
        for alert in busy:
            outcome, expires = alert_log.claim(alert.key, item=alert.item, count=alert.count,
                                               threshold=threshold, claim_until=claim_until)
            if outcome is Claim.BUSY:
                still.append(alert)
                continue
            if outcome is Claim.CLAIMED:
                claimed.by_store.setdefault(alert.store, []).append(alert)
                claimed.expiry[alert.key] = expires
            log(event_line("alert_claimed_after_wait" if outcome is Claim.CLAIMED
                           else "alert_skipped", store=alert.store, item=alert.item,
                           event_id=alert.key.event_id,
                           waited_s=round(wait.clock() - started, 1)))
        busy = still
    return busy


def _release_all(claimed: Claimed, alert_log: AlertLog | None, error: str, log: Log) -> None:
    if alert_log is None:
        return
    for alerts in claimed.by_store.values():
        for alert in alerts:
            try:
                alert_log.release(alert.key, claim_expires=claimed.expiry[alert.key],
                                  error=error)
            except (ClientError, BotoCoreError) as exc:  # the claim then simply expires
                log(event_line("alert_release_failed", store=alert.store, item=alert.item,
                               error=f"{type(exc).__name__}: {exc}"))


def publish_alerts(claimed: Claimed, *, sns: Any, topic_arn: str, threshold: int,
                   alert_log: AlertLog | None, log: Log) -> list[str]:
    """Publish one message per store of the claimed alerts and record the outcome in the alert
    log; return the sequence numbers of alerts not sent."""
    failed: list[str] = []
    for store, alerts in claimed.by_store.items():
        for body, members in alert_messages(alerts, threshold):
            try:
                response = sns.publish(
                    TopicArn=topic_arn, Subject=alert_subject(store), Message=body,
                    MessageAttributes={"store": {"DataType": "String", "StringValue": store}})
            except (ClientError, BotoCoreError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                log(event_line("alert_failed", store=store, items=[a.item for a in members],
                               error=error))
                _release_all(Claimed(by_store={store: members}, expiry=claimed.expiry),
                             alert_log, error, log)
                failed.extend(a.sequence_number for a in members)
                continue
            message_id = str(response.get("MessageId", ""))
            for alert in members:
                _mark_sent(alert, alert_log, message_id, log)
                log(event_line("alert_sent", store=store, item=alert.item,
                               count=_number(alert.count), threshold=threshold,
                               message_id=message_id))
    return failed


def _mark_sent(alert: LowStock, alert_log: AlertLog | None, message_id: str, log: Log) -> None:
    if alert_log is None:
        return
    try:
        alert_log.mark_sent(alert.key, message_id=message_id)
    except (ClientError, BotoCoreError) as exc:
        # The message is out; failing the record would publish it again once the claim
        # expires. The record stays in_progress and says so to whoever reads the log.
        log(event_line("alert_state_unsaved", store=alert.store, item=alert.item,
                       message_id=message_id, error=f"{type(exc).__name__}: {exc}"))


def handle_event(event: Mapping[str, Any], *, sns: Any, topic_arn: str, threshold: int,
                 alert_log: AlertLog | None = None, claim_until: float | None = None,
                 log: Log = write_line, wait: ClaimWait | None = None) -> dict[str, Any]:
    """`claim_until`: when this invocation's claims expire (epoch s; default in a minute).
    `wait`: how long to wait for alerts another invocation holds (None: not at all)."""
    by_store = low_stock_by_store(event.get("Records") or [], threshold, log=log)
    claimed = claim_alerts(by_store, alert_log=alert_log, threshold=threshold,
                           claim_until=claim_until or time.time() + DEFAULT_CLAIM_S, log=log,
                           wait=wait)
    try:
        published = publish_alerts(claimed, sns=sns, topic_arn=topic_arn, threshold=threshold,
                                   alert_log=alert_log, log=log)
    except Exception as exc:
        # A fault of ours between claiming and publishing: give the claims back, so Lambda's
        # retry sends at once (claims already marked sent are not ours to release any more).
        _release_all(claimed, alert_log, f"invocation failed: {type(exc).__name__}: {exc}", log)
        raise
    return batch_response(claimed.retry + published)


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    table = alert_log_table(os.environ)
    alert_log = AlertLog(client("dynamodb"), table) if table else None
    # The claims expire when this invocation is over for sure (powertools does the same).
    remaining_s = context.get_remaining_time_in_millis() / 1000
    now = time.time()
    return handle_event(event, sns=client("sns"), topic_arn=os.environ[ALERT_TOPIC_ARN],
                        threshold=threshold_from_env(os.environ), alert_log=alert_log,
                        claim_until=now + remaining_s + 1, log=write_line,
                        wait=ClaimWait(until=now + remaining_s - CLAIM_WAIT_MARGIN_S))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
