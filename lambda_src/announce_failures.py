"""The operators' messages: each kept failure, and each file stored but never loaded, announced
once to the stack's operators' topic (`{stack}-ops`), never to the staff's alerts topic.

Why a function: S3 can notify an SNS topic of a new object by itself, but what it sends is the
S3 event's JSON (bucket, key, size), which says neither what failed nor why; an EventBridge
input transformer can only rearrange fields of that event, it cannot read the record. What the
operators need (the file, or the stores and items of a batch; the error; the exact `inventory
retry ...` line) is inside the record, so something must read it: this function, with the same
reader the CLI uses (`kept_failures.py`).

It runs two ways:
- on each new object of the failures bucket (an S3 event): the first failure after a quiet
  spell is announced within seconds;
- on a schedule (an EventBridge rule, every minute): it announces what the S3-triggered runs
  left (see below) and looks for files stored but never loaded (their grace is over and they
  have no load report), which no event announces.

Never a flood: at most one message per `ANNOUNCE_INTERVAL_S` (60 s by default) goes out, taken
as a slot in the announcement table with a conditional write. A run that finds the slot taken
leaves its failures to the next scheduled run (an S3-triggered run ends at once; a scheduled
run waits for the slot, at most one interval), which sends everything new as one digest: the
first `DIGEST_LISTED` in full, the rest counted. So a failure is announced within about a
minute of being kept (one interval, plus the schedule's own jitter), however many arrive.

Once only: each announced thing has an item in the announcement table (`kept:<object key>`,
or `unloaded:<key>#<version or ETag>`), claimed with a conditional put before the message is
published; a claim whose publish failed is released so the next run sends it again; a claim
left by a run that died (state "sending" older than `STALE_CLAIM_S`) is taken over. Items
expire after `ANNOUNCED_TTL_DAYS` (DynamoDB TTL): a file still never loaded by then is
announced again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lambda_src.aws_clients import client
from lambda_src.environment import (
    ANNOUNCE_INTERVAL_S,
    ANNOUNCEMENT_TABLE,
    FAILURES_BUCKET,
    LOAD_FUNCTION,
    OPS_TOPIC_ARN,
    STACK_NAME,
    UNLOADED_GRACE_S,
    UPLOADS_BUCKET,
    function_logs_from_env,
    seconds_from_env,
)
from lambda_src.kept_failures import (
    DEFAULT_GRACE,
    KeptFailure,
    KeptRecords,
    error_code,
    find_unloaded,
    names_version,
    retry_line,
    sort_failures,
)
from lambda_src.structured_log import Log, event_line, write_line

DEFAULT_INTERVAL_S = 60.0
# A digest lists this many in full; the rest are counted (`inventory failures` lists them all).
DIGEST_LISTED = 20
# A claim still "sending" after this long belongs to a run that died before publishing.
STALE_CLAIM_S = 300.0
ANNOUNCED_TTL_DAYS = 90
# The announcement table's item that holds when the last message went out.
SLOT_ID = "#last-message"
# SNS: a subject is ASCII, has no line breaks and is under 100 characters (SNS API Reference,
# Publish, "Subject").
SUBJECT_LIMIT = 99
# An SMS longer than this is sent in several parts; the short form stays under it.
SMS_LIMIT = 300
# What a scheduled run leaves of its time for the publish after waiting for the slot.
WAIT_MARGIN_S = 5.0


@dataclass(frozen=True)
class Settings:
    stack: str
    topic_arn: str
    failures_bucket: str
    uploads_bucket: str
    load_function: str
    table: str
    grace: timedelta
    interval_s: float
    # Each function of the stack -> its `inventory logs` name.
    logs: Mapping[str, str]


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    return Settings(
        stack=environ[STACK_NAME], topic_arn=environ[OPS_TOPIC_ARN],
        failures_bucket=environ[FAILURES_BUCKET], uploads_bucket=environ[UPLOADS_BUCKET],
        load_function=environ[LOAD_FUNCTION], table=environ[ANNOUNCEMENT_TABLE],
        grace=timedelta(seconds=seconds_from_env(environ, UNLOADED_GRACE_S,
                                                 DEFAULT_GRACE.total_seconds())),
        interval_s=seconds_from_env(environ, ANNOUNCE_INTERVAL_S, DEFAULT_INTERVAL_S),
        logs=function_logs_from_env(environ))


@dataclass(frozen=True)
class Found:
    """Something to announce, under the id it is announced once by."""

    id: str
    failure: KeptFailure


def announcement_id(failure: KeptFailure) -> str:
    if failure.kind == "unloaded" and failure.files:
        stored = failure.files[0]
        return f"unloaded:{stored.key}#{stored.version_id or stored.etag or ''}"
    return f"kept:{failure.object_key or failure.id}"


# ---- the announcement table ---------------------------------------------------------------------

class Announcements:
    """What was announced (one item per announced thing) and when the last message went out."""

    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb = ddb
        self.table = table

    def known(self, ids: Sequence[str], now: float) -> set[str]:
        """The ids already announced, or being announced by a run that is still alive."""
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 100):  # BatchGetItem takes at most 100 keys
            request: dict[str, Any] = {self.table: {
                "Keys": [{"Id": {"S": i}} for i in unique[start:start + 100]],
                "ProjectionExpression": "Id, #s, ClaimedAt",
                "ExpressionAttributeNames": {"#s": "State"}}}
            while request:
                answer = self._ddb.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    state = item.get("State", {}).get("S")
                    claimed = float(item.get("ClaimedAt", {}).get("N", "0"))
                    if state == "sent" or now - claimed < STALE_CLAIM_S:
                        found.add(item["Id"]["S"])
                request = answer.get("UnprocessedKeys") or {}
        return found

    def slot_free_in(self, now: float, interval_s: float) -> float:
        """Seconds until a message may go out (0: now)."""
        item = self._ddb.get_item(TableName=self.table, Key={"Id": {"S": SLOT_ID}},
                                  ConsistentRead=True).get("Item") or {}
        sent = float(item.get("SentAt", {}).get("N", "0"))
        return max(0.0, sent + interval_s - now)

    def take_slot(self, now: float, interval_s: float) -> bool:
        """Claim the right to send a message now; False if one went out less than
        `interval_s` ago (a conditional write: two runs never both get it)."""
        return _written(
            self._ddb.update_item,
            TableName=self.table, Key={"Id": {"S": SLOT_ID}},
            UpdateExpression="SET SentAt = :now",
            ConditionExpression="attribute_not_exists(SentAt) OR SentAt <= :cutoff",
            ExpressionAttributeValues={":now": _number(now),
                                       ":cutoff": _number(now - interval_s)})

    def claim(self, announcement: str, now: float) -> bool:
        """Take `announcement` for this run; False if another run sent or is sending it."""
        return _written(
            self._ddb.put_item,
            TableName=self.table,
            Item={"Id": {"S": announcement}, "State": {"S": "sending"},
                  "ClaimedAt": _number(now),
                  "ExpiresAt": {"N": str(int(now) + ANNOUNCED_TTL_DAYS * 86400)}},
            ConditionExpression="attribute_not_exists(Id) OR "
                                "(#s = :sending AND ClaimedAt < :stale)",
            ExpressionAttributeNames={"#s": "State"},
            ExpressionAttributeValues={":sending": {"S": "sending"},
                                       ":stale": _number(now - STALE_CLAIM_S)})

    def sent(self, announcement: str, message_id: str) -> None:
        self._ddb.update_item(
            TableName=self.table, Key={"Id": {"S": announcement}},
            UpdateExpression="SET #s = :sent, MessageId = :id",
            ExpressionAttributeNames={"#s": "State"},
            ExpressionAttributeValues={":sent": {"S": "sent"}, ":id": {"S": message_id}})

    def release(self, announcement: str) -> None:
        self._ddb.delete_item(TableName=self.table, Key={"Id": {"S": announcement}})


def _written(write: Callable[..., Any], **request: Any) -> bool:
    """A conditional write: True if it was made, False if its condition did not hold."""
    try:
        write(**request)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _number(value: float) -> dict[str, str]:
    return {"N": f"{value:.3f}"}


# ---- the message ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    sms: str


def title(failure: KeptFailure, settings: Settings, *, short: bool = False) -> str:
    """What failed, in one line (`short`: files by key only, for a subject)."""
    log = settings.logs.get(failure.function)
    what = ", ".join(f.key for f in failure.files) if short and failure.files else failure.what
    if failure.kind == "unloaded":
        return f"{what} was stored but never loaded"
    if failure.kind == "unreadable":
        return f"a record in the failures bucket cannot be read ({failure.object_key})"
    if failure.kind == "stream":
        batch = {"check": "an alert batch", "summaries": "a summaries batch"}.get(
            log or "", f"a stream batch of {failure.function}")
        return f"{batch} failed for good: {what}"
    if log == "load" and failure.files:
        return f"the load of {what} failed for good"
    return f"an invocation of {failure.function} failed for good: {what}"


def describe(failure: KeptFailure, settings: Settings) -> list[str]:
    """The lines of one failure: what, why, when, and what to run."""
    lines = [title(failure, settings)[:1].upper() + title(failure, settings)[1:]]
    lines.append(f"  why: {failure.error}")
    when = failure.when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if failure.when \
        else "unknown"
    attempts = f", after {failure.attempts} attempt(s)" if failure.attempts else ""
    lines.append(f"  when: {when}, function {failure.function}{attempts}")
    redo = failure.retry(settings.stack)
    if redo:
        lines.append(f"  re-drive, once the cause is fixed: {redo}")
    else:
        lines.append(f"  inspect s3://{settings.failures_bucket}/{failure.object_key} and "
                     "delete it by hand (no retry can re-drive it)")
    log = settings.logs.get(failure.function)
    if log:
        lines.append(f"  log: inventory --stack {settings.stack} logs {log}")
    return lines


def compose(settings: Settings, failures: Sequence[KeptFailure]) -> Message:
    """One message for one failure; a digest for several (the first DIGEST_LISTED in full)."""
    stack = settings.stack
    listed = list(failures[:DIGEST_LISTED])
    body = [f"Stack {stack}: "
            + ("this needs an operator." if len(failures) == 1 else
               f"{len(failures)} things need an operator.")]
    for failure in listed:
        body += ["", *describe(failure, settings)]
    rest = len(failures) - len(listed)
    if rest:
        body += ["", f"... and {rest} more."]
    every = retry_line(stack, ["--all"])
    body += ["", f"`inventory --stack {stack} failures` lists everything kept; `{every}` "
                 "re-drives it all once the cause is fixed."]
    if len(failures) == 1:
        subject = f"inventory {stack}: {title(failures[0], settings, short=True)}"
        redo = failures[0].retry(stack)
        sms = f"inventory {stack}: {title(failures[0], settings, short=True)}." + (
            f" Re-drive: {redo}" if redo else "")
    else:
        subject = f"inventory {stack}: {len(failures)} failures to look at"
        sms = (f"inventory {stack}: {len(failures)} failures to look at. "
               f"inventory --stack {stack} failures")
    return Message(subject=_subject(subject), text="\n".join(body) + "\n",
                   sms=sms if len(sms) <= SMS_LIMIT else sms[:SMS_LIMIT - 1] + "…")


def _subject(text: str) -> str:
    ascii_text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return ascii_text if len(ascii_text) <= SUBJECT_LIMIT else \
        ascii_text[:SUBJECT_LIMIT - 3] + "..."


# ---- one run ----------------------------------------------------------------------------------

def is_scheduled(event: Mapping[str, Any]) -> bool:
    """An EventBridge scheduled event ("detail-type": "Scheduled Event", EventBridge User
    Guide, "Creating a rule that runs on a schedule")."""
    return event.get("detail-type") == "Scheduled Event"


def handle_event(event: Mapping[str, Any], *, settings: Settings, s3: Any, ddb: Any, sns: Any,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 time_left_s: Callable[[], float] = lambda: 60.0,
                 log: Log = write_line) -> dict[str, Any]:
    """One run: announce what is new, in one message, if the slot allows (see the module's
    docstring); `{"announced": n}`, with `"deferred": True` when it left them to a later run."""
    scheduled = is_scheduled(event)
    trigger = "schedule" if scheduled else "failure"
    table = Announcements(ddb, settings.table)
    if not scheduled and table.slot_free_in(clock(), settings.interval_s) > 0:
        # A message went out moments ago: the next scheduled run sends a digest of the rest.
        log(event_line("announce_deferred", trigger=trigger))
        return {"announced": 0, "deferred": True}
    found = _new_failures(settings, s3, table, clock(), scheduled=scheduled)
    if not found:
        log(event_line("announce_nothing_new", trigger=trigger))
        return {"announced": 0}
    while not table.take_slot(clock(), settings.interval_s):
        wait = table.slot_free_in(clock(), settings.interval_s)
        if not scheduled or wait > time_left_s() - WAIT_MARGIN_S:
            log(event_line("announce_deferred", trigger=trigger, waiting=len(found)))
            return {"announced": 0, "deferred": True}
        sleep(wait)
    now = clock()
    claimed = [f for f in found if table.claim(f.id, now)]
    if not claimed:
        log(event_line("announce_nothing_new", trigger=trigger, taken_by_another_run=len(found)))
        return {"announced": 0}
    message = compose(settings, [f.failure for f in claimed])
    try:
        answer = sns.publish(
            TopicArn=settings.topic_arn, Subject=message.subject, MessageStructure="json",
            Message=json.dumps({"default": message.text, "email": message.text,
                                "sms": message.sms}, ensure_ascii=False))
    except Exception:
        for f in claimed:  # not announced: the next run sends them again
            table.release(f.id)
        log(event_line("announce_failed", trigger=trigger, ids=[f.failure.id for f in claimed]))
        raise
    for f in claimed:
        table.sent(f.id, str(answer["MessageId"]))
    log(event_line("announced", trigger=trigger, count=len(claimed),
                   ids=[f.failure.id for f in claimed], message_id=answer["MessageId"]))
    return {"announced": len(claimed)}


def _new_failures(settings: Settings, s3: Any, table: Announcements, now: float, *,
                  scheduled: bool) -> list[Found]:
    """Kept records (and, on a scheduled run, files never loaded) not yet announced, oldest
    first. Only records not yet announced are read."""
    records = KeptRecords(s3, settings.failures_bucket)
    listed = records.listing()
    known = table.known([f"kept:{obj['Key']}" for obj in listed], now)
    kept = [f for f in (records.read(obj) for obj in listed
                        if f"kept:{obj['Key']}" not in known)
            if f.kind != "unreadable" or _still_kept(s3, settings.failures_bucket, f)]
    unloaded: list[KeptFailure] = []
    if scheduled:
        candidates = find_unloaded(s3, settings.uploads_bucket, settings.load_function,
                                   now=datetime.fromtimestamp(now, UTC), grace=settings.grace,
                                   kept=kept)
        if candidates:
            # A file a kept load failure names is that failure's, not "never loaded": the
            # records announced before count too (read only when there is a candidate).
            earlier = [f for obj in listed if f"kept:{obj['Key']}" in known
                       for f in records.read(obj).files]
            candidates = [c for c in candidates if not any(
                names_version(f, c.files[0].key, c.files[0].version_id, c.files[0].etag or "")
                for f in earlier)]
        ids = [announcement_id(f) for f in candidates]
        seen = table.known(ids, now)
        unloaded = [f for f, i in zip(candidates, ids, strict=True) if i not in seen]
    return [Found(announcement_id(f), f) for f in sort_failures([*kept, *unloaded])]


def _still_kept(s3: Any, bucket: str, failure: KeptFailure) -> bool:
    """Whether an unreadable record is still there: one `inventory retry` deleted between the
    listing and the read reads as empty, and is nothing to announce."""
    try:
        s3.head_object(Bucket=bucket, Key=failure.object_key)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event, settings=settings_from_env(os.environ), s3=client("s3"),
                        ddb=client("dynamodb"), sns=client("sns"),
                        time_left_s=lambda: context.get_remaining_time_in_millis() / 1000)
