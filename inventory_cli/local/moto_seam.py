"""The one place where inventory reaches into moto's internals.

moto (pinned in pyproject.toml) is the engine of the built-in emulator. What it lacks for this
pipeline is supplied here, by patching moto classes when `install()` is called:

- Cognito identity pool role mapping (`SetIdentityPoolRoles` / `GetIdentityPoolRoles`), which
  moto 5.2.5 does not implement (in-process: NotImplementedError; server: HTTP 500), and
  `GetId` for an unknown pool answering ResourceNotFoundException as AWS does (moto: HTTP 500).
- DynamoDB stream shards: `StreamShard.add` is not thread-safe (a threaded server could lose or
  duplicate records) and numbers records from the start again after each delivery; it is
  serialised here and numbers records uniquely and in order.
- Lambda execution: without Docker, moto runs no code. Once a runtime is attached
  (`attach(runtime=...)`, done by the emulator server), invocations go to
  `lambda_runtime.LambdaRuntime`: event-source calls (S3, SNS, streams) and `Event` invokes are
  queued and return at once, as on AWS; `RequestResponse` invokes wait for the result.
- SNS e-mail and SMS deliveries, which cannot leave the machine, go to the outbox once one is
  attached; SQS, Lambda and HTTP subscriptions are delivered by moto as before.
- Bucket policies: a Deny conditioned on keys moto never supplies (aws:SecureTransport) is
  skipped instead of denying everything (see `_install_conditional_bucket_policy_denies`).

Without `attach`, moto behaves as it does upstream apart from the fixes (role mapping, a
thread-safe stream, conditional denies), so in-process tests that call `install()` are not
affected by the runtime.
Everything else of the emulator works on the plain data this module hands over
(`FunctionSpec`, stream records as dicts). `tests/local/test_moto_seam.py` fails loudly if an
upgrade of moto moves what we patch or rely on.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inventory_cli.local.lambda_dispatch import StreamMapping
    from inventory_cli.local.lambda_runtime import LambdaRuntime
    from inventory_cli.local.lambda_worker import FunctionSpec
    from inventory_cli.local.outbox import Outbox

logger = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"
# `INVENTORY_EMULATOR_PAGING=moto` in the server's environment leaves moto's Query/Scan paging
# as it is (benchmarks/bench_reads.py measures both in one run).
PAGING_VARIABLE = "INVENTORY_EMULATOR_PAGING"

_installed = False
_install_lock = threading.Lock()
# One lock for every stream shard: additions are short (the delivery is only queued).
_stream_lock = threading.RLock()
_runtime: LambdaRuntime | None = None
_outbox: Outbox | None = None


def install() -> None:
    """Patch moto once per process."""
    global _installed  # noqa: PLW0603 - a process-wide, idempotent switch is the point
    with _install_lock:
        if _installed:
            return
        _install_cognito_identity_pool_roles()
        _install_stream_shard()
        _install_lambda_invoke()
        _install_sns_outbox()
        _install_conditional_bucket_policy_denies()
        if os.environ.get(PAGING_VARIABLE) != "moto":  # moto's own paging, for comparisons
            _install_dynamodb_paging()  # issue 10: a page costs what it returns
        _install_item_level_transaction_rollback()
        _installed = True


def attach(*, runtime: LambdaRuntime | None = None, outbox: Outbox | None = None) -> None:
    """Route Lambda invocations to `runtime` and e-mail/SMS deliveries to `outbox`."""
    global _runtime, _outbox  # noqa: PLW0603 - the server process has exactly one of each
    install()
    _runtime, _outbox = runtime, outbox


def detach() -> None:
    attach(runtime=None, outbox=None)


# -- the emulator server's WSGI application ----------------------------------------------------

def server_app() -> tuple[Callable[..., Any], type]:
    """moto's WSGI application (all services, dispatched by host and path) and its handler."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler


# -- Cognito identity pool roles ---------------------------------------------------------------

def _install_cognito_identity_pool_roles() -> None:
    from moto.cognitoidentity.exceptions import ResourceNotFoundError
    from moto.cognitoidentity.models import CognitoIdentityBackend
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    def _roles(backend: CognitoIdentityBackend) -> dict[str, dict[str, Any]]:
        store: dict[str, dict[str, Any]] | None = getattr(backend, "_inventory_pool_roles", None)
        if store is None:
            store = {}
            backend._inventory_pool_roles = store  # type: ignore[attr-defined]
        return store

    def set_identity_pool_roles(self: CognitoIdentityResponse) -> str:
        pool_id = self._get_param("IdentityPoolId")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        _roles(self.backend)[pool_id] = {
            "Roles": self._get_param("Roles") or {},
            "RoleMappings": self._get_param("RoleMappings") or {},
        }
        return ""

    def get_identity_pool_roles(self: CognitoIdentityResponse) -> str:
        pool_id = self._get_param("IdentityPoolId")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        stored = _roles(self.backend).get(pool_id, {"Roles": {}, "RoleMappings": {}})
        return json.dumps({"IdentityPoolId": pool_id, **stored})

    upstream_get_id = CognitoIdentityResponse.get_id

    def get_id(self: CognitoIdentityResponse) -> str:
        # moto looks the pool up with a bare dict index: an unknown pool is an HTTP 500 there,
        # where AWS answers 400 ResourceNotFoundException (what the dashboard shows its users).
        from moto.cognitoidentity.models import cognitoidentity_backends

        pool_id = str(self._get_param("IdentityPoolId") or "")
        try:
            backend = cognitoidentity_backends[self.current_account][pool_id.partition(":")[0]]
            known = pool_id in backend.identity_pools
        except (KeyError, ValueError):
            known = False
        if not known:
            raise ResourceNotFoundError(pool_id)
        return upstream_get_id(self)

    CognitoIdentityResponse.get_id = get_id  # type: ignore[method-assign]
    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles  # type: ignore[attr-defined]
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles  # type: ignore[attr-defined]


# -- Lambda functions --------------------------------------------------------------------------

def function_spec(fn: Any) -> FunctionSpec:
    """The plain description of a moto `LambdaFunction` that the runtime works with."""
    from inventory_cli.local.lambda_worker import FunctionSpec

    code_id = (getattr(fn, "code", None) or {}).get("UUID", "")
    return FunctionSpec(
        arn=fn.function_arn, name=fn.function_name, handler=fn.handler or "",
        runtime=fn.run_time or "", code_sha256=fn.code_sha_256 or "",
        code=getattr(fn, "code_bytes", b"") or b"",
        environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
        timeout_s=float(fn.timeout or 3), memory_mb=int(fn.memory_size or 128),
        version=str(fn.version), region=fn.region, account_id=fn.account_id,
        instance_id=f"{id(fn)}:{code_id}")


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return None


def _install_lambda_invoke() -> None:
    from moto.awslambda.models import LambdaFunction

    upstream_invoke = LambdaFunction.invoke

    def invoke(self: LambdaFunction, body: Any, request_headers: Any,
               response_headers: Any) -> str | bytes:
        runtime = _runtime
        if runtime is None:
            return upstream_invoke(self, body, request_headers, response_headers)
        event_json = body.decode() if isinstance(body, bytes) else (body or "{}")
        # moto calls event sources (S3, SNS, log subscriptions) with empty headers: on AWS those
        # are asynchronous invocations.
        invocation_type = _header(request_headers, "x-amz-invocation-type") or (
            "RequestResponse" if request_headers else "Event")
        if invocation_type == "DryRun":
            return b""
        spec = function_spec(self)
        if invocation_type == "Event":
            runtime.submit_event(spec, event_json)
            # Truthy for moto's SQS source, which deletes the messages it handed over.
            return b"" if request_headers else b"{}"
        result = runtime.invoke(spec, event_json)
        if not result.ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-log-result"] = result.log_tail_base64
        response_headers["x-amz-executed-version"] = str(self.version)
        return result.payload.encode()

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]


# -- DynamoDB streams --------------------------------------------------------------------------

def stream_event_record(item: Any, *, region: str, source_arn: str) -> dict[str, Any]:
    """A moto StreamRecord as Lambda receives it (the shape of moto's `send_dynamodb_items`)."""
    record = item.to_json()
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        from moto.core.utils import unix_time

        dynamodb["ApproximateCreationDateTime"] = unix_time(created)
    return {
        "eventID": record["eventID"], "eventName": record["eventName"],
        "eventVersion": record["eventVersion"], "eventSource": record["eventSource"],
        "awsRegion": region, "dynamodb": dynamodb, "eventSourceARN": source_arn,
    }


def stream_mapping(esm: Any) -> StreamMapping:
    from inventory_cli.local.lambda_dispatch import StreamMapping

    response_types = esm.function_response_types or []
    return StreamMapping(uuid=esm.uuid, batch_size=int(esm.batch_size),
                         max_retry_attempts=esm.max_retry_attempts,
                         report_batch_item_failures="ReportBatchItemFailures" in response_types)


def _install_stream_shard() -> None:
    from moto.awslambda.utils import get_backend
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    upstream_add = StreamShard.add

    def add(self: StreamShard, old: Any, new: Any) -> None:
        with _stream_lock:
            runtime = _runtime
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
            delivered = False
            for function_arn, esm in list(self.table.lambda_event_source_mappings.items()):
                region = function_arn.split(":")[3]
                backend = get_backend(self.account_id, region)
                # moto leaves a deleted mapping on the table; AWS would stop delivering.
                if not esm.enabled or backend.get_event_source_mapping(esm.uuid) is None:
                    continue
                try:
                    fn = backend.get_function(function_arn)
                except Exception:  # noqa: BLE001 - moto raises several kinds for "no function"
                    logger.warning("stream records for deleted function %s dropped",
                                   function_arn)
                    continue
                # LATEST: only what is written from now on; TRIM_HORIZON: the backlog too.
                pending = self.items if esm.starting_position == "TRIM_HORIZON" else [record]
                runtime.submit_stream_records(
                    function_spec(fn), stream_mapping(esm),
                    [stream_event_record(i, region=region, source_arn=esm.event_source_arn)
                     for i in pending])
                delivered = True
            if delivered:
                self.items = []

    StreamShard.add = add  # type: ignore[method-assign]


# -- SNS deliveries that cannot leave the machine ----------------------------------------------

def _install_sns_outbox() -> None:
    from moto.sns.models import Subscription

    from inventory_cli.local.outbox import OUTBOX_PROTOCOLS

    upstream_publish = Subscription.publish

    def publish(  # noqa: PLR0917 - the signature of the method it replaces
            self: Subscription, message: str, message_id: str, subject: str | None = None,
            message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
            deduplication_id: str | None = None, message_structure: str | None = None,
    ) -> None:
        outbox = _outbox
        if outbox is None or self.protocol not in OUTBOX_PROTOCOLS:
            upstream_publish(self, message, message_id, subject=subject,
                             message_attributes=message_attributes, group_id=group_id,
                             deduplication_id=deduplication_id,
                             message_structure=message_structure)
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        outbox.append(topic_arn=self.topic_arn, protocol=self.protocol, to=self.endpoint,
                      subject=None if self.protocol == "sms" else subject, message=message,
                      attributes=_plain_attributes(message_attributes),
                      message_id=message_id)

    Subscription.publish = publish  # type: ignore[method-assign]


def _plain_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: (value.get("Value") if isinstance(value, Mapping) else value)
            for name, value in (attributes or {}).items()}


# -- CloudWatch Logs for function output -------------------------------------------------------

class MotoLogSink:
    """Writes invocation logs into moto's CloudWatch Logs, creating group and stream as needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, spec: FunctionSpec, stream: str, events: Sequence[tuple[int, str]]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[spec.account_id][spec.region]
        with self._lock:
            backend.ensure_log_group(spec.log_group)
            backend.ensure_log_stream(spec.log_group, stream)
            backend.put_log_events(spec.log_group, stream,
                                   [{"timestamp": t, "message": m} for t, m in events])


def _install_conditional_bucket_policy_denies() -> None:
    """A Deny statement conditioned on keys moto never supplies does not apply (stack part).

    moto 5.2.5 checks a condition only against the values a caller passes in, and treats a key
    with no value as satisfied. S3 passes none, so the deny-non-TLS statement AWS recommends
    (`"Bool": {"aws:SecureTransport": "false"}`, on both buckets `inventory provision` creates)
    denied every object read and write. A Deny whose condition cannot be evaluated is skipped.
    """
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self: IAMPolicyStatement, action: str, resource: str = "*",
                            principal: str | None = None,
                            incoming_condition_values: dict[str, str] | None = None,
                            ) -> PermissionResult:
        result = original(self, action, resource, principal, incoming_condition_values)
        statement = self._statement
        if result == PermissionResult.DENIED and statement.get("Effect") == "Deny":
            keys = {key for block in (statement.get("Condition") or {}).values()
                    for key in block}
            if keys and not keys & set(incoming_condition_values or {}):
                return PermissionResult.NEUTRAL
        return result

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


# -- DynamoDB pages that cost what they return (issue 10) ---------------------------------------
#
# moto's Table.query and Table.scan start every page from `all_items()`: the whole table,
# sorted, then skipped up to ExclusiveStartKey. Reading 100,000 items page by page costs pages x
# table. Here each table keeps its keys sorted (re-sorted only after a key was added or removed),
# and for a table with a range key and no index moto is handed, through a per-thread window
# that `all_items` returns, only the items from ExclusiveStartKey on (bisect), lazily for a Scan
# and at most one page plus one item for a plain Query. moto's own loop then does what it always
# did (limits, LastEvaluatedKey, key conditions, filters, projections) on that window, so the
# answers are unchanged (tests/local/test_moto_seam.py compares them with unpatched moto).

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


def _install_dynamodb_paging() -> None:
    from moto.dynamodb.models.table import Table

    upstream_init = Table.__init__
    upstream_all_items = Table.all_items
    upstream_query = Table.query
    upstream_scan = Table.scan

    def init(self: Table, *args: Any, **kwargs: Any) -> None:
        upstream_init(self, *args, **kwargs)
        if self.range_key_attr is not None:
            self.items = sorted_partitions(self.items)  # type: ignore[assignment]

    def all_items(self: Table) -> Any:
        if getattr(_paging_window, "table", None) is self:
            return _paging_window.items
        return upstream_all_items(self)

    def windowed(table: Table, items: Any, call: Callable[[], Any]) -> Any:
        previous = getattr(_paging_window, "table", None), getattr(_paging_window, "items", None)
        _paging_window.table, _paging_window.items = table, items
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
        window = query_window(self, hash_key, exclusive_start_key,
                              forward=scan_index_forward is not False, limit=limit,
                              bounded=bounded)
        return windowed(self, window, call)

    def scan(self: Table, filters: Any, limit: Any, exclusive_start_key: Any,
             *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[1] if len(args) > 1 else None)

        def call() -> Any:
            return upstream_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)

        if not _pages_natively(self, index_name):
            return call()
        return windowed(self, scan_window(self, exclusive_start_key), call)

    Table.__init__ = init  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.scan = scan  # type: ignore[method-assign]


# -- TransactWriteItems without copying whole tables (issue 10) ---------------------------------
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


def _install_item_level_transaction_rollback() -> None:
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
