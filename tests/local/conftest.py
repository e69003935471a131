"""Fixtures of the local emulator's tests: handler zips and function specs built in the test."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import textwrap
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from local_helpers import build_zip

from inventory_cli.local.emulator import EmulatorInfo, start_private
from inventory_cli.local.lambda_worker import RuntimeFunction

# An emulator process of the module's own (free port, own state folder) serves the tests of a
# module that asks for `emulator`; each test there uses its own resource names.


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    home = tmp_path_factory.mktemp("emulator-home")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # A variable functions must not see (test_emulator_server checks that they do not).
    environ["INVENTORY_TEST_EMULATOR_ONLY"] = "the server's own environment"
    with start_private(home, environ=environ) as info:
        yield info


@pytest.fixture(scope="module")
def clients(emulator: EmulatorInfo) -> Callable[[str], Any]:
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name="us-east-1")
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=emulator.endpoint)
        return cache[service]

    return client


@pytest.fixture(scope="module")
def role_arn(clients: Callable[[str], Any]) -> str:
    arn: str = clients("iam").create_role(
        RoleName="test-function-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    # The emulator enforces execution roles: this one may do what the probe functions and
    # Lambda itself do with it here (write logs, read streams, keep failures, use the tables
    # and topics of the tests), all within the test's own account.
    clients("iam").put_role_policy(
        RoleName="test-function-role", PolicyName="test-functions", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": "*",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                           "dynamodb:*", "s3:*", "sns:Publish", "lambda:InvokeFunction"]}]}))
    return arn


# A handler for most tests: what it does is chosen by the event, so one zip serves many cases.
PROBE_HANDLER = textwrap.dedent('''
    import json, logging, os, sys, time

    logger = logging.getLogger()
    logger.setLevel(logging.INFO)
    CALLS = 0

    def handler(event, context):
        global CALLS
        CALLS += 1
        action = event.get("action", "echo")
        if action == "echo":
            print("echo", json.dumps(event, sort_keys=True))
            logger.info("logged at info")
            return {"event": event, "calls": CALLS, "pid": os.getpid(),
                    "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 60000,
                    "request_id": context.aws_request_id}
        if action == "env":
            return {"env": dict(os.environ)}
        if action == "fail":
            raise ValueError("the handler failed on purpose")
        if action == "sleep":
            time.sleep(event["seconds"])
            return "slept"
        if action == "exit":
            os._exit(3)
        if action == "unserialisable":
            return {1, 2}
        raise AssertionError(action)
''')

# A stream handler that appends what it received to a file and fails records on request:
# FAIL_ONCE lists keys whose first delivery is reported in batchItemFailures.
STREAM_HANDLER = textwrap.dedent('''
    import json, os

    def handler(event, context):
        path = os.environ["RECORD_FILE"]
        marker = os.environ["RECORD_FILE"] + ".failed"
        fail_once = set(filter(None, os.environ.get("FAIL_ONCE", "").split(",")))
        failed_before = set(open(marker).read().split()) if os.path.exists(marker) else set()
        failures = []
        with open(path, "a") as out:
            out.write(json.dumps([r["dynamodb"]["SequenceNumber"] + ":"
                                  + r["dynamodb"]["Keys"]["Item"]["S"]
                                  for r in event["Records"]]) + "\\n")
        for record in event["Records"]:
            key = record["dynamodb"]["Keys"]["Item"]["S"]
            if key in fail_once and key not in failed_before:
                failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
                with open(marker, "a") as m:
                    m.write(key + "\\n")
        if os.environ.get("ALWAYS_FAIL"):
            raise RuntimeError("stream handler always fails")
        return {"batchItemFailures": failures}
''')


def spec_for(code: bytes, *, name: str = "probe", handler: str = "probe.handler",
             environment: Mapping[str, str] | None = None, timeout_s: float = 10.0,
             **extra: Any) -> RuntimeFunction:
    return RuntimeFunction(
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}", name=name,
        handler=handler, runtime="python3.12",
        # Like Lambda's CodeSha256: base64, so it can contain "/".
        code_sha256=base64.b64encode(hashlib.sha256(code).digest()).decode(),
        code=code, environment=dict(environment or {}), timeout_s=timeout_s, **extra)


@pytest.fixture
def probe_zip() -> bytes:
    return build_zip({"probe.py": PROBE_HANDLER})


@pytest.fixture
def stream_zip() -> bytes:
    return build_zip({"stream.py": STREAM_HANDLER})


@pytest.fixture
def make_spec() -> Callable[..., RuntimeFunction]:
    return spec_for


@pytest.fixture
def make_zip() -> Callable[[Mapping[str, str]], bytes]:
    return build_zip
