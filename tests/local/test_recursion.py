"""Recursive loop detection on a real emulator process, as Lambda does it.

A function that feeds itself, half of its hops through its own bucket (an S3 event) and half
through a direct asynchronous Invoke (or, in another test, through an SNS topic it is
subscribed to), runs 16 times in one chain; the 17th invocation is stopped
and its event kept in the on-failure destination. With the function's recursion config set to
Allow (by another client) the chain goes on. The chain travels as AWS's does: in the trace
header the function's SDK sends on every call.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from inventory_cli.local import lambda_bootstrap, lambda_lineage
from inventory_cli.local.emulator import EmulatorInfo, wait_until_idle
from inventory_cli.local.lambda_lineage import MAX_CHAIN_INVOCATIONS, Lineage

Clients = Callable[[str], Any]

# Each hop records itself under seen/<n> (not a trigger) and starts hop n+1: odd hops by an
# asynchronous Invoke of itself, even hops by writing loop/<n+1>, which triggers it through S3.
LOOP_HANDLER = textwrap.dedent('''
    import json, os
    from urllib.parse import unquote_plus
    import boto3

    def handler(event, context):
        s3, lam = boto3.client("s3"), boto3.client("lambda")
        if "Records" in event:
            n = int(unquote_plus(event["Records"][0]["s3"]["object"]["key"]).split("/")[-1])
        else:
            n = event["n"]
        bucket = os.environ["BUCKET"]
        s3.put_object(Bucket=bucket, Key=f"seen/{n}", Body=os.environ["_X_AMZN_TRACE_ID"])
        if n >= int(os.environ["LAST"]):
            return "done"
        if n % 2:
            lam.invoke(FunctionName=context.invoked_function_arn, InvocationType="Event",
                       Payload=json.dumps({"n": n + 1}))
        else:
            s3.put_object(Bucket=bucket, Key=f"loop/{n + 1}", Body=b"")
        return n
''')


# Each hop records itself under seen/<n> and publishes n+1 to the topic it is subscribed to.
SNS_LOOP_HANDLER = textwrap.dedent('''
    import os
    import boto3

    def handler(event, context):
        n = int(event["Records"][0]["Sns"]["Message"])
        boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=f"seen/{n}", Body=b"")
        if n < int(os.environ["LAST"]):
            boto3.client("sns").publish(TopicArn=os.environ["TOPIC"], Message=str(n + 1))
''')


@pytest.fixture(scope="module")
def loop_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("loop.py", LOOP_HANDLER)
        archive.writestr("sns_loop.py", SNS_LOOP_HANDLER)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def other_lambda(emulator: EmulatorInfo) -> Any:
    """Someone else's Lambda client: the one who changes the recursion config."""
    return boto3.session.Session(
        aws_access_key_id="other", aws_secret_access_key="other", region_name="us-east-1",
    ).client("lambda", endpoint_url=emulator.endpoint)


def _loop(clients: Clients, role: str, code: bytes, name: str, *, last: int) -> tuple[str, str]:
    """A looping function, its bucket (trigger: loop/) and its failures bucket."""
    s3 = clients("s3")
    bucket, failures = f"{name}-bucket", f"{name}-failures"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=failures)
    arn: str = clients("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="loop.handler",
        Code={"ZipFile": code}, Timeout=30,
        Environment={"Variables": {"BUCKET": bucket, "LAST": str(last)}})["FunctionArn"]
    clients("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{failures}"}})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "loop/"}]}}}]})
    return bucket, failures


def _keys(clients: Clients, bucket: str, prefix: str) -> list[str]:
    listing = clients("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [o["Key"] for o in listing]


def _hops(clients: Clients, bucket: str) -> list[int]:
    return sorted(int(k.split("/")[-1]) for k in _keys(clients, bucket, "seen/"))


def _kept(clients: Clients, bucket: str) -> list[dict[str, Any]]:
    s3 = clients("s3")
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            for k in _keys(clients, bucket, "")]


def test_a_loop_stops_after_16_invocations_and_the_stopped_event_is_kept(
        clients: Clients, role_arn: str, loop_zip: bytes, emulator: EmulatorInfo) -> None:
    name = "loop-stops"
    bucket, failures = _loop(clients, role_arn, loop_zip, name, last=40)
    assert clients("lambda").get_function_recursion_config(
        FunctionName=name)["RecursiveLoop"] == "Terminate"  # Lambda's default

    clients("s3").put_object(Bucket=bucket, Key="loop/1", Body=b"")
    assert wait_until_idle(emulator, 120)

    assert _hops(clients, bucket) == list(range(1, MAX_CHAIN_INVOCATIONS + 1))
    # Every hop ran in one chain: the same root, its own count one higher each time.
    headers = [clients("s3").get_object(Bucket=bucket, Key=f"seen/{n}")["Body"].read().decode()
               for n in (1, 2, 16)]
    chains = [lambda_lineage.parse(h) for h in headers]
    assert len({c.root for c in chains if c}) == 1
    assert [c.count(f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
            for c in chains if c] == [1, 2, 16]
    [record] = _kept(clients, failures)
    context = record["requestContext"]
    assert context["condition"] == "RecursiveInvocationException"
    assert context["approximateInvokeCount"] == 0  # it never ran
    assert record["responsePayload"]["errorType"] == "RecursiveInvocationException"
    assert "Terminate" in record["responsePayload"]["errorMessage"]
    # The kept event is the 17th hop's own: the S3 event of loop/17 (hop 16 is even).
    [event] = record["requestPayload"]["Records"]
    assert event["s3"]["bucket"]["name"] == bucket
    assert event["s3"]["object"]["key"] == "loop%2F17"  # URL-encoded, as S3 sends keys


def test_with_allow_set_by_another_client_the_loop_goes_on_and_terminate_stops_it_again(
        clients: Clients, role_arn: str, loop_zip: bytes, emulator: EmulatorInfo,
        other_lambda: Any) -> None:
    name = "loop-allowed"
    last = MAX_CHAIN_INVOCATIONS + 6
    bucket, failures = _loop(clients, role_arn, loop_zip, name, last=last)
    answer = other_lambda.put_function_recursion_config(FunctionName=name,
                                                        RecursiveLoop="Allow")
    assert answer["RecursiveLoop"] == "Allow"
    assert clients("lambda").get_function_recursion_config(
        FunctionName=name)["RecursiveLoop"] == "Allow"

    clients("s3").put_object(Bucket=bucket, Key="loop/1", Body=b"")
    assert wait_until_idle(emulator, 120)
    assert _hops(clients, bucket) == list(range(1, last + 1))
    assert _kept(clients, failures) == []

    # Back to Terminate from outside: a new chain stops at 16 again.
    other_lambda.put_function_recursion_config(FunctionName=name, RecursiveLoop="Terminate")
    for key in _keys(clients, bucket, "seen/"):
        clients("s3").delete_object(Bucket=bucket, Key=key)
    clients("s3").put_object(Bucket=bucket, Key="loop/1", Body=b"")
    assert wait_until_idle(emulator, 120)
    assert _hops(clients, bucket) == list(range(1, MAX_CHAIN_INVOCATIONS + 1))
    [record] = _kept(clients, failures)
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"


def test_a_loop_through_an_sns_topic_stops_after_16_invocations(
        clients: Clients, role_arn: str, loop_zip: bytes, emulator: EmulatorInfo) -> None:
    name = "loop-sns"
    s3, sns = clients("s3"), clients("sns")
    bucket, failures = f"{name}-bucket", f"{name}-failures"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=failures)
    topic = sns.create_topic(Name=name)["TopicArn"]
    arn = clients("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="sns_loop.handler",
        Code={"ZipFile": loop_zip}, Timeout=30, Environment={"Variables": {
            "BUCKET": bucket, "LAST": "40", "TOPIC": topic}})["FunctionArn"]
    clients("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{failures}"}})
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)

    sns.publish(TopicArn=topic, Message="1")
    assert wait_until_idle(emulator, 120)
    assert _hops(clients, bucket) == list(range(1, MAX_CHAIN_INVOCATIONS + 1))
    [record] = _kept(clients, failures)
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"
    assert record["requestPayload"]["Records"][0]["Sns"]["Message"] == "17"


def test_a_synchronous_invoke_in_a_long_chain_answers_recursive_invocation_exception(
        clients: Clients, role_arn: str, probe_zip: bytes, other_lambda: Any) -> None:
    name = "loop-sync"
    arn = clients("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="probe.handler",
        Code={"ZipFile": probe_zip}, Timeout=30)["FunctionArn"]
    chain = Lineage()
    for _ in range(MAX_CHAIN_INVOCATIONS - 1):
        chain = chain.after(arn)
    caller = boto3.session.Session(
        aws_access_key_id="caller", aws_secret_access_key="caller", region_name="us-east-1",
    ).client("lambda", endpoint_url=clients("lambda").meta.endpoint_url)
    headers = {"value": chain.header()}

    def add_trace(request: Any, **_: Any) -> None:
        request.headers[lambda_lineage.TRACE_HEADER] = headers["value"]

    caller.meta.events.register("before-sign.lambda.Invoke", add_trace)
    # The 16th invocation of the chain runs; its handler sees the chain in _X_AMZN_TRACE_ID.
    ran = caller.invoke(FunctionName=name, Payload=json.dumps({"action": "env"}))
    env = json.loads(ran["Payload"].read())["env"]
    assert lambda_lineage.parse(env[lambda_bootstrap.TRACE_ENV]).count(arn) == 16
    headers["value"] = chain.after(arn).header()
    with pytest.raises(caller.exceptions.RecursiveInvocationException):
        caller.invoke(FunctionName=name, Payload=json.dumps({"action": "echo"}))
    other_lambda.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert "FunctionError" not in caller.invoke(FunctionName=name,
                                                Payload=json.dumps({"action": "echo"}))


def test_the_recursion_config_is_validated_and_unknown_functions_are_not_found(
        clients: Clients) -> None:
    lam = clients("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_recursion_config(FunctionName="no-such-function")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_function_recursion_config(FunctionName="no-such-function",
                                          RecursiveLoop="Allow")


def test_the_trace_header_round_trips_and_foreign_headers_start_no_count() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    chain = Lineage().after(arn).after(arn).after("arn:aws:lambda:us-east-1:1:function:g")
    parsed = lambda_lineage.parse(quote(chain.header(), safe="-=;:+&[]{}\"',"))  # as botocore
    assert parsed is not None and parsed.root == chain.root and parsed.counts == chain.counts
    assert parsed.count(arn) == 2 and parsed.count(f"{arn}:$LATEST") == 2  # qualified: same
    assert lambda_lineage.parse(None) is None
    assert lambda_lineage.parse("Sampled=1") is None  # no root: not a chain
    foreign = lambda_lineage.parse("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=zz:x")
    assert foreign is not None and foreign.count(arn) == 0
