"""The emulator reads DynamoDB request bodies with `json.loads` when they hold no binary value;
what the handlers see must be what moto's own shape-walking parser gives."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler

from inventory_cli.local import moto_seam

ITEM = {"Store": {"S": "Köln"}, "Item": {"S": "tea \"green\""}, "Count": {"N": "17"},
        "Tags": {"SS": ["a", "b"]}, "Nested": {"M": {"x": {"L": [{"NULL": True},
                                                               {"BOOL": False}]}}}}
BINARY = {**ITEM, "Blob": {"B": "aGVsbG8="}, "Blobs": {"BS": ["aGk="]}}


class Request:
    def __init__(self, body: bytes) -> None:
        self.data = body
        self.method = "POST"
        self.values: dict[str, str] = {}
        self.headers = {"Content-Type": "application/x-amz-json-1.0",
                        "X-Amz-Target": "DynamoDB_20120810.PutItem"}
        self.path = "/"
        self.content_type = "application/x-amz-json-1.0"


def _parsed(body: dict[str, Any], *, upstream: bool) -> Any:
    moto_seam.install()
    handler = DynamoHandler()
    handler.uri_match = {}
    handler.headers = Request(b"").headers
    handler.body = b""
    method = DynamoHandler.parse_parameters.__wrapped__ if upstream else (  # type: ignore[attr-defined]
        DynamoHandler.parse_parameters)
    handler._get_action = lambda: "PutItem"  # type: ignore[method-assign]
    method(handler, Request(json.dumps(body).encode()))
    return handler.params


@pytest.mark.parametrize("item", [ITEM, BINARY], ids=["text", "binary"])
def test_what_the_handlers_see_equals_motos_own_parse(item: dict[str, Any]) -> None:
    body = {"TableName": "inv", "Item": item, "ConditionExpression": "attribute_not_exists(#s)",
            "ExpressionAttributeNames": {"#s": "Store"}}
    assert _parsed(body, upstream=False) == _parsed(body, upstream=True)


def test_binary_values_still_reach_the_table_as_bytes(session: boto3.session.Session) -> None:
    moto_seam.install()
    ddb = session.client("dynamodb")
    ddb.create_table(TableName="inv", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "Store", "KeyType": "HASH"},
                                {"AttributeName": "Item", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "Store", "AttributeType": "S"},
                                           {"AttributeName": "Item", "AttributeType": "S"}])
    item = {**ITEM, "Blob": {"B": b"hello"}, "Blobs": {"BS": [b"hi"]}}
    ddb.put_item(TableName="inv", Item=item)
    got = ddb.get_item(TableName="inv", Key={"Store": {"S": "Köln"},
                                             "Item": {"S": "tea \"green\""}})["Item"]
    assert got == item
