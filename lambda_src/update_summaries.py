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
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from lambda_src.aws_clients import bounded_client, client
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
# BatchWriteItem takes at most 25 puts ("BatchWriteItem", DynamoDB API Reference).
BATCH_WRITE_LIMIT = 25
# The unconditional path writes and drains this many groups at once (threads sharing the
# clients). Within a group the calls (BatchWriteItems of 25 cells, the row maps it creates, its
# drain) wait for one another, and a batch of 10,000 records is about a thousand calls: at
# 10-20 ms each on AWS, latency, not DynamoDB, sets the pace. Groups rather than one group's 25-
# cell writes are overlapped because a group's drain and the maps it creates are more calls than
# its cell writes (590 against 405 in 10,000 records of 20 stores, threshold 10). Four: a
# batch of loaded files (about 300 cells a group) still has several groups to overlap, and each
# group holds one connection of each client at a time (aws_clients.MAX_POOL_CONNECTIONS is
# 16). With 15 ms a call on in-process moto, two in flight took 15 s where one took 26; four
# and eight no less (moto's own work, under one lock, is then the pace, as on the emulator).
GROUPS_IN_FLIGHT = 4

# The unconditional path's commit records: one item per drain, `done` or `aborted`.
DRAIN_KIND = "drain"
DRAIN_DONE = "done"
DRAIN_ABORTED = "aborted"
# Who may write cells without a condition (meta row `writers`): `Until`, a lease the other
# writers (rebuild, replays) hold; `FastUntil`, until when a stream invocation may still send
# unconditional cell writes.
WRITERS_NAME = "writers"
# A stream invocation sends unconditional writes for at most this long after registering
# (it registers again to go on); its client gives up on a request after a few seconds.
FAST_WINDOW_S = 20.0
# A lease holder waits this long past the last registered window before writing cells: a
# request sent inside the window has been applied by then (or never will be).
WRITE_SETTLE_S = 15.0
LEASE_S = 120.0
# The field `inventory retry` sets on a stream batch it re-drives (not from the stream).
REPLAY_FIELD = "inventoryReplay"



@dataclass(frozen=True)
class CellState:
    """What the summaries reflect for one (store, item)."""

    count: int | None  # None: the item does not exist in that store
    low: bool
    sequence: str  # zero-padded; "" when written by a rebuild
    created_at: float  # time of the record (or the rebuild's start) that set it
    version: int  # 0: no cell item yet
    # (count, low) the summary rows reflect when they do not reflect this state yet: the cell
    # was written by the unconditional path and its drain did not commit (see `read_cells`).
    base: tuple[int | None, bool] | None = None

    @property
    def reflected(self) -> tuple[int | None, bool]:
        """(count, low) as the summary rows have it."""
        return self.base if self.base is not None else (self.count, self.low)

    def settled(self) -> CellState:
        """This state as the rows will reflect it once written with its row changes."""
        return replace(self, base=None) if self.base is not None else self


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
        """Add moving one cell from what the rows reflect of `before` to `after`."""
        count, low = before.reflected
        self.members += int(after.count is not None) - int(count is not None)
        self.units += (after.count or 0) - (count or 0)
        self.low_count += int(after.low) - int(low)
        if after.low and (not low or count != after.count):
            self.low_set = {**(self.low_set or {}), member: after.count or 0}
        elif low and not after.low:
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


def _pending(item: Mapping[str, Any]) -> tuple[str, tuple[int | None, bool]] | None:
    """(token, reflected count and low) of a cell the unconditional path wrote, else None."""
    if "Pend" not in item:
        return None
    count = whole_number(item["PCount"]["N"]) if "PCount" in item else None
    return item["Pend"]["S"], (count, bool(item.get("PLow", {}).get("BOOL", False)))


def read_cells(ddb: Any, table: str, cells: Sequence[tuple[str, str]], *,
               in_flight: int = 1) -> dict[tuple[str, str], CellState]:
    """The current state of `cells` (strongly consistent), each with what the summary rows
    reflect of it: a cell the unconditional path wrote is reflected once its drain committed
    (`done`); a drain that never committed is aborted here (see `abort_drain`), and the cell's
    `base` is what the rows still reflect. `in_flight`: BatchGetItem calls sent at once (the
    reads of a batch of 10,000 records are 100 calls; one after another they were a sixth of
    the function's time once its writes overlapped)."""
    states = {cell: NO_CELL for cell in cells}
    pending: dict[tuple[str, str], tuple[str, tuple[int | None, bool]]] = {}
    by_name = {cell_name(*cell): cell for cell in cells}
    keys = [cell_key(*cell) for cell in cells]
    for item in _batch_get(ddb, table, keys, in_flight=in_flight):
        cell = by_name[item["Name"]["S"]]
        states[cell] = cell_from_item(item)
        found = _pending(item)
        if found is not None:
            pending[cell] = found
    if pending:
        markers = read_drains(ddb, table, {token for token, _ in pending.values()})
        for cell, (token, base) in pending.items():
            state = markers.get(token) or abort_drain(ddb, table, token)
            if state != DRAIN_DONE:
                states[cell] = replace(states[cell], base=base)
    return states


def _batch_get(ddb: Any, table: str, keys: Sequence[dict[str, Any]], *,
               in_flight: int = 1) -> Iterator[dict[str, Any]]:
    chunks = [keys[start:start + BATCH_GET_LIMIT]
              for start in range(0, len(keys), BATCH_GET_LIMIT)]
    for items in _each(lambda chunk: _get_chunk(ddb, table, chunk), chunks, in_flight):
        yield from items


_T = TypeVar("_T")
_R = TypeVar("_R")


def _each(run: Callable[[_T], _R], items: Sequence[_T], in_flight: int) -> list[_R]:
    """`run` on every item, up to `in_flight` at once on threads (the clients are thread-safe),
    results in the items' order; one after another in this thread when `in_flight` is 1."""
    if in_flight <= 1 or len(items) <= 1:
        return [run(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(in_flight, len(items)),
                            thread_name_prefix="summaries") as pool:
        return list(pool.map(run, items))


def _get_chunk(ddb: Any, table: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Up to 100 keys, read until none is left unprocessed."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {table: {"Keys": list(keys), "ConsistentRead": True}}
    while request:
        response = ddb.batch_get_item(RequestItems=request)
        items += response.get("Responses", {}).get(table, [])
        request = response.get("UnprocessedKeys") or {}
        if request:
            time.sleep(0.05)
    return items


# ---- drains: the unconditional path's commit records --------------------------------------------

def drain_key(token: str) -> dict[str, Any]:
    return {"Kind": {"S": DRAIN_KIND}, "Name": {"S": token}}


def read_drains(ddb: Any, table: str, tokens: Iterable[str]) -> dict[str, str]:
    """token -> DRAIN_DONE or DRAIN_ABORTED, for the tokens that have a marker."""
    return {item["Name"]["S"]: item["State"]["S"]
            for item in _batch_get(ddb, table, [drain_key(t) for t in sorted(tokens)])}


def abort_drain(ddb: Any, table: str, token: str) -> str:
    """Mark a drain that has not committed as aborted, so it never will (its transaction puts
    the marker only where none exists); returns the marker's state, `done` if it committed
    first. Called only where the drain's writer can no longer write cells (see the module's
    docstring: one writer per cell on the stream, the others after a lease)."""
    try:
        ddb.put_item(TableName=table, Item={**drain_key(token), "State": {"S": DRAIN_ABORTED}},
                     ConditionExpression="attribute_not_exists(Kind)")
        return DRAIN_ABORTED
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    return read_drains(ddb, table, [token]).get(token, DRAIN_ABORTED)


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
                log: Log, sleep: Callable[[float], None] = time.sleep,
                before_chunk: Callable[[], None] | None = None) -> set[Cell]:
    """Move each cell to `decide(cell, current state)` together with the summary rows, in
    transactions conditioned on the cells' versions (the conditional path). Returns the cells
    that could not be done. `before_chunk` runs before each transaction's cells are read (a
    lease holder renews its lease there).

    A transaction that fails for what one cell holds (DynamoDB refuses the whole transaction) is
    split in halves and each half tried again, down to that one cell: only its records fail.
    """
    failed: set[Cell] = set()
    for chunk in transaction_chunks(cells):
        if before_chunk is not None:
            before_chunk()
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


def next_state(cell: Cell, before: CellState, decide: Decide) -> CellState | None:
    """The cell's state after this change, settled; None when there is nothing to write. With
    nothing newer but rows that do not reflect the cell yet, the same state one version on moves
    them there."""
    after = decide(cell, before)
    if after is None:
        if before.base is None:
            return None
        after = replace(before, version=before.version + 1)
    return after.settled()


def _apply_chunk(ddb: Any, table: str, chunk: list[tuple[str, str]], decide: Decide, *,
                 low_lists: bool = True) -> None:
    states = read_cells(ddb, table, chunk)
    actions: list[dict[str, Any]] = []
    stores: dict[str, RowDelta] = {}
    items: dict[str, RowDelta] = {}
    for cell in chunk:
        before = states[cell]
        after = next_state(cell, before, decide)
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


# ---- who may write without conditions ---------------------------------------------------------

_WRITERS_KEY = {"Kind": {"S": META_KIND}, "Name": {"S": WRITERS_NAME}}


def register_fast(ddb: Any, table: str, now: float) -> bool:
    """Register a window of unconditional writes from `now`; False while a lease is held."""
    try:
        ddb.update_item(TableName=table, Key=_WRITERS_KEY,
                        UpdateExpression="SET FastUntil = :f",
                        ConditionExpression="attribute_not_exists(#u) OR #u < :now",
                        ExpressionAttributeNames={"#u": "Until"},
                        ExpressionAttributeValues={":f": {"N": repr(now + FAST_WINDOW_S)},
                                                   ":now": {"N": repr(now)}})
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


class Lease:
    """Held by the writers other than the stream (a rebuild, a replayed batch): while it is
    held no stream invocation registers unconditional writes, and its holder writes cells only
    once every window registered before has passed (plus WRITE_SETTLE_S)."""

    def __init__(self, ddb: Any, table: str, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._ddb, self._table, self._clock, self._sleep = ddb, table, clock, sleep
        self.until = float("-inf")

    def ensure(self) -> None:
        """Take or renew the lease; wait out any window registered before it."""
        now = self._clock()
        if now + LEASE_S / 2 < self.until:
            return
        until = now + LEASE_S
        attributes = self._ddb.update_item(
            TableName=self._table, Key=_WRITERS_KEY,
            UpdateExpression="SET #u = :u", ExpressionAttributeNames={"#u": "Until"},
            ExpressionAttributeValues={":u": {"N": repr(until)}},
            ReturnValues="ALL_NEW").get("Attributes", {})
        fast_until = float(attributes.get("FastUntil", {}).get("N", "-inf"))
        # Renewed in time, nobody could register in between; otherwise the answer shows
        # the latest window, and it is waited out like the first time.
        if now >= self.until:
            wait = fast_until + WRITE_SETTLE_S - now
            if wait > 0:
                self._sleep(wait)
        self.until = until

    def release(self) -> None:
        if self.until == float("-inf"):
            return
        try:
            self._ddb.update_item(
                TableName=self._table, Key=_WRITERS_KEY, UpdateExpression="SET #u = :now",
                ConditionExpression="#u = :mine", ExpressionAttributeNames={"#u": "Until"},
                ExpressionAttributeValues={":now": {"N": repr(self._clock())},
                                           ":mine": {"N": repr(self.until)}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # Another holder renewed it: theirs now.
        self.until = float("-inf")


# ---- the unconditional path -------------------------------------------------------------------

Plan = tuple[Cell, CellState, CellState]  # cell, before (as read), after


def drain_groups(plans: Sequence[Plan]) -> Iterator[list[Plan]]:
    """`plans` in consecutive runs whose store and item rows fit one transaction with the
    drain's marker."""
    group: list[Plan] = []
    stores: set[str] = set()
    items: set[str] = set()
    for plan in plans:
        store, item = plan[0]
        added = (store not in stores) + (item not in items)
        if group and len(stores) + len(items) + added > MAX_ACTIONS - 1:
            yield group
            group, stores, items = [], set(), set()
        group.append(plan)
        stores.add(store)
        items.add(item)
    if group:
        yield group


def _pending_put(table: str, token: str, before: CellState, cell: Cell,
                 after: CellState) -> dict[str, Any]:
    store, item = cell
    attributes = _cell_put(table, store, item, before, after)["Item"]
    count, low = before.reflected
    attributes["Pend"] = {"S": token}
    attributes["PLow"] = {"BOOL": low}
    if count is not None:
        attributes["PCount"] = {"N": str(count)}
    return {"PutRequest": {"Item": attributes}}


def _row_actions(table: str, group: Sequence[Plan]) -> list[tuple[str, str, RowDelta]]:
    stores: dict[str, RowDelta] = {}
    items: dict[str, RowDelta] = {}
    for (store, item), before, after in group:
        stores.setdefault(store, RowDelta()).add(item, before, after)
        items.setdefault(item, RowDelta()).add(store, before, after)
    return [(kind, name, delta) for kind, rows in ((STORE_KIND, stores), (ITEM_KIND, items))
            for name, delta in rows.items() if not delta.is_empty]


def _write_cells(ddb: Any, table: str, requests: list[dict[str, Any]],
                 in_window: Callable[[], bool], sleep: Callable[[float], None]) -> bool:
    """BatchWriteItem every request; False if the window closed before all were sent."""
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = requests[start:start + BATCH_WRITE_LIMIT]
        attempt = 0
        while pending:
            if not in_window():
                return False
            answer = ddb.batch_write_item(RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])
            if pending:
                sleep(min(0.05 * 2 ** attempt, 1.0))
                attempt += 1
    return True


def _drain(ddb: Any, table: str, token: str, group: Sequence[Plan],
           sleep: Callable[[float], None], *, known_maps: set[tuple[str, str]]) -> bool:
    """Add the group's changes to the store and item rows, and mark the drain done, in one
    transaction that commits only while no marker exists. True once done (by us or before).

    `known_maps`: rows whose low map this container created or saw exist. A map is never
    removed (only its members are), so it is created once per row, not before every drain
    (each creation is a write: a unit per KB of the row, and a store row is written by nearly
    every group). Should a row lose its map anyway (deleted by hand), the transaction fails
    with ValidationException, the set is forgotten and the cells go the conditional path,
    which creates maps every time."""
    rows = _row_actions(table, group)
    for kind, name, delta in rows:
        if delta.low_set and (kind, name) not in known_maps:
            _ensure_map(ddb, table, kind, name)
            known_maps.add((kind, name))
    actions: list[dict[str, Any]] = [{"Update": _row_update(table, kind, name, delta)}
                                     for kind, name, delta in rows]
    actions.append({"Put": {"TableName": table,
                            "Item": {**drain_key(token), "State": {"S": DRAIN_DONE}},
                            "ConditionExpression": "attribute_not_exists(Kind)"}})
    for attempt in range(MAX_ATTEMPTS):
        try:
            ddb.transact_write_items(TransactItems=actions)
            return True
        except ClientError as exc:
            failure = _failure_of(exc)
            if not failure.retriable:
                known_maps.clear()
                return False
            # A cancelled marker condition: someone decided this drain already.
            state = read_drains(ddb, table, [token]).get(token)
            if state is not None:
                return state == DRAIN_DONE
            if attempt < MAX_ATTEMPTS - 1:
                sleep(min(0.05 * 2 ** attempt, 1.0))
        except BotoCoreError:
            return False
    return False


@dataclass(frozen=True)
class _GroupOutcome:
    """How one group of the unconditional path ended."""

    group: list[Plan]
    started: bool  # False: not started (a group before it failed); nothing written
    done: bool  # its drain committed
    error: str = ""  # the AWS error that stopped it, if any
    unsure: bool = False  # a request whose answer never came: it may still be applied


def _write_and_drain(ddb: Any, table: str, group: list[Plan], *, fast_ddb: Any,
                     in_window: Callable[[], bool], sleep: Callable[[float], None],
                     known_maps: set[tuple[str, str]]) -> _GroupOutcome:
    """Write one group's cells with a fresh token, then drain it; a group that does not get
    through has its drain aborted (so it can never commit) before it is handed back."""
    token = uuid.uuid4().hex
    requests = [_pending_put(table, token, before, cell, after) for cell, before, after in group]
    error, unsure = "", False
    try:
        done = (_write_cells(fast_ddb, table, requests, in_window, sleep)
                and _drain(ddb, table, token, group, sleep, known_maps=known_maps))
    except (ClientError, BotoCoreError) as exc:
        done, error = False, f"{type(exc).__name__}: {exc}"
        unsure = isinstance(exc, BotoCoreError)
    if not done:
        try:
            abort_drain(ddb, table, token)
        except (ClientError, BotoCoreError):
            pass  # whoever reads these cells next aborts it (read_cells)
    return _GroupOutcome(group, started=True, done=done, error=error, unsure=unsure)


def _groups_in_flight(groups: list[list[Plan]], run: Callable[[list[Plan]], _GroupOutcome],
                      in_flight: int) -> list[_GroupOutcome]:
    """`run` each group, up to `in_flight` at once, in order of start; once one is not done,
    the groups not started yet are not run (those in flight finish). Outcomes in group order.
    An exception other than AWS's (the invocation being stopped, a bug) stops the starts too,
    and is raised once the groups in flight have finished."""
    stopped = threading.Event()

    def guarded(group: list[Plan]) -> _GroupOutcome:
        if stopped.is_set():
            return _GroupOutcome(group, started=False, done=False)
        try:
            outcome = run(group)
        except BaseException:
            stopped.set()
            raise
        if not outcome.done:
            stopped.set()
        return outcome

    return _each(guarded, groups, in_flight)


def apply_unconditionally(ddb: Any, table: str, cells: Sequence[Cell], decide: Decide, *,
                          fast_ddb: Any, in_window: Callable[[], bool],
                          sleep: Callable[[float], None], log: Log,
                          stats: dict[str, int] | None = None,
                          groups_in_flight: int = GROUPS_IN_FLIGHT,
                          known_maps: set[tuple[str, str]] | None = None) -> list[Cell]:
    """Move `cells` with unconditional cell writes and one transaction of rows per group (see
    the module's docstring), up to `groups_in_flight` groups at once. Returns the cells left for
    the conditional path: those of a group whose writes or drain did not go through (its drain
    is aborted first) and those of the groups not started once one had not (the window closed,
    an error)."""
    try:
        states = read_cells(ddb, table, cells, in_flight=groups_in_flight)
    except (ClientError, BotoCoreError):
        return list(cells)  # the conditional path reads them in smaller parts
    plans: list[Plan] = []
    for cell in cells:
        before = states[cell]
        after = next_state(cell, before, decide)
        if after is not None:
            plans.append((cell, before, after))
    known_maps = set() if known_maps is None else known_maps
    # Called from the groups' threads: one at a time (it may register a new window).
    window_lock = threading.Lock()

    def window_open() -> bool:
        with window_lock:
            return in_window()

    outcomes = _groups_in_flight(
        list(drain_groups(plans)),
        lambda group: _write_and_drain(ddb, table, group, fast_ddb=fast_ddb,
                                       in_window=window_open, sleep=sleep,
                                       known_maps=known_maps),
        groups_in_flight)
    left: list[Cell] = []
    unsure = False  # a request whose answer never came: it may still be applied
    for outcome in outcomes:  # logs and stats here, in group order, from this thread
        if outcome.error:
            log(json.dumps({"event": "summary_fast_path_left", "cells": len(outcome.group),
                            "error": outcome.error}, ensure_ascii=False))
        unsure = unsure or outcome.unsure
        if stats is not None and outcome.started:
            stats["cells_written"] = stats.get("cells_written", 0) + len(outcome.group)
            stats["rows"] = stats.get("rows", 0) + (
                len(_row_actions(table, outcome.group)) if outcome.done else 0)
            stats["drains"] = stats.get("drains", 0) + int(outcome.done)
        if not outcome.done:
            left += [cell for cell, _, _ in outcome.group]
    if unsure and left:
        # An unconditional write sent without an answer (a time-out) lands now or never: the
        # conditional path must not read these cells before it could have.
        sleep(WRITE_SETTLE_S)
    return left


# ---- the handler ------------------------------------------------------------------------------

def handle_event(event: Mapping[str, Any], *, ddb: Any, table: str, threshold: int,
                 log: Log = print, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 fast_ddb: Any = None, groups_in_flight: int = 1,
                 known_maps: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Apply a stream batch (or a replayed one) to the summaries. The function runs with
    GROUPS_IN_FLIGHT groups at once (`lambda_handler`); one at a time by default, for callers
    that stop an invocation at its N-th call (tests/lambda/test_update_summaries_crashes.py) or
    whose DynamoDB is in-process moto, whose writes are not thread-safe without the emulator's
    seam (a transaction deep-copies the table another thread writes to). `known_maps`: rows
    known to have their low map (see `_drain`); the function keeps them for its container."""
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

    cells = by_item(newest)
    # One line per batch: what the summaries wrote (cells, the rows their drains changed) and
    # what went through the conditional path; the write units follow from it (docs/summaries.md).
    stats: dict[str, int] = {"records": len(changes), "cells": len(cells)}
    lease = None
    if event.get(REPLAY_FIELD):
        # Not from the stream: another writer of these cells may be running (the stream's own
        # invocation), so this one takes the lease and writes only with conditions.
        lease = Lease(ddb, table, clock=clock, sleep=sleep)
    elif register_fast(ddb, table, clock()):
        window_end = monotonic() + FAST_WINDOW_S

        def in_window() -> bool:
            nonlocal window_end
            if monotonic() + 5.0 < window_end:
                return True
            # Going on needs a new window (refused while a lease is held).
            if register_fast(ddb, table, clock()):
                window_end = monotonic() + FAST_WINDOW_S
                return True
            return False

        cells = apply_unconditionally(ddb, table, cells, decide, fast_ddb=fast_ddb or ddb,
                                      in_window=in_window, sleep=sleep, log=log, stats=stats,
                                      groups_in_flight=groups_in_flight,
                                      known_maps=known_maps)
    try:
        failed_cells = apply_cells(ddb, table, cells, decide, log=log, sleep=sleep,
                                   before_chunk=lease.ensure if lease else None)
    finally:
        if lease is not None:
            lease.release()
    failed = [c.raw_sequence for c in changes if c.cell in failed_cells]
    stats["conditional_cells"] = len(cells)  # what the unconditional path left, or all
    stats["failed_records"] = len(failed)
    log(json.dumps({"event": "summary_batch", **stats}))
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
                        threshold=threshold_from_env(os.environ), log=write_line,
                        fast_ddb=bounded_client("dynamodb"), groups_in_flight=GROUPS_IN_FLIGHT,
                        known_maps=_KNOWN_MAPS)


# Rows known to have their low map, for the life of this container (see `_drain`).
_KNOWN_MAPS: set[tuple[str, str]] = set()
