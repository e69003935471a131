"""The emulator as a real server process over real HTTP: functions run, logs, events, outbox.

One emulator (free port, own state folder) serves the whole module; each test uses its own
resource names.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from local_helpers import until
from typer.testing import CliRunner

from inventory_cli.cli.app import app
from inventory_cli.local.emulator import EmulatorInfo, wait_until_idle
from inventory_cli.stack.resources import TABLE_SCHEMA

# Set in the emulator's own environment by the `emulator` fixture (tests/local/conftest.py).
MARKER = "INVENTORY_TEST_EMULATOR_ONLY"


def _create(clients: Callable[[str], Any], role: str, name: str, code: bytes, *, handler: str,
            env: Mapping[str, str] | None = None) -> str:
    arn: str = clients("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler=handler,
        Code={"ZipFile": code}, Timeout=30,
        Environment={"Variables": dict(env or {})})["FunctionArn"]
    return arn


def _log_lines(clients: Callable[[str], Any], function: str) -> list[str]:
    logs = clients("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:  # no invocation has finished yet
        return []
    # A stable sort: lines of one invocation share a timestamp and keep their order.
    return [e["message"] for e in sorted(events, key=lambda e: e["timestamp"])]


def test_a_direct_invocation_returns_the_result_and_its_prints_land_in_the_log_group(
        clients: Callable[[str], Any], role_arn: str, probe_zip: bytes) -> None:
    _create(clients, role_arn, "direct", probe_zip, handler="probe.handler")
    response = clients("lambda").invoke(FunctionName="direct", LogType="Tail",
                                        Payload=json.dumps({"action": "echo", "n": 5}))
    payload = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert payload["event"] == {"action": "echo", "n": 5}
    lines = _log_lines(clients, "direct")
    assert 'echo {"action": "echo", "n": 5}' in lines
    assert lines[0] == f"START RequestId: {payload['request_id']} Version: $LATEST"
    assert any(line.startswith(f"REPORT RequestId: {payload['request_id']}") for line in lines)


def test_a_handler_error_is_returned_and_visible_in_the_log_group(
        clients: Callable[[str], Any], role_arn: str, probe_zip: bytes) -> None:
    _create(clients, role_arn, "failing", probe_zip, handler="probe.handler")
    response = clients("lambda").invoke(FunctionName="failing", Payload=b'{"action": "fail"}')
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "ValueError"
    lines = _log_lines(clients, "failing")
    assert "[ERROR] ValueError: the handler failed on purpose" in lines
    assert "Traceback (most recent call last):" in lines


def test_an_event_invocation_returns_at_once_and_runs_later(
        clients: Callable[[str], Any], role_arn: str, probe_zip: bytes) -> None:
    _create(clients, role_arn, "later", probe_zip, handler="probe.handler")
    started = time.monotonic()
    response = clients("lambda").invoke(FunctionName="later", InvocationType="Event",
                                        Payload=b'{"action": "sleep", "seconds": 1.5}')
    assert response["StatusCode"] == 202
    assert time.monotonic() - started < 1.0
    until(lambda: any(line.startswith("END RequestId") for line in _log_lines(clients, "later")))


def test_an_s3_upload_by_any_client_runs_the_notified_function(
        clients: Callable[[str], Any], role_arn: str, probe_zip: bytes,
        emulator: EmulatorInfo) -> None:
    arn = _create(clients, role_arn, "on-upload", probe_zip, handler="probe.handler")
    s3 = clients("s3")
    s3.create_bucket(Bucket="test-uploads")
    s3.put_bucket_notification_configuration(Bucket="test-uploads", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}}}]})
    s3.put_object(Bucket="test-uploads", Key="inventory-berlin.csv", Body=b"Store,Item,Count\n")
    s3.put_object(Bucket="test-uploads", Key="notes.txt", Body=b"not for the function")
    assert wait_until_idle(emulator, 20)
    echoed = [json.loads(line.removeprefix("echo ")) for line in _log_lines(clients, "on-upload")
              if line.startswith("echo ")]
    assert [e["Records"][0]["s3"]["object"]["key"] for e in echoed] == ["inventory-berlin.csv"]


def _stream_consumer(clients: Callable[[str], Any], role_arn: str, stream_zip: bytes, *,
                     function: str, table: str, record_file: Path, mapping: Mapping[str, Any],
                     env: Mapping[str, str] | None = None) -> str:
    """A function that writes each stream batch it gets to `record_file` (`stream.handler`),
    a table of the stack's schema, and a mapping of these settings from the table's stream
    to the function; returns the mapping's UUID."""
    _create(clients, role_arn, function, stream_zip, handler="stream.handler",
            env={"RECORD_FILE": str(record_file), **(env or {})})
    created = clients("dynamodb").create_table(TableName=table, **TABLE_SCHEMA)
    uuid: str = clients("lambda").create_event_source_mapping(
        EventSourceArn=created["TableDescription"]["LatestStreamArn"], FunctionName=function,
        **mapping)["UUID"]
    return uuid


def _batch_keys(record_file: Path) -> list[list[str]]:
    """The item keys of each batch the `_stream_consumer` function got, in order."""
    return [[entry.split(":")[1] for entry in json.loads(line)]
            for line in record_file.read_text().splitlines()]


STREAM_WRITERS = 4
ITEMS_PER_WRITER = 150


def test_a_stream_mapping_delivers_every_record_once_in_order_under_concurrent_writes(
        clients: Callable[[str], Any], role_arn: str, stream_zip: bytes, tmp_path: Path,
        emulator: EmulatorInfo) -> None:
    record_file = tmp_path / "records.jsonl"
    _stream_consumer(clients, role_arn, stream_zip, function="stream-counter",
                     table="stream-test", record_file=record_file,
                     mapping={"StartingPosition": "LATEST", "BatchSize": 50})

    def write(writer: int) -> None:
        client = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t",
                                       region_name="us-east-1").client(
            "dynamodb", endpoint_url=emulator.endpoint)
        items = [f"w{writer}-{i:04d}" for i in range(ITEMS_PER_WRITER)]
        for start in range(0, len(items), 25):
            client.batch_write_item(RequestItems={"stream-test": [
                {"PutRequest": {"Item": {"Store": {"S": f"store-{writer}"}, "Item": {"S": item},
                                         "Count": {"N": "1"}}}}
                for item in items[start:start + 25]]})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(STREAM_WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wait_until_idle(emulator, 60)
    batches = [json.loads(line) for line in record_file.read_text().splitlines()]
    delivered = [entry.split(":") for batch in batches for entry in batch]
    keys = [key for _, key in delivered]
    assert len(keys) == STREAM_WRITERS * ITEMS_PER_WRITER
    assert len(set(keys)) == len(keys)  # exactly once
    sequence = [int(seq) for seq, _ in delivered]
    assert sequence == sorted(sequence)  # in stream order
    for writer in range(STREAM_WRITERS):
        mine = [k for k in keys if k.startswith(f"w{writer}-")]
        assert mine == sorted(mine)  # each writer's items in the order it wrote them
    assert all(len(batch) <= 50 for batch in batches)
    assert len(batches) < len(keys)  # records were batched, not delivered one by one


def test_batch_item_failures_are_retried_through_a_real_mapping(
        clients: Callable[[str], Any], role_arn: str, stream_zip: bytes, tmp_path: Path,
        emulator: EmulatorInfo) -> None:
    record_file = tmp_path / "records.jsonl"
    uuid = _stream_consumer(
        clients, role_arn, stream_zip, function="stream-partial", table="partial-test",
        record_file=record_file, env={"FAIL_ONCE": "i3"},
        mapping={"StartingPosition": "TRIM_HORIZON", "Enabled": False,
                 "FunctionResponseTypes": ["ReportBatchItemFailures"]})
    ddb = clients("dynamodb")
    # Written while the mapping is disabled; once enabled, the next write brings the backlog
    # (TRIM_HORIZON), so all six records arrive in one batch.
    ddb.batch_write_item(RequestItems={"partial-test": [
        {"PutRequest": {"Item": {"Store": {"S": "s"}, "Item": {"S": f"i{n}"}}}}
        for n in range(1, 6)]})
    clients("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
    ddb.put_item(TableName="partial-test", Item={"Store": {"S": "s"}, "Item": {"S": "i6"}})
    assert wait_until_idle(emulator, 20)
    batches = _batch_keys(record_file)
    # i3 failed once: retried from the checkpoint (AWS's rule), nothing before it again.
    assert batches == [["i1", "i2", "i3", "i4", "i5", "i6"], ["i3", "i4", "i5", "i6"]]


def test_a_batching_window_collects_records_written_within_it_into_one_invocation(
        clients: Callable[[str], Any], role_arn: str, stream_zip: bytes, tmp_path: Path,
        emulator: EmulatorInfo) -> None:
    record_file = tmp_path / "records.jsonl"
    _stream_consumer(clients, role_arn, stream_zip, function="stream-window", table="window-test",
                     record_file=record_file, mapping={"StartingPosition": "LATEST",
                                                       "BatchSize": 100,
                                                       "MaximumBatchingWindowInSeconds": 2})
    ddb = clients("dynamodb")
    for n in range(4):  # over about a second, well within the window
        ddb.put_item(TableName="window-test", Item={"Store": {"S": "s"}, "Item": {"S": f"i{n}"}})
        time.sleep(0.3)
    assert wait_until_idle(emulator, 20)
    assert _batch_keys(record_file) == [["i0", "i1", "i2", "i3"]]


def test_functions_see_only_their_own_environment_and_not_the_emulators(
        clients: Callable[[str], Any], role_arn: str, probe_zip: bytes,
        emulator: EmulatorInfo) -> None:
    _create(clients, role_arn, "env-a", probe_zip, handler="probe.handler", env={"ONLY_A": "a"})
    _create(clients, role_arn, "env-b", probe_zip, handler="probe.handler", env={"ONLY_B": "b"})

    def env_of(name: str) -> dict[str, str]:
        response = clients("lambda").invoke(FunctionName=name, Payload=b'{"action": "env"}')
        env: dict[str, str] = json.loads(response["Payload"].read())["env"]
        return env

    env_a, env_b = env_of("env-a"), env_of("env-b")
    assert env_a["ONLY_A"] == "a" and "ONLY_B" not in env_a
    assert env_b["ONLY_B"] == "b" and "ONLY_A" not in env_b
    assert MARKER not in env_a and MARKER not in env_b
    assert env_a["AWS_ENDPOINT_URL"] == emulator.endpoint
    assert env_a["AWS_LAMBDA_FUNCTION_NAME"] == "env-a"


def test_sns_email_lands_in_the_outbox_unless_the_filter_policy_says_otherwise(
        clients: Callable[[str], Any], emulator: EmulatorInfo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sns = clients("sns")
    topic = sns.create_topic(Name="outbox-test")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="berlin-staff@example.com",
                  Attributes={"FilterPolicy": json.dumps({"store": ["Berlin"]})})
    for store in ("Pusan", "Berlin"):
        sns.publish(TopicArn=topic, Subject=f"Inventory Alert: {store}",
                    Message=f"{store} is out of stock of Echo Plus",
                    MessageAttributes={"store": {"DataType": "String", "StringValue": store}})
    monkeypatch.setenv("INVENTORY_HOME", str(emulator.home))
    result = CliRunner().invoke(app, ["local", "outbox"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "To: berlin-staff@example.com (email)"
    assert lines[1] == "Subject: Inventory Alert: Berlin"
    assert lines[2].startswith("Date: ")
    assert lines[3:] == ["", "Berlin is out of stock of Echo Plus", "",
                         "1 message in the outbox."]
    as_json = json.loads(CliRunner().invoke(app, ["local", "outbox", "--output", "json"]).output)
    assert [(m["to"], m["subject"], m["attributes"]) for m in as_json] == [
        ("berlin-staff@example.com", "Inventory Alert: Berlin", {"store": "Berlin"})]


def test_the_dashboard_is_served_with_the_content_types_it_was_uploaded_with(
        clients: Callable[[str], Any], emulator: EmulatorInfo) -> None:
    s3 = clients("s3")
    s3.create_bucket(Bucket="test-dashboard")
    files = {"index.html": ("<!doctype html><title>x</title>", "text/html; charset=utf-8"),
             "app.js": ("console.log(1)", "text/javascript; charset=utf-8"),
             "style.css": ("body{}", "text/css; charset=utf-8"),
             "config.json": ('{"table": "t"}', "application/json")}
    for key, (body, content_type) in files.items():
        s3.put_object(Bucket="test-dashboard", Key=key, Body=body.encode(),
                      ContentType=content_type)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    # As on AWS, anonymous visitors are refused until a bucket policy lets them read.
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{emulator.endpoint}/test-dashboard/index.html", timeout=5)
    assert refused.value.code == 403
    s3.put_bucket_policy(Bucket="test-dashboard", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::test-dashboard/*"}]}))
    for key, (body, content_type) in files.items():
        with opener.open(f"{emulator.endpoint}/test-dashboard/{key}", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == content_type
            assert response.read().decode() == body
