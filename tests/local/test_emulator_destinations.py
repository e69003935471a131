"""On-failure destinations on a real emulator process, with the real handler zips.

The functions are broken from outside, the way it happens: another client points a function's
environment at a table that does not exist. Then what AWS would do must happen: asynchronous S3
events are tried three times and their invocation record lands in the failures bucket; a stream
batch is bisected down to the records that fail, those are kept with their full payload, and
the records after them still flow. What was kept is enough to redo the work later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from local_helpers import until

from inventory_cli.local.emulator import EmulatorInfo, wait_until_idle
from inventory_cli.stack.packaging import build_zip
from inventory_cli.stack.resources import TABLE_SCHEMA

Clients = Callable[[str], Any]
ACCOUNT_REGION = "123456789012-us-east-1"
KEY_TIME = r"\d{4}/\d{2}/\d{2}/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f-]{36}"


@pytest.fixture(scope="module")
def code() -> bytes:
    return build_zip().data


@pytest.fixture(scope="module")
def other_client(emulator: EmulatorInfo) -> Any:
    """A Lambda client of someone else: the one who breaks (and repairs) the functions."""
    return boto3.session.Session(
        aws_access_key_id="other", aws_secret_access_key="other", region_name="us-east-1",
    ).client("lambda", endpoint_url=emulator.endpoint)


def _failures_bucket(clients: Clients, name: str) -> str:
    bucket = f"{name}-failures-{ACCOUNT_REGION}"
    clients("s3").create_bucket(Bucket=bucket)
    return bucket


def _kept(clients: Clients, bucket: str) -> list[tuple[str, dict[str, Any]]]:
    s3 = clients("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [(key, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
            for key in sorted(keys)]


def _starts(clients: Clients, function: str) -> int:
    logs = clients("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return 0
    return sum(e["message"].startswith("START RequestId") for e in events)


def _function(clients: Clients, role: str, code: bytes, name: str, *, handler: str,
              env: dict[str, str]) -> str:
    arn: str = clients("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler=handler,
        Code={"ZipFile": code}, Timeout=30, Environment={"Variables": env})["FunctionArn"]
    return arn


def _table_rows(clients: Clients, table: str) -> dict[tuple[str, str], int]:
    items = clients("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {(i["Store"]["S"], i["Item"]["S"]): int(i["Count"]["N"]) for i in items}


def test_a_failing_s3_event_is_tried_three_times_then_kept_in_the_failures_bucket(  # noqa: PLR0917
        clients: Clients, role_arn: str, code: bytes, other_client: Any,
        emulator: EmulatorInfo) -> None:
    name = "async-kept"
    table = clients("dynamodb").create_table(TableName=f"{name}-inventory", **TABLE_SCHEMA)[
        "TableDescription"]["TableName"]
    failures = _failures_bucket(clients, name)
    uploads = f"{name}-uploads-{ACCOUNT_REGION}"
    s3 = clients("s3")
    s3.create_bucket(Bucket=uploads)
    s3.put_bucket_versioning(Bucket=uploads, VersioningConfiguration={"Status": "Enabled"})
    function = f"{name}-load-inventory"
    arn = _function(clients, role_arn, code, function,
                    handler="lambda_src.load_inventory.lambda_handler",
                    env={"INVENTORY_TABLE": table})
    clients("lambda").put_function_event_invoke_config(
        FunctionName=function, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{failures}"}})
    s3.put_bucket_notification_configuration(Bucket=uploads, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn,
                                          "Events": ["s3:ObjectCreated:*"]}]})
    # Someone else points the loader at a table that does not exist.
    other_client.update_function_configuration(
        FunctionName=function, Environment={"Variables": {"INVENTORY_TABLE": "no-such-table"}})

    body = b"Store,Item,Count\nBerlin,Echo Dot,0\nBerlin,Echo Plus,4\n"
    put = s3.put_object(Bucket=uploads, Key="shops/berlin.csv", Body=body)
    assert wait_until_idle(emulator, 60)
    assert _starts(clients, function) == 3  # the first attempt and Lambda's two retries
    [(key, record)] = _kept(clients, failures)
    assert re.fullmatch(rf"aws/lambda/async/{function}/{KEY_TIME}", key)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == f"{arn}:$LATEST"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert "ResourceNotFoundException" in record["responsePayload"]["errorMessage"]
    [event] = record["requestPayload"]["Records"]
    assert event["eventSource"] == "aws:s3" and event["eventName"].startswith("ObjectCreated")
    assert event["s3"]["bucket"]["name"] == uploads
    assert event["s3"]["object"]["key"] == "shops%2Fberlin.csv"
    assert event["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert event["s3"]["object"]["size"] == len(body)
    assert _table_rows(clients, table) == {}

    # The kept event is the whole event: once repaired, it loads the file.
    other_client.update_function_configuration(
        FunctionName=function, Environment={"Variables": {"INVENTORY_TABLE": table}})
    replay = clients("lambda").invoke(FunctionName=function,
                                      Payload=json.dumps(record["requestPayload"]))
    assert "FunctionError" not in replay, replay["Payload"].read()
    assert _table_rows(clients, table) == {("Berlin", "Echo Dot"): 0, ("Berlin", "Echo Plus"): 4}


def _alert_table(clients: Clients, name: str) -> str:
    table = f"{name}-alert-log"
    clients("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "Store", "KeyType": "HASH"},
                   {"AttributeName": "EventId", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "Store", "AttributeType": "S"},
                              {"AttributeName": "EventId", "AttributeType": "S"}])
    return table


def _alert_inbox(clients: Clients, name: str) -> tuple[str, Callable[[], list[str]]]:
    """A topic with a queue subscribed: the alerts that went out, line by line."""
    sqs = clients("sqs")
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    topic = clients("sns").create_topic(Name=f"{name}-alerts")["TopicArn"]
    clients("sns").subscribe(TopicArn=topic, Protocol="sqs",
                             Endpoint=f"arn:aws:sqs:us-east-1:123456789012:{name}-inbox")
    seen: list[str] = []

    def lines() -> list[str]:
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not batch:
                return sorted(seen)
            for message in batch:
                seen.extend(json.loads(message["Body"])["Message"].splitlines())
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return topic, lines


def _put(clients: Clients, table: str, store: str, item: str, count: int) -> None:
    clients("dynamodb").put_item(TableName=table, Item={
        "Store": {"S": store}, "Item": {"S": item}, "Count": {"N": str(count)}})


def test_a_failing_stream_batch_is_bisected_and_only_its_bad_records_are_kept(  # noqa: PLR0915
        clients: Clients, role_arn: str, code: bytes, other_client: Any,
        emulator: EmulatorInfo) -> None:
    name = "stream-kept"
    described = clients("dynamodb").create_table(TableName=f"{name}-inventory", **TABLE_SCHEMA)
    table = described["TableDescription"]["TableName"]
    stream_arn = described["TableDescription"]["LatestStreamArn"]
    alert_table = _alert_table(clients, name)
    failures = _failures_bucket(clients, name)
    topic, alerts = _alert_inbox(clients, name)
    function = f"{name}-check-stock"
    env = {"ALERT_TOPIC_ARN": topic, "LOW_STOCK_THRESHOLD": "0", "ALERT_LOG_TABLE": alert_table}
    _function(clients, role_arn, code, function, handler="lambda_src.check_stock.lambda_handler",
              env=env)
    # Someone else points the checker's alert log at a table that does not exist: every batch
    # with an alert in it now fails; batches without one still succeed.
    other_client.update_function_configuration(
        FunctionName=function, Environment={"Variables": {**env, "ALERT_LOG_TABLE": "gone"}})
    # Five changes written before the mapping exists reach it as one batch (TRIM_HORIZON);
    # only Karachi's drop to 0 alerts.
    for store, count in (("Berlin", 5), ("Karachi", 0), ("Pusan", 3), ("Springfield", 7)):
        _put(clients, table, store, "Echo Dot", count)
    mapping = clients("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
        BatchSize=10, MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{failures}"}})["UUID"]
    _put(clients, table, "Tokyo", "Echo Dot", 9)
    assert wait_until_idle(emulator, 60)

    # [B K P S T] fails -> [B K] fails -> [B] ok, [K] fails twice (one retry) -> kept;
    # [P S T] ok. Without bisection there would be two invocations and all five kept.
    assert _starts(clients, function) == 6
    [(key, record)] = _kept(clients, failures)
    assert re.fullmatch(rf"aws/lambda/{mapping}/shardId-[^/]+/{KEY_TIME}", key)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    [kept] = record["payload"]["Records"]  # a JSON object, as AWS writes it
    assert kept["dynamodb"]["NewImage"]["Store"] == {"S": "Karachi"}
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream_arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == \
        kept["dynamodb"]["SequenceNumber"]
    assert info["shardId"] in key
    assert alerts() == []

    # Repaired, the shard keeps flowing: a later drop alerts at once.
    other_client.update_function_configuration(FunctionName=function,
                                               Environment={"Variables": env})
    _put(clients, table, "Pusan", "Echo Dot", 0)
    assert wait_until_idle(emulator, 60)
    assert until(alerts, 60) == ["Pusan is out of stock of Echo Dot"]
    # The kept payload replays the lost alert; replaying it again sends nothing more.
    for _ in range(2):
        replay = clients("lambda").invoke(FunctionName=function,
                                          Payload=json.dumps(record["payload"]))
        assert json.loads(replay["Payload"].read()) == {"batchItemFailures": []}
    assert until(lambda: len(alerts()) == 2 and alerts(), 60) == [
        "Karachi is out of stock of Echo Dot", "Pusan is out of stock of Echo Dot"]
    # Every queued event and stream record handled: anything sent twice has arrived by now.
    assert wait_until_idle(emulator, 60)
    assert alerts() == ["Karachi is out of stock of Echo Dot",
                        "Pusan is out of stock of Echo Dot"]
