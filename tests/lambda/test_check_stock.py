"""check_stock: which stream records alert, what SNS receives, and partial failures."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from lambda_helpers import Logs, canned_event

from lambda_src import aws_clients
from lambda_src import check_stock as checker
from lambda_src.check_stock import (
    LowStock,
    alert_messages,
    alert_subject,
    handle_event,
    low_stock_in_record,
)
from lambda_src.environment import threshold_from_env


class LambdaContext:
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def record(event_name: str, old: int | None, new: int | None, *, store: str = "Berlin",
           item: str = "Echo Dot", sequence: str = "1") -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": {"Store": {"S": store}, "Item": {"S": item}},
                              "SequenceNumber": sequence, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    for name, count in (("OldImage", old), ("NewImage", new)):
        if count is not None:
            change[name] = {"Store": {"S": store}, "Item": {"S": item},
                            "Count": {"N": str(count)}}
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": change}


@pytest.mark.parametrize("event_name,old,new,threshold,alerts", [
    ("INSERT", None, 0, 0, True),        # a new item with nothing in stock
    ("INSERT", None, 3, 0, False),
    ("MODIFY", 12, 0, 0, True),          # ran out
    ("MODIFY", 0, 0, 0, False),          # stayed out: alerted before
    ("MODIFY", 0, 9, 0, False),          # restock
    ("MODIFY", 9, 4, 0, False),
    ("REMOVE", 4, None, 0, False),
    ("MODIFY", 6, 5, 5, True),           # at the threshold counts
    ("MODIFY", 5, 2, 5, False),          # already at or below
    ("INSERT", None, 5, 5, True),
    ("MODIFY", 6, 6, 5, False),
])
def test_when_a_record_alerts(event_name: str, old: int | None, new: int | None,
                              threshold: int, alerts: bool) -> None:
    result = low_stock_in_record(record(event_name, old, new, sequence="42"), threshold)
    if alerts:
        assert result == LowStock("Berlin", "Echo Dot", Decimal(new or 0), "42")
    else:
        assert result is None


def test_subjects_are_what_sns_accepts() -> None:
    assert alert_subject("Berlin") == "Inventory Alert: Berlin"
    assert alert_subject("M\u00fcnchen S\u00fcd") == "Inventory Alert: Munchen Sud"
    assert alert_subject("\u6771\u4eac") == "Inventory Alert: store"
    assert alert_subject("A\nB\tC") == "Inventory Alert: A B C"
    long = alert_subject("x" * 300)
    assert len(long) == 99 and long.endswith("xxx...")


def test_threshold_from_the_environment() -> None:
    assert threshold_from_env({}) == 0
    assert threshold_from_env({"LOW_STOCK_THRESHOLD": " 5 "}) == 5
    for bad in ("-1", "low", "2.5"):
        with pytest.raises(ValueError, match="LOW_STOCK_THRESHOLD must be a whole number >= 0"):
            threshold_from_env({"LOW_STOCK_THRESHOLD": bad})


def test_big_alerts_are_split_below_the_sns_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checker, "MAX_MESSAGE_BYTES", 100)
    alerts = [LowStock("Berlin", f"Item {n}", Decimal(0), str(n)) for n in range(5)]
    messages = alert_messages(alerts, 0)
    assert [body.count("\n") + 1 for body, _ in messages] == [3, 2]
    assert [a.sequence_number for _, members in messages for a in members] == list("01234")
    assert messages[0][0].splitlines()[0] == "Berlin is out of stock of Item 0"


@pytest.fixture
def topic(session: boto3.session.Session) -> tuple[Any, str, Any, str]:
    """An SNS topic with an SQS queue subscribed, to see what subscribers get."""
    sns = session.client("sns")
    sqs = session.client("sqs")
    topic_arn = sns.create_topic(Name="inventory-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return sns, topic_arn, sqs, queue_url


def received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", [])
        if not batch:
            return messages
        for message in batch:
            envelope = json.loads(message["Body"])
            messages.append({
                "Subject": envelope["Subject"], "Message": envelope["Message"],
                "store": envelope["MessageAttributes"]["store"]["Value"]})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_the_canned_stream_batch_sends_one_message_per_store(
        topic: tuple[Any, str, Any, str]) -> None:
    sns, topic_arn, sqs, queue_url = topic
    logs = Logs()
    result = handle_event(canned_event("ddb_stream.json"), sns=sns, topic_arn=topic_arn,
                          threshold=0, log=logs)
    assert result == {"batchItemFailures": []}
    assert received(sqs, queue_url) == [
        {"Subject": "Inventory Alert: Berlin", "store": "Berlin",
         "Message": "Berlin is out of stock of Echo Plus\nBerlin is out of stock of Echo Dot"},
        {"Subject": "Inventory Alert: Karachi", "store": "Karachi",
         "Message": "Karachi is out of stock of Echo Dot"},
    ]
    sent = logs.events("alert_sent")
    assert [{k: v for k, v in e.items() if k != "message_id"} for e in sent] == [
        {"event": "alert_sent", "store": "Berlin", "item": "Echo Plus", "count": 0,
         "threshold": 0},
        {"event": "alert_sent", "store": "Berlin", "item": "Echo Dot", "count": 0,
         "threshold": 0},
        {"event": "alert_sent", "store": "Karachi", "item": "Echo Dot", "count": 0,
         "threshold": 0},
    ]
    assert sent[0]["message_id"] == sent[1]["message_id"] != sent[2]["message_id"]
    assert len(logs.lines) == 3


def test_low_but_not_empty_items_say_how_many_are_left(
        topic: tuple[Any, str, Any, str]) -> None:
    sns, topic_arn, sqs, queue_url = topic
    event = {"Records": [record("MODIFY", 12, 3, store="Pusan", item="Echo Show")]}
    handle_event(event, sns=sns, topic_arn=topic_arn, threshold=5, log=Logs())
    assert [m["Message"] for m in received(sqs, queue_url)] == [
        "Pusan is low on stock of Echo Show: 3 left (threshold 5)"]


class FailingFor:
    """An SNS client whose publish fails for one store."""

    def __init__(self, sns: Any, store: str) -> None:
        self._sns = sns
        self._store = store
        self.published: list[str] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        store = kwargs["MessageAttributes"]["store"]["StringValue"]
        if store == self._store:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}},
                              "Publish")
        self.published.append(store)
        response: dict[str, Any] = self._sns.publish(**kwargs)
        return response


def test_a_failed_publish_fails_exactly_that_stores_records(
        topic: tuple[Any, str, Any, str]) -> None:
    sns, topic_arn, sqs, queue_url = topic
    logs = Logs()
    client = FailingFor(sns, "Karachi")
    result = handle_event(canned_event("ddb_stream.json"), sns=client, topic_arn=topic_arn,
                          threshold=0, log=logs)
    assert result == {"batchItemFailures": [{"itemIdentifier": "111600000000012345678906"}]}
    assert client.published == ["Berlin"]
    assert [m["store"] for m in received(sqs, queue_url)] == ["Berlin"]
    failed = logs.events("alert_failed")
    assert failed == [{"event": "alert_failed", "store": "Karachi", "items": ["Echo Dot"],
                       "error": "ClientError: An error occurred (InternalError) when calling "
                                "the Publish operation: try again"}]
    assert [e["store"] for e in logs.events("alert_sent")] == ["Berlin", "Berlin"]


def test_unreadable_records_are_logged_and_skipped(topic: tuple[Any, str, Any, str]) -> None:
    sns, topic_arn, sqs, queue_url = topic
    keys_only = record("INSERT", None, 0, sequence="7")
    del keys_only["dynamodb"]["NewImage"]
    text_count = record("INSERT", None, 0, sequence="8")
    text_count["dynamodb"]["NewImage"]["Count"] = {"S": "none"}
    good = record("INSERT", None, 0, store="Pusan", sequence="9")
    logs = Logs()
    result = handle_event({"Records": [keys_only, text_count, good]}, sns=sns,
                          topic_arn=topic_arn, threshold=0, log=logs)
    assert result == {"batchItemFailures": []}
    assert logs.events("record_skipped") == [
        {"event": "record_skipped", "sequence_number": "7",
         "reason": "no NewImage: the table's stream must be NEW_AND_OLD_IMAGES"},
        {"event": "record_skipped", "sequence_number": "8",
         "reason": "Count is not a number attribute: {'S': 'none'}"},
    ]
    assert [m["store"] for m in received(sqs, queue_url)] == ["Pusan"]


def test_nothing_to_say_publishes_nothing(topic: tuple[Any, str, Any, str]) -> None:
    sns, topic_arn, sqs, queue_url = topic
    event = copy.deepcopy(canned_event("ddb_stream.json"))
    event["Records"] = [r for r in event["Records"] if r["eventName"] == "REMOVE"]
    logs = Logs()
    assert handle_event(event, sns=sns, topic_arn=topic_arn, threshold=0, log=logs) == {
        "batchItemFailures": []}
    assert received(sqs, queue_url) == []
    assert logs.lines == []


def test_lambda_handler_reads_its_environment(topic: tuple[Any, str, Any, str],
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _, topic_arn, sqs, queue_url = topic
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("LOW_STOCK_THRESHOLD", "5")
    monkeypatch.delenv("ALERT_LOG_TABLE", raising=False)
    event = {"Records": [record("MODIFY", 9, 5, store="Springfield", item="Echo Look")]}
    assert aws_clients._clients == {}
    assert checker.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    # Without ALERT_LOG_TABLE (a stack provisioned before the alert log) nothing else is used.
    assert sorted(aws_clients._clients) == ["sns"]
    line = json.loads(capsys.readouterr().out)
    assert {k: line[k] for k in ("event", "store", "item", "count", "threshold")} == {
        "event": "alert_sent", "store": "Springfield", "item": "Echo Look", "count": 5,
        "threshold": 5}
    assert [m["Subject"] for m in received(sqs, queue_url)] == ["Inventory Alert: Springfield"]
