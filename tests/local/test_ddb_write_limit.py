"""The emulator's optional DynamoDB write limit (moto_seam), in-process with a fake clock."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from inventory_cli.local import moto_seam
from inventory_cli.stack.resources import TABLE_SCHEMA


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_dynamodb_handler_methods_it_wraps_are_where_it_expects_them() -> None:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    assert ERROR_TYPE_PREFIX == "com.amazonaws.dynamodb.v20120810#"
    assert issubclass(DynamodbException, Exception)
    for method in (DynamoHandler.batch_write_item, DynamoHandler.put_item):
        assert list(inspect.signature(method).parameters) == ["self"]
    # The module's text (the methods themselves may be patched already by an earlier test).
    source = inspect.getsource(inspect.getmodule(DynamoHandler))
    start = source.index("    def batch_write_item(self) -> ActionResult:")
    method = source[start:source.index("\n    @", start)]
    assert 'self.body["RequestItems"]' in method and '"UnprocessedItems": {}' in method


def test_the_token_bucket_grants_what_the_rate_saved_up() -> None:
    clock = FakeClock()
    limiter = moto_seam.WriteLimiter(100, clock=clock)
    table = ("123456789012", "us-east-1", "t")
    assert limiter.take(table, 60) == 60
    assert limiter.take(table, 60) == 40      # a second's worth at most
    assert limiter.take(table, 10) == 0
    clock.now += 0.25
    assert limiter.take(table, 60) == 25
    clock.now += 10
    assert limiter.take(table, 500) == 100    # never more than one second saved up
    assert limiter.take(("123456789012", "us-east-1", "other"), 100) == 100  # per table
    with pytest.raises(ValueError):
        moto_seam.WriteLimiter(0)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        moto_seam.install()
        client = boto3.client("dynamodb", region_name="us-east-1",
                              config=Config(retries={"mode": "standard", "max_attempts": 1}))
        client.create_table(TableName="t", **TABLE_SCHEMA)
        try:
            yield client
        finally:
            moto_seam.set_ddb_write_limit(None)


def _requests(prefix: str, count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"Store": {"S": "S"}, "Item": {"S": f"{prefix}{n}"},
                                     "Count": {"N": "1"}}}} for n in range(count)]


def _stored(client: Any) -> int:
    return int(client.scan(TableName="t", Select="COUNT")["Count"])


def test_writes_over_the_limit_are_throttled_as_dynamodb_does(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    moto_seam.set_ddb_write_limit(30)
    assert moto_seam._write_limiter is not None
    monkeypatch.setattr(moto_seam._write_limiter, "_clock", clock)

    first = dynamodb.batch_write_item(RequestItems={"t": _requests("a", 25)})
    assert first["UnprocessedItems"] == {}
    second = dynamodb.batch_write_item(RequestItems={"t": _requests("b", 25)})
    assert second["UnprocessedItems"] == {"t": _requests("b", 25)[5:]}
    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
        dynamodb.batch_write_item(RequestItems={"t": _requests("c", 25)})
    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
        dynamodb.put_item(TableName="t", Item={"Store": {"S": "S"}, "Item": {"S": "p"},
                                               "Count": {"N": "1"}})
    assert _stored(dynamodb) == 30
    clock.now += 1
    dynamodb.put_item(TableName="t", Item={"Store": {"S": "S"}, "Item": {"S": "p"},
                                           "Count": {"N": "1"}})
    assert _stored(dynamodb) == 31


def test_without_a_limit_moto_takes_everything(dynamodb: Any) -> None:
    moto_seam.set_ddb_write_limit(None)
    for batch in range(10):
        answer = dynamodb.batch_write_item(RequestItems={"t": _requests(f"{batch}-", 25)})
        assert answer["UnprocessedItems"] == {}
    assert _stored(dynamodb) == 250
