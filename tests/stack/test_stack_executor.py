"""What real AWS does and moto does not: AddPermission before notify, functions Active before an
update. (Transient answers and their retries: test_stack_transient.py.)"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory_cli.aws import Aws
from inventory_cli.stack.provision import provision


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
    # The uploads bucket's, then the failures bucket's (the announcer's), each after its
    # permission.
    assert order == ["AddPermission", "PutBucketNotificationConfiguration",
                     "AddPermission", "PutBucketNotificationConfiguration"]

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
