"""Reading stock levels from the inventory table.

One store is read with a Query on its partition key (cost grows with the store, not the table);
all stores with a paginated Scan. The table's key is (Store, Item), count in `Count`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.errors import InventoryError
from inventory_cli.ops.stack_info import missing_resource
from lambda_src.update_summaries import whole_number

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames


@dataclass(frozen=True, order=True)
class StockRow:
    store: str
    item: str
    count: int


@dataclass(frozen=True, order=True)
class ItemTotal:
    item: str
    count: int
    stores: int


class StoreNotFound(InventoryError):
    """No row has this store name; `stores` lists the ones that exist."""

    def __init__(self, store: str, stores: list[str]) -> None:
        if stores:
            message = f"no stock recorded for store {store!r}; stores: {', '.join(stores)}"
            hint = None
            close = [s for s in stores if s.casefold() == store.casefold()]
            if close:
                hint = f"store names are case-sensitive: did you mean {close[0]!r}?"
        else:
            message = f"no stock recorded for store {store!r}: the table is empty"
            hint = "load a file with `inventory upload FILE`"
        super().__init__(message, hint=hint)
        self.store = store
        self.stores = stores


def read_store(aws: Aws, names: StackNames, store: str) -> list[StockRow]:
    """Every item of one store, sorted by item; StoreNotFound if it has none."""
    pages = _paginate(aws, names, "query", KeyConditionExpression="#s = :store",
                      ExpressionAttributeNames={"#s": "Store"},
                      ExpressionAttributeValues={":store": {"S": store}})
    rows = sorted(_rows(pages))
    if not rows:
        raise StoreNotFound(store, stores_in_table(aws, names))
    return rows


def read_all(aws: Aws, names: StackNames) -> list[StockRow]:
    """Every row of the table, sorted by store, then item."""
    return sorted(_rows(_paginate(aws, names, "scan")))


def stores_in_table(aws: Aws, names: StackNames) -> list[str]:
    """The distinct store names (a keys-only Scan: the table has no index by store alone)."""
    pages = _paginate(aws, names, "scan", ProjectionExpression="#s",
                      ExpressionAttributeNames={"#s": "Store"})
    return sorted({item["Store"]["S"] for page in pages for item in page})


def totals(rows: Iterable[StockRow]) -> list[ItemTotal]:
    """One row per item, summed over all stores (the dashboard's "All stores" view)."""
    counts: dict[str, int] = defaultdict(int)
    stores: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.item] += row.count
        stores[row.item] += 1
    return [ItemTotal(item, counts[item], stores[item]) for item in sorted(counts)]


def summary_totals(aws: Aws, names: StackNames) -> list[ItemTotal]:
    """`totals` as the summaries keep it (a Query of the item rows: cost grows with the
    number of items, not with stores x items)."""
    from inventory_cli.ops.summaries import read_item_summaries

    return [ItemTotal(s.item, s.units, s.stores)
            for s in read_item_summaries(aws, names, with_low_stores=False)]


def at_or_below(rows: Iterable[StockRow], threshold: int) -> list[StockRow]:
    return [row for row in rows if row.count <= threshold]


def _paginate(aws: Aws, names: StackNames, operation: str,
              **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
    paginator = aws.client("dynamodb").get_paginator(operation)
    try:
        for page in paginator.paginate(TableName=names.table, **kwargs):
            yield page.get("Items", [])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise missing_resource("table", names.table) from None
        raise


def _rows(pages: Iterable[list[dict[str, Any]]]) -> Iterator[StockRow]:
    for page in pages:
        for item in page:
            count = item.get("Count", {}).get("N")
            yield StockRow(store=item["Store"]["S"], item=item["Item"]["S"],
                           count=whole_number(count) if count is not None else 0)
