"""Lambda `update_summaries`: per-store and per-item totals kept from the inventory table's stream.

The summary table (hash `Kind`, range `Name`) holds, as the team contract fixes:
- `Kind="store"`: `Items`, `Units`, `LowCount`, `LowItems` (item -> count, only low items);
- `Kind="item"`: `Stores`, `Units`, `LowCount`, `LowStores` (store -> count).

Exactly once, whatever the delivery: the summaries are kept as the sum over *cells*, one
`Kind="cell"` item per (store, item) holding the state the summaries reflect (its count, whether
it is low, the sequence number and time of the stream record that set it, a version). A record is
applied as "move this cell from the state it has to the state in the record's new image", in one
TransactWriteItems together with the ADD/SET/REMOVE on the store and item rows, conditioned on
the cell's version. So:
- a record delivered twice, or again out of a retried or bisected batch, finds its cell already at
  its sequence number and changes nothing;
- an OLD record replayed after a newer one (`inventory retry` of a kept failure) is older than
  the cell and changes nothing: counts and "is it low" both come from the newest state applied;
- two writers on one cell (two invocations, or the rebuild) cannot both apply: the loser's
  condition fails, it reads again and decides again.
The invariant "a summary row = the sum over its cells" holds after every transaction.

The rebuild (`inventory rebuild-summaries`, run by provision when the table is new or the
threshold changed) uses the same transactions with the states a Scan read (see `rebuild_cell`).
Cells it writes carry no sequence number but the rebuild's start time (minus a margin): records
created before it are already in the Scan and are ignored for that cell, later ones apply.

Sequence numbers of one item increase with time (DynamoDB Streams orders the records of an item;
child shards continue with larger numbers); they are compared zero-padded as strings.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_src.aws_clients import client
from lambda_src.environment import SUMMARY_TABLE, threshold_from_env
from lambda_src.stream_batch import batch_response
from lambda_src.stream_images import RecordError, string_attribute
from lambda_src.structured_log import write_line

Log = Callable[[str], None]

CELL_KIND = "cell"
STORE_KIND = "store"
ITEM_KIND = "item"
META_KIND = "meta"
META_NAME = "rebuild"
SEQUENCE_WIDTH = 40  # AWS: stream sequence numbers are 21 to 40 digits
# A transaction takes at most 100 actions: one per cell, one per store row and item row touched.
MAX_ACTIONS = 100
BATCH_GET_LIMIT = 100
# A cell that keeps changing under us (another writer) is tried this often before its records
# are reported as failed (Lambda then retries them).
MAX_ATTEMPTS = 6



@dataclass(frozen=True)
class CellState:
    """What the summaries reflect for one (store, item)."""

    count: int | None  # None: the item does not exist in that store
    low: bool
    sequence: str  # zero-padded; "" when written by a rebuild
    created_at: float  # time of the record (or the rebuild's start) that set it
    version: int  # 0: no cell item yet


NO_CELL = CellState(count=None, low=False, sequence="", created_at=float("-inf"), version=0)


@dataclass(frozen=True)
class Change:
    """One stream record reduced to what the summaries need."""

    store: str
    item: str
    count: int | None  # the new image's count; None for REMOVE
    sequence: str  # zero-padded
    created_at: float
    event_id: str
    raw_sequence: str  # as delivered, for batchItemFailures

    @property
    def cell(self) -> tuple[str, str]:
        return (self.store, self.item)


def padded(sequence: str) -> str:
    return sequence.strip().zfill(SEQUENCE_WIDTH)


def is_low(count: int | None, threshold: int) -> bool:
    return count is not None and count <= threshold


# ---- reading stream records -------------------------------------------------------------------

_DIGITS = re.compile(r"-?[0-9]+")


def whole_number(text: str) -> int:
    """A DynamoDB number (the text of an `N`) that holds a whole number, exactly.

    Never through a float: a float keeps 53 bits, and counts have up to 28 digits. DynamoDB
    sends numbers as plain digits; the exponent form ("1E+30") is read exactly too. Raises
    ValueError for anything else.
    """
    if _DIGITS.fullmatch(text):
        return int(text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(f"not a whole number: {text!r}")
    return int(number)


def _count(image: Mapping[str, Any]) -> int:
    value = image.get("Count")
    if value is None:
        return 0  # the loader always writes Count; a row without one counts as nothing in stock
    if not isinstance(value, Mapping) or "N" not in value:
        raise RecordError(f"Count is not a number attribute: {value!r}")
    try:
        return whole_number(str(value["N"]))
    except ValueError as exc:
        raise RecordError(f"Count is {exc}") from None


def change_of(record: Mapping[str, Any]) -> Change:
    """The cell change a stream record describes. Raises RecordError for unreadable records."""
    change = record.get("dynamodb") or {}
    event = record.get("eventName")
    keys = change.get("Keys") or change.get("NewImage") or change.get("OldImage") or {}
    sequence = str(change.get("SequenceNumber", "")).strip()
    if not sequence.isdigit():
        raise RecordError(f"no usable SequenceNumber: {sequence!r}")
    if event in ("INSERT", "MODIFY"):
        image = change.get("NewImage")
        if image is None:
            raise RecordError("no NewImage: the table's stream must be NEW_AND_OLD_IMAGES")
        count: int | None = _count(image)
    elif event == "REMOVE":
        count = None
    else:
        raise RecordError(f"unknown eventName {event!r}")
    created = change.get("ApproximateCreationDateTime", 0)
    try:
        created_at = float(created)
    except (TypeError, ValueError):
        created_at = 0.0
    return Change(store=string_attribute(keys, "Store"), item=string_attribute(keys, "Item"),
                  count=count, sequence=padded(sequence), created_at=created_at,
                  event_id=str(record.get("eventID", "")), raw_sequence=sequence)


# ---- deciding ---------------------------------------------------------------------------------

def stream_cell(before: CellState, change: Change, threshold: int,
                rebuilt_since: float | None) -> CellState | None:
    """The cell after `change`, or None when the change is already reflected or superseded."""
    if before.sequence:
        if change.sequence <= before.sequence:
            return None
    else:
        # Written by a rebuild (or no cell yet): records from before the rebuild's Scan are in it.
        since = before.created_at if before.version else rebuilt_since
        if since is not None and change.created_at < since:
            return None
    return CellState(count=change.count, low=is_low(change.count, threshold),
                     sequence=change.sequence, created_at=change.created_at,
                     version=before.version + 1)


def rebuild_cell(before: CellState, scanned: int | None, threshold: int,
                 since: float) -> CellState | None:
    """The cell after a rebuild that read `scanned` (None: not in the table) in a Scan started
    after `since`.

    A cell set by a record created after `since` is newer than or as new as the Scan's view
    less any record still on its way (which will apply, being newer still): it keeps its count,
    only its low flag follows the threshold. Any other cell takes the Scan's value.
    """
    if before.version and before.sequence and before.created_at >= since:
        low = is_low(before.count, threshold)
        if low == before.low:
            return None
        return replace(before, low=low, version=before.version + 1)
    after = CellState(count=scanned, low=is_low(scanned, threshold), sequence="",
                      created_at=since, version=before.version + 1)
    if (before.version and before.count == after.count and before.low == after.low
            and not before.sequence and before.created_at == since):
        return None
    return after


# ---- the summary table ------------------------------------------------------------------------

def cell_name(store: str, item: str) -> str:
    # JSON of the pair: unambiguous for any names (no separator character to escape).
    return json.dumps([store, item], ensure_ascii=False)


def cell_key(store: str, item: str) -> dict[str, Any]:
    return {"Kind": {"S": CELL_KIND}, "Name": {"S": cell_name(store, item)}}


def cell_from_item(item: Mapping[str, Any] | None) -> CellState:
    if not item:
        return NO_CELL
    return CellState(
        count=whole_number(item["Count"]["N"]) if "Count" in item else None,
        low=bool(item.get("Low", {}).get("BOOL", False)),
        sequence=item.get("Seq", {}).get("S", ""),
        created_at=float(item.get("At", {}).get("N", "0")),
        version=int(item.get("Ver", {}).get("N", "0")))


def _cell_put(table: str, store: str, item: str, before: CellState,
              after: CellState) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        **cell_key(store, item), "Store": {"S": store}, "Item": {"S": item},
        "Low": {"BOOL": after.low}, "Seq": {"S": after.sequence},
        "At": {"N": repr(after.created_at)}, "Ver": {"N": str(after.version)}}
    if after.count is not None:
        attributes["Count"] = {"N": str(after.count)}
    put: dict[str, Any] = {"TableName": table, "Item": attributes}
    if before.version:
        put["ConditionExpression"] = "Ver = :ver"
        put["ExpressionAttributeValues"] = {":ver": {"N": str(before.version)}}
    else:
        put["ConditionExpression"] = "attribute_not_exists(Kind)"
    return put


@dataclass
class RowDelta:
    """What one transaction adds to one store or item row."""

    members: int = 0  # Items (store row) or Stores (item row)
    units: int = 0
    low_count: int = 0
    low_set: dict[str, int] | None = None  # map entries to set (low now)
    low_removed: set[str] | None = None  # map entries to remove (no longer low)

    def add(self, member: str, before: CellState, after: CellState) -> None:
        self.members += int(after.count is not None) - int(before.count is not None)
        self.units += (after.count or 0) - (before.count or 0)
        self.low_count += int(after.low) - int(before.low)
        if after.low and (not before.low or before.count != after.count):
            self.low_set = {**(self.low_set or {}), member: after.count or 0}
        elif before.low and not after.low:
            self.low_removed = {*(self.low_removed or set()), member}

    @property
    def is_empty(self) -> bool:
        return not (self.members or self.units or self.low_count or self.low_set
                    or self.low_removed)


_ROW_FIELDS = {STORE_KIND: ("Items", "LowItems"), ITEM_KIND: ("Stores", "LowStores")}


def _row_update(table: str, kind: str, name: str, delta: RowDelta) -> dict[str, Any]:
    members_attr, map_attr = _ROW_FIELDS[kind]
    names: dict[str, str] = {"#m": members_attr}
    values: dict[str, Any] = {":m": {"N": str(delta.members)}, ":u": {"N": str(delta.units)},
                              ":l": {"N": str(delta.low_count)}}
    expression = "ADD #m :m, Units :u, LowCount :l"
    sets = []
    for i, (member, count) in enumerate(sorted((delta.low_set or {}).items())):
        names[f"#s{i}"] = member
        values[f":s{i}"] = {"N": str(count)}
        sets.append(f"#map.#s{i} = :s{i}")
    removes = []
    for i, member in enumerate(sorted(delta.low_removed or ())):
        names[f"#r{i}"] = member
        removes.append(f"#map.#r{i}")
    if sets or removes:
        names["#map"] = map_attr  # DynamoDB refuses names the expression does not use
    if sets:
        expression += " SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return {"TableName": table, "Key": {"Kind": {"S": kind}, "Name": {"S": name}},
            "UpdateExpression": expression, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values}


def _ensure_map(ddb: Any, table: str, kind: str, name: str) -> None:
    # SET map.key fails while the map does not exist, and one expression cannot both create the
    # map and set a key in it; so the (idempotent) creation is its own call, made only when a
    # transaction is about to set a key in it.
    _, map_attr = _ROW_FIELDS[kind]
    ddb.update_item(TableName=table, Key={"Kind": {"S": kind}, "Name": {"S": name}},
                    UpdateExpression="SET #map = if_not_exists(#map, :empty)",
                    ExpressionAttributeNames={"#map": map_attr},
                    ExpressionAttributeValues={":empty": {"M": {}}})


def read_cells(ddb: Any, table: str,
               cells: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CellState]:
    """The current state of `cells` (strongly consistent)."""
    states = {cell: NO_CELL for cell in cells}
    by_name = {cell_name(*cell): cell for cell in cells}
    for start in range(0, len(cells), BATCH_GET_LIMIT):
        keys = [cell_key(*cell) for cell in cells[start:start + BATCH_GET_LIMIT]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                states[by_name[item["Name"]["S"]]] = cell_from_item(item)
            request = response.get("UnprocessedKeys") or {}
            if request:
                time.sleep(0.05)
    return states


Decide = Callable[[tuple[str, str], CellState], CellState | None]


Cell = tuple[str, str]

# Answers worth the same transaction again: another writer, or capacity.
_RETRIABLE = frozenset({"TransactionConflictException", "ProvisionedThroughputExceededException",
                        "ThrottlingException", "RequestLimitExceeded"})
# Cancellation reasons of TransactWriteItems that one item's content causes ("TransactWriteItems",
# DynamoDB API Reference: ValidationError covers a key or item over its size, a number out of
# range); every other reason (ConditionalCheckFailed, TransactionConflict, throttling) is a race.
_ITEM_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})


@dataclass(frozen=True)
class _Failure:
    error: str
    retriable: bool
    # Caused by what one of the cells holds (a ValidationException, say): the other cells of the
    # transaction are worth trying without it.
    per_cell: bool


def _failure_of(exc: ClientError) -> _Failure:
    code = exc.response.get("Error", {}).get("Code", "")
    error = f"{code}: {exc}"
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code", "") for reason in
                   exc.response.get("CancellationReasons") or []}
        if reasons & _ITEM_REASONS:
            return _Failure(error, retriable=False, per_cell=True)
        return _Failure(error, retriable=True, per_cell=False)
    if code == "ValidationException":
        return _Failure(error, retriable=False, per_cell=True)
    return _Failure(error, retriable=code in _RETRIABLE, per_cell=False)


def apply_cells(ddb: Any, table: str, cells: Sequence[Cell], decide: Decide, *,
                log: Log, sleep: Callable[[float], None] = time.sleep) -> set[Cell]:
    """Move each cell to `decide(cell, current state)` together with the summary rows, in
    transactions conditioned on the cells' versions. Returns the cells that could not be done.

    A transaction that fails for what one cell holds (DynamoDB refuses the whole transaction) is
    split in halves and each half tried again, down to that one cell: only its records fail.
    """
    failed: set[Cell] = set()
    for chunk in transaction_chunks(cells):
        failed |= _apply_isolating(ddb, table, chunk, decide, log=log, sleep=sleep)
    return failed


def _apply_isolating(ddb: Any, table: str, chunk: list[Cell], decide: Decide, *, log: Log,
                     sleep: Callable[[float], None]) -> set[Cell]:
    failure = _apply_with_retries(ddb, table, chunk, decide, sleep)
    if failure is None:
        return set()
    if failure.per_cell and len(chunk) > 1:
        half = len(chunk) // 2
        return (_apply_isolating(ddb, table, chunk[:half], decide, log=log, sleep=sleep)
                | _apply_isolating(ddb, table, chunk[half:], decide, log=log, sleep=sleep))
    if failure.per_cell and _apply_with_retries(ddb, table, chunk, decide, sleep,
                                                low_lists=False) is None:
        # What did not fit was the store's (or item's) list of low members: a summary row is
        # one item of at most 400 KB ("Constraints in Amazon DynamoDB"), and a store with
        # thousands of low items of long names outgrows it. The sums and LowCount stay exact;
        # the list lacks this member, and the log says so.
        store, item = chunk[0]
        log(json.dumps({"event": "summary_low_list_full", "store": store, "item": item,
                        "error": failure.error}, ensure_ascii=False))
        return set()
    entry: dict[str, Any] = {"event": "summary_update_failed", "cells": len(chunk),
                             "retriable": failure.retriable, "error": failure.error}
    if len(chunk) == 1:
        entry["store"], entry["item"] = chunk[0]
    log(json.dumps(entry, ensure_ascii=False))
    return set(chunk)


def _apply_with_retries(ddb: Any, table: str, chunk: list[Cell], decide: Decide,
                        sleep: Callable[[float], None], *,
                        low_lists: bool = True) -> _Failure | None:
    """None once the chunk is applied; otherwise why not (after retrying what may pass)."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            _apply_chunk(ddb, table, chunk, decide, low_lists=low_lists)
            return None
        except ClientError as exc:
            failure = _failure_of(exc)
            if not failure.retriable or attempt == MAX_ATTEMPTS - 1:
                return failure
            sleep(min(0.05 * 2 ** attempt, 1.0))
        except BotoCoreError as exc:
            return _Failure(f"{type(exc).__name__}: {exc}", retriable=True, per_cell=False)
    raise AssertionError("unreachable: the last attempt returns")


def by_item(cells: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Cells in (item, store) order: neighbours share item rows, so a transaction carries more
    cells (a rebuild of 20 stores: about 76 cells in 100 actions, against 49 in store order)."""
    return sorted(cells, key=lambda cell: (cell[1], cell[0]))


def transaction_chunks(cells: Sequence[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """`cells` in consecutive runs, each as long as fits in one transaction: a cell's own action
    plus one per store row and item row the run touches, at most MAX_ACTIONS in all."""
    chunk: list[tuple[str, str]] = []
    stores: set[str] = set()
    items: set[str] = set()
    for store, item in cells:
        actions = len(chunk) + len(stores) + len(items)
        added = 1 + (store not in stores) + (item not in items)
        if chunk and actions + added > MAX_ACTIONS:
            yield chunk
            chunk, stores, items = [], set(), set()
        chunk.append((store, item))
        stores.add(store)
        items.add(item)
    if chunk:
        yield chunk


def _apply_chunk(ddb: Any, table: str, chunk: list[tuple[str, str]], decide: Decide, *,
                 low_lists: bool = True) -> None:
    states = read_cells(ddb, table, chunk)
    actions: list[dict[str, Any]] = []
    stores: dict[str, RowDelta] = {}
    items: dict[str, RowDelta] = {}
    for cell in chunk:
        before = states[cell]
        after = decide(cell, before)
        if after is None:
            continue
        store, item = cell
        actions.append({"Put": _cell_put(table, store, item, before, after)})
        stores.setdefault(store, RowDelta()).add(item, before, after)
        items.setdefault(item, RowDelta()).add(store, before, after)
    if not actions:
        return
    for kind, rows in ((STORE_KIND, stores), (ITEM_KIND, items)):
        for name, delta in rows.items():
            if not low_lists and delta.low_set:
                # Out of the list rather than in it with a stale count.
                delta.low_removed = {*(delta.low_removed or set()), *delta.low_set}
                delta.low_set = None
            if delta.is_empty:
                continue
            if delta.low_set:
                _ensure_map(ddb, table, kind, name)
            actions.append({"Update": _row_update(table, kind, name, delta)})
    ddb.transact_write_items(TransactItems=actions)


def rebuilt_since(ddb: Any, table: str) -> float | None:
    """When the last rebuild started (minus its margin), or None if there was none."""
    item = ddb.get_item(TableName=table, Key={"Kind": {"S": META_KIND},
                                              "Name": {"S": META_NAME}},
                        ConsistentRead=True).get("Item")
    if not item or "Since" not in item:
        return None
    return float(item["Since"]["N"])


# ---- the handler ------------------------------------------------------------------------------

def handle_event(event: Mapping[str, Any], *, ddb: Any, table: str, threshold: int,
                 log: Log = print, sleep: Callable[[float], None] = time.sleep,
                 ) -> dict[str, Any]:
    changes = list(_readable_changes(event.get("Records") or [], log))
    if not changes:
        return batch_response([])
    # The newest record of a cell in this batch decides its state; older ones are superseded.
    newest: dict[tuple[str, str], Change] = {}
    for change in changes:
        current = newest.get(change.cell)
        if current is None or change.sequence > current.sequence:
            newest[change.cell] = change
    since = rebuilt_since(ddb, table)

    def decide(cell: tuple[str, str], before: CellState) -> CellState | None:
        return stream_cell(before, newest[cell], threshold, since)

    failed_cells = apply_cells(ddb, table, by_item(newest), decide, log=log, sleep=sleep)
    failed = [c.raw_sequence for c in changes if c.cell in failed_cells]
    return batch_response(failed)


def _readable_changes(records: Iterable[Mapping[str, Any]], log: Log) -> Iterable[Change]:
    for record in records:
        try:
            yield change_of(record)
        except RecordError as exc:
            log(json.dumps({"event": "record_skipped", "reason": str(exc),
                            "sequence_number": (record.get("dynamodb") or {}).get(
                                "SequenceNumber")}, ensure_ascii=False))


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event, ddb=client("dynamodb"), table=os.environ[SUMMARY_TABLE],
                        threshold=threshold_from_env(os.environ), log=write_line)
