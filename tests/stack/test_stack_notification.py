"""The uploads bucket notifies the loader of every object (one rule, no key filter, so nothing
can overlap), and the loader skips what it must not load without touching AWS."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.stub import Stubber

from inventory_cli.stack.provision import ProvisionResult
from lambda_src.load_inventory import handle_event


def test_every_object_notifies_and_reports_are_skipped_without_a_read(
        session: boto3.session.Session, provisioned_stack: ProvisionResult,
        lambda_invocations: Any) -> None:
    bucket = provisioned_stack.names.uploads_bucket
    s3 = session.client("s3")
    for key in ("berlin.csv", "PUSAN.CSV", "karachi.Csv", "reports/berlin.csv.json"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"store,item,count\n")
    events = [json.loads(event) for function, event in lambda_invocations.events
              if function == provisioned_stack.names.load_function]
    # Keys in S3 events are URL-encoded.
    keys = [unquote_plus(record["s3"]["object"]["key"])
            for event in events for record in event["Records"]]
    # `.Csv` is announced too, which no pair of suffix rules would do.
    assert keys == ["berlin.csv", "PUSAN.CSV", "karachi.Csv", "reports/berlin.csv.json"]

    # The loader, given the report's event, logs it as ignored and makes no AWS call at all:
    # stubbed clients with no answers queued would fail on any call.
    client = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x",
                                   region_name="us-east-1")
    stub_s3, stub_ddb = client.client("s3"), client.client("dynamodb")
    logged: list[str] = []
    with Stubber(stub_s3), Stubber(stub_ddb):
        result = handle_event(events[-1], s3=stub_s3, dynamodb=stub_ddb, table="t",
                              log=logged.append)
    assert result == {"files": [], "ignored": [{"key": "reports/berlin.csv.json",
                                                "reason": "a load report"}]}
    assert [json.loads(line)["event"] for line in logged] == ["load_ignored"]
