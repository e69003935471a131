"""The alert log: one idempotency record per alert, so each alert is published exactly once.

An alert is (store, the stream record's `eventID`); its record lives in the stack's alert table
(hash `Store`, range `EventId`) and moves through the states of AWS Lambda Powertools'
idempotency utility, written here in a few conditional writes:

    (none) --claim--> in_progress --published--> sent
                          |   ^
         publish failed   v   | claim (a retry)
                        failed

- A claim succeeds only if there is no record, the record is `failed`, or it is `in_progress`
  with an expired claim (`ClaimExpires` in the past). The claim expires when the claiming
  invocation can no longer be running (its remaining time), so a crash between claiming and
  publishing is taken over by Lambda's retry: the alert is published then, never lost. The
  retry waits for such a claim rather than failing on it (`check_stock.ClaimWait`), so the
  mapping's retries outlast it.
- A record that is `sent` is never published again, however often its stream record arrives.
- `ExpiresAt` (the table's TTL attribute) removes records 90 days after the alert.

The one window left is SNS's: a crash after a publish succeeded and before `mark_sent` leaves the
claim to expire and the alert to be published again by the retry (standard SNS topics have no
deduplication). That window is one UpdateItem long; the other way round, never losing an alert,
is what matters here.

Standard library and boto3 only (this is deployed code).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

IN_PROGRESS = "in_progress"
SENT = "sent"
FAILED = "failed"
# DynamoDB deletes records this long after the alert (the table's TTL attribute, ExpiresAt).
RETENTION_S = 90 * 24 * 3600
# The longest error text kept on a record.
MAX_ERROR_CHARS = 1000

Clock = Callable[[], float]


class Claim(Enum):
    """What trying to claim an alert found."""

    CLAIMED = "claimed"  # this invocation publishes it
    ALREADY_SENT = "already_sent"  # published before: skip
    BUSY = "busy"  # another live invocation holds it: retry later


@dataclass(frozen=True)
class AlertKey:
    store: str
    event_id: str


def iso_utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def _number(value: Decimal | int) -> dict[str, str]:
    return {"N": str(value)}


def _conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class AlertLog:
    """Claims, and records the outcome of, alerts in the alert table."""

    def __init__(self, dynamodb: Any, table: str, *, clock: Clock = time.time) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def _key(self, key: AlertKey) -> dict[str, Any]:
        return {"Store": {"S": key.store}, "EventId": {"S": key.event_id}}

    def claim(self, key: AlertKey, *, item: str, count: Decimal, threshold: int,
              claim_until: float) -> tuple[Claim, int]:
        """Claim the alert until `claim_until` (epoch s). Returns the outcome and the claim's
        expiry as stored (the token `release` needs). Errors other than a lost race raise."""
        now = self._clock()
        expires = math.ceil(max(claim_until, now + 1))
        try:
            self._dynamodb.update_item(
                TableName=self._table, Key=self._key(key),
                UpdateExpression=(
                    "SET #state = :in_progress, ClaimExpires = :expires, #item = :item, "
                    "#count = :count, Threshold = :threshold, "
                    "Attempts = if_not_exists(Attempts, :zero) + :one, "
                    "FirstSeen = if_not_exists(FirstSeen, :now_iso), "
                    "ExpiresAt = if_not_exists(ExpiresAt, :ttl)"),
                # Free, released after a failed publish, or held by an invocation that is over.
                ConditionExpression=(
                    "attribute_not_exists(EventId) OR #state = :failed OR "
                    "(#state = :in_progress AND ClaimExpires < :now)"),
                ExpressionAttributeNames={"#state": "State", "#count": "Count", "#item": "Item"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS}, ":failed": {"S": FAILED},
                    ":expires": _number(expires), ":now": _number(math.floor(now)),
                    ":item": {"S": item}, ":count": _number(count),
                    ":threshold": _number(threshold), ":zero": _number(0), ":one": _number(1),
                    ":now_iso": {"S": iso_utc(now)},
                    ":ttl": _number(math.floor(now) + RETENTION_S)})
        except ClientError as exc:
            if not _conditional_failure(exc):
                raise
            return self._holder(key), expires
        return Claim.CLAIMED, expires

    def _holder(self, key: AlertKey) -> Claim:
        """Why a claim was refused: already sent, or someone else's live claim."""
        found = self._dynamodb.get_item(TableName=self._table, Key=self._key(key),
                                        ConsistentRead=True).get("Item") or {}
        if found.get("State", {}).get("S") == SENT:
            return Claim.ALREADY_SENT
        # In progress elsewhere (or changed again since): let a later retry decide.
        return Claim.BUSY

    def mark_sent(self, key: AlertKey, *, message_id: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table, Key=self._key(key),
            UpdateExpression=("SET #state = :sent, SentAt = :sent_at, MessageId = :message_id "
                              "REMOVE ClaimExpires, #error"),
            ExpressionAttributeNames={"#state": "State", "#error": "Error"},
            ExpressionAttributeValues={":sent": {"S": SENT},
                                       ":sent_at": {"S": iso_utc(self._clock())},
                                       ":message_id": {"S": message_id}})

    def release(self, key: AlertKey, *, claim_expires: int, error: str) -> None:
        """Mark a claimed alert `failed`, so that a retry can claim it again. A claim that is no
        longer ours (it expired and was taken over) is left alone."""
        try:
            self._dynamodb.update_item(
                TableName=self._table, Key=self._key(key),
                UpdateExpression="SET #state = :failed, #error = :error REMOVE ClaimExpires",
                ConditionExpression="#state = :in_progress AND ClaimExpires = :mine",
                ExpressionAttributeNames={"#state": "State", "#error": "Error"},
                ExpressionAttributeValues={":failed": {"S": FAILED},
                                           ":in_progress": {"S": IN_PROGRESS},
                                           ":mine": _number(claim_expires),
                                           ":error": {"S": error[:MAX_ERROR_CHARS]}})
        except ClientError as exc:
            if not _conditional_failure(exc):
                raise
