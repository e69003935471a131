"""The stack the ops tests run against.

`stack` builds, by hand on in-process moto, just what the everyday commands touch, named by
`aws.names` as provisioning names them. It is the one place to swap for the real
`provision(aws, threshold=...)` once that lands.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames

THRESHOLD = 0

_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_src/__init__.py", "")
        archive.writestr("lambda_src/check_stock.py", "def lambda_handler(e, c):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture
def stack(aws: Aws) -> StackNames:
    names = aws.names
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=names.uploads_bucket)
    s3.put_bucket_versioning(Bucket=names.uploads_bucket,
                             VersioningConfiguration={"Status": "Enabled"})
    aws.client("dynamodb").create_table(
        TableName=names.table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "Store", "AttributeType": "S"},
                              {"AttributeName": "Item", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "Store", "KeyType": "HASH"},
                   {"AttributeName": "Item", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    topic_arn = aws.client("sns").create_topic(Name=names.topic)["TopicArn"]
    assert topic_arn == names.topic_arn
    role = aws.client("iam").create_role(RoleName=names.check_role,
                                         AssumeRolePolicyDocument=json.dumps(_TRUST))
    aws.client("lambda").create_function(
        FunctionName=names.check_function, Runtime="python3.11",
        Role=role["Role"]["Arn"], Handler="lambda_src.check_stock.lambda_handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"ALERT_TOPIC_ARN": topic_arn,
                                   "LOW_STOCK_THRESHOLD": str(THRESHOLD)}})
    logs = aws.client("logs")
    for group in (names.check_log_group, names.load_log_group):
        logs.create_log_group(logGroupName=group)
    return names
