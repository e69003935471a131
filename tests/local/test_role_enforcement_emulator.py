"""What Lambda does with a function's execution role, on a real emulator process.

The function runs with the role's temporary credentials and its calls are checked against the
role at the time of each call; Lambda's own work for the function (reading a stream for its
mapping, writing an on-failure record, writing its log) is checked against the role too; a
presigned POST acts as the role of the key that signed it.
"""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from local_helpers import build_zip, until

from inventory_cli.local.emulator import EmulatorInfo, wait_until_idle
from inventory_cli.stack.resources import TABLE_SCHEMA

Clients = Callable[[str], Any]
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]})
LOGS = {"Sid": "Logs", "Effect": "Allow", "Resource": "*",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}

CALLER = textwrap.dedent('''
    import os, boto3
    from botocore.exceptions import ClientError

    def handler(event, context):
        if event.get("fail"):
            raise RuntimeError("failing on purpose")
        ddb = boto3.client("dynamodb")
        outcomes = {}
        for table in event.get("tables", []):
            try:
                ddb.put_item(TableName=table, Item={"Store": {"S": "s"}, "Item": {"S": "i"}})
                outcomes[table] = "ok"
            except ClientError as exc:
                outcomes[table] = exc.response["Error"]["Code"]
        print("called", sorted(outcomes.items()))
        return {"caller": boto3.client("sts").get_caller_identity()["Arn"],
                "key": os.environ["AWS_ACCESS_KEY_ID"], "outcomes": outcomes}
''')


def _role(clients: Clients, name: str, *statements: dict[str, Any]) -> str:
    arn: str = clients("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)[
        "Role"]["Arn"]
    _policy(clients, name, *statements)
    return arn


def _policy(clients: Clients, role: str, *statements: dict[str, Any]) -> None:
    """Replace the role's one inline policy, from outside (the operator's client)."""
    clients("iam").put_role_policy(RoleName=role, PolicyName="main", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))


def _function(clients: Clients, name: str, role: str, *, handler: str, code: bytes,
              env: dict[str, str] | None = None) -> str:
    arn: str = clients("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler=handler,
        Code={"ZipFile": code}, Timeout=20,
        Environment={"Variables": env or {}})["FunctionArn"]
    return arn


def _invoke(clients: Clients, name: str, event: dict[str, Any]) -> Any:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def _table(clients: Clients, name: str) -> str:
    arn: str = clients("dynamodb").create_table(TableName=name, **TABLE_SCHEMA)[
        "TableDescription"]["TableArn"]
    return arn


def _log_lines(clients: Clients, function: str) -> list[str]:
    logs = clients("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"] for e in events]


def test_a_function_acts_as_its_role_and_a_policy_change_applies_to_its_next_call(
        emulator: EmulatorInfo, clients: Clients) -> None:
    tag = uuid.uuid4().hex[:8]
    allowed, other = _table(clients, f"allowed-{tag}"), _table(clients, f"other-{tag}")
    put_allowed = {"Sid": "Put", "Effect": "Allow", "Action": "dynamodb:PutItem",
                   "Resource": allowed}
    role = _role(clients, f"caller-{tag}", LOGS, put_allowed)
    _function(clients, f"caller-{tag}", role, handler="caller.handler",
              code=build_zip({"caller.py": CALLER}))
    tables = {"tables": [f"allowed-{tag}", f"other-{tag}"]}

    answer = _invoke(clients, f"caller-{tag}", tables)
    assert answer["caller"] == (
        f"arn:aws:sts::123456789012:assumed-role/caller-{tag}/caller-{tag}")
    assert answer["key"].startswith("ASIA")  # STS's temporary keys, not a fixed one
    assert answer["outcomes"] == {f"allowed-{tag}": "ok",
                                  f"other-{tag}": "AccessDeniedException"}

    _policy(clients, f"caller-{tag}", LOGS, {**put_allowed, "Resource": [allowed, other]})
    assert _invoke(clients, f"caller-{tag}", tables)["outcomes"] == {
        f"allowed-{tag}": "ok", f"other-{tag}": "ok"}
    _policy(clients, f"caller-{tag}", LOGS)
    assert _invoke(clients, f"caller-{tag}", tables)["outcomes"] == {
        f"allowed-{tag}": "AccessDeniedException", f"other-{tag}": "AccessDeniedException"}


def test_a_function_without_log_permissions_runs_but_its_log_is_lost(
        emulator: EmulatorInfo, clients: Clients) -> None:
    tag = uuid.uuid4().hex[:8]
    role = _role(clients, f"quiet-{tag}", {"Sid": "Nothing", "Effect": "Allow",
                                           "Action": "sns:ListTopics", "Resource": "*"})
    _function(clients, f"quiet-{tag}", role, handler="caller.handler",
              code=build_zip({"caller.py": CALLER}))
    assert _invoke(clients, f"quiet-{tag}", {})["outcomes"] == {}
    assert _log_lines(clients, f"quiet-{tag}") == []
    _policy(clients, f"quiet-{tag}", LOGS)
    _invoke(clients, f"quiet-{tag}", {})
    assert any(line.startswith("called []") for line in _log_lines(clients, f"quiet-{tag}"))


def test_stream_records_wait_until_the_role_may_read_the_stream(
        emulator: EmulatorInfo, clients: Clients, stream_zip: bytes, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    table = f"streamed-{tag}"
    _table(clients, table)
    stream_arn = clients("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    reads = {"Sid": "ReadStream", "Effect": "Allow",
             "Resource": f"{stream_arn.split('/stream/')[0]}/stream/*",
             "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator"]}
    list_streams = {"Sid": "ListStreams", "Effect": "Allow", "Action": "dynamodb:ListStreams",
                    "Resource": "*"}
    role = _role(clients, f"reader-{tag}", LOGS, list_streams)  # no stream reads yet
    records = tmp_path / "records.jsonl"
    _function(clients, f"reader-{tag}", role, handler="stream.handler", code=stream_zip,
              env={"RECORD_FILE": str(records)})

    def create_mapping() -> Any:
        return clients("lambda").create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=f"reader-{tag}",
            StartingPosition="LATEST", BatchSize=10)

    # Lambda checks the role when the mapping is made.
    with pytest.raises(ClientError) as refused:
        create_mapping()
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"].startswith(
        f"Cannot access stream {stream_arn}. Please ensure the role can perform the "
        "GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions")
    _policy(clients, f"reader-{tag}", LOGS, list_streams, reads)
    create_mapping()
    _policy(clients, f"reader-{tag}", LOGS, list_streams)  # then broken from outside
    for item in ("a", "b", "c"):
        clients("dynamodb").put_item(TableName=table, Item={"Store": {"S": "s"},
                                                            "Item": {"S": item}})
    assert wait_until_idle(emulator, 30)
    assert not records.exists()  # Lambda's poller may not read the stream with this role

    _policy(clients, f"reader-{tag}", LOGS, list_streams, reads)  # repaired from outside
    until(records.exists)
    assert wait_until_idle(emulator, 30)
    delivered = [key.split(":")[1] for line in records.read_text().splitlines()
                 for key in json.loads(line)]
    assert delivered == ["a", "b", "c"]  # nothing lost, nothing twice, in order


def test_an_s3_failure_destination_needs_put_object_and_list_bucket(
        emulator: EmulatorInfo, clients: Clients) -> None:
    tag = uuid.uuid4().hex[:8]
    bucket = f"kept-{tag}"
    clients("s3").create_bucket(Bucket=bucket)
    put = {"Sid": "Put", "Effect": "Allow", "Action": "s3:PutObject",
           "Resource": f"arn:aws:s3:::{bucket}/*"}
    listing = {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket",
               "Resource": f"arn:aws:s3:::{bucket}"}
    role = _role(clients, f"keeper-{tag}", LOGS, put)
    _function(clients, f"keeper-{tag}", role, handler="caller.handler",
              code=build_zip({"caller.py": CALLER}))
    clients("lambda").put_function_event_invoke_config(
        FunctionName=f"keeper-{tag}", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})

    def fail_and_count() -> int:
        clients("lambda").invoke(FunctionName=f"keeper-{tag}", InvocationType="Event",
                                 Payload=json.dumps({"fail": True, "tag": tag}).encode())
        assert wait_until_idle(emulator, 30)
        return int(clients("s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0))

    assert fail_and_count() == 0  # PutObject alone is not enough for Lambda
    _policy(clients, f"keeper-{tag}", LOGS, put, listing)
    assert fail_and_count() == 1
    _policy(clients, f"keeper-{tag}", LOGS, listing)
    assert fail_and_count() == 1


def _post(url: str, fields: dict[str, str], body: bytes) -> int:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="x.csv"\r\nContent-Type: text/csv\r\n\r\n'.encode() + body
                 + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(url, data=b"".join(parts), method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - local
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_presigned_post_acts_as_the_role_that_signed_it(
        emulator: EmulatorInfo, clients: Clients) -> None:
    tag = uuid.uuid4().hex[:8]
    bucket = f"posts-{tag}"
    clients("s3").create_bucket(Bucket=bucket)
    role = _role(clients, f"poster-{tag}", {
        "Sid": "Stores", "Effect": "Allow", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/stores/*"})
    credentials = clients("sts").assume_role(RoleArn=role, RoleSessionName="poster")[
        "Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name="us-east-1")
    # The store endpoint signs with SigV4 (x-amz-credential); botocore's default is SigV2
    # (AWSAccessKeyId): the role of the signing key is found either way.
    for s3 in (session.client("s3", endpoint_url=emulator.endpoint,
                              config=Config(signature_version="s3v4")),
               session.client("s3", endpoint_url=emulator.endpoint)):
        def post(key: str, s3: Any = s3) -> int:
            signed = s3.generate_presigned_post(Bucket=bucket, Key=key, ExpiresIn=300)
            return _post(signed["url"], signed["fields"], b"store,item,count\n")

        assert post("stores/berlin/in.csv") == 204
        assert post("elsewhere/in.csv") == 403
    keys = [o["Key"] for o in clients("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["stores/berlin/in.csv"]


def test_a_presigned_url_acts_as_the_role_that_signed_it(
        emulator: EmulatorInfo, clients: Clients) -> None:
    tag = uuid.uuid4().hex[:8]
    bucket = f"reads-{tag}"
    clients("s3").create_bucket(Bucket=bucket)
    for key in ("reports/a.json", "private/b.json"):
        clients("s3").put_object(Bucket=bucket, Key=key, Body=b"{}")
    role = _role(clients, f"reader-url-{tag}", {
        "Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/reports/*"})
    credentials = clients("sts").assume_role(RoleArn=role, RoleSessionName="reader")[
        "Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name="us-east-1")
    for version in ("s3v4", "s3"):
        s3 = session.client("s3", endpoint_url=emulator.endpoint,
                            config=Config(signature_version=version))

        def status(key: str, s3: Any = s3) -> int:
            url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - local
                    return int(answer.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)

        assert (status("reports/a.json"), status("private/b.json")) == (200, 403), version
