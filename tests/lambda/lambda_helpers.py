"""Helpers for the handler tests: canned events, the streaming table, reading results back, and
running the loader on an object the way S3 would (a real-shaped, URL-encoded event).

A module with its own name (not conftest) so that `from lambda_helpers import ...` cannot pick up
another directory's conftest."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from inventory_cli.stack.resources import TABLE_SCHEMA
from lambda_src.load_inventory import handle_event

BUCKET = "inventory-uploads-123456789012-us-east-1"
TABLE = "inventory-inventory"
EVENTS = Path(__file__).resolve().parent.parent / "events"
SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


def canned_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def s3_event_for(bucket: str, key: str, *, version_id: str | None = None,
                 etag: str = "") -> dict[str, Any]:
    """The canned S3 put event, pointed at `bucket`/`key` and encoded as S3 encodes keys."""
    event = copy.deepcopy(canned_event("s3_put.json"))
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key)
    obj["eTag"] = etag
    if version_id is None:
        obj.pop("versionId", None)
    else:
        obj["versionId"] = version_id
    return event


@dataclass
class Logs:
    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.lines]
        return [p for p in parsed if name is None or p["event"] == name]


def create_table(dynamodb: Any, name: str = TABLE) -> str:
    # The stack's own schema (stream NEW_AND_OLD_IMAGES included), not a look-alike.
    dynamodb.create_table(TableName=name, **TABLE_SCHEMA)
    return name


def table_items(dynamodb: Any, table: str = TABLE) -> dict[tuple[str, str], int]:
    items: dict[tuple[str, str], int] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items[(item["Store"]["S"], item["Item"]["S"])] = int(item["Count"]["N"])
    return items


@dataclass
class Loaded:
    summary: dict[str, Any]
    logs: Logs
    put: dict[str, Any]

    def report(self, s3: Any, bucket: str, key: str) -> dict[str, Any]:
        body = s3.get_object(Bucket=bucket, Key=f"reports/{key}.json")["Body"].read()
        report: dict[str, Any] = json.loads(body)
        return report


def upload_and_load(s3: Any, dynamodb: Any, bucket: str, key: str, body: bytes, *,
                    table: str = TABLE, **kwargs: Any) -> Loaded:
    """Put `body` at `key` and run the loader on the event S3 would send."""
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    logs = Logs()
    event = s3_event_for(bucket, key, version_id=put.get("VersionId"),
                         etag=put["ETag"].strip('"'))
    kwargs.setdefault("sleep", lambda seconds: None)
    summary = handle_event(event, s3=s3, dynamodb=dynamodb, table=table, log=logs, **kwargs)
    return Loaded(summary, logs, put)
