"""What the Lambda functions would have done, played by the tests (no Lambda code runs on moto).

The shapes follow docs/TEAM-CONTRACTS.md: items in the table, load reports in the bucket,
JSON log lines of the checker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime

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
