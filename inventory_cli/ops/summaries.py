"""The summaries the `update_summaries` function keeps: reading them, and rebuilding them.

Readers Query one `Kind` of the summary table (`store` or `item`), so their cost grows with the
number of stores or items, never with stores x items.

The rebuild (run by `provision` when the summary table is new or the threshold changed, and by
`inventory rebuild-summaries`) reads the inventory table with one consistent Scan and moves every
cell to what it read, through the function's own transactions (`lambda_src.update_summaries`),
while the function keeps running:
- it notes its start time (less a margin for clock skew) before the Scan; cells it writes carry
  that time and no sequence number, so the function ignores records created before it (the Scan
  has them) and applies later ones on top;
- a cell the function set from a record created after that time is left as it is (it is at least
  as new as the Scan; anything newer is still on its way and will apply); only its low flag is
  recomputed for the current threshold;
- every change is a transaction on the cell and its store and item rows, conditioned on the
  cell's version, so the function and the rebuild never apply over each other.
It ends by writing the `meta` row: the threshold it used and its start time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.errors import InventoryError
from inventory_cli.ops.stack_info import missing_resource
from lambda_src import update_summaries as summarizer

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames

# Records created up to this long before the rebuild started are treated as maybe not yet in
# its Scan (clock skew between this machine and DynamoDB); applying them again is harmless.
CLOCK_MARGIN_S = 60.0


@dataclass(frozen=True)
class StoreSummary:
    store: str
    items: int
    units: int
    low_count: int
    low_items: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemSummary:
    item: str
    stores: int
    units: int
    low_count: int
    low_stores: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RebuildResult:
    rows_scanned: int
    cells_changed: int
    threshold: int
    since: float


@dataclass(frozen=True)
class SummaryState:
    """What the meta row says about the last rebuild (None: never rebuilt)."""

    threshold: int | None
    since: float | None


class SummaryRebuildFailed(InventoryError):
    """Some cells could not be brought up to date (another writer kept changing them)."""


def read_store_summaries(aws: Aws, names: StackNames) -> list[StoreSummary]:
    """Every store that has items, sorted by name."""
    result = []
    for item in _query_kind(aws, names, summarizer.STORE_KIND):
        if _number(item, "Items") <= 0:
            continue  # every item of the store was deleted
        result.append(StoreSummary(store=item["Name"]["S"], items=_number(item, "Items"),
                                   units=_number(item, "Units"),
                                   low_count=_number(item, "LowCount"),
                                   low_items=_count_map(item, "LowItems")))
    return result


def read_item_summaries(aws: Aws, names: StackNames, *,
                        with_low_stores: bool = True) -> list[ItemSummary]:
    """Every item some store has, sorted by name. Without `with_low_stores` the rows come
    without the map of the stores low on the item (`low_stores` empty), most of a row's size:
    what `show --totals` needs (a third of the bytes at 20 stores)."""
    attributes = None if with_low_stores else ("Name", "Stores", "Units", "LowCount")
    result = []
    for item in _query_kind(aws, names, summarizer.ITEM_KIND, attributes):
        if _number(item, "Stores") <= 0:
            continue
        result.append(ItemSummary(item=item["Name"]["S"], stores=_number(item, "Stores"),
                                  units=_number(item, "Units"),
                                  low_count=_number(item, "LowCount"),
                                  low_stores=_count_map(item, "LowStores")))
    return result


def summary_state(aws: Aws, names: StackNames) -> SummaryState | None:
    """The meta row, or None when the summary table does not exist."""
    ddb = aws.client("dynamodb")
    try:
        item = ddb.get_item(TableName=names.summary_table, ConsistentRead=True, Key={
            "Kind": {"S": summarizer.META_KIND},
            "Name": {"S": summarizer.META_NAME}}).get("Item")
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    if not item:
        return SummaryState(threshold=None, since=None)
    return SummaryState(threshold=_number(item, "Threshold"), since=float(item["Since"]["N"]))


def needs_rebuild(aws: Aws, names: StackNames, threshold: int) -> bool:
    """True when the summaries were never computed or were computed for another threshold."""
    state = summary_state(aws, names)
    return state is not None and state.threshold != threshold


def rebuild_summaries(aws: Aws, names: StackNames, threshold: int, *,
                      clock: Callable[[], float] = time.time,
                      sleep: Callable[[float], None] = time.sleep) -> RebuildResult:
    """Compute the summaries from the inventory table (see the module's docstring)."""
    ddb = aws.client("dynamodb")
    since = clock() - CLOCK_MARGIN_S
    scanned = dict(_scan_inventory(aws, names))
    cells = dict(_existing_cells(aws, names))
    order = summarizer.by_item(set(scanned) | set(cells))
    changed = 0

    def decide(cell: tuple[str, str],
               before: summarizer.CellState) -> summarizer.CellState | None:
        nonlocal changed
        after = summarizer.rebuild_cell(before, scanned.get(cell), threshold, since)
        changed += after is not None
        return after

    errors: list[str] = []
    # The stream's invocations write cells without conditions while nobody holds the lease;
    # the rebuild holds it (and waits out their last window) before its first transaction.
    lease = summarizer.Lease(ddb, names.summary_table, clock=clock, sleep=sleep)
    try:
        failed = summarizer.apply_cells(ddb, names.summary_table, order, decide,
                                        log=errors.append, sleep=sleep,
                                        before_chunk=lease.ensure)
    finally:
        lease.release()
    if failed:
        detail = json.loads(errors[-1]).get("error", "") if errors else ""
        raise SummaryRebuildFailed(
            f"{len(failed)} of {len(order)} summary cells could not be updated: {detail}",
            hint="run `inventory rebuild-summaries` again")
    ddb.put_item(TableName=names.summary_table, Item={
        "Kind": {"S": summarizer.META_KIND}, "Name": {"S": summarizer.META_NAME},
        "Threshold": {"N": str(threshold)}, "Since": {"N": repr(since)},
        "RebuiltAt": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))}})
    return RebuildResult(rows_scanned=len(scanned), cells_changed=changed,
                         threshold=threshold, since=since)


def _scan_inventory(aws: Aws, names: StackNames) -> Iterator[tuple[tuple[str, str], int]]:
    paginator = aws.client("dynamodb").get_paginator("scan")
    try:
        for page in paginator.paginate(TableName=names.table, ConsistentRead=True):
            for item in page.get("Items", []):
                count = item.get("Count", {}).get("N")
                yield ((item["Store"]["S"], item["Item"]["S"]),
                       summarizer.whole_number(count) if count else 0)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise missing_resource("table", names.table) from None
        raise


def _existing_cells(aws: Aws,
                    names: StackNames) -> Iterator[tuple[tuple[str, str], summarizer.CellState]]:
    for item in _query_kind(aws, names, summarizer.CELL_KIND):
        yield (item["Store"]["S"], item["Item"]["S"]), summarizer.cell_from_item(item)


def _query_kind(aws: Aws, names: StackNames, kind: str,
                attributes: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    paginator = aws.client("dynamodb").get_paginator("query")
    projection: dict[str, Any] = {}
    if attributes:  # placeholders: `Name` is one of DynamoDB's reserved words
        projection = {"ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(attributes))),
                      "ExpressionAttributeNames": {f"#a{i}": a for i, a in enumerate(attributes)}}
    try:
        for page in paginator.paginate(TableName=names.summary_table,
                                       KeyConditionExpression="Kind = :kind",
                                       ExpressionAttributeValues={":kind": {"S": kind}},
                                       ConsistentRead=True, **projection):
            yield from page.get("Items", [])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise missing_resource("summary table", names.summary_table) from None
        raise


def _number(item: dict[str, Any], name: str) -> int:
    # Exact: sums of counts run to 38 digits, far past a float's 53 bits.
    value = item.get(name, {}).get("N")
    return summarizer.whole_number(value) if value is not None else 0


def _count_map(item: dict[str, Any], name: str) -> dict[str, int]:
    entries = item.get(name, {}).get("M", {})
    return {key: summarizer.whole_number(value["N"]) for key, value in sorted(entries.items())}
