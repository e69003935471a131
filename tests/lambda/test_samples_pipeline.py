"""The lab's six files through both handlers, with the stream records moto really produces."""

from __future__ import annotations

import json
from typing import Any

import boto3
from lambda_helpers import SAMPLES, Logs, table_items, upload_and_load

from lambda_src.check_stock import handle_event as check_stock


def stream_records(session: boto3.session.Session, dynamodb: Any, table: str,
                   iterators: dict[str, str]) -> list[dict[str, Any]]:
    """New records of the table's stream since the last call (iterators carry the position)."""
    streams = session.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        shard_id = shard["ShardId"]
        iterator = iterators.get(shard_id) or streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            records += page["Records"]
            iterator = page.get("NextShardIterator")
            iterators[shard_id] = iterator
            if not page["Records"]:
                break
    return records


def test_six_samples_load_36_items_and_raise_six_alerts(
        session: boto3.session.Session, s3: Any, dynamodb: Any, bucket: str,
        table: str) -> None:
    sns = session.client("sns")
    sqs = session.client("sqs")
    topic_arn = sns.create_topic(Name="inventory-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs",
                  Endpoint=sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
                      "QueueArn"])["Attributes"]["QueueArn"])

    files = sorted(SAMPLES.glob("*.csv"))
    for path in files:
        upload_and_load(s3, dynamodb, bucket, path.name, path.read_bytes())
    items = table_items(dynamodb, table)
    assert len(items) == 36
    empty = sorted(key for key, count in items.items() if count == 0)
    assert len(empty) == 6 and len({store for store, _ in empty}) == 6

    iterators: dict[str, str] = {}
    records = stream_records(session, dynamodb, table, iterators)
    assert len(records) == 36
    assert {r["eventName"] for r in records} == {"INSERT"}
    logs = Logs()
    result = check_stock({"Records": records}, sns=sns, topic_arn=topic_arn, threshold=0,
                         log=logs)
    assert result == {"batchItemFailures": []}

    messages = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []):
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted((m["Subject"], m["Message"]) for m in messages) == [
        (f"Inventory Alert: {store}", f"{store} is out of stock of {item}")
        for store, item in empty]
    assert sorted((e["store"], e["item"]) for e in logs.events("alert_sent")) == empty

    # Loading the same files again: every item is MODIFY'd to the same count, and an item that
    # stays at 0 has already been reported.
    for path in files:
        upload_and_load(s3, dynamodb, bucket, path.name, path.read_bytes())
    again = stream_records(session, dynamodb, table, iterators)
    assert len(again) == 36
    assert {r["eventName"] for r in again} == {"MODIFY"}
    logs = Logs()
    check_stock({"Records": again}, sns=sns, topic_arn=topic_arn, threshold=0, log=logs)
    assert logs.lines == []
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url)
