"""Helpers for the summary tests: a model of the inventory table that emits the stream records
DynamoDB would, the summary table, and what a full scan says the summaries should be."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inventory_cli.config import StackNames
from inventory_cli.stack.resources import summary_table
from lambda_src.update_summaries import CELL_KIND, ITEM_KIND, STORE_KIND

NAMES = StackNames(stack="inventory", region="us-east-1", account_id="123456789012")
SUMMARY_TABLE = NAMES.summary_table


def create_summary_table(dynamodb: Any, name: str = SUMMARY_TABLE) -> str:
    # The stack's own definition of the table.
    definition = {**summary_table(NAMES).definition(), "TableName": name}
    dynamodb.create_table(**definition)
    return name


@dataclass
class StreamModel:
    """The inventory table as a dict, and the stream records its changes produce, in order."""

    rows: dict[tuple[str, str], int] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 10**20
    clock: float = 1_700_000_000.0

    def put(self, store: str, item: str, count: int) -> dict[str, Any]:
        old = self.rows.get((store, item))
        self.rows[(store, item)] = count
        return self._record("INSERT" if old is None else "MODIFY", store, item, old, count)

    def delete(self, store: str, item: str) -> dict[str, Any] | None:
        if (store, item) not in self.rows:
            return None  # DynamoDB emits nothing for deleting what does not exist
        old = self.rows.pop((store, item))
        return self._record("REMOVE", store, item, old, None)

    def _record(self, event: str, store: str, item: str, old: int | None,
                new: int | None) -> dict[str, Any]:
        self.sequence += 1
        self.clock += 0.25
        keys = {"Store": {"S": store}, "Item": {"S": item}}
        change: dict[str, Any] = {"Keys": keys, "SequenceNumber": str(self.sequence),
                                  "ApproximateCreationDateTime": self.clock,
                                  "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if old is not None:
            change["OldImage"] = {**keys, "Count": {"N": str(old)}}
        if new is not None:
            change["NewImage"] = {**keys, "Count": {"N": str(new)}}
        record = {"eventID": f"e{self.sequence}", "eventName": event,
                  "eventSource": "aws:dynamodb", "dynamodb": change}
        self.records.append(record)
        return record


def expected_summaries(rows: dict[tuple[str, str], int], threshold: int) -> dict[str, Any]:
    """What a full scan computes: the summaries the function must keep."""
    stores: dict[str, dict[str, Any]] = {}
    items: dict[str, dict[str, Any]] = {}
    for (store, item), count in rows.items():
        low = count <= threshold
        s = stores.setdefault(store, {"Items": 0, "Units": 0, "LowCount": 0, "LowItems": {}})
        i = items.setdefault(item, {"Stores": 0, "Units": 0, "LowCount": 0, "LowStores": {}})
        s["Items"] += 1
        i["Stores"] += 1
        s["Units"] += count
        i["Units"] += count
        if low:
            s["LowCount"] += 1
            i["LowCount"] += 1
            s["LowItems"][item] = count
            i["LowStores"][store] = count
    return {"store": stores, "item": items}


def stored_summaries(dynamodb: Any, table: str = SUMMARY_TABLE) -> dict[str, Any]:
    """The summary rows as stored, rows with no members left out (readers skip them)."""
    result: dict[str, Any] = {"store": {}, "item": {}}
    members = {STORE_KIND: ("Items", "LowItems"), ITEM_KIND: ("Stores", "LowStores")}
    for kind, (member_attr, map_attr) in members.items():
        for page in dynamodb.get_paginator("query").paginate(
                TableName=table, KeyConditionExpression="Kind = :k",
                ExpressionAttributeValues={":k": {"S": kind}}):
            for row in page["Items"]:
                if int(row.get(member_attr, {"N": "0"})["N"]) == 0:
                    assert int(row.get("Units", {"N": "0"})["N"]) == 0, row
                    assert not row.get(map_attr, {}).get("M"), row
                    continue
                result[kind][row["Name"]["S"]] = {
                    member_attr: int(row[member_attr]["N"]),
                    "Units": int(row["Units"]["N"]),
                    "LowCount": int(row["LowCount"]["N"]),
                    map_attr: {k: int(v["N"]) for k, v in row.get(map_attr, {}).get("M",
                                                                                  {}).items()},
                }
    return result


def cell_count(dynamodb: Any, table: str = SUMMARY_TABLE) -> int:
    return sum(page["Count"] for page in dynamodb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="Kind = :k",
        ExpressionAttributeValues={":k": {"S": CELL_KIND}}))
