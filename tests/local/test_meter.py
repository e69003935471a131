"""The emulator's meter (inventory_cli/local/seam/meter.py) against hand-computed bills.

Every figure here is worked out by hand from AWS's rules (DynamoDB Developer Guide, "DynamoDB
item sizes and formats" and "DynamoDB read and write operations"; Amazon S3 and Amazon SNS
pricing pages; Lambda pricing: memory x billed duration), not read back from the meter. The
requests go through moto in this process with the seam installed, as in the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from inventory_cli.local import seam
from inventory_cli.local.invocation_records import InvocationRecord
from inventory_cli.local.seam import iam, meter
from inventory_cli.local.seam.meter import METER, Meter, UnknownMark

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "metered"
# Key attributes "pk" and "sk" with one-letter values: 2 + 1 + 2 + 1 = 6 bytes of every item.
KEY_BYTES = 6


@pytest.fixture
def aws() -> Iterator[Any]:
    seam.install()
    with mock_aws():
        session = boto3.session.Session(aws_access_key_id="operator-key",
                                        aws_secret_access_key="x", region_name=REGION)
        ddb = session.client("dynamodb")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        yield session


def since(name: str) -> dict[str, Any]:
    return METER.report(since=name)


def units(report: dict[str, Any], table: str = TABLE, caller: str = "operator"
          ) -> tuple[float, int]:
    """(read units, write units) of one table and caller in a report."""
    for row in report["dynamodb"]:
        if (row["table"], row["caller"]) == (table, caller):
            return row["read_units"], row["write_units"]
    return 0.0, 0


def item(sk: str, payload_bytes: int, pk: str = "p") -> dict[str, Any]:
    """An item of exactly KEY_BYTES + 1 ("v") + payload_bytes bytes (one-letter keys)."""
    return {"pk": {"S": pk}, "sk": {"S": sk}, "v": {"S": "x" * payload_bytes}}


KB_PLUS_ONE = 1024 + 1 - KEY_BYTES - 1  # payload of an item of 1,025 bytes


# -- sizes ---------------------------------------------------------------------------------------

def test_item_sizes_follow_the_documented_rules() -> None:
    # strings: UTF-8 bytes of name and value ("ä" is 2 bytes)
    assert meter.item_size({"Name": {"S": "Bär"}}) == 4 + 4
    # numbers: 1 byte per two significant digits + 1; leading/trailing zeros trimmed
    assert meter.number_size("7") == 2
    assert meter.number_size("12345") == 4
    assert meter.number_size("1000") == 2
    assert meter.number_size("-0.00123") == 3
    # binary: raw bytes, not the base64 text; booleans and nulls 1 byte
    assert meter.item_size({"B": {"B": "AAEC"}, "t": {"BOOL": True}, "n": {"NULL": True}}) == (
        1 + 3) + (1 + 1) + (1 + 1)
    # a map: 3 bytes, plus per element 1 byte, its name and its value
    assert meter.item_size({"m": {"M": {"a": {"S": "xy"}, "b": {"N": "5"}}}}) == (
        1 + 3 + (1 + 1 + 2) + (1 + 1 + 2))
    # a list: 3 bytes plus 1 byte and the size of each element; sets: their members
    assert meter.item_size({"l": {"L": [{"S": "a"}, {"BOOL": False}]}}) == 1 + 3 + 2 + 2
    assert meter.item_size({"s": {"SS": ["ab", "c"]}}) == 1 + 3


def test_units_round_up_per_kb_for_writes_and_per_4_kb_for_reads() -> None:
    assert [meter.write_units(s) for s in (0, 1, 1024, 1025, 2048, 2049)] == [1, 1, 1, 2, 2, 3]
    assert meter.read_half_units(4096, consistent=False) == 1  # 0.5 unit
    assert meter.read_half_units(4097, consistent=True) == 4  # 2 units
    assert meter.read_half_units(100, consistent=True, transactional=True) == 4  # 2 units
    assert meter.read_half_units(0, consistent=False) == 1  # nothing read: the minimum


# -- writes --------------------------------------------------------------------------------------

def test_an_item_of_1_kb_and_1_byte_costs_2_write_units(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    METER.mark("t")
    ddb.put_item(TableName=TABLE, Item=item("a", KB_PLUS_ONE))
    ddb.put_item(TableName=TABLE, Item=item("b", KB_PLUS_ONE - 1))  # exactly 1 KB
    assert units(since("t")) == (0, 2 + 1)


def test_a_transactional_write_of_two_items_costs_4(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    METER.mark("t")
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": item("t1", 10)}},
        {"Put": {"TableName": TABLE, "Item": item("t2", 10)}}])
    assert units(since("t")) == (0, 4)


def test_a_conditional_write_that_fails_still_costs(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item=item("big", KB_PLUS_ONE))
    METER.mark("t")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=TABLE, Item=item("big", 1),
                     ConditionExpression="attribute_not_exists(pk)")
    # the existing item's size: 1,025 bytes, 2 units
    assert units(since("t")) == (0, 2)
    METER.mark("t")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "absent"}},
                        UpdateExpression="SET v = :v", ConditionExpression="attribute_exists(pk)",
                        ExpressionAttributeValues={":v": {"S": "x"}})
    # no item there: the minimum, 1 unit
    assert units(since("t")) == (0, 1)


def test_a_cancelled_transaction_costs_its_failed_conditions_doubled(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item=item("held", 10))
    METER.mark("t")
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": item("new", 10)}},
            {"Put": {"TableName": TABLE, "Item": item("held", 10),
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    assert units(since("t")) == (0, 2 * 1 + 2 * 1)


def test_update_costs_the_larger_of_before_and_after_and_delete_the_item_deleted(
        aws: Any) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item=item("u", 3000))  # 3,007 bytes: 3 units
    METER.mark("t")
    ddb.update_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "u"}},
                    UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "x"}})
    assert units(since("t")) == (0, 3)  # before: 3,007 bytes; after: 8
    METER.mark("t")
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "u"}})
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "none"}})
    assert units(since("t")) == (0, 1 + 1)


def test_batch_write_item_rounds_each_item_on_its_own(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    METER.mark("t")
    ddb.batch_write_item(RequestItems={TABLE: [
        {"PutRequest": {"Item": item(f"b{i}", 600)}} for i in range(3)]})
    # 3 x 609 bytes = 1,827: 2 units if added first, 3 when each is rounded up on its own
    assert units(since("t")) == (0, 3)


# -- reads ---------------------------------------------------------------------------------------

def test_query_reads_the_total_size_of_the_items_it_read_rounded_up_once(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    for i in range(3):  # 3 x 2,007 bytes = 6,021 bytes: two 4 KB blocks
        ddb.put_item(TableName=TABLE, Item=item(f"q{i}", 2000, pk="query"))
    key = {"KeyConditionExpression": "pk = :p",
           "ExpressionAttributeValues": {":p": {"S": "query"}}}
    METER.mark("t")
    assert ddb.query(TableName=TABLE, **key)["Count"] == 3
    assert units(since("t")) == (1.0, 0)  # eventually consistent: 2 blocks x 0.5
    METER.mark("t")
    ddb.query(TableName=TABLE, ConsistentRead=True, **key)
    assert units(since("t")) == (2.0, 0)
    METER.mark("t")
    # A filter that keeps nothing and a projection do not make the read cheaper.
    answer = ddb.query(TableName=TABLE, FilterExpression="v = :none", ProjectionExpression="sk",
                       KeyConditionExpression="pk = :p", ExpressionAttributeValues={
                           ":p": {"S": "query"}, ":none": {"S": "nothing"}})
    assert answer["Count"] == 0 and answer["ScannedCount"] == 3
    assert units(since("t")) == (1.0, 0)
    METER.mark("t")
    ddb.query(TableName=TABLE, Limit=1, **key)  # one item read: one block
    ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p",
              ExpressionAttributeValues={":p": {"S": "no such partition"}})
    assert units(since("t")) == (0.5 + 0.5, 0)


def test_get_items_cost_per_item_and_transactional_reads_double(aws: Any) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=TABLE, Item=item("g", 5000))  # 5,007 bytes: two blocks
    key = {"pk": {"S": "p"}, "sk": {"S": "g"}}
    METER.mark("t")
    ddb.get_item(TableName=TABLE, Key=key)
    ddb.get_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "absent"}})
    assert units(since("t")) == (1.0 + 0.5, 0)
    METER.mark("t")
    ddb.batch_get_item(RequestItems={TABLE: {"ConsistentRead": True, "Keys": [
        key, {"pk": {"S": "p"}, "sk": {"S": "absent"}}]}})
    assert units(since("t")) == (2.0 + 1.0, 0)
    METER.mark("t")
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    assert units(since("t")) == (4.0, 0)


def test_requests_signed_by_a_functions_role_are_counted_as_that_function(aws: Any) -> None:
    iam_client = aws.client("iam")
    role_arn = iam_client.create_role(RoleName="loader-role", AssumeRolePolicyDocument="{}")[
        "Role"]["Arn"]
    iam_client.put_role_policy(RoleName="loader-role", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
    keys = iam.function_credentials(account_id=ACCOUNT, region=REGION, role_arn=role_arn,
                                    function_name="the-loader")
    as_function = boto3.session.Session(
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"], region_name=REGION).client("dynamodb")
    METER.mark("t")
    as_function.put_item(TableName=TABLE, Item=item("f", 1))
    report = since("t")
    assert units(report, caller="the-loader") == (0, 1)
    assert units(report, caller="operator") == (0, 0)


# -- S3, SNS, Lambda, marks ----------------------------------------------------------------------

def test_s3_requests_are_counted_by_price_class(aws: Any) -> None:
    s3 = aws.client("s3")
    METER.mark("t")
    s3.create_bucket(Bucket="metered-bucket")                                # PUT
    s3.put_object(Bucket="metered-bucket", Key="a.csv", Body=b"x")           # PUT
    s3.copy_object(Bucket="metered-bucket", Key="b.csv",
                   CopySource={"Bucket": "metered-bucket", "Key": "a.csv"})  # COPY
    s3.list_objects_v2(Bucket="metered-bucket", Prefix="a")                  # LIST
    s3.get_object(Bucket="metered-bucket", Key="a.csv")                      # GET
    s3.head_object(Bucket="metered-bucket", Key="a.csv")                     # other
    s3.get_bucket_versioning(Bucket="metered-bucket")                        # other
    s3.delete_object(Bucket="metered-bucket", Key="a.csv")                   # free
    assert since("t")["s3"] == [{"bucket": "metered-bucket", "caller": "operator",
                                 "put_copy_post_list": 4, "get_and_other": 3, "delete": 1}]


def test_sns_publishes_count_64_kb_chunks_and_deliveries_count_per_protocol(aws: Any) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="metered")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="all@example.com")
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="berlin@example.com",
                  Attributes={"FilterPolicy": json.dumps({"store": ["Berlin"]})})
    METER.mark("t")
    sns.publish(TopicArn=topic, Message="short", MessageAttributes={
        "store": {"DataType": "String", "StringValue": "Paris"}})
    sns.publish(TopicArn=topic, Message="x" * (64 * 1024 + 1), MessageAttributes={
        "store": {"DataType": "String", "StringValue": "Berlin"}})
    report = since("t")
    assert report["sns_publishes"] == [{"topic": topic, "caller": "operator", "requests": 1 + 2}]
    # Paris reaches two subscriptions, Berlin three (the filtered one too)
    assert {(r["protocol"], r["deliveries"]) for r in report["sns_deliveries"]} == {
        ("email", 1 + 2), ("sms", 1 + 1)}


def record(memory_mb: int, duration_ms: float, *, ok: bool = True,
           throttled: bool = False) -> InvocationRecord:
    return InvocationRecord(function_name="fn", function_arn="arn:fn", memory_mb=memory_mb,
                            duration_ms=duration_ms, ok=ok, throttled=throttled,
                            finished_at=0.0)


def test_lambda_gb_seconds_are_memory_times_billed_duration() -> None:
    own = Meter(clock=lambda: 1_000.0)
    own.record_invocation(record(128, 100.2))  # billed 101 ms
    [row] = own.report()["lambda"]
    assert row["billed_ms"] == 101 and row["requests"] == 1
    assert row["gb_seconds"] == pytest.approx(0.125 * 0.101)  # 0.012625
    own.record_invocation(record(1024, 0.0, ok=False))  # an error is billed too: 1 ms minimum
    own.record_invocation(record(1024, 500, throttled=True))  # ran nothing: not billed
    [row] = own.report()["lambda"]
    assert (row["requests"], row["errors"], row["billed_ms"]) == (2, 1, 102)
    assert row["gb_seconds"] == pytest.approx(0.012625 + 0.001)


def test_a_report_since_a_mark_counts_only_what_came_after_it() -> None:
    now = [100.0]
    own = Meter(clock=lambda: now[0])
    own.dynamodb_write("t", "operator", 5)
    own.mark("m")
    now[0] = 160.0
    own.dynamodb_write("t", "operator", 2)
    own.dynamodb_read("t", "fn", 3)
    assert own.report()["dynamodb"] == [
        {"table": "t", "caller": "fn", "read_units": 1.5, "write_units": 0},
        {"table": "t", "caller": "operator", "read_units": 0.0, "write_units": 7}]
    since_mark = own.report(since="m")
    assert since_mark["dynamodb"] == [
        {"table": "t", "caller": "fn", "read_units": 1.5, "write_units": 0},
        {"table": "t", "caller": "operator", "read_units": 0.0, "write_units": 2}]
    assert (since_mark["since"], since_mark["from"], since_mark["to"]) == (
        "m", "1970-01-01T00:01:40+00:00", "1970-01-01T00:02:40+00:00")
    assert since_mark["marks"] == ["m"]
    with pytest.raises(UnknownMark):
        own.report(since="never set")


# -- the emulator's route ------------------------------------------------------------------------

def call_route(app: Any, method: str, query: str) -> tuple[str, dict[str, Any]]:
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    body = b"".join(app({"PATH_INFO": "/_inventory/meter", "REQUEST_METHOD": method,
                         "QUERY_STRING": query}, start_response))
    return answer["status"], json.loads(body)


def test_the_route_reports_since_a_mark_and_refuses_what_it_cannot_answer(
        tmp_path: Any) -> None:
    from inventory_cli.local.server import EmulatorApp
    from inventory_cli.local.state import EmulatorInfo

    own = Meter()
    info = EmulatorInfo(endpoint="http://127.0.0.1:1", pid=1, port=1, home=tmp_path,
                        started_at="2026-01-01T00:00:00+00:00")
    app = EmulatorApp(lambda environ, start: [b"moto"], info, dict, lambda timeout: True,
                      meter=own)
    own.dynamodb_write("t", "operator", 4)
    status, marked = call_route(app, "POST", "mark=after+load")
    assert status == "200 OK" and marked["mark"] == "after load"
    own.dynamodb_write("t", "operator", 1)
    status, report = call_route(app, "GET", "since=after%20load")
    assert status == "200 OK" and report["dynamodb"][0]["write_units"] == 1
    status, report = call_route(app, "GET", "")
    assert report["since"] == "start" and report["dynamodb"][0]["write_units"] == 5
    status, refused = call_route(app, "GET", "since=nope")
    assert status == "404 Not Found" and refused["marks"] == ["after load"]
    status, refused = call_route(app, "POST", "mark=")
    assert status == "400 Bad Request" and "a mark needs a name" in refused["error"]
    status, _ = call_route(app, "DELETE", "")
    assert status == "405 Method Not Allowed"
