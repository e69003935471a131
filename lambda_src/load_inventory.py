"""Lambda `load_inventory`: loads uploaded store CSVs into the inventory table, any size.

Triggered by S3 `ObjectCreated` events on the uploads bucket. For every record of the event (not
only the first) whose key ends in `.csv` (any case) outside `reports/`:

1. The scan (pass 1) streams the object through the CSV contract and writes nothing: whole-file
   problems (not UTF-8, missing columns) reject the file before a single item changes. It keeps
   a 128-bit digest and the line of every valid row (`duplicate_index.KeyIndex`, 20 bytes a
   row), from which it knows, at its end, which rows a later row replaces (the last row wins).
2. The write (pass 2) streams the same object version again (`VersionId`, `IfMatch` on the
   ETag) and writes the winning rows with BatchWriteItem, 25 items a call, several in flight,
   listing each duplicate as it meets it.
3. The load report goes to `reports/<key>.json` in the same bucket, and is logged as one JSON line.

Loads of any size: before the invocation's remaining time runs low (`continuation.TimeBudget`),
the loader stops where it is (a row boundary in either pass), saves a checkpoint
(`load_checkpoint`) and hands the rest to a new asynchronous invocation of itself, which reads
the same object version from that byte offset on (a ranged GET). Only the last invocation writes
the report, then deletes the checkpoint. Throttling slows the writes (backoff) and never fails
them: items still refused when time runs short travel in the checkpoint.

The object is never held in memory or written to /tmp: each pass holds one line at a time plus
the index. Items still unwritten after the bounded retries of a run without a time budget raise:
the invocation fails and Lambda retries it (loading is idempotent), so no row is dropped silently.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from lambda_src import load_checkpoint
from lambda_src.aws_clients import client
from lambda_src.batch_writer import DEFAULT_WORKERS, ConcurrentBatchWriter, backoff_delay
from lambda_src.continuation import (
    CONTINUATION_FIELD,
    MAX_HAND_OVERS,
    HandOver,
    LoadCannotFinish,
    TimeBudget,
    invoke_self,
)
from lambda_src.duplicate_index import DuplicateLines, KeyIndex
from lambda_src.environment import INVENTORY_TABLE, STORE_KEYS_TABLE
from lambda_src.inventory_csv import (
    CHUNK_SIZE,
    DuplicateRow,
    InvalidFile,
    InventoryReader,
    InventoryRow,
    ReadPosition,
    RejectedRow,
    is_inventory_key,
    normalize_etag,
    report_key_for,
)
from lambda_src.load_checkpoint import (
    Checkpoint,
    CheckpointGone,
    CheckpointUnreadable,
    StepTaken,
    checkpoint_key,
)
from lambda_src.load_report import LoadReport, ObjectSource, summarize
from lambda_src.store_keys import KeyLookup, dynamodb_lookup
from lambda_src.store_scope import is_store_key, issuing_key_refusal, row_rule_for_key
from lambda_src.structured_log import Log, event_line, write_line

# A rule a valid row must also meet to load in this file: the reason to reject it, or None.
RowRule = Callable[[InventoryRow], "str | None"]
# The time budget is looked at every this many rows (it is a clock read, cheap but not free).
CHECK_EVERY = 256
# Backoff cap of throttled writes when a time budget applies: long sleeps would eat the margin.
THROTTLED_DELAY_CAP_S = 1.0


@dataclass(frozen=True)
class S3Object:
    """One object named by an S3 event record (key already URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None = None


class ObjectReplaced(RuntimeError):
    """The object changed between two reads; the newer upload has its own event."""


def object_in_record(record: Mapping[str, Any]) -> S3Object | None:
    """The object an S3 event record names, or None for records that are not object creations."""
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3") or {}
    bucket = (s3.get("bucket") or {}).get("name")
    obj = s3.get("object") or {}
    if not bucket or "key" not in obj:
        return None
    # Keys in S3 events are URL-encoded with '+' for spaces ("a b/x.csv" -> "a+b%2Fx.csv").
    version = obj.get("versionId") or None
    return S3Object(bucket=bucket, key=unquote_plus(obj["key"]),
                    version_id=None if version == "null" else version)


def item_for(row: InventoryRow) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) for a valid row."""
    return {"Store": {"S": row.store}, "Item": {"S": row.item}, "Count": {"N": str(row.count)}}


def row_rule_for(key: str, refusal: str | None = None) -> RowRule | None:
    """The extra rule of a file, from its key: a store's own upload (under `stores/<store>/`)
    loads only that store's rows; any other file loads every valid row. `refusal`: the reason
    no row of the file may load (the store key that sent it no longer works)."""
    if refusal is not None:
        return lambda _row: refusal
    store_rule = row_rule_for_key(key)
    if store_rule is None:
        return None
    return lambda row: store_rule(row.store)


def checked(parsed: InventoryRow | RejectedRow, row_rule: RowRule | None
            ) -> InventoryRow | RejectedRow:
    """The one place a parsed row is judged: the CSV contract (already applied), then the rule.
    Both passes call it, so they agree on every row."""
    if row_rule is None or isinstance(parsed, RejectedRow):
        return parsed
    reason = row_rule(parsed)
    return parsed if reason is None else RejectedRow(parsed.line, reason)


@dataclass
class Paused:
    """A load stopped short of time; `checkpoint` is what the next invocation goes on from."""

    checkpoint: Checkpoint
    checkpoint_key: str


@dataclass
class ObjectLoad:
    """One object's load across every invocation it takes (checkpointed
    between them): its phase, where it is, and the report so far."""

    source: ObjectSource
    size: int
    report: LoadReport
    phase: str = "scan"
    position: ReadPosition = field(default_factory=ReadPosition)
    index: KeyIndex = field(default_factory=KeyIndex)
    duplicates: DuplicateLines | None = None
    unwritten: list[dict[str, Any]] = field(default_factory=list)
    continuations: int = 0
    written: list[list[str | None]] = field(default_factory=list)

    @property
    def version_token(self) -> str:
        return self.source.version_id or self.source.etag

    def to_checkpoint(self) -> Checkpoint:
        index = (self.index.to_bytes() if self.phase == "scan"
                 else self.duplicates.to_bytes() if self.duplicates is not None else b"")
        return Checkpoint(source=self.source.as_dict(), size=self.size,
                          phase="scan" if self.phase == "scan" else "write",
                          position=self.position, report=self.report.as_dict(), index=index,
                          unwritten=self.unwritten, continuations=self.continuations,
                          written=list(self.written))

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, key: str, version: str | None
                        ) -> ObjectLoad:
        load = cls(source=ObjectSource(**checkpoint.source), size=checkpoint.size,
                   report=LoadReport.from_dict(checkpoint.report), phase=checkpoint.phase,
                   position=checkpoint.position, unwritten=checkpoint.unwritten,
                   continuations=checkpoint.continuations + 1,
                   written=[*checkpoint.written, [key, version]])
        if checkpoint.phase == "scan":
            load.index = KeyIndex.from_bytes(checkpoint.index)
        else:
            load.duplicates = DuplicateLines.from_bytes(checkpoint.index)
        return load


class LoadPass:
    """One pass over one object within one invocation: runs an `ObjectLoad` as far as the
    time budget allows (an object takes one pass per invocation it needs)."""

    def __init__(self, *, s3: Any, dynamodb: Any, table: str, budget: TimeBudget | None,
                 max_workers: int = DEFAULT_WORKERS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.s3 = s3
        self.dynamodb = dynamodb
        self.table = table
        self.budget = budget
        self.max_workers = max_workers
        self.sleep = sleep

    def start(self, obj: S3Object) -> ObjectLoad:
        """Read the object's metadata: the exact version every later read asks for."""
        args: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            args["VersionId"] = obj.version_id
        head = self.s3.head_object(**args)
        version = head.get("VersionId")
        source = ObjectSource(bucket=obj.bucket, key=obj.key,
                              version_id=None if version in (None, "", "null") else version,
                              etag=normalize_etag(head.get("ETag")))
        return ObjectLoad(source=source, size=int(head.get("ContentLength", 0)),
                        report=LoadReport(source))

    def run(self, load: ObjectLoad, row_rule: RowRule | None) -> LoadReport | ObjectLoad:
        """The finished report, or the load (paused: save it and hand it over)."""
        if load.phase == "scan":
            finished = self._scan(load, row_rule)
            if not finished:
                return load
            verdict = self._scan_verdict(load)
            if verdict is not None:
                return verdict
            if self._short():
                return load  # the duplicates are worked out first thing next time
        if load.duplicates is None:
            load.duplicates = load.index.duplicates()
            load.index = KeyIndex()
            load.report.duplicate_count = len(load.duplicates)
            load.phase, load.position = "write", ReadPosition()
            if self._short():
                return load
        if not self._write(load, row_rule):
            return load
        load.report.status = "loaded"
        load.report.message = summarize(load.report)
        return load.report

    def _short(self) -> bool:
        return self.budget is not None and self.budget.short()

    def _rows(self, load: ObjectLoad) -> tuple[InventoryReader, Any]:
        """A reader from the load's position on, over the same version (ranged GET)."""
        source = load.source
        args: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
        if source.version_id:
            args["VersionId"] = source.version_id
        if source.etag:
            args["IfMatch"] = f'"{source.etag}"'
        offset = load.position.offset
        if offset >= load.size > 0 or (load.size == 0 and offset > 0):
            return InventoryReader(iter(()), start=load.position), None
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            response = self.s3.get_object(**args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise ObjectReplaced(f"s3://{source.bucket}/{source.key} changed while it "
                                     f"was loading") from None
            raise
        body = response["Body"]
        return InventoryReader(_body_chunks(body), start=load.position), body

    def _scan(self, load: ObjectLoad, row_rule: RowRule | None) -> bool:
        """Pass 1 from the load's position; False when it stopped short of the end."""
        reader, body = self._rows(load)
        report = load.report
        try:
            for count, parsed in enumerate(reader, 1):
                row = checked(parsed, row_rule)
                if isinstance(row, RejectedRow):
                    report.add_rejected(row)
                else:
                    load.index.add(row.store, row.item, row.line)
                if count % CHECK_EVERY == 0 and self._short():
                    load.position = reader.position
                    report.rows_read = reader.rows_read
                    return False
        except InvalidFile as exc:
            report.status = "rejected"
            report.rows_read = reader.rows_read
            report.add_rejected(RejectedRow(exc.line or 0, exc.reason))
            report.message = f"file rejected, nothing loaded: {exc}"
            load.phase = "rejected"
            return True
        finally:
            if body is not None:
                body.close()
        load.position = reader.position
        report.rows_read = reader.rows_read
        if reader.empty_reason is not None:
            report.status = "empty"
            report.message = f"nothing loaded: {reader.empty_reason}"
            load.phase = "empty"
        return True

    def _scan_verdict(self, load: ObjectLoad) -> LoadReport | None:
        """The report of a file that loads nothing; None if there is something to write."""
        report = load.report
        if load.phase in ("rejected", "empty"):
            return report
        if load.index.rows == 0:
            report.status = "rejected"
            report.message = f"all {report.rows_read} rows were rejected; nothing loaded"
            return report
        return None

    def _write(self, load: ObjectLoad, row_rule: RowRule | None) -> bool:
        """Pass 2 from the load's position; False when it stopped short of the end."""
        assert load.duplicates is not None
        budget = self.budget
        reader, body = self._rows(load)
        cursor = load.duplicates.cursor(from_line=load.position.lines_read + 1)
        report = load.report
        stopped = False
        writer = ConcurrentBatchWriter(
            self.dynamodb, self.table, max_workers=self.max_workers, sleep=self.sleep,
            give_up=budget.writer_should_stop if budget is not None else None,
            delay=(lambda attempt: backoff_delay(attempt, cap=THROTTLED_DELAY_CAP_S))
            if budget is not None else backoff_delay)
        try:
            with writer:
                for request in load.unwritten:
                    writer.put_request(request)
                for count, parsed in enumerate(reader, 1):
                    row = checked(parsed, row_rule)
                    if isinstance(row, InventoryRow):
                        previous = cursor.replaced_line(row.line)
                        if previous is not None:
                            report.list_duplicate(DuplicateRow(row.line, row.store, row.item,
                                                               previous))
                        if not cursor.is_superseded(row.line):
                            writer.put(item_for(row))
                    if count % CHECK_EVERY == 0 and self._short():
                        stopped = True
                        break
        finally:
            if body is not None:
                body.close()
        load.position = reader.position
        load.unwritten = list(writer.unwritten)
        report.loaded += writer.items_written
        return not stopped and not load.unwritten


def _body_chunks(body: Any) -> Iterator[bytes]:
    yield from body.iter_chunks(CHUNK_SIZE)


def load_object(obj: S3Object, *, s3: Any, dynamodb: Any, table: str,
                max_workers: int = DEFAULT_WORKERS,
                sleep: Callable[[float], None] = time.sleep,
                budget: TimeBudget | None = None) -> LoadReport | ObjectLoad:
    """Load one CSV object into `table`: its report (not yet written anywhere), or, when the
    budget ran short, the paused load to hand over."""
    loader = LoadPass(s3=s3, dynamodb=dynamodb, table=table, budget=budget,
                    max_workers=max_workers, sleep=sleep)
    return loader.run(loader.start(obj), row_rule_for(obj.key))


def write_report(report: LoadReport, *, s3: Any) -> str:
    key = report_key_for(report.source.key)
    s3.put_object(Bucket=report.source.bucket, Key=key,
                  Body=report.to_json().encode("utf-8"), ContentType="application/json")
    return key


@dataclass
class InvocationRun:
    """One invocation of the loader: the objects its event names, in order."""

    s3: Any
    dynamodb: Any
    table: str
    log: Log
    sleep: Callable[[float], None]
    max_workers: int
    budget: TimeBudget | None
    hand_over: HandOver | None
    loaded: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    continued: dict[str, Any] | None = None
    # Hand-overs in a row that led to this invocation (0: started by S3 or by `retry`).
    hops: int = 0
    # Finds a store key's record: the check of the key that sent a store's upload.
    key_lookup: KeyLookup | None = None

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"files": self.loaded, "ignored": self.ignored}
        if self.continued is not None:
            summary["continued"] = self.continued
        return summary

    def loader(self) -> LoadPass:
        return LoadPass(s3=self.s3, dynamodb=self.dynamodb, table=self.table, budget=self.budget,
                      max_workers=self.max_workers, sleep=self.sleep)

    def resume(self, pointer: Mapping[str, Any], rest: list[Any]) -> bool:
        """Go on with a paused load; False if it had to be handed over again."""
        bucket, key = str(pointer["bucket"]), str(pointer["checkpoint_key"])
        version = pointer.get("checkpoint_version") or None
        try:
            checkpoint, version = load_checkpoint.load(s3=self.s3, bucket=bucket, key=key,
                                                       version=version)
        except CheckpointGone as exc:
            # A retry of a step whose chain has finished since (and cleaned up): done already.
            self.log(event_line("load_continuation_done", bucket=bucket,
                                key=pointer.get("key"), reason=str(exc)))
            return False
        except CheckpointUnreadable as exc:
            # Not a finished load: fail loudly, so the event is kept as a failure to retry
            # once the role is repaired.
            self._failed(bucket, str(pointer.get("key") or key), exc)
            raise
        load = ObjectLoad.from_checkpoint(checkpoint, key, version)
        self.hops = int(pointer.get("hops") or 0)
        if self.hops > MAX_HAND_OVERS:
            stop = LoadCannotFinish(
                f"the load of s3://{bucket}/{load.source.key} did not finish in "
                f"{MAX_HAND_OVERS} hand-overs (stopped in the {load.phase} pass at line "
                f"{load.position.lines_read}, {load.report.loaded} items written so far); "
                f"`inventory retry` goes on from there")
            self._failed(bucket, load.source.key, stop)
            raise stop
        return self._run(self.loader(), load, rest, adopted=bool(pointer.get("adopted")))

    def load(self, obj: S3Object, rest: list[Any]) -> bool:
        loader = self.loader()
        try:
            load = loader.start(obj)
        except ClientError as exc:
            self._failed(obj.bucket, obj.key, exc)
            raise
        return self._run(loader, load, rest)

    def _run(self, loader: LoadPass, load: ObjectLoad, rest: list[Any], *,
             adopted: bool = False) -> bool:
        source = load.source
        try:
            outcome = loader.run(load, row_rule_for(source.key, self._key_refusal(source)))
        except ObjectReplaced as exc:
            # No report: it would overwrite the report of the newer version's own load.
            self.log(event_line("load_skipped", bucket=source.bucket, key=source.key,
                                reason=str(exc)))
            self.ignored.append({"key": source.key, "reason": str(exc)})
            self._clean_up(load)
            return True
        except Exception as exc:
            self._failed(source.bucket, source.key, exc)
            raise  # Lambda retries the event; loading again is idempotent
        if isinstance(outcome, ObjectLoad):
            self._pause(outcome, rest, adopted=adopted)
            return False
        write_report(outcome, s3=self.s3)
        self.log(outcome.log_line())
        self._clean_up(load)
        self.loaded.append({"key": source.key, "status": outcome.status,
                            "rows_read": outcome.rows_read, "loaded": outcome.loaded,
                            "rejected": outcome.rejected_count,
                            "duplicates": outcome.duplicate_count})
        return True

    def _key_refusal(self, source: ObjectSource) -> str | None:
        """Checked on every invocation of a store's upload, so a key revoked mid-load stops
        the rest of it too (store_scope.issuing_key_refusal)."""
        if not is_store_key(source.key):
            return None
        args: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
        if source.version_id:
            args["VersionId"] = source.version_id
        metadata = self.s3.head_object(**args).get("Metadata") or {}
        return issuing_key_refusal(source.key, metadata, self.key_lookup)

    def _failed(self, bucket: str, key: str, exc: Exception) -> None:
        self.log(event_line("load_failed", bucket=bucket, key=key,
                            error=f"{type(exc).__name__}: {exc}"))

    def _pause(self, load: ObjectLoad, rest: list[Any], *, adopted: bool) -> None:
        if self.hand_over is None:
            raise RuntimeError("the load ran short of time and has no way to continue")
        source = load.source
        key = checkpoint_key(source.key, load.version_token, load.continuations + 1)
        # The file's version and ETag name the load to whoever reads a kept failure of this
        # event (`inventory failures`, `upload --wait`); `hops` bounds the chain.
        pointer: dict[str, Any] = {"bucket": source.bucket, "key": source.key,
                                   "version_id": source.version_id, "etag": source.etag,
                                   "checkpoint_key": key, "hops": self.hops + 1}
        try:
            pointer["checkpoint_version"] = load_checkpoint.save(
                load.to_checkpoint(), s3=self.s3, bucket=source.bucket, key=key)
        except StepTaken:
            # Another run of this step got there first (see load_checkpoint): this one is a
            # retry, or itself an adopted second run.
            self.log(event_line("load_step_taken", bucket=source.bucket,
                                key=source.key, checkpoint=key, adopted=adopted))
            if adopted:
                return
            pointer.update(checkpoint_version=None, adopted=True)
        self.hand_over({CONTINUATION_FIELD: pointer, "Records": rest})
        self.continued = {"key": source.key, "phase": load.phase,
                          "line": load.position.lines_read, "continuation": load.continuations + 1}
        self.log(event_line("load_continued", bucket=source.bucket, key=source.key,
                            phase=load.phase, line=load.position.lines_read,
                            loaded=load.report.loaded, continuation=load.continuations + 1))

    def _clean_up(self, load: ObjectLoad) -> None:
        if not load.written:
            return  # never paused: nothing was saved
        source = load.source
        try:
            load_checkpoint.delete(s3=self.s3, bucket=source.bucket, written=load.written)
        except ClientError as exc:  # the load itself is done; a stale checkpoint only costs
            self.log(event_line("checkpoint_not_deleted", bucket=source.bucket,
                                key=source.key, error=str(exc)))


def handle_event(event: Mapping[str, Any], *, s3: Any, dynamodb: Any, table: str,
                 log: Log = write_line, sleep: Callable[[float], None] = time.sleep,
                 max_workers: int = DEFAULT_WORKERS, budget: TimeBudget | None = None,
                 hand_over: HandOver | None = None,
                 key_lookup: KeyLookup | None = None) -> dict[str, Any]:
    """Load every CSV object the event names (first a paused load the event continues, if
    any); return a summary of what happened to each."""
    run = InvocationRun(s3=s3, dynamodb=dynamodb, table=table, log=log, sleep=sleep,
                   max_workers=max_workers, budget=budget, hand_over=hand_over,
                   key_lookup=key_lookup)
    records = list(event.get("Records") or [])
    pointer = event.get(CONTINUATION_FIELD)
    if pointer and not run.resume(pointer, records):
        return run.summary()
    for position, record in enumerate(records):
        obj = object_in_record(record)
        if obj is None:
            continue
        if not is_inventory_key(obj.key):
            reason = "a load report" if obj.key.startswith("reports/") else "not a .csv key"
            log(event_line("load_ignored", bucket=obj.bucket, key=obj.key, reason=reason))
            run.ignored.append({"key": obj.key, "reason": reason})
            continue
        if not run.load(obj, records[position + 1:]):
            break
    return run.summary()


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    budget = TimeBudget.of(context)
    hand_over = (invoke_self(client("lambda"), context.invoked_function_arn)
                 if budget is not None else None)
    keys_table = os.environ.get(STORE_KEYS_TABLE)
    return handle_event(event, s3=client("s3"), dynamodb=client("dynamodb"),
                        table=os.environ[INVENTORY_TABLE], log=write_line, budget=budget,
                        hand_over=hand_over,
                        key_lookup=(dynamodb_lookup(client("dynamodb"), keys_table)
                                    if keys_table else None))
