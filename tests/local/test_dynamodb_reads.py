"""The emulator's DynamoDB reads (inventory_cli/local/dynamodb_reads.py): pages like
DynamoDB's (the answers of Query and Scan are exactly moto's own, and a page touches about what
it returns) and answers dumped as plain JSON that decode to what moto's serializer gives.

Fails loudly if an upgrade of moto moves what the patches rely on."""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_cli.local import dynamodb_reads, moto_seam
from inventory_cli.stack.resources import TABLE_SCHEMA

TABLE = "paging"


def _params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_the_moto_internals_paging_relies_on_are_where_it_expects_them() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Item, Table

    assert RESULT_SIZE_LIMIT == 1_000_000
    assert callable(DynamoType.__lt__) and callable(Item.size)
    assert "self.items = defaultdict(dict)" in inspect.getsource(inspect.unwrap(Table.__init__))
    # Every page starts from all_items(); moto's own loop then does the rest.
    table_source = inspect.getsource(inspect.getmodule(Table))  # type: ignore[arg-type]
    assert "for item in self.all_items()" in table_source
    assert "items = self.all_items()" in table_source
    assert "if isinstance(item, Item) and item.hash_key == hash_key" in table_source
    # How moto writes a table's items (our sorted dicts notice new and removed keys).
    assert "self.items[hash_value][range_value] = item" in table_source
    assert "self.items[hash_key].pop(range_key)" in table_source
    # The arguments the wrappers pass on, as the backend passes them.
    backend_source = inspect.getsource(DynamoDBBackend.query) + inspect.getsource(
        DynamoDBBackend.scan)
    assert "index_name,\n            consistent_read,\n            filter_expression_op," \
        in backend_source
    assert "segments=segments" in backend_source
    moto_seam.install()
    assert Table.query.__name__ == "query" and Table.scan.__name__ == "scan"
    assert Table.all_items.__module__ == dynamodb_reads.__name__


@pytest.fixture
def ddb(session: boto3.session.Session) -> Any:
    moto_seam.install()
    client = session.client("dynamodb")
    client.create_table(TableName=TABLE, **TABLE_SCHEMA)
    requests = []
    for store in ("Berlin", "Köln", "Paris", "Zürich", "aachen"):
        for n in range(60):
            # Sizes vary, so pages end on the size limit too (with Limit unset).
            requests.append({"PutRequest": {"Item": {
                "Store": {"S": store}, "Item": {"S": f"Item {n:03}"},
                "Count": {"N": str(n % 7)}, "Pad": {"S": "x" * (n * 97 % 9000)}}}})
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={TABLE: requests[start:start + 25]})
    return client


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within this fixture, the wrappers hand every call to moto's own code unchanged."""
    monkeypatch.setattr(dynamodb_reads, "_pages_natively", lambda table, index_name: False)
    yield


def pages(ddb: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    result = []
    while True:
        page = getattr(ddb, operation)(TableName=TABLE, **params)
        page.pop("ResponseMetadata", None)
        result.append(page)
        if "LastEvaluatedKey" not in page or len(result) > 400:
            return result
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("query", {"KeyConditionExpression": "Store = :s",
               "ExpressionAttributeValues": {":s": {"S": "Köln"}}}),
    ("query", {"KeyConditionExpression": "Store = :s",
               "ExpressionAttributeValues": {":s": {"S": "Köln"}}, "Limit": 7}),
    ("query", {"KeyConditionExpression": "Store = :s",
               "ExpressionAttributeValues": {":s": {"S": "Paris"}}, "Limit": 11,
               "ScanIndexForward": False}),
    ("query", {"KeyConditionExpression": "Store = :s AND begins_with(Item, :p)",
               "ExpressionAttributeValues": {":s": {"S": "Berlin"}, ":p": {"S": "Item 01"}},
               "Limit": 3}),
    ("query", {"KeyConditionExpression": "Store = :s AND Item BETWEEN :a AND :b",
               "ExpressionAttributeValues": {":s": {"S": "Zürich"}, ":a": {"S": "Item 010"},
                                             ":b": {"S": "Item 040"}},
               "Limit": 4, "ScanIndexForward": False}),
    ("query", {"KeyConditionExpression": "Store = :s", "FilterExpression": "#c = :zero",
               "ExpressionAttributeNames": {"#c": "Count"},
               "ExpressionAttributeValues": {":s": {"S": "aachen"}, ":zero": {"N": "0"}},
               "Limit": 9}),
    ("query", {"KeyConditionExpression": "Store = :s", "ProjectionExpression": "#i",
               "ExpressionAttributeNames": {"#i": "Item"},
               "ExpressionAttributeValues": {":s": {"S": "Berlin"}}, "Limit": 13,
               "ConsistentRead": True}),
    ("query", {"KeyConditionExpression": "Store = :s", "Select": "COUNT",
               "ExpressionAttributeValues": {":s": {"S": "Paris"}}, "Limit": 8}),
    ("query", {"KeyConditionExpression": "Store = :s",
               "ExpressionAttributeValues": {":s": {"S": "Nowhere"}}}),
    ("scan", {}),
    ("scan", {"Limit": 17}),
    ("scan", {"Limit": 1}),
    ("scan", {"Limit": 23, "FilterExpression": "#c < :two",
              "ExpressionAttributeNames": {"#c": "Count"},
              "ExpressionAttributeValues": {":two": {"N": "2"}}}),
    ("scan", {"ProjectionExpression": "#s, #c",
              "ExpressionAttributeNames": {"#s": "Store", "#c": "Count"},
              "Limit": 29}),
    ("scan", {"Limit": 10, "Segment": 1, "TotalSegments": 3}),
]


@pytest.mark.parametrize(("operation", "params"), REQUESTS,
                         ids=[f"{op}-{i}" for i, (op, _) in enumerate(REQUESTS)])
def test_every_page_equals_what_moto_itself_answers(
        ddb: Any, monkeypatch: pytest.MonkeyPatch, operation: str,
        params: dict[str, Any]) -> None:
    ours = pages(ddb, operation, **params)
    with monkeypatch.context() as m:
        m.setattr(dynamodb_reads, "_pages_natively", lambda table, index_name: False)
        theirs = pages(ddb, operation, **params)
    assert ours == theirs
    assert sum(p["Count"] for p in ours) >= 0


def test_pages_stay_right_after_keys_are_added_and_removed(
        ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pages(ddb, "scan", Limit=50)  # the sorted keys exist now
    ddb.delete_item(TableName=TABLE, Key={"Store": {"S": "Köln"}, "Item": {"S": "Item 005"}})
    ddb.put_item(TableName=TABLE, Item={"Store": {"S": "Köln"}, "Item": {"S": "Item 0055"},
                                        "Count": {"N": "1"}})
    ddb.put_item(TableName=TABLE, Item={"Store": {"S": "Bonn"}, "Item": {"S": "A"},
                                        "Count": {"N": "1"}})
    for operation, params in (("scan", {"Limit": 19}),
                              ("query", {"KeyConditionExpression": "Store = :s", "Limit": 4,
                                         "ExpressionAttributeValues": {":s": {"S": "Köln"}}})):
        ours = pages(ddb, operation, **dict(params))
        with monkeypatch.context() as m:
            m.setattr(dynamodb_reads, "_pages_natively", lambda table, index_name: False)
            theirs = pages(ddb, operation, **dict(params))
        assert ours == theirs


def test_a_page_touches_about_what_it_returns(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items moto's loops receive from all_items(): a page and one for ours, the whole
    table for moto's own (it sorts and filters everything for every page)."""
    from moto.dynamodb.models.table import Table

    touched = []
    seam_all_items = Table.all_items

    def counting_all_items(self: Table) -> Any:
        for item in seam_all_items(self):
            touched.append(1)
            yield item

    monkeypatch.setattr(Table, "all_items", counting_all_items)

    def second_pages() -> tuple[int, int]:
        first = ddb.query(TableName=TABLE, KeyConditionExpression="Store = :s", Limit=5,
                          ExpressionAttributeValues={":s": {"S": "Paris"}})
        touched.clear()
        ddb.query(TableName=TABLE, KeyConditionExpression="Store = :s", Limit=5,
                  ExpressionAttributeValues={":s": {"S": "Paris"}},
                  ExclusiveStartKey=first["LastEvaluatedKey"])
        query = len(touched)
        scan = ddb.scan(TableName=TABLE, Limit=200)
        touched.clear()
        ddb.scan(TableName=TABLE, Limit=5, ExclusiveStartKey=scan["LastEvaluatedKey"])
        return query, len(touched)

    assert second_pages() == (6, 6)
    monkeypatch.setattr(dynamodb_reads, "_pages_natively", lambda table, index_name: False)
    query, scan = second_pages()
    assert query == 300 and scan >= 206  # the table, every page


def test_a_transaction_copies_the_items_it_names_not_the_tables(
        ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto deep-copied every named table once per action to be able to roll back."""
    import copy

    from moto.dynamodb.models.table import Table

    # What the patch relies on: moto copies the tables (with copy.deepcopy) to roll back.
    assert "copy.deepcopy(\n                    self.tables[table_name]" in inspect.getsource(
        _upstream_transact_source())
    table_copies = _count_copies(monkeypatch, Table)
    key = {"Store": {"S": "Berlin"}, "Item": {"S": "Item 001"}}
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET #c = :n",
                    "ExpressionAttributeNames": {"#c": "Count"},
                    "ExpressionAttributeValues": {":n": {"N": "42"}}}},
        {"Put": {"TableName": TABLE, "Item": {"Store": {"S": "New"}, "Item": {"S": "A"}}}}])
    assert table_copies and not any(table_copies)
    # A cancelled transaction leaves every item as it was, the new one included.
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET #c = :n",
                        "ExpressionAttributeNames": {"#c": "Count"},
                        "ExpressionAttributeValues": {":n": {"N": "7"}}}},
            {"Put": {"TableName": TABLE,
                     "Item": {"Store": {"S": "Newer"}, "Item": {"S": "B"}}}},
            {"Delete": {"TableName": TABLE, "Key": {"Store": {"S": "New"}, "Item": {"S": "A"}},
                        "ConditionExpression": "attribute_not_exists(#s)",
                        "ExpressionAttributeNames": {"#s": "Store"}}}])
    assert ddb.get_item(TableName=TABLE, Key=key)["Item"]["Count"] == {"N": "42"}
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"Store": {"S": "Newer"},
                                                            "Item": {"S": "B"}})
    assert "Item" in ddb.get_item(TableName=TABLE, Key={"Store": {"S": "New"},
                                                        "Item": {"S": "A"}})
    # Outside a transaction a table still deep-copies as it always did (backups).
    table = next(iter(_backends_tables()))
    assert copy.deepcopy(table) is not table


def _count_copies(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[bool]:
    """Each deep copy of a `cls` from now on: True when it made a new object."""
    copies: list[bool] = []
    real = cls.__deepcopy__  # type: ignore[attr-defined]

    def counting(self: Any, memo: dict[int, Any]) -> Any:
        result = real(self, memo)
        copies.append(result is not self)
        return result

    monkeypatch.setattr(cls, "__deepcopy__", counting)
    return copies


def _upstream_transact_source() -> Any:
    from moto.dynamodb import models

    return inspect.getmodule(models.DynamoDBBackend)


def _backends_tables() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["us-east-1"].tables.values()


# -- answers as plain JSON ---------------------------------------------------------------------

EVERY_TYPE = {"Store": {"S": "Kyiv"}, "Item": {"S": "Ünïcode ✓"}, "Count": {"N": "1.50"},
              "Empty": {"S": ""}, "Blob": {"B": b"\x00\xff\x10"},
              "Strings": {"SS": ["a", "b"]}, "Numbers": {"NS": ["1", "-2.5"]},
              "Blobs": {"BS": [b"a", b"\x01\x02"]}, "Yes": {"BOOL": True}, "No": {"BOOL": False},
              "Nothing": {"NULL": True},
              "Map": {"M": {"blob": {"B": b"zz"}, "things": {"L": [
                  {"N": "3"}, {"NULL": True}, {"BOOL": False}, {"M": {}}, {"L": []},
                  {"SS": ["x"]}]}}}}


def test_read_answers_decode_to_what_moto_s_serializer_gives(ddb: Any,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    from moto.dynamodb.responses import DynamoHandler

    ours = DynamoHandler.serialized
    assert ours.__code__.co_filename == dynamodb_reads.__file__
    theirs = ours.__wrapped__  # type: ignore[attr-defined]
    compared: list[str] = []

    def both(self: Any, action_result: Any) -> Any:
        status, headers, body = ours(self, action_result)
        their_status, their_headers, their_body = theirs(self, action_result)
        assert (status, headers) == (their_status, their_headers)
        assert json.loads(body) == json.loads(their_body)
        compared.append(self._get_action())
        return status, headers, body

    monkeypatch.setattr(DynamoHandler, "serialized", both)
    ddb.put_item(TableName=TABLE, Item=EVERY_TYPE)
    key = {"Store": EVERY_TYPE["Store"], "Item": EVERY_TYPE["Item"]}
    condition = {"KeyConditionExpression": "Store = :s",
                 "ExpressionAttributeValues": {":s": {"S": "Kyiv"}}}
    assert ddb.get_item(TableName=TABLE, Key=key)["Item"] == EVERY_TYPE
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={**key, "Item": {"S": "none"}})
    assert ddb.query(TableName=TABLE, ReturnConsumedCapacity="TOTAL",
                     **condition)["Items"] == [EVERY_TYPE]
    (projected,) = ddb.query(TableName=TABLE, ProjectionExpression="#m.things[0], Blobs",
                             ExpressionAttributeNames={"#m": "Map"}, **condition)["Items"]
    assert projected["Map"] == {"M": {"things": {"L": [{"N": "3"}]}}}
    assert sorted(projected["Blobs"]["BS"]) == sorted(EVERY_TYPE["Blobs"]["BS"])  # a set
    page = ddb.scan(TableName=TABLE, Limit=3, ReturnConsumedCapacity="INDEXES")
    assert page["Count"] == 3 and "LastEvaluatedKey" in page
    assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 301
    batch = ddb.batch_get_item(RequestItems={TABLE: {"Keys": [key]}})
    assert batch["Responses"][TABLE] == [EVERY_TYPE] and batch["UnprocessedKeys"] == {}
    assert [a for a in compared if a != "PutItem"] == [
        "GetItem", "GetItem", "Query", "Query", "Scan", "Scan", "BatchGetItem"]


def test_errors_and_other_operations_still_go_through_moto_s_serializer(ddb: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        ddb.query(TableName="no-such-table", KeyConditionExpression="Store = :s",
                  ExpressionAttributeValues={":s": {"S": "x"}})
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert ddb.describe_table(TableName=TABLE)["Table"]["ItemCount"] >= 0


def test_reads_hand_moto_s_items_over_uncopied_and_leave_them_as_they_were(
        ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    before = pages(ddb, "scan")
    copies = _count_copies(monkeypatch, Item)
    for operation, params in REQUESTS:  # projections, filters, COUNT, backwards...
        pages(ddb, operation, **dict(params))
    assert copies and not any(copies)
    assert pages(ddb, "scan") == before  # no read changed a stored item
    with monkeypatch.context() as m:  # moto's own reads still copy (and answer the same)
        m.setattr(dynamodb_reads, "_pages_natively", lambda table, index_name: False)
        copies.clear()
        assert pages(ddb, "scan") == before
        assert copies and all(copies)


def _attribute_values() -> Any:
    """DynamoDB JSON attribute values as they come over the wire (binary as base64)."""
    binary = st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    scalars = st.one_of(
        st.text(max_size=5).map(lambda s: {"S": s}),
        st.integers(-10**6, 10**6).map(lambda n: {"N": str(n)}),
        binary.map(lambda b: {"B": b}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.lists(st.text(max_size=3), min_size=1, max_size=3, unique=True).map(
            lambda v: {"SS": v}),
        st.lists(st.integers(0, 99).map(str), min_size=1, max_size=3, unique=True).map(
            lambda v: {"NS": v}),
        st.lists(binary, min_size=1, max_size=3, unique=True).map(lambda v: {"BS": v}))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(lambda v: {"M": v})),
        max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4), _attribute_values(), max_size=5))
def test_the_fast_answer_conversion_gives_what_moto_s_gives(attributes: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import dynamo_to_dict

    # as moto keeps an item's attributes
    stored = LimitedSizeDict({name: DynamoType(value) for name, value in attributes.items()})
    answer = {"Items": [stored, {}], "Count": 2, "LastEvaluatedKey": stored, "Other": None}
    assert dynamodb_reads.plain_dict(answer) == dynamo_to_dict(answer)


def test_items_written_replaced_and_copied_can_be_freed(ddb: Any) -> None:
    """moto tracks every Item it creates (for its /moto-api page): an emulator computing the
    summaries of 500,000 items grew to 24 GB. The seam leaves items untracked."""
    import gc
    import weakref

    from moto.core.common_models import BaseModel
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    # What moto does without the seam: the class keeps every instance.
    assert "cls.instances_tracked.append(instance)" in inspect.getsource(BaseModel.__new__)
    tracked = len(Item.instances_tracked)  # type: ignore[attr-defined]
    key = {"Store": {"S": "Berlin"}, "Item": {"S": "Item 001"}}
    table = next(iter(_backends_tables()))
    replaced = weakref.ref(table.get_item(DynamoType(key["Store"]), DynamoType(key["Item"])))
    for count in range(50):
        ddb.put_item(TableName=TABLE, Item={**key, "Count": {"N": str(count)}})
        ddb.get_item(TableName=TABLE, Key=key)
    gc.collect()
    assert len(Item.instances_tracked) == tracked  # type: ignore[attr-defined]
    assert replaced() is None  # the item the first put replaced is gone from memory
    assert ddb.get_item(TableName=TABLE, Key=key)["Item"]["Count"] == {"N": "49"}
