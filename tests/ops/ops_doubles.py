"""What the Lambda functions would have done, played by the tests (no Lambda code runs on moto).

The shapes follow docs/data-formats.md: items in the table, load reports in the bucket,
JSON log lines of the checker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from lambda_src.inventory_csv import check_bytes, report_key_for


def load_object(aws: Aws, names: StackNames, key: str) -> dict[str, object]:
    """Load one uploaded object as the loader does: rows into the table, a report beside it."""
    s3 = aws.client("s3")
    obj = s3.get_object(Bucket=names.uploads_bucket, Key=key)
    check = check_bytes(obj["Body"].read())
    put_rows(aws, names, ((r.store, r.item, r.count) for r in check.rows))
    report = {
        "source": {"bucket": names.uploads_bucket, "key": key,
                   "version_id": obj.get("VersionId"), "etag": obj["ETag"].strip('"')},
        "status": "loaded" if check.rows else "empty",
        "rows_read": check.rows_read, "loaded": len(check.rows),
        "rejected": [{"line": r.line, "reason": r.reason} for r in check.rejected],
        "duplicates": [], "message": "",
    }
    write_report(aws, names, key, report)
    return report


def write_report(aws: Aws, names: StackNames, key: str, report: dict[str, object]) -> None:
    aws.client("s3").put_object(Bucket=names.uploads_bucket, Key=report_key_for(key),
                                Body=json.dumps(report).encode())


def put_rows(aws: Aws, names: StackNames, rows: Iterable[tuple[str, str, int]]) -> None:
    requests = [{"PutRequest": {"Item": {"Store": {"S": store}, "Item": {"S": item},
                                         "Count": {"N": str(count)}}}}
                for store, item, count in rows]
    dynamodb = aws.client("dynamodb")
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={names.table: requests[start:start + 25]})
    update_summaries(aws, names)


def update_summaries(aws: Aws, names: StackNames) -> None:
    """What the summary function would have done with the stream records: no Lambda code runs
    in-process, so the rebuild (the same transactions) brings the summaries up to date."""
    from inventory_cli.ops.summaries import rebuild_summaries, summary_state
    from inventory_cli.stack.deployed import deployed_threshold

    if summary_state(aws, names) is not None:
        rebuild_summaries(aws, names, deployed_threshold(aws) or 0)


def put_log_lines(aws: Aws, group: str, lines: Iterable[tuple[datetime, str]],
                  stream: str = "2024/01/01/[$LATEST]test") -> None:
    logs = aws.client("logs")
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    events = [{"timestamp": int(at.timestamp() * 1000), "message": message}
              for at, message in lines]
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=sorted(events, key=lambda e: e["timestamp"]))


def alert_line(store: str, item: str, count: int, threshold: int = 0,
               message_id: str = "m-1") -> str:
    record = {"event": "alert_sent", "store": store, "item": item, "count": count,
              "threshold": threshold, "message_id": message_id}
    return json.dumps(record) + "\n"


def now_ms() -> int:
    return int(time.time() * 1000)


def put_alert_record(aws: Aws, names: StackNames, *, store: str, item: str, count: int,
                     event_id: str, state: str = "sent", at: datetime,
                     message_id: str | None = "m-1", threshold: int = 0,
                     error: str | None = None) -> None:
    """One record of the alert log, as the checker writes it (docs/data-formats.md)."""
    stamp = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    record: dict[str, dict[str, str]] = {
        "Store": {"S": store}, "EventId": {"S": event_id}, "Item": {"S": item},
        "Count": {"N": str(count)}, "Threshold": {"N": str(threshold)}, "State": {"S": state},
        "Attempts": {"N": "1"}, "FirstSeen": {"S": stamp},
        "ClaimExpires": {"N": str(int(at.timestamp()) + 30)},
        "ExpiresAt": {"N": str(int(at.timestamp()) + 90 * 86400)},
    }
    if state == "sent":
        record["SentAt"] = {"S": stamp}
        if message_id:
            record["MessageId"] = {"S": message_id}
    if error:
        record["Error"] = {"S": error}
    aws.client("dynamodb").put_item(TableName=names.alert_table, Item=record)


EVENTS = Path(__file__).resolve().parents[1] / "events"


def canned(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def keep_load_failure(aws: Aws, names: StackNames, key: str, failure_id: str,
                      *, version_id: str | None = None, versioned_event: bool = True) -> str:
    """What Lambda writes to the failures bucket when a load fails after its retries (the
    canned record of tests/events, pointed at this stack's object); returns the object key.
    `versioned_event=False`: an S3 event without `versionId`, as moto sends them."""
    s3 = aws.client("s3")
    head = s3.head_object(Bucket=names.uploads_bucket, Key=key)
    if version_id is None:
        version_id = head.get("VersionId")
    record = canned("failure_async_load.json")
    record["requestContext"]["functionArn"] = (
        f"arn:aws:lambda:{names.region}:{names.account_id}:function:{names.load_function}")
    s3_part = record["requestPayload"]["Records"][0]["s3"]
    s3_part["bucket"] = {"name": names.uploads_bucket,
                         "arn": f"arn:aws:s3:::{names.uploads_bucket}"}
    s3_part["object"].update(key=quote_plus(key), versionId=version_id,
                             eTag=head["ETag"].strip('"'))
    if not versioned_event:
        del s3_part["object"]["versionId"]
    record["responsePayload"]["errorMessage"] = "Requested resource not found"
    object_key = f"aws/lambda/async/{names.load_function}/2024/05/14/{failure_id}"
    s3.put_object(Bucket=names.failures_bucket, Key=object_key,
                  Body=json.dumps(record).encode())
    return object_key


def keep_stream_failure(aws: Aws, names: StackNames, records: list[dict[str, Any]],
                        failure_id: str, *, payload_as_string: bool = False) -> str:
    """What Lambda writes for a stream batch that failed after the mapping's retries: the
    batch as a JSON object in `payload`, as AWS writes it (`payload_as_string`: as a JSON
    string, the form older records of the emulator hold)."""
    record = canned("failure_stream_check.json")
    record["requestContext"]["functionArn"] = (
        f"arn:aws:lambda:{names.region}:{names.account_id}:function:{names.check_function}")
    payload = {"Records": records}
    record["payload"] = json.dumps(payload) if payload_as_string else payload
    object_key = f"aws/lambda/mapping-uuid/shardId-0001/2024/05/14/{failure_id}"
    aws.client("s3").put_object(Bucket=names.failures_bucket, Key=object_key,
                                Body=json.dumps(record).encode())
    return object_key
