"""A continuation's checkpoint when S3 refuses it: AWS answers a missing key with 403
AccessDenied to a role without s3:ListBucket (Amazon S3 API reference, GetObject,
"Permissions"). The loader must tell a finished chain from a missing permission."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from lambda_helpers import Logs

from inventory_cli.config import StackNames
from inventory_cli.stack.resources import load_role_policy
from lambda_src import load_checkpoint
from lambda_src.continuation import CONTINUATION_FIELD
from lambda_src.inventory_csv import ReadPosition
from lambda_src.load_checkpoint import (
    CHECKPOINT_PREFIX,
    Checkpoint,
    CheckpointGone,
    CheckpointUnreadable,
    checkpoint_key,
)
from lambda_src.load_inventory import handle_event

NAMES = StackNames(stack="shop", account_id="123456789012", region="eu-central-1")


def deny(s3: Any, operation: str) -> None:
    """Make `operation` answer as AWS does to a role without the permission: 403 AccessDenied
    (botocore's before-call hook, the same seam its Stubber uses)."""

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse("https://s3.amazonaws.com", 403, {}, None)
        return response, {"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}

    s3.meta.events.register(f"before-call.s3.{operation}", refuse)


def _saved(s3: Any, bucket: str) -> tuple[str, str | None]:
    key = checkpoint_key("stores/x/Berlin.csv", "v1", 1)
    checkpoint = Checkpoint(source={"bucket": bucket, "key": "stores/x/Berlin.csv",
                                    "version_id": None, "etag": "e"}, size=10, phase="scan",
                            position=ReadPosition(), report={})
    return key, load_checkpoint.save(checkpoint, s3=s3, bucket=bucket, key=key)


def test_a_refused_missing_checkpoint_is_a_finished_chain(s3: Any, bucket: str) -> None:
    deny(s3, "GetObject")
    key = checkpoint_key("stores/x/Berlin.csv", "v1", 1)
    with pytest.raises(CheckpointGone, match="is gone"):
        load_checkpoint.load(s3=s3, bucket=bucket, key=key, version=None)


def test_a_refused_checkpoint_that_exists_names_the_read_permission(s3: Any,
                                                                    bucket: str) -> None:
    key, version = _saved(s3, bucket)
    deny(s3, "GetObject")
    with pytest.raises(CheckpointUnreadable) as raised:
        load_checkpoint.load(s3=s3, bucket=bucket, key=key, version=version)
    message = str(raised.value)
    assert f"s3://{bucket}/{key}" in message
    assert "s3:GetObject" in message and "`inventory provision`" in message
    assert "gone" not in message and "missing checkpoint" not in message


def test_a_refused_checkpoint_without_listing_names_list_bucket(s3: Any, bucket: str) -> None:
    key = checkpoint_key("stores/x/Berlin.csv", "v1", 1)
    deny(s3, "GetObject")
    deny(s3, "ListObjectsV2")
    with pytest.raises(CheckpointUnreadable) as raised:
        load_checkpoint.load(s3=s3, bucket=bucket, key=key, version=None)
    message = str(raised.value)
    assert "lacks s3:ListBucket" in message and f"s3:prefix {CHECKPOINT_PREFIX}*" in message
    assert f"arn:aws:s3:::{bucket}" in message


def test_the_continuation_fails_visibly_for_the_file_it_loads(s3: Any, dynamodb: Any,
                                                              bucket: str, table: str) -> None:
    deny(s3, "GetObject")
    deny(s3, "ListObjectsV2")
    logs = Logs()
    event = {CONTINUATION_FIELD: {"bucket": bucket, "key": "stores/x/Berlin.csv",
                                  "checkpoint_key": checkpoint_key("stores/x/Berlin.csv", "v1",
                                                                   2),
                                  "checkpoint_version": None}, "Records": []}
    with pytest.raises(CheckpointUnreadable):
        handle_event(event, s3=s3, dynamodb=dynamodb, table=table, log=logs)
    [failed] = logs.events()
    assert failed["event"] == "load_failed" and failed["key"] == "stores/x/Berlin.csv"
    assert "CheckpointUnreadable" in failed["error"] and "s3:ListBucket" in failed["error"]


def test_the_loader_role_may_list_only_its_checkpoints() -> None:
    statements = load_role_policy(NAMES)["Statement"]
    uploads = f"arn:aws:s3:::{NAMES.uploads_bucket}"
    listing = [s for s in statements
               if "s3:ListBucket" in s["Action"] and s["Resource"] == uploads]
    assert listing == [{
        "Sid": "FindLoadCheckpoints", "Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{NAMES.uploads_bucket}",
        "Condition": {"StringLike": {"s3:prefix": f"{CHECKPOINT_PREFIX}*"}}}]
    pattern = listing[0]["Condition"]["StringLike"]["s3:prefix"]
    # The prefix the loader lists with (the checkpoint's own key) is inside the condition;
    # the stores' uploads are not.
    assert fnmatch.fnmatchcase(checkpoint_key("stores/x/Berlin.csv", "v1", 3), pattern)
    assert not fnmatch.fnmatchcase("stores/x/Berlin.csv", pattern)
