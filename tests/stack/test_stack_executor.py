"""What real AWS does and moto does not: role propagation delay, AddPermission before notify."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.stack.errors import StepFailed
from inventory_cli.stack.executor import ROLE_RETRY_DELAYS, Executor, backoff_delays
from inventory_cli.stack.instructions import APICall, Plan
from inventory_cli.stack.provision import provision

ROLE_NOT_READY = "The role defined for the function cannot be assumed by Lambda."
CREATE = APICall("load-function", "lambda", "create_function",
                 {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
                  "Code": {"ZipFile": b"zip"}},
                 "create function f", creates=True, retry_while_role_propagates=True)


def _stubbed_lambda() -> tuple[Any, Stubber]:
    client = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x",
                                   region_name="us-east-1").client("lambda")
    return client, Stubber(client)


def _executor(client: Any, sleeps: list[float]) -> Executor:
    return Executor(lambda service: client, console=Console(quiet=True), sleep=sleeps.append)


def test_role_not_yet_assumable_is_retried_then_succeeds() -> None:
    client, stub = _stubbed_lambda()
    for _ in range(3):
        stub.add_client_error("create_function", "InvalidParameterValueException", ROLE_NOT_READY,
                              400)
    stub.add_response("create_function", {"FunctionName": "f"})
    sleeps: list[float] = []
    with stub:
        report = _executor(client, sleeps).execute(Plan((CREATE,)))
    stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0, 4.0]
    assert report.role_retries == 3
    assert report.applied == [CREATE]


def test_role_retries_are_bounded_to_about_150_seconds() -> None:
    client, stub = _stubbed_lambda()
    for _ in range(len(ROLE_RETRY_DELAYS) + 1):
        stub.add_client_error("create_function", "InvalidParameterValueException", ROLE_NOT_READY,
                              400)
    sleeps: list[float] = []
    with stub, pytest.raises(StepFailed, match="cannot be assumed by Lambda"):
        _executor(client, sleeps).execute(Plan((CREATE,)))
    stub.assert_no_pending_responses()
    assert 140 <= sum(sleeps) <= 150
    assert max(sleeps) == 15.0
    assert backoff_delays(total=10, first=1, cap=4) == (1, 2, 4)


def test_other_errors_are_not_retried() -> None:
    client, stub = _stubbed_lambda()
    stub.add_client_error("create_function", "InvalidParameterValueException",
                          "Unzipped size must be smaller than 262144000 bytes", 400)
    sleeps: list[float] = []
    with stub, pytest.raises(StepFailed) as failed:
        _executor(client, sleeps).execute(Plan((CREATE,)))
    assert sleeps == []
    assert failed.value.message == (
        "step 1 of 1 failed (create function f): InvalidParameterValueException: "
        "Unzipped size must be smaller than 262144000 bytes")


def _aws_like_notification_check(session: boto3.session.Session) -> list[str]:
    """Make moto refuse a Lambda notification target without S3 permission, as AWS does."""
    order: list[str] = []
    lam = session.client("lambda")

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "AddPermission" and params.get("Principal") != "s3.amazonaws.com":
            return  # the store upload function's public URL permission: not S3's
        order.append(model.name)
        if model.name != "PutBucketNotificationConfiguration":
            return
        for target in params["NotificationConfiguration"].get("LambdaFunctionConfigurations", []):
            try:
                policy = json.loads(lam.get_policy(FunctionName=target["LambdaFunctionArn"])[
                    "Policy"])
            except ClientError:
                policy = {"Statement": []}
            if not any(s["Principal"] == {"Service": "s3.amazonaws.com"}
                       for s in policy["Statement"]):
                raise ClientError({"Error": {
                    "Code": "InvalidArgument",
                    "Message": "Unable to validate the following destination configurations"}},
                    model.name)

    session.events.register("before-parameter-build.s3.PutBucketNotificationConfiguration",
                            check)
    session.events.register("before-parameter-build.lambda.AddPermission", check)
    return order


def test_add_permission_precedes_the_bucket_notification(session: boto3.session.Session) -> None:
    order = _aws_like_notification_check(session)
    aws = Aws(session, stack="shop")
    provision(aws, sleep=lambda _: None)
    assert order == ["AddPermission", "PutBucketNotificationConfiguration"]

    # The check is real: the same notification without the permission is refused.
    session.client("lambda").remove_permission(FunctionName=aws.names.load_function,
                                               StatementId="s3-uploads-invoke")
    with pytest.raises(ClientError, match="Unable to validate"):
        session.client("s3").put_bucket_notification_configuration(
            Bucket=aws.names.uploads_bucket, NotificationConfiguration={
                "LambdaFunctionConfigurations": [{
                    "LambdaFunctionArn": f"arn:aws:lambda:us-east-1:{aws.account_id}:function:"
                                         f"{aws.names.load_function}",
                    "Events": ["s3:ObjectCreated:*"]}]})


def test_waits_for_functions_before_updating_them(session: boto3.session.Session) -> None:
    aws = Aws(session, stack="shop")
    provision(aws, threshold=0, sleep=lambda _: None)
    plan = provision(Aws(session, stack="shop"), threshold=5, dry_run=True).plan
    steps = [(type(s).__name__, getattr(s, "method", getattr(s, "waiter", ""))) for s in plan.steps]
    assert steps[:2] == [("APICall", "update_function_configuration"),
                         ("Wait", "function_updated_v2")]
    fresh = provision(Aws(session, stack="other"), dry_run=True).plan
    methods = [getattr(s, "method", getattr(s, "waiter", "")) for s in fresh.steps]
    create = methods.index("create_function")
    assert methods[create + 1] == "function_active_v2"
