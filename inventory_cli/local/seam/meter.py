"""The emulator's meter: per request it serves, what AWS would bill for it.

Counted (the rules and the AWS page each comes from):

- DynamoDB request units, per table and per caller (`caller_of`: the function whose execution
  role signed the request, another issued role by its name, "operator" for any other key).
  Item sizes as DynamoDB computes them (`item_size`; Developer Guide, "DynamoDB item sizes and
  formats", CapacityUnitCalculations.html). Units (Developer Guide, "DynamoDB read and write
  operations", read-write-operations.html):
  - writes: 1 unit per 1 KB, rounded up, at least 1; PutItem and UpdateItem the larger of the
    item before and after, DeleteItem the item deleted; BatchWriteItem each item on its own;
    a write whose condition fails still costs the size of the item that is there (at least 1);
    TransactWriteItems twice that, per action (ConditionCheck included), and a cancelled
    transaction is charged as its actions' failed conditions, doubled (AWS does not state the
    figure; this is the meter's estimate);
  - reads: 1 unit per 4 KB, rounded up, strongly consistent; half for eventually consistent
    (the default); TransactGetItems twice; GetItem and BatchGetItem per item (an absent item
    costs the minimum); Query and Scan by the total size of the items read (before a filter,
    after the key condition; projections do not reduce it), rounded up once per request.
  Units are kept in halves, so that eventually consistent reads stay exact.
- S3 requests by price class (Amazon S3 pricing, "Requests & data retrievals"): PUT, COPY,
  POST and LIST; GET, HEAD and every other request; DELETE (free).
- SNS: publishes, one per started 64 KB of message (Amazon SNS pricing: "each 64KB chunk of
  published data is billed as 1 request"; a PublishBatch is one publish of its total size),
  and deliveries by protocol (a subscription whose filter policy drops the message is not a
  delivery). A direct publish to a phone number is an SMS delivery.
- Lambda: requests and GB-seconds, from the runtime's invocation records
  (`record_invocation`, a listener on `LambdaRuntime.records`); throttled invocations ran
  nothing and are not billed.

Counts are cumulative since the emulator started; `mark(name)` remembers the counts of the
moment, and `report(since=name)` answers the difference. The emulator serves the report at
`/_inventory/meter` (server.py); nothing outside the emulator reads this module.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from inventory_cli.local.invocation_records import InvocationRecord
from inventory_cli.local.seam import iam

logger = logging.getLogger(__name__)

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
SNS_CHUNK_BYTES = 64 * 1024
OPERATOR = "operator"
ANONYMOUS = "anonymous"
# S3 price classes (keys of the report's S3 rows).
S3_TIER1 = "put_copy_post_list"
S3_TIER2 = "get_and_other"
S3_FREE = "delete"


# -- item sizes, as DynamoDB computes them ------------------------------------------------------

def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """A number: 1 byte per two significant digits (leading and trailing zeros trimmed), plus
    1 byte."""
    digits = text.strip().lstrip("+-")
    mantissa, _, _exponent = digits.lower().partition("e")
    significant = mantissa.replace(".", "").strip("0")
    return (len(significant) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:  # moto keeps a binary value as the base64 text it was sent as
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return _utf8(str(value))


def _typed(value: Any) -> tuple[str, Any]:
    """(type, value) of a moto DynamoType or a DynamoDB JSON value ({"S": "x"})."""
    if isinstance(value, Mapping):
        kind, inner = next(iter(value.items()))
        return str(kind), inner
    return str(value.type), value.value


# Scalars and sets: the size of the value alone.
_SCALAR_SIZES: dict[str, Callable[[Any], int]] = {
    "S": lambda v: _utf8(str(v)),
    "N": lambda v: number_size(str(v)),
    "B": _binary_size,
    "BOOL": lambda v: 1,
    "NULL": lambda v: 1,
    "SS": lambda v: sum(_utf8(str(m)) for m in v),
    "NS": lambda v: sum(number_size(str(m)) for m in v),
    "BS": lambda v: sum(_binary_size(m) for m in v),
}


def attribute_size(value: Any) -> int:
    """The size of one attribute value, without its name."""
    kind, inner = _typed(value)
    scalar = _SCALAR_SIZES.get(kind)
    if scalar is not None:
        return scalar(inner)
    # A List or Map: 3 bytes, plus 1 byte and the size of each element (a Map's with its name).
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + _utf8(str(k)) + attribute_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(attributes: Mapping[str, Any]) -> int:
    """An item's size: the sum of its attribute names' and values' sizes."""
    return sum(_utf8(str(name)) + attribute_size(value) for name, value in attributes.items())


def write_units(size: int) -> int:
    """Standard write units of one item of `size` bytes (at least 1)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_blocks(size: int) -> int:
    """4 KB blocks of a read of `size` bytes (at least 1): the strongly consistent read units."""
    return max(1, math.ceil(size / READ_UNIT_BYTES))


def read_half_units(size: int, *, consistent: bool, transactional: bool = False) -> int:
    """Read units of one read, in halves (eventually consistent: 1 per block; strongly
    consistent: 2; transactional: 4)."""
    return read_blocks(size) * (4 if transactional else 2 if consistent else 1)


# -- the meter ----------------------------------------------------------------------------------

Key = tuple[str, ...]


class UnknownMark(KeyError):
    """`report(since=...)` named a mark nobody made."""


class Meter:
    """Cumulative counts, keyed by what they are counted per; marks are snapshots of them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[Key, float] = {}
        self._started = clock()
        self._marks: dict[str, tuple[float, dict[Key, float]]] = {}

    def add(self, key: Key, amount: float = 1) -> None:
        if amount:
            with self._lock:
                self._counts[key] = self._counts.get(key, 0) + amount

    # What the hooks count.
    def dynamodb_write(self, table: str, caller: str, units: int) -> None:
        self.add(("dynamodb", table, caller, "write_units"), units)

    def dynamodb_read(self, table: str, caller: str, half_units: int) -> None:
        self.add(("dynamodb", table, caller, "read_half_units"), half_units)

    def s3_request(self, bucket: str, caller: str, price_class: str) -> None:
        self.add(("s3", bucket, caller, price_class))

    def sns_publish(self, topic: str, caller: str, size: int) -> None:
        self.add(("sns_publish", topic, caller, "requests"),
                 max(1, math.ceil(size / SNS_CHUNK_BYTES)))

    def sns_delivery(self, topic: str, protocol: str) -> None:
        self.add(("sns_delivery", topic, protocol, "deliveries"))

    def record_invocation(self, record: InvocationRecord) -> None:
        """A listener on `LambdaRuntime.records`."""
        if record.throttled:
            return
        function = record.function_name
        self.add(("lambda", function, "requests"))
        self.add(("lambda", function, "errors"), 0 if record.ok else 1)
        self.add(("lambda", function, "billed_ms"), record.billed_ms)
        self.add(("lambda", function, "gb_seconds"), record.gb_seconds)

    # Marks and reports.
    def mark(self, name: str) -> dict[str, Any]:
        """Remember the counts as they are now under `name` (replacing an older mark)."""
        with self._lock:
            self._marks[name] = (self._clock(), dict(self._counts))
        return {"mark": name, "at": _iso(self._marks[name][0])}

    def marks(self) -> list[str]:
        with self._lock:
            return sorted(self._marks)

    def report(self, since: str | None = None) -> dict[str, Any]:
        """The counts since the start, or since the mark `since` (UnknownMark if none)."""
        with self._lock:
            now, counts = self._clock(), dict(self._counts)
            if since is None:
                start, base = self._started, dict[Key, float]()
            elif since in self._marks:
                start, base = self._marks[since]
            else:
                raise UnknownMark(since)
            names = sorted(self._marks)
        delta = {key: value - base.get(key, 0) for key, value in counts.items()}
        return {"since": since or "start", "from": _iso(start), "to": _iso(now),
                "marks": names, **_grouped({k: v for k, v in delta.items() if v})}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _rows(delta: Mapping[Key, float], kind: str, fields: tuple[str, ...]
          ) -> dict[tuple[str, ...], dict[str, float]]:
    """{(the key's names...): {measure: amount}} of one kind of count."""
    rows: dict[tuple[str, ...], dict[str, float]] = {}
    for key, amount in delta.items():
        if key[0] == kind:
            rows.setdefault(key[1:1 + len(fields)], {})[key[-1]] = amount
    return rows


def _grouped(delta: Mapping[Key, float]) -> dict[str, list[dict[str, Any]]]:
    dynamodb = []
    for (table, caller), m in sorted(_rows(delta, "dynamodb", ("table", "caller")).items()):
        dynamodb.append({"table": table, "caller": caller,
                         "read_units": m.get("read_half_units", 0) / 2,
                         "write_units": int(m.get("write_units", 0))})
    s3 = [{"bucket": bucket, "caller": caller, **{c: int(m.get(c, 0))
                                                  for c in (S3_TIER1, S3_TIER2, S3_FREE)}}
          for (bucket, caller), m in sorted(_rows(delta, "s3", ("bucket", "caller")).items())]
    publishes = [{"topic": topic, "caller": caller, "requests": int(m.get("requests", 0))}
                 for (topic, caller), m in
                 sorted(_rows(delta, "sns_publish", ("topic", "caller")).items())]
    deliveries = [{"topic": topic, "protocol": protocol,
                   "deliveries": int(m.get("deliveries", 0))}
                  for (topic, protocol), m in
                  sorted(_rows(delta, "sns_delivery", ("topic", "protocol")).items())]
    functions = [{"function": function, "requests": int(m.get("requests", 0)),
                  "errors": int(m.get("errors", 0)), "billed_ms": int(m.get("billed_ms", 0)),
                  "gb_seconds": m.get("gb_seconds", 0.0)}
                 for (function,), m in sorted(_rows(delta, "lambda", ("function",)).items())]
    return {"dynamodb": dynamodb, "s3": s3, "sns_publishes": publishes,
            "sns_deliveries": deliveries, "lambda": functions}


METER = Meter()


# -- who made the request ---------------------------------------------------------------------

_request = threading.local()


def caller_of(access_key_id: str | None) -> str:
    """The function whose role's key this is, another issued role by its name, "operator" for
    any other key, "anonymous" for an unsigned request."""
    if not access_key_id:
        return ANONYMOUS
    function = iam.function_of_key(access_key_id)
    if function is not None:
        return function
    session = iam.session_for_key(access_key_id)
    if session is not None:
        return session.role_arn.rsplit("/", 1)[-1]
    return OPERATOR


def current_caller() -> str:
    """The caller of the request this thread serves ("operator" outside one: the emulator's
    own calls, which on AWS would be an administrator's)."""
    caller: str | None = getattr(_request, "caller", None)
    return caller or OPERATOR


def _safely(count: Callable[[], None]) -> None:
    """A count that fails is logged: the request it meters must not fail for it."""
    try:
        count()
    except Exception:  # noqa: BLE001
        logger.exception("the meter could not count a request")


# -- DynamoDB -----------------------------------------------------------------------------------

def _stored(backend: Any, table_name: str, key_source: Mapping[str, Any]) -> Any:
    """The item stored under the key `key_source` names (None if none), without creating the
    empty partition moto's own lookup would leave behind."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        table = backend.get_table(table_name)
        hash_key = DynamoType(key_source[table.hash_key_attr])
        if table.range_key_attr is None:
            return table.items.get(hash_key)
        partition = table.items.get(hash_key)
        if partition is None:
            return None
        return partition.get(DynamoType(key_source[table.range_key_attr]))
    except Exception:  # noqa: BLE001 - no such table or key: the request itself will say
        return None


def _size(item: Any) -> int:
    return item_size(item.attrs) if item is not None else 0


def _in_transaction() -> bool:
    return bool(getattr(_request, "in_transaction", False))


def install_dynamodb() -> None:
    """Count DynamoDB's units. Installed before the seam's lock around item writes, so that a
    write's size before and after is read under the same lock as the write."""
    from moto.dynamodb.exceptions import ConditionalCheckFailed
    from moto.dynamodb.models import DynamoDBBackend

    def single_write(name: str) -> None:
        upstream = getattr(DynamoDBBackend, name)

        @functools.wraps(upstream)
        def write(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            if _in_transaction():
                return upstream(self, table_name, *args, **kwargs)
            key = args[0] if args else kwargs.get("item_attrs") or kwargs.get("key") or {}
            before = _size(_stored(self, table_name, key))
            try:
                result = upstream(self, table_name, *args, **kwargs)
            except ConditionalCheckFailed:
                _safely(lambda: METER.dynamodb_write(table_name, current_caller(),
                                                     write_units(before)))
                raise
            _safely(lambda: METER.dynamodb_write(
                table_name, current_caller(),
                write_units(max(before, _size(_stored(self, table_name, key))))))
            return result

        setattr(DynamoDBBackend, name, write)

    # put_item(table_name, item_attrs, ...), update_item(table_name, key, ...),
    # delete_item(table_name, key, ...): the item or key comes first after the table.
    for name in ("put_item", "update_item", "delete_item"):
        single_write(name)

    _install_transactions()
    _install_dynamodb_reads()


def _charge_cancelled(actions: list[tuple[str, str, Any, int]]) -> None:
    for _, table_name, _, before in actions:
        METER.dynamodb_write(table_name, current_caller(), 2 * write_units(before))


def _install_transactions() -> None:
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    upstream_transaction = DynamoDBBackend.transact_write_items

    @functools.wraps(upstream_transaction)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        actions: list[tuple[str, str, Any, int]] = []
        for entry in transact_items:
            for kind, op in entry.items():
                if isinstance(op, Mapping):
                    table_name = str(op.get("TableName", ""))
                    key = op.get("Key") or op.get("Item") or {}
                    actions.append((kind, table_name, key,
                                    _size(_stored(self, table_name, key))))
        _request.in_transaction = True
        try:
            result = upstream_transaction(self, transact_items)
        except TransactionCanceledException:
            _safely(lambda: _charge_cancelled(actions))
            raise
        finally:
            _request.in_transaction = False

        def count() -> None:
            for kind, table_name, key, before in actions:
                after = _size(_stored(self, table_name, key)) if kind in ("Put", "Update") else 0
                METER.dynamodb_write(table_name, current_caller(),
                                     2 * write_units(max(before, after)))

        _safely(count)
        return result

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class _ReadRecorder:
    """Stands in for a Query's or Scan's filter: moto applies the filter to every item the
    request read (after the key condition and the page's limits, before the projection), so
    this sees each of them once, sums their sizes and passes the filter's verdict on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.size = 0

    def expr(self, item: Any) -> bool:
        self.size += item_size(item.attrs)
        return True if self.inner is None else bool(self.inner.expr(item))


def _install_dynamodb_reads() -> None:
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    def paged(name: str, consistent_at: int, filter_at: int) -> None:
        """Table.query / Table.scan, whose filter and consistent_read arguments moto's backend
        passes by position (`filter_at`, `consistent_at`, counted after self)."""
        upstream = getattr(Table, name)

        @functools.wraps(upstream)
        def read(self: Any, *args: Any, **kwargs: Any) -> Any:
            positional = list(args)
            if len(positional) > filter_at:
                recorder = _ReadRecorder(positional[filter_at])
                positional[filter_at] = recorder
            else:
                recorder = _ReadRecorder(kwargs.get("filter_expression"))
                kwargs["filter_expression"] = recorder
            consistent = (positional[consistent_at] if len(positional) > consistent_at
                          else kwargs.get("consistent_read", False))
            result = upstream(self, *positional, **kwargs)
            _safely(lambda: METER.dynamodb_read(
                self.name, current_caller(),
                read_half_units(recorder.size, consistent=bool(consistent))))
            return result

        setattr(Table, name, read)

    # query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
    #       scan_index_forward, projection_expressions, index_name, consistent_read,
    #       filter_expression); scan(filters, limit, exclusive_start_key, filter_expression,
    #       index_name, consistent_read, ...)
    paged("query", consistent_at=8, filter_at=9)
    paged("scan", consistent_at=5, filter_at=3)

    def handler_read(name: str, count: Callable[[Any], None]) -> None:
        upstream = getattr(DynamoHandler, name)

        @functools.wraps(upstream)
        def read(self: Any) -> Any:
            result = upstream(self)
            _safely(lambda: count(self))
            return result

        setattr(DynamoHandler, name, read)

    def get_item(handler: Any) -> None:
        body = handler.body
        item = _stored(handler.dynamodb_backend, body["TableName"], body["Key"])
        METER.dynamodb_read(body["TableName"], current_caller(), read_half_units(
            _size(item), consistent=bool(body.get("ConsistentRead"))))

    def batch_get_item(handler: Any) -> None:
        for table_name, request in (handler.body.get("RequestItems") or {}).items():
            consistent = bool(request.get("ConsistentRead"))
            METER.dynamodb_read(table_name, current_caller(), sum(
                read_half_units(_size(_stored(handler.dynamodb_backend, table_name, key)),
                                consistent=consistent)
                for key in request.get("Keys") or []))

    def transact_get_items(handler: Any) -> None:
        for entry in handler.body.get("TransactItems") or []:
            op = entry.get("Get") or {}
            table_name = str(op.get("TableName", ""))
            item = _stored(handler.dynamodb_backend, table_name, op.get("Key") or {})
            METER.dynamodb_read(table_name, current_caller(), read_half_units(
                _size(item), consistent=True, transactional=True))

    handler_read("get_item", get_item)
    handler_read("batch_get_item", batch_get_item)
    handler_read("transact_get_items", transact_get_items)


# -- the caller of every request, S3, SNS ------------------------------------------------------

# Query parameters of a bucket GET that lists (ListObjects, ListObjectsV2, ListObjectVersions,
# ListMultipartUploads); any other subresource (?policy, ?location, ...) is a GET-class request.
_LIST_PARAMETERS = frozenset({
    "list-type", "versions", "uploads", "prefix", "delimiter", "marker", "max-keys",
    "continuation-token", "start-after", "fetch-owner", "encoding-type", "key-marker",
    "version-id-marker", "upload-id-marker", "max-uploads", "x-id"})


def s3_price_class(*, bucket_level: bool, method: str, query: Iterable[str]) -> str:
    """The price class of an S3 request (Amazon S3 pricing, "Requests & data retrievals")."""
    names = {name.lower() for name in query}
    method = method.upper()
    if method == "DELETE" or (method == "POST" and "delete" in names):
        return S3_FREE  # DeleteObject, DeleteObjects, AbortMultipartUpload
    if method in ("PUT", "POST"):
        return S3_TIER1  # PutObject, CopyObject, POST uploads, multipart, bucket settings
    if method == "GET" and bucket_level and names <= _LIST_PARAMETERS:
        return S3_TIER1  # the LIST requests (and ListBuckets)
    if method == "GET" and not bucket_level and "uploadid" in names:
        return S3_TIER1  # ListParts
    return S3_TIER2


def install() -> None:
    """Note each request's caller, and count S3 and SNS requests. Installed after the seam's
    own SNS deliveries (the outbox), so that e-mail and SMS deliveries are seen too."""
    from moto.core.responses import BaseResponse

    upstream_call_action = BaseResponse.call_action

    @functools.wraps(upstream_call_action)
    def call_action(self: Any) -> Any:
        previous = getattr(_request, "caller", None)
        _request.caller = caller_of(iam.request_access_key(self))
        try:
            return upstream_call_action(self)
        finally:
            _request.caller = previous

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    _install_s3()
    _install_sns()


def _install_s3() -> None:
    from moto.s3.responses import S3Response

    def metered(name: str, bucket_level: bool) -> None:
        upstream = getattr(S3Response, name)

        @functools.wraps(upstream)
        def respond(self: Any, request: Any, full_url: str, *args: Any, **kwargs: Any) -> Any:
            response = upstream(self, request, full_url, *args, **kwargs)

            def count() -> None:
                query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
                bucket = self.parse_bucket_name_from_url(request, full_url) or ""
                METER.s3_request(str(bucket), caller_of(iam.request_access_key(self)),
                                 s3_price_class(bucket_level=bucket_level or not bucket,
                                                method=str(request.method), query=query))

            _safely(count)
            return response

        setattr(S3Response, name, respond)

    # ambiguous_response hands over to one of these two: each request is counted once.
    metered("bucket_response", bucket_level=True)
    metered("key_response", bucket_level=False)


def _install_sns() -> None:
    from moto.sns.models import SNSBackend, Subscription
    from moto.sns.responses import SNSResponse

    upstream_publish = SNSBackend.publish

    @functools.wraps(upstream_publish)
    def publish(self: Any, message: str, arn: str | None, phone_number: str | None = None,
                *args: Any, **kwargs: Any) -> Any:
        result = upstream_publish(self, message, arn, phone_number, *args, **kwargs)
        size = len(str(message).encode("utf-8"))
        batch: list[tuple[str, int]] | None = getattr(_request, "sns_batch", None)
        if phone_number:
            _safely(lambda: METER.sns_delivery("", "sms"))
        elif batch is not None:
            batch.append((str(arn or ""), size))
        else:
            _safely(lambda: METER.sns_publish(str(arn or ""), current_caller(), size))
        return result

    upstream_batch = SNSResponse.publish_batch

    @functools.wraps(upstream_batch)
    def publish_batch(self: Any) -> Any:
        batch: list[tuple[str, int]] = []
        _request.sns_batch = batch
        try:
            result = upstream_batch(self)
        finally:
            _request.sns_batch = None
        if batch:  # one request of the batch's total size
            _safely(lambda: METER.sns_publish(batch[0][0], current_caller(),
                                              sum(size for _, size in batch)))
        return result

    upstream_deliver = Subscription.publish

    @functools.wraps(upstream_deliver)
    def deliver(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> Any:
        result = upstream_deliver(self, message, message_id, *args, **kwargs)
        attributes = kwargs.get("message_attributes", args[1] if len(args) > 1 else None)
        matcher = getattr(self, "_filter_policy_matcher", None)
        if matcher is None or matcher.matches(attributes, message):
            _safely(lambda: METER.sns_delivery(str(self.topic_arn), str(self.protocol)))
        return result

    SNSBackend.publish = publish  # type: ignore[method-assign]
    SNSResponse.publish_batch = publish_batch  # type: ignore[method-assign]
    Subscription.publish = deliver  # type: ignore[method-assign]
