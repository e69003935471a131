"""Lambda `load_inventory`: loads uploaded store CSVs into the inventory table.

Triggered by S3 `ObjectCreated` events on the uploads bucket. For every record of the event (not
only the first) whose key ends in `.csv` (any case) outside `reports/`:

1. Pass 1 streams the object through the CSV contract and writes nothing: whole-file problems
   (not UTF-8, missing columns) reject the file before a single item changes, and the winning
   line of every (store, item) is known before writing (the last row wins).
2. Pass 2 streams the same object version again (`IfMatch` on the ETag of pass 1) and writes the
   winning rows with BatchWriteItem, 25 items a call, several calls in flight.
3. The load report goes to `reports/<key>.json` in the same bucket, and is logged as one JSON line.

The object is never held in memory or written to /tmp: each pass holds one line at a time (plus
the set of keys seen, see `DuplicateTracker`). Reading twice costs one extra GET, small next to
the writes, and buys all-or-nothing rejection of broken files.

Items still unwritten after the bounded retries raise: the invocation fails and Lambda retries it
(loading is idempotent), so no row is ever dropped silently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from lambda_src.aws_clients import client
from lambda_src.batch_writer import DEFAULT_WORKERS, ConcurrentBatchWriter
from lambda_src.inventory_csv import (
    CHUNK_SIZE,
    DuplicateTracker,
    InvalidFile,
    InventoryReader,
    InventoryRow,
    RejectedRow,
    is_inventory_key,
    normalize_etag,
    report_key_for,
)
from lambda_src.load_report import LoadReport, ObjectSource, summarize
from lambda_src.store_scope import row_rule_for_key

Log = Callable[[str], None]


@dataclass(frozen=True)
class S3Object:
    """One object named by an S3 event record (key already URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None = None


class ObjectReplaced(RuntimeError):
    """The object changed between the two passes; the newer upload has its own event."""


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


def _body_chunks(response: Mapping[str, Any]) -> Iterator[bytes]:
    body = response["Body"]
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


def load_object(obj: S3Object, *, s3: Any, dynamodb: Any, table: str,
                max_workers: int = DEFAULT_WORKERS,
                sleep: Callable[[float], None] = time.sleep) -> LoadReport:
    """Load one CSV object into `table` and return its report (not yet written anywhere)."""
    get_args: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.version_id:
        get_args["VersionId"] = obj.version_id
    first = s3.get_object(**get_args)
    version = first.get("VersionId")
    report = LoadReport(ObjectSource(
        bucket=obj.bucket, key=obj.key,
        version_id=None if version in (None, "", "null") else version,
        etag=normalize_etag(first.get("ETag"))))

    # A store's own upload (under stores/<store>/) loads only that store's rows.
    store_rule = row_rule_for_key(obj.key)
    reader = InventoryReader(_body_chunks(first), store_rule=store_rule)
    winners = DuplicateTracker()
    try:
        for parsed in reader:
            if isinstance(parsed, RejectedRow):
                report.add_rejected(parsed)
            else:
                duplicate = winners.see(parsed)
                if duplicate is not None:
                    report.add_duplicate(duplicate)
    except InvalidFile as exc:
        report.status = "rejected"
        report.rows_read = reader.rows_read
        report.add_rejected(RejectedRow(exc.line or 0, exc.reason))
        report.message = f"file rejected, nothing loaded: {exc}"
        return report
    report.rows_read = reader.rows_read

    if reader.empty_reason is not None:
        report.status = "empty"
        report.message = f"nothing loaded: {reader.empty_reason}"
        return report
    if len(winners) == 0:
        report.status = "rejected"
        report.message = f"all {reader.rows_read} rows were rejected; nothing loaded"
        return report

    # Pass 2: the same bytes again (IfMatch), writing only the last row of each key, so batches
    # in flight together never hold the same key and their order does not matter.
    second_args = dict(get_args, IfMatch=first["ETag"])
    try:
        second = s3.get_object(**second_args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise ObjectReplaced(
                f"s3://{obj.bucket}/{obj.key} changed while it was loading") from None
        raise
    with ConcurrentBatchWriter(dynamodb, table, max_workers=max_workers, sleep=sleep) as writer:
        for parsed in InventoryReader(_body_chunks(second), store_rule=store_rule):
            if isinstance(parsed, InventoryRow) and winners.is_winner(parsed):
                writer.put(item_for(parsed))
    report.loaded = writer.items_written
    report.status = "loaded"
    report.message = summarize(report)
    return report


def write_report(report: LoadReport, *, s3: Any) -> str:
    key = report_key_for(report.source.key)
    s3.put_object(Bucket=report.source.bucket, Key=key,
                  Body=report.to_json().encode("utf-8"), ContentType="application/json")
    return key


def handle_event(event: Mapping[str, Any], *, s3: Any, dynamodb: Any, table: str,
                 log: Log = print, sleep: Callable[[float], None] = time.sleep,
                 max_workers: int = DEFAULT_WORKERS) -> dict[str, Any]:
    """Load every CSV object the event names; return a summary of what happened to each."""
    loaded: list[dict[str, Any]] = []
    ignored: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        obj = object_in_record(record)
        if obj is None:
            continue
        if not is_inventory_key(obj.key):
            reason = "a load report" if obj.key.startswith("reports/") else "not a .csv key"
            log(json.dumps({"event": "load_ignored", "bucket": obj.bucket, "key": obj.key,
                            "reason": reason}, ensure_ascii=False))
            ignored.append({"key": obj.key, "reason": reason})
            continue
        try:
            report = load_object(obj, s3=s3, dynamodb=dynamodb, table=table,
                                 max_workers=max_workers, sleep=sleep)
        except ObjectReplaced as exc:
            # No report: it would overwrite the report of the newer version's own load.
            log(json.dumps({"event": "load_skipped", "bucket": obj.bucket, "key": obj.key,
                            "reason": str(exc)}, ensure_ascii=False))
            ignored.append({"key": obj.key, "reason": str(exc)})
            continue
        except Exception as exc:
            log(json.dumps({"event": "load_failed", "bucket": obj.bucket, "key": obj.key,
                            "error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False))
            raise  # Lambda retries the event; loading again is idempotent
        write_report(report, s3=s3)
        log(report.log_line())
        loaded.append({"key": obj.key, "status": report.status, "rows_read": report.rows_read,
                       "loaded": report.loaded, "rejected": report.rejected_count,
                       "duplicates": report.duplicate_count})
    return {"files": loaded, "ignored": ignored}


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event, s3=client("s3"), dynamodb=client("dynamodb"),
                        table=os.environ["INVENTORY_TABLE"], log=_log)


def _log(line: str) -> None:
    # One line per print: CloudWatch keeps it as one event, which `inventory` parses as JSON.
    print(line, flush=True)
