"""A stopgap write meter for the benchmarks: DynamoDB write request units per table, counted in
the emulator process from the calls it serves.

Loaded by Python at start-up (`sitecustomize`) when `benchmarks/write_meter` is on PYTHONPATH and
INVENTORY_BENCH_METER names a file: once moto's DynamoDB models are imported (the emulator's
server; Lambda workers never import them) their writes are wrapped, and the counts are written to
that file as JSON twice a second.

Units as DynamoDB bills them ("Read and write capacity units", DynamoDB Developer Guide; "Item
sizes and formats"): a write costs one unit per started KB of the larger of the item before and
after (PutItem, UpdateItem, DeleteItem, each item of a BatchWriteItem); an item of a
TransactWriteItems costs two; a write whose condition fails costs what it would have cost.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from typing import Any

_PATH = os.environ.get("INVENTORY_BENCH_METER", "")
_counts: dict[str, dict[str, int]] = {}
_lock = threading.Lock()
_local = threading.local()


def _units(size: int) -> int:
    return max(1, -(-size // 1024))


def _add(table: str, what: str, units: int) -> None:
    with _lock:
        row = _counts.setdefault(table, {})
        row[what] = row.get(what, 0) + 1
        row["write_units"] = row.get("write_units", 0) + units


def _stored_size(backend: Any, table_name: str, attrs: dict[str, Any]) -> int:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = backend.tables.get(table_name)
    if table is None or table.hash_key_attr not in attrs:
        return 0
    partition = table.items.get(DynamoType(attrs[table.hash_key_attr]))
    if table.range_key_attr is None:
        item = partition
    else:
        rng = attrs.get(table.range_key_attr)
        item = partition.get(DynamoType(rng)) if partition is not None and rng else None
    return int(item.size()) if item is not None else 0


_patched = False


def _patch() -> None:
    """Wrap moto's DynamoDB writes (once per process)."""
    global _patched  # noqa: PLW0603 - one wrapping per process
    if _patched:
        return
    _patched = True
    from moto.dynamodb.models import DynamoDBBackend

    def single(name: str, key_arg: str) -> None:
        upstream = getattr(DynamoDBBackend, name)

        @functools.wraps(upstream)
        def metered(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            if getattr(_local, "transaction", False):
                return upstream(self, table_name, *args, **kwargs)
            attrs = kwargs.get(key_arg) if key_arg in kwargs else (args[0] if args else {})
            before = _stored_size(self, table_name, attrs or {})
            try:
                result = upstream(self, table_name, *args, **kwargs)
            except Exception:
                _add(table_name, name + "_failed", _units(before))
                raise
            after = _stored_size(self, table_name, attrs or {})
            _add(table_name, name, _units(max(before, after)))
            return result

        setattr(DynamoDBBackend, name, metered)

    single("put_item", "item_attrs")
    single("update_item", "key")
    single("delete_item", "key")
    upstream_transact = DynamoDBBackend.transact_write_items

    @functools.wraps(upstream_transact)
    def transact(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        ops = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            attrs = op.get("Key") or op.get("Item") or {}
            ops.append((op["TableName"], attrs, _stored_size(self, op["TableName"], attrs)))
        _local.transaction = True
        try:
            result = upstream_transact(self, transact_items)
            failed = False
        except Exception:
            failed = True
            raise
        finally:
            _local.transaction = False
            for table, attrs, before in ops:
                after = before if failed else _stored_size(self, table, attrs)
                _add(table, "transact_item_failed" if failed else "transact_item",
                     2 * _units(max(before, after)))
        return result

    DynamoDBBackend.transact_write_items = transact


def _dump_forever() -> None:
    while True:
        time.sleep(0.5)
        with _lock:
            text = json.dumps(_counts)
        tmp = _PATH + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, _PATH)


def _wait_for_moto() -> None:
    for _ in range(600):
        if "moto.dynamodb.models" in sys.modules:
            time.sleep(0.2)  # let the import finish
            _patch()
            _dump_forever()
            return
        time.sleep(0.1)


if _PATH:
    threading.Thread(target=_wait_for_moto, daemon=True, name="bench-write-meter").start()
