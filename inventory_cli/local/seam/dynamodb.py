"""DynamoDB in moto: streams, atomic conditional writes, write throughput, items, transactions.

- Stream shards: `StreamShard.add` is not thread-safe (a threaded server could lose or
  duplicate records) and numbers records from the start again after each delivery; it is
  serialised here and numbers records uniquely and in order.
- Conditional writes: moto checks a condition and writes without a lock, so two
  requests of a threaded server could both pass `attribute_not_exists`; item writes are
  serialised here, so a condition holds as on DynamoDB (the alert log's claims rely on it).
- Items: moto keeps a reference to every `Item` it ever creates (each write, each
  copy) for its /moto-api data page; a long-running emulator grew to 24 GB and was killed
  computing the summaries of 500,000 items. Items are not tracked here.
- Write throughput: off by default; `set_ddb_write_limit(n)` answers writes beyond n a
  second per table as DynamoDB does (UnprocessedItems, ProvisionedThroughputExceededException).
- Transactions copy the items they name, not whole tables.
- Reads that cost what they return (paging, plain JSON answers): `dynamodb_reads.py`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from inventory_cli.local.seam import attached, iam
from inventory_cli.local.seam.awslambda import (
    function_spec,
    stream_event_record,
    stream_mapping,
    stream_read_refusal,
)

logger = logging.getLogger(__name__)

# One lock for every stream shard: additions are short (the delivery is only queued).
_stream_lock = threading.RLock()
# Shards with records a mapping could not read (its function's role lacks the stream read
# permissions): delivered once the role's policies change.
_holding_shards: set[Any] = set()


def install_stream_shard() -> None:
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    upstream_add = StreamShard.add

    def add(self: StreamShard, old: Any, new: Any) -> None:
        with _stream_lock:
            runtime = attached.runtime
            if runtime is None:
                upstream_add(self, old, new)
                return
            view_type = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
            event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
            # Upstream numbers from len(items), which restarts after every delivery.
            added: int = getattr(self, "_inventory_added", len(self.items))
            record = StreamRecord(self.table, view_type, event_name, old, new,
                                  self.starting_sequence_number + added)
            self._inventory_added = added + 1  # type: ignore[attr-defined]
            self.items.append(record)
            deferred: dict[Any, list[Any]] | None = getattr(_request_records, "shards", None)
            if deferred is not None:
                deferred.setdefault(self, []).append(record)
                return
            if _deliver(self, runtime, [record]):
                self.items = []

    StreamShard.add = add  # type: ignore[method-assign]
    iam.on_role_policy_change(deliver_held_records)


# The records of one BatchWriteItem or TransactWriteItems, delivered when the request is done:
# the mappings, the function's settings and its role are looked at once per request instead of
# once per item (8% of the emulator's time in a 30,000-row pipeline went there), and a
# transaction that is cancelled leaves no records (DynamoDB writes none for it).
_request_records = threading.local()


def install_request_scoped_stream_delivery() -> None:
    """Deliver the stream records of multi-item writes once, after the request. Installed after
    `install_atomic_conditional_writes`: the whole request holds the item-write lock, so no
    other write's records can come between its own (an item's records stay in order)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    def scoped(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def deliver_after(*args: Any, **kwargs: Any) -> Any:
            if getattr(_request_records, "shards", None) is not None:
                return method(*args, **kwargs)  # nested: the outer request delivers
            with _item_write_lock:
                _request_records.shards = {}
                try:
                    result = method(*args, **kwargs)
                except BaseException:
                    _forget(_request_records.shards)
                    raise
                finally:
                    shards, _request_records.shards = _request_records.shards, None
                _flush(shards)
                return result

        return deliver_after

    # moto's BatchWriteItem handler writes item by item through the backend's put_item.
    DynamoHandler.batch_write_item = scoped(DynamoHandler.batch_write_item)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = scoped(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items)


def _forget(shards: Mapping[Any, list[Any]]) -> None:
    """A failed request's records never happened (a cancelled transaction is rolled back)."""
    with _stream_lock:
        for shard, records in shards.items():
            dropped = {id(record) for record in records}
            shard.items = [r for r in shard.items if id(r) not in dropped]


def _flush(shards: Mapping[Any, list[Any]]) -> None:
    with _stream_lock:
        runtime = attached.runtime
        for shard, records in shards.items():
            if runtime is not None and _deliver(shard, runtime, records):
                shard.items = []


def _deliver(shard: Any, runtime: Any, fresh: list[Any]) -> bool:
    """Hand each mapping of the shard's table its records; True if any mapping took some."""
    from moto.awslambda.utils import get_backend

    held: dict[str, list[Any]] = shard.__dict__.setdefault("_inventory_held", {})
    delivered = False
    for function_arn, esm in list(shard.table.lambda_event_source_mappings.items()):
        region = function_arn.split(":")[3]
        backend = get_backend(shard.account_id, region)
        # moto leaves a deleted mapping on the table; AWS would stop delivering.
        if not esm.enabled or backend.get_event_source_mapping(esm.uuid) is None:
            continue
        try:
            fn = backend.get_function(function_arn)
        except Exception:  # noqa: BLE001 - moto raises several kinds for "no function"
            logger.warning("stream records for deleted function %s dropped", function_arn)
            continue
        # LATEST: only what is written from now on; TRIM_HORIZON: the backlog too.
        pending = shard.items if esm.starting_position == "TRIM_HORIZON" else fresh
        waiting = held.get(esm.uuid, [])
        batch = waiting + [r for r in pending if all(r is not w for w in waiting)]
        if not batch:
            continue
        spec = function_spec(fn)
        refusal = stream_read_refusal(spec.credentials, str(esm.event_source_arn or ""))
        if refusal is not None:
            if esm.uuid not in held:
                logger.warning("stream records for %s wait: %s", fn.function_name,
                               refusal.message)
            held[esm.uuid] = batch
            _holding_shards.add(shard)
            continue
        held.pop(esm.uuid, None)
        runtime.submit_stream_records(
            spec, stream_mapping(esm, shard_id=shard.id),
            [stream_event_record(i, region=region, source_arn=esm.event_source_arn)
             for i in batch])
        delivered = True
    return delivered


def deliver_held_records() -> None:
    """Offer the records a role could not read to their mappings again (the poller retries
    until the role allows it, within the stream's 24-hour retention)."""
    with _stream_lock:
        runtime = attached.runtime
        if runtime is None:
            return
        for shard in list(_holding_shards):
            _deliver(shard, runtime, [])
            if not shard.__dict__.get("_inventory_held"):
                _holding_shards.discard(shard)

# -- DynamoDB: a condition and its write are one step --------------------------------------------

_item_write_lock = threading.RLock()


def install_atomic_conditional_writes() -> None:
    """Serialise moto's single-item writes (and transactions), so a ConditionExpression and the
    write it guards cannot interleave with another request's (DynamoDB guarantees that; moto's
    threaded server does not). Batch writes carry no conditions and are left alone."""
    from moto.dynamodb.models import DynamoDBBackend

    def serialised(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with _item_write_lock:
                return method(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))

# -- DynamoDB requests read as the JSON they are ---------------------------------------------

# A binary value ("B", "BS"), its key possibly written with JSON escapes.
_BINARY_KEY = re.compile(rb'"(?:B|\\u0042)(?:S|\\u0053)?"\s*:', re.IGNORECASE)


def install_plain_json_parameters() -> None:
    """moto reads every DynamoDB request through its botocore-shape parser, which walks each
    attribute value of each item (a tenth of the emulator's time under a big load). For the
    JSON protocol that walk gives what `json.loads` gives, except that binary values become
    bytes: a body without binary values is read with `json.loads`, any other one as before."""
    from moto.dynamodb.responses import DynamoHandler

    upstream = DynamoHandler.parse_parameters

    @functools.wraps(upstream)
    def parse_parameters(self: DynamoHandler, request: Any) -> None:
        body = request.data
        if body and not _BINARY_KEY.search(body):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                self.params = parsed
                return
        upstream(self, request)

    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign,assignment]


# -- DynamoDB write throughput, like a new on-demand table -------------------------------------

class WriteLimiter:
    """A token bucket per table: `rate` writes a second, at most one second's worth saved up.

    A new on-demand table takes about 4,000 writes a second before it scales; moto takes any
    number. With a limit set, the emulator answers like DynamoDB over its capacity: a
    BatchWriteItem gets what does not fit back as UnprocessedItems (or, when nothing fits,
    ProvisionedThroughputExceededException), a PutItem the exception.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the write limit must be positive")
        self.rate = rate
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, table: tuple[str, str, str], wanted: int) -> int:
        """How many of `wanted` writes to `table` may go through now."""
        with self._lock:
            now = self._clock()
            tokens, since = self._buckets.get(table, (self.rate, now))
            tokens = min(self.rate, tokens + (now - since) * self.rate)
            granted = min(wanted, int(tokens))
            self._buckets[table] = (tokens - granted, now)
            return granted


_write_limiter: WriteLimiter | None = None


def set_ddb_write_limit(rate: float | None) -> None:
    """Limit DynamoDB writes per table to `rate` a second (None: no limit, moto's default)."""
    global _write_limiter  # noqa: PLW0603 - one limit for the emulator process
    from inventory_cli.local.seam import install

    install()
    _write_limiter = WriteLimiter(rate) if rate else None


def install_ddb_write_limit() -> None:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    class ThroughputExceeded(DynamodbException):
        def __init__(self) -> None:
            super().__init__(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                             message="The level of configured provisioned throughput for the "
                                     "table was exceeded. Consider increasing your "
                                     "provisioning level with the UpdateTable API.")

    upstream_batch_write_item = DynamoHandler.batch_write_item
    upstream_put_item = DynamoHandler.put_item

    def batch_write_item(self: DynamoHandler) -> Any:
        limiter = _write_limiter
        if limiter is None:
            return upstream_batch_write_item(self)
        accepted: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        for table, requests in self.body["RequestItems"].items():
            granted = limiter.take((self.current_account, self.region, table), len(requests))
            if granted:
                accepted[table] = requests[:granted]
            if granted < len(requests):
                unprocessed[table] = requests[granted:]
        if not accepted:
            raise ThroughputExceeded()
        self.body = {**self.body, "RequestItems": accepted}
        result = upstream_batch_write_item(self)
        body: dict[str, Any] = result.result  # type: ignore[assignment]
        body["UnprocessedItems"] = unprocessed
        return result

    def put_item(self: DynamoHandler) -> Any:
        limiter = _write_limiter
        table = str(self.body.get("TableName", ""))
        if limiter is not None and not limiter.take(
                (self.current_account, self.region, table), 1):
            raise ThroughputExceeded()
        return upstream_put_item(self)

    DynamoHandler.batch_write_item = batch_write_item  # type: ignore[method-assign]
    DynamoHandler.put_item = put_item  # type: ignore[method-assign]


# -- DynamoDB items that can be freed -----------------------------------------------------------

def install_untracked_items() -> None:
    """moto's BaseModel.__new__ appends every instance to its class's `instances_tracked` list,
    which only moto's /moto-api/data.json reads: every Item written, replaced or copied stayed
    in memory for the emulator's life. Items alone are left out (S3 disposes its keys' files
    through its list, so the rest stays as it is)."""
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models.dynamo_type import Item

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return super(BaseModel, cls).__new__(cls)  # type: ignore[misc]

    Item.__new__ = staticmethod(untracked)  # type: ignore[assignment,method-assign]


# -- Items built in one pass --------------------------------------------------------------------

def install_one_pass_items() -> None:
    """moto builds an item attribute by attribute into a dict that sums the size of everything
    already in it before each insertion (quadratic in the attributes; a twentieth of the
    emulator's time under a big load). Sizes only grow as attributes are added, so the one
    check of the whole item refuses exactly the items moto's checks refuse, with the same
    error (ItemSizeTooLarge above moto's 405,000 bytes)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self: Item, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict()
        size = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            size += bytesize(key) + typed.size()
            dict.__setitem__(built, key, typed)
        if size > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = built

    Item.__init__ = __init__  # type: ignore[method-assign]


# moto's limit (LimitedSizeDict): between the documented 400 KB and what DynamoDB was seen to take.
ITEM_SIZE_LIMIT = 405_000


# -- TransactWriteItems without copying whole tables
#
# moto's transact_write_items deep-copies every table an action names, once per action, so it
# can roll back: a transaction of 70 actions on a table of 100,000 items copied 7 million items.
# Here the items the actions name are copied instead (that is all a transaction can change),
# moto's own whole-table copies are made to return the table itself (so its "rollback" puts the
# same table back), and a failed transaction restores the copied items.

_transaction_in_progress = threading.local()


def _transaction_keys(backend: Any, transact_items: Sequence[Mapping[str, Any]],
                      ) -> list[tuple[Any, Any, Any]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys = []
    for entry in transact_items:
        op = next(iter(entry.values()), None)
        if not isinstance(op, Mapping):
            continue
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        source = op.get("Key") or op.get("Item") or {}
        if table.hash_key_attr not in source:
            continue
        hash_key = DynamoType(source[table.hash_key_attr])
        range_key = (DynamoType(source[table.range_key_attr])
                     if table.range_key_attr and table.range_key_attr in source else None)
        keys.append((table, hash_key, range_key))
    return keys


def _stored_item(table: Any, hash_key: Any, range_key: Any) -> Any:
    partition = table.items.get(hash_key)
    if table.range_key_attr is None:
        return partition
    return partition.get(range_key) if partition is not None else None


def _restore_item(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    if item is None:
        partition = table.items.get(hash_key)
        if partition is not None:
            partition.pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def install_item_level_transaction_rollback() -> None:
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    upstream = DynamoDBBackend.transact_write_items

    def table_deepcopy(self: Table, memo: dict[int, Any]) -> Any:
        if getattr(_transaction_in_progress, "active", False):
            return self
        # Any other deep copy (backups, restores) as copy.deepcopy would make it.
        reductor = self.__reduce_ex__(4)
        return copy._reconstruct(self, memo, *reductor)  # type: ignore[attr-defined]

    def transact_write_items(self: DynamoDBBackend,
                             transact_items: list[dict[str, Any]]) -> None:
        keys = _transaction_keys(self, transact_items)
        saved = [(table, h, r, copy.deepcopy(_stored_item(table, h, r)))
                 for table, h, r in keys]
        _transaction_in_progress.active = True
        try:
            upstream(self, transact_items)
        except Exception:
            for table, h, r, item in reversed(saved):
                _restore_item(table, h, r, item)
            raise
        finally:
            _transaction_in_progress.active = False

    Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# -- role enforcement ---------------------------------------------------------------------------

# DynamoDB answers a refusal with HTTP 400 AccessDeniedException (DynamoDB Developer Guide,
# "Error handling with DynamoDB").
ACCESS_DENIED = "com.amazonaws.dynamodb.v20120810#AccessDeniedException"
# Each action of a transaction is authorised as the single-item action it stands for
# (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions").
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
# Actions that name no table (Service Authorization Reference, Amazon DynamoDB: resource "*").
_ACCOUNT_ACTIONS = frozenset({"ListTables", "DescribeLimits", "DescribeEndpoints",
                              "ListBackups", "ListGlobalTables", "ListStreams"})


def table_arn(region: str, account_id: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{table}"


def iam_wants(handler: Any, _resource: str) -> list[iam.Want]:
    """The permissions a DynamoDB request needs: its action on each table it names."""
    action = str(handler._get_action() or "")
    body = handler.body if isinstance(handler.body, Mapping) else {}
    arn = functools.partial(table_arn, handler.region, handler.current_account)
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [iam.Want(f"dynamodb:{action}", arn(t)) for t in body.get("RequestItems") or {}]
    if action in ("TransactWriteItems", "TransactGetItems"):
        wants = []
        for entry in body.get("TransactItems") or []:
            for kind, op in entry.items():
                if isinstance(op, Mapping) and kind in _TRANSACT_ACTIONS:
                    wants.append(iam.Want(f"dynamodb:{_TRANSACT_ACTIONS[kind]}",
                                          arn(str(op.get("TableName", "")))))
        return wants
    table = body.get("TableName")
    if action in _ACCOUNT_ACTIONS or not table:
        return [iam.Want(f"dynamodb:{action}", str(body.get("ResourceArn") or "*"))]
    resource = arn(str(table))
    if body.get("IndexName") and action in ("Query", "Scan"):
        resource += f"/index/{body['IndexName']}"
    keys = leading_keys(handler, str(table), action, body)
    context = {"dynamodb:LeadingKeys": keys} if keys else {}
    return [iam.Want(f"dynamodb:{action}", resource, context)]


# Requests whose partition key values are `dynamodb:LeadingKeys` (DynamoDB Developer Guide,
# "Using IAM policy conditions for fine-grained access control": the key is the partition key
# of the items a request reads or writes; a Scan names none).
_ITEM_ACTIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem"})
_EQUALS = re.compile(r"(#?[\w.-]+|:[\w-]+)\s*=\s*(#?[\w.-]+|:[\w-]+)")


def leading_keys(handler: Any, table: str, action: str, body: Mapping[str, Any]) -> list[str]:
    """The partition key values a Query or single-item request names (strings as sent)."""
    if action not in _ITEM_ACTIONS and action != "Query":
        return []
    try:
        from moto.dynamodb.models import dynamodb_backends

        hash_key = dynamodb_backends[handler.current_account][handler.region].get_table(
            table).hash_key_attr
    except Exception:  # noqa: BLE001 - no such table: DynamoDB answers that itself
        return []

    def text(value: Any) -> str | None:
        if isinstance(value, Mapping) and len(value) == 1:
            return str(next(iter(value.values())))
        return None

    if action in _ITEM_ACTIONS:
        item = body.get("Key") if action != "PutItem" else body.get("Item")
        found = text((item or {}).get(hash_key))
        return [found] if found is not None else []
    legacy = (body.get("KeyConditions") or {}).get(hash_key) or {}
    if legacy:
        return [v for v in (text(x) for x in legacy.get("AttributeValueList") or [])
                if v is not None]
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    for left, right in _EQUALS.findall(str(body.get("KeyConditionExpression") or "")):
        name, placeholder = (left, right) if right.startswith(":") else (right, left)
        if names.get(name, name) == hash_key and placeholder in values:
            found = text(values[placeholder])
            return [found] if found is not None else []
    return []


def stream_wants(handler: Any, _resource: str) -> list[iam.Want]:
    """The permission a DynamoDB Streams request needs: its action on the stream (a shard
    iterator names its stream first, before "|"); ListStreams names none."""
    action = str(handler._get_action() or "")
    stream = handler._get_param("StreamArn") or str(
        handler._get_param("ShardIterator") or "").partition("|")[0]
    return [iam.Want(f"dynamodb:{action}", str(stream or "*"))]


def install_role_checks() -> None:
    refuse = iam.json_refusal(ACCESS_DENIED, 400)
    iam.register_service("DynamoHandler", iam_wants, refuse)
    iam.register_service("DynamoDBStreamsHandler", stream_wants, refuse)
