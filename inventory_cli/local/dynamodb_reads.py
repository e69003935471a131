"""DynamoDB reads on the emulator that cost what they return.

Patches of moto, installed by `seam.install()`:

- Paging: moto's `Table.query` and `Table.scan` start every page from `all_items()`: the whole
  table, sorted, then skipped up to ExclusiveStartKey. Reading 100,000 items page by page costs
  pages x table. Here each table keeps its keys sorted (re-sorted only after a key was added or
  removed), and for a table with a range key and no index moto is handed, through a per-thread
  window that `all_items` returns, only the items from ExclusiveStartKey on (bisect), lazily for
  a Scan and at most one page plus one item for a plain Query. moto's own loop then does what
  it always did (limits, LastEvaluatedKey, key conditions, filters, projections) on that
  window, so the answers are unchanged (tests/local/test_dynamodb_reads.py compares them with
  unpatched moto). `INVENTORY_EMULATOR_PAGING=moto` leaves moto's reads as they are
  (benchmarks/bench_reads.py measures both in one run).
- No copies: moto deep-copies every item a Query or Scan returns; a windowed read hands them
  over as they are, each item's size computed once, top-level projections picked (see `_read`).
- Answers: moto 5.2.5 turns every answer into JSON through a generic serializer that walks the
  operation's output shape attribute by attribute; for a Query of 5,000 items that walk was 83%
  of the emulator's time (py-spy, 2026-11-30). The answers of the read operations
  (`READ_OPERATIONS`) are plain dicts of DynamoDB JSON already, so they are dumped with `json`
  directly: binary values base64-encoded as the serializer does, the same headers.
  the same test file checks the bytes decode to what moto's serializer gives
  for every attribute type.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

# `INVENTORY_EMULATOR_PAGING=moto` in the server's environment leaves moto's Query/Scan paging
# and answers as they are (benchmarks/bench_reads.py measures both in one run).
PAGING_VARIABLE = "INVENTORY_EMULATOR_PAGING"
# Operations whose answer is DynamoDB JSON only (items, keys, counts, consumed capacity).
READ_OPERATIONS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})


def install() -> None:
    """Patch moto's DynamoDB reads (called once, by `seam.install`)."""
    if os.environ.get(PAGING_VARIABLE) == "moto":  # moto as it is, for comparisons
        return
    _install_dynamodb_paging()
    _install_uncopied_reads()
    _install_plain_json_reads()


# -- paging (see the module's docstring) -------------------------------------------------------

class SortedKeyDict(dict):  # type: ignore[type-arg]
    """A dict that keeps its keys sorted on demand (DynamoType keys)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sorted: list[Any] | None = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            self._sorted = None
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self._sorted = None
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self._sorted = None
        return super().pop(*args)

    def popitem(self) -> Any:
        self._sorted = None
        return super().popitem()

    def clear(self) -> None:
        self._sorted = None
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._sorted = None
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._sorted = None
        return super().setdefault(key, default)

    def sorted_keys(self) -> list[Any]:
        keys = self._sorted
        if keys is None or len(keys) != len(self):
            keys = self._sorted = sorted(self)
        return keys


class SortedPartitions(SortedKeyDict):
    """A table's items: hash key -> SortedKeyDict(range key -> item), created on first use
    like the `defaultdict(dict)` it replaces."""

    def __missing__(self, key: Any) -> Any:
        partition = SortedKeyDict()
        self[key] = partition
        return partition


def sorted_partitions(items: Mapping[Any, Any]) -> SortedPartitions:
    return SortedPartitions({h: SortedKeyDict(p) for h, p in items.items()})


_paging_window = threading.local()


def query_window(table: Any, hash_key: Any, start: Mapping[str, Any] | None, *, forward: bool,
                 limit: int | None, bounded: bool) -> list[Any]:
    """The items of one partition a Query page can touch: after (or, backwards, before) the
    start key; with `bounded`, no more than moto's loop looks at (a page plus one item)."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    partition = table.items.get(hash_key)
    if not partition:
        return []
    keys = partition.sorted_keys()
    after = DynamoType(start[table.range_key_attr]) if start else None
    if forward:
        first = bisect.bisect_right(keys, after) if after is not None else 0
        order: Any = range(first, len(keys))
    else:
        last = bisect.bisect_left(keys, after) if after is not None else len(keys)
        order = range(last - 1, -1, -1)
    window = []
    size = 0
    for index in order:
        item = partition[keys[index]]
        window.append(item)
        if bounded:
            size += item.size()
            if (limit is not None and len(window) > limit) or size > RESULT_SIZE_LIMIT:
                break
    return window


def scan_window(table: Any, start: Mapping[str, Any] | None) -> Iterator[Any]:
    """Every item after the start key, in moto's (hash, range) order, produced lazily."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_keys = table.items.sorted_keys()
    first_hash = 0
    after_range = None
    if start:
        start_hash = DynamoType(start[table.hash_key_attr])
        first_hash = bisect.bisect_left(hash_keys, start_hash)
        if first_hash < len(hash_keys) and hash_keys[first_hash] == start_hash:
            after_range = DynamoType(start[table.range_key_attr])
    for position in range(first_hash, len(hash_keys)):
        partition = table.items.get(hash_keys[position])
        if not partition:
            continue
        keys = partition.sorted_keys()
        begin = 0
        if after_range is not None and position == first_hash:
            begin = bisect.bisect_right(keys, after_range)
        for index in range(begin, len(keys)):
            yield partition[keys[index]]


def _pages_natively(table: Any, index_name: str | None) -> bool:
    return (index_name is None and table.range_key_attr is not None
            and isinstance(table.items, SortedPartitions))


# While a windowed read runs (`_windowed_read`), this thread's Query or Scan:
# - hands moto's items over without deep-copying them. moto copies every item a read returns
#   (44% of a 5,000-item Query, py-spy) although nothing on the way to the answer changes an
#   item: filters read it, a projection builds a new Item, the answer is rebuilt as new dicts.
#   (A copy would not make a read atomic either: it is taken without a lock.)
# - projects top-level attribute names by picking them (moto converts the whole item to Python
#   values and back for every path);
# - computes each item's size once: moto's loop asks twice per item and the window once more,
#   and an item's size walks all its attributes (43% of a Query of 5,000 summary rows with
#   maps). A write meanwhile can only move where a page ends, which DynamoDB does not fix
#   exactly either.
_read = threading.local()


@contextlib.contextmanager
def _windowed_read() -> Iterator[None]:
    previous = _read_sizes()
    _read.sizes = {}
    try:
        yield
    finally:
        _read.sizes = previous


def _read_sizes() -> dict[int, int] | None:
    """The sizes of this thread's windowed read so far; None outside one."""
    sizes: dict[int, int] | None = getattr(_read, "sizes", None)
    return sizes


def _install_uncopied_reads() -> None:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    upstream_deepcopy = Item.__deepcopy__
    upstream_size = Item.size

    @functools.wraps(upstream_deepcopy)
    def item_deepcopy(self: Item, memo: dict[int, Any]) -> Item:
        if _read_sizes() is not None:
            return self
        return upstream_deepcopy(self, memo)

    @functools.wraps(upstream_size)
    def item_size(self: Item) -> int:
        sizes = _read_sizes()
        if sizes is None:
            return upstream_size(self)
        size = sizes.get(id(self))  # the items outlive the read: an id is not reused meanwhile
        if size is None:
            size = sizes[id(self)] = upstream_size(self)
        return size

    upstream_project = Item.project

    @functools.wraps(upstream_project)
    def item_project(self: Item, projection_expressions: list[list[str]]) -> Item:
        # Top-level names only ("Name, Units"): the item with those attributes. moto turns the
        # whole item into Python values and back for every path (slower than no projection).
        if _read_sizes() is None or any(
                len(path) != 1 or "[" in path[0] for path in projection_expressions):
            return upstream_project(self, projection_expressions)
        projected: Item = object.__new__(Item)
        projected.hash_key, projected.range_key = self.hash_key, self.range_key
        projected.attrs = LimitedSizeDict()
        for (name,) in projection_expressions:
            if name in self.attrs:
                projected.attrs[name] = self.attrs[name]
        return projected

    Item.__deepcopy__ = item_deepcopy  # type: ignore[method-assign]
    Item.size = item_size  # type: ignore[method-assign]
    Item.project = item_project  # type: ignore[method-assign]


def _install_dynamodb_paging() -> None:
    from moto.dynamodb.models.table import Table

    upstream_init = Table.__init__
    upstream_all_items = Table.all_items
    upstream_query = Table.query
    upstream_scan = Table.scan

    @functools.wraps(upstream_init)
    def init(self: Table, *args: Any, **kwargs: Any) -> None:
        upstream_init(self, *args, **kwargs)
        if self.range_key_attr is not None:
            self.items = sorted_partitions(self.items)  # type: ignore[assignment]

    def all_items(self: Table) -> Any:
        if getattr(_paging_window, "table", None) is self:
            return _paging_window.items
        return upstream_all_items(self)

    def windowed(table: Table, window: Callable[[], Any], call: Callable[[], Any]) -> Any:
        """`call` (moto's own read) with `all_items` answering `window()`, as one windowed
        read (the window is made inside it, so its item sizes count)."""
        previous = getattr(_paging_window, "table", None), getattr(_paging_window, "items", None)
        with _windowed_read():
            _paging_window.table, _paging_window.items = table, window()
            try:
                return call()
            finally:
                _paging_window.table, _paging_window.items = previous

    def query(  # noqa: PLR0917 - the signature of the method it wraps
            self: Table, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
            exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
            index_name: Any = None, *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            return upstream_query(self, hash_key, range_comparison, range_objs, limit,
                                  exclusive_start_key, scan_index_forward,
                                  projection_expressions, index_name, *args, **kwargs)

        if not _pages_natively(self, index_name) or hash_key is None:
            return call()
        # A range-key condition or a legacy QueryFilter makes moto skip items without counting
        # them: the window then runs to the partition's end (still not the table's).
        legacy_filters = {k: v for k, v in kwargs.items()
                          if k not in ("consistent_read", "filter_expression",
                                       "hash_key_conditions", "range_key_conditions")}
        bounded = not range_comparison and not legacy_filters and not args[2:]
        return windowed(self, lambda: query_window(
            self, hash_key, exclusive_start_key, forward=scan_index_forward is not False,
            limit=limit, bounded=bounded), call)

    def scan(self: Table, filters: Any, limit: Any, exclusive_start_key: Any,
             *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[1] if len(args) > 1 else None)

        def call() -> Any:
            return upstream_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)

        if not _pages_natively(self, index_name):
            return call()
        return windowed(self, lambda: scan_window(self, exclusive_start_key), call)

    Table.__init__ = init  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.scan = scan  # type: ignore[method-assign]


# -- answers as plain JSON (see the module's docstring) ------------------------------------------

def _json_value(value: Any) -> Any:
    """What moto's JSON serializer makes of the values `json` cannot dump itself."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__} in a DynamoDB answer")


_SCALAR_TYPES = frozenset({"S", "N", "BOOL", "NULL"})
_SET_TYPES = frozenset({"SS", "NS"})
_PLAIN = (str, int, float, bool, type(None))


def plain_dict(value: Any) -> Any:
    """moto's `dynamo_to_dict`, which every DynamoDB answer goes through, without its chain of
    isinstance/hasattr checks for every string (29% of a Query of 5,000 summary rows): the same
    result (new dicts and lists; B and BS decoded to bytes), moto's own function for anything
    else than DynamoTypes, dicts, lists and plain values."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    def convert(value: Any) -> Any:
        kind = type(value)
        if kind is DynamoType:
            return attribute(value)
        if kind in _PLAIN:
            return value
        # an item's attributes are a dict subclass (moto's LimitedSizeDict)
        if isinstance(value, dict) and not hasattr(value, "to_json"):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return dynamo_to_dict(value)

    def attribute(value: DynamoType) -> dict[str, Any]:
        name = value.type
        if name in _SCALAR_TYPES:
            return {name: value.value}
        if name in _SET_TYPES:
            return {name: list(value.value)}
        if name == "M":
            return {"M": {key: convert(item) for key, item in value.value.items()}}
        if name == "L":
            return {"L": [convert(item) for item in value.value]}
        return dynamo_to_dict(value)  # type: ignore[no-any-return]  # B, BS: bytes

    return convert(value)


def plain_json(result: Mapping[str, Any]) -> str:
    return json.dumps(result, default=_json_value, separators=(",", ":"))


def _install_plain_json_reads() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    upstream = DynamoHandler.serialized

    @functools.wraps(upstream)
    def serialized(self: DynamoHandler, action_result: Any) -> Any:
        result = action_result.result
        if not isinstance(result, dict) or self._get_action() not in READ_OPERATIONS:
            return upstream(self, action_result)  # errors and every other operation
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, plain_json(result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign,assignment]

    def result_init(self: DynamoResult, result: object) -> None:
        ActionResult.__init__(self, plain_dict(result))

    DynamoResult.__init__ = result_init  # type: ignore[method-assign]
