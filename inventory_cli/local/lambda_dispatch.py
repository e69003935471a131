"""How event sources reach a function: asynchronous events and stream batches.

Like AWS, both are asynchronous to the caller (an S3 PUT or a DynamoDB write returns before the
function runs), and both honour the function's error handling settings
(docs/emulator-destinations.md):
- Asynchronous events (S3 notifications, SNS, `InvocationType=Event`) run on a few concurrent
  workers per function and are retried on error as the function's event invoke config says
  (MaximumRetryAttempts 0-2, default 2; MaximumEventAgeInSeconds). An event that still fails
  goes to the config's on-failure destination as Lambda's own invocation record. An event
  that recursive loop detection stops (`lambda_lineage`) is not run at all and goes there at
  once, with the condition `RecursiveInvocationException`.
- Stream records (a DynamoDB stream event source mapping) are delivered in order, one batch at a
  time per mapping (a shard), up to the mapping's BatchSize and within Lambda's 6 MB invocation
  payload; with a MaximumBatchingWindowInSeconds, a batch waits that long after its first record
  for more to arrive (Lambda Developer Guide, "Lambda event source mappings", batching
  behavior). A failed batch is retried; with
  `ReportBatchItemFailures`, from the lowest failed sequence number on (AWS's checkpoint rule);
  with `BisectBatchOnFunctionError`, a batch whose invocation failed is split in two and each
  half retried on its own (a split does not use up a retry). After the mapping's
  MaximumRetryAttempts (bounded here even when AWS's default is "until the record expires") or
  MaximumRecordAgeInSeconds, the records are discarded: sent to the mapping's on-failure
  destination (for an S3 bucket with the whole batch as `payload`), or logged without one.

This module knows nothing of moto and nothing of processes: it is handed an `invoke` callable
and a `FailureDestinations` that delivers records.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from inventory_cli.local.lambda_lineage import Lineage, RecursionStopped
from inventory_cli.local.lambda_worker import RuntimeFunction

logger = logging.getLogger(__name__)

# AWS retries a failed asynchronous invocation twice unless the event invoke config says less.
ASYNC_RETRIES = 2
# AWS's default for streams is to retry until the record expires (a day); locally that would
# block the shard forever, so an unset or infinite MaximumRetryAttempts means this many.
DEFAULT_STREAM_RETRIES = 3
# Lambda's invocation payload limit (Lambda Developer Guide, "Lambda quotas": 6 MB for a
# synchronous invocation, which is how a stream batch runs): a batch stops before the record
# that would take its event over it.
MAX_STREAM_EVENT_BYTES = 6 * 1024 * 1024


class InvocationOutcome(Protocol):
    @property
    def request_id(self) -> str: ...

    @property
    def ok(self) -> bool: ...

    @property
    def payload(self) -> str: ...


Invoke = Callable[[RuntimeFunction, str], InvocationOutcome]
# A stream batch's invocation also states the batch's iterator age (ms), for Lambda's metric.
StreamInvoke = Callable[[RuntimeFunction, str, float], InvocationOutcome]
# An asynchronous invocation continues the chain of requests of whoever queued the event;
# raises RecursionStopped when loop detection stops it.
AsyncInvoke = Callable[[RuntimeFunction, str, Lineage | None], InvocationOutcome]
Sleep = Callable[[float], None]
Clock = Callable[[], float]


class FailureDestinations(Protocol):
    """Delivers an invocation record to an on-failure destination (an S3 bucket, SQS queue or
    SNS topic ARN); `s3_key` is the object key AWS would use. Never raises: a record that cannot
    be delivered is logged (AWS counts it in the DestinationDeliveryFailures metric)."""

    def deliver(self, destination_arn: str, record: dict[str, Any], *, s3_key: str,
                account_id: str, region: str) -> None: ...


class NoDestinations:
    def deliver(self, destination_arn: str, record: dict[str, Any], *, s3_key: str,
                account_id: str, region: str) -> None:
        logger.warning("no way to deliver to %s here; record dropped: %s", destination_arn,
                       json.dumps(record)[:500])


@dataclass(frozen=True)
class AsyncConfig:
    """A function's event invoke config (PutFunctionEventInvokeConfig), as far as it matters."""

    max_retry_attempts: int = ASYNC_RETRIES
    max_event_age_s: float | None = None
    on_failure: str | None = None


def _timestamp(epoch_s: float) -> str:
    """Lambda's record timestamps: ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _object_time(epoch_s: float) -> str:
    """`YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS`: the dated part of AWS's destination object keys."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y/%m/%d/%Y-%m-%dT%H.%M.%S")


def async_record_key(function_name: str, epoch_s: float) -> str:
    return f"aws/lambda/async/{function_name}/{_object_time(epoch_s)}-{uuid.uuid4()}"


def stream_record_key(mapping_uuid: str, shard_id: str, epoch_s: float) -> str:
    return f"aws/lambda/{mapping_uuid}/{shard_id}/{_object_time(epoch_s)}-{uuid.uuid4()}"


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def _response_context(spec: RuntimeFunction, outcome: InvocationOutcome) -> dict[str, Any]:
    if isinstance(outcome, StoppedOutcome):
        # The function never ran: no executed version, Lambda's own error instead.
        return {"statusCode": 400, "functionError": "Unhandled"}
    context: dict[str, Any] = {"statusCode": 200, "executedVersion": spec.version}
    if not outcome.ok:
        context["functionError"] = "Unhandled"
    return context


@dataclass(frozen=True)
class StoppedOutcome:
    """The outcome of an invocation that recursive loop detection stopped before it ran."""

    request_id: str
    payload: str
    ok: bool = False

    @classmethod
    def of(cls, stop: RecursionStopped) -> StoppedOutcome:
        return cls(str(uuid.uuid4()), json.dumps({"errorMessage": str(stop),
                                                   "errorType": stop.error_type}))


def async_failure_record(spec: RuntimeFunction, event_json: str, outcome: InvocationOutcome, *,
                         condition: str, invoke_count: int, now: float) -> dict[str, Any]:
    """Lambda's invocation record for an asynchronous event that failed for good."""
    return {
        "version": "1.0", "timestamp": _timestamp(now),
        "requestContext": {"requestId": outcome.request_id,
                           "functionArn": f"{spec.arn}:{spec.version}",
                           "condition": condition, "approximateInvokeCount": invoke_count},
        "requestPayload": _json_or_text(event_json),
        "responseContext": _response_context(spec, outcome),
        "responsePayload": _json_or_text(outcome.payload),
    }


class Activity:
    """Counts work not yet finished, so callers can wait until the pipeline has settled."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def begin(self, n: int = 1) -> None:
        with self._cond:
            self._count += n

    def end(self, n: int = 1) -> None:
        with self._cond:
            self._count -= n
            if self._count <= 0:
                self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._count

    def wait_idle(self, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count <= 0, timeout=timeout_s)


class AsyncInvoker:
    """Runs asynchronous events of each function on a small pool; retries and destinations as
    the function's event invoke config says."""

    def __init__(self, invoke: AsyncInvoke, activity: Activity, *, concurrency: int = 3,
                 retry_delays_s: Sequence[float] = (1.0, 2.0), sleep: Sleep,
                 destinations: FailureDestinations | None = None,
                 clock: Clock = time.time) -> None:
        self._invoke = invoke
        self._activity = activity
        self._concurrency = concurrency
        self._retry_delays = list(retry_delays_s)[:ASYNC_RETRIES]
        self._sleep = sleep
        self._destinations = destinations or NoDestinations()
        self._clock = clock
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, spec: RuntimeFunction, event_json: str, config: AsyncConfig | None = None,
               lineage: Lineage | None = None) -> None:
        with self._lock:
            if self._closed:
                return
            executor = self._executors.get(spec.arn)
            if executor is None:
                executor = ThreadPoolExecutor(max_workers=self._concurrency,
                                              thread_name_prefix=f"lambda-async-{spec.name}")
                self._executors[spec.arn] = executor
            self._activity.begin()
            executor.submit(self._run, spec, event_json, config or AsyncConfig(),
                            self._clock(), lineage)

    def _delay(self, retry: int) -> float:
        if not self._retry_delays:
            return 0.0
        return self._retry_delays[min(retry, len(self._retry_delays)) - 1]

    def _run(self, spec: RuntimeFunction, event_json: str, config: AsyncConfig,  # noqa: PLR0917
             queued_at: float, lineage: Lineage | None) -> None:
        retries = max(0, min(config.max_retry_attempts, ASYNC_RETRIES))
        try:
            attempts = 0
            condition = "RetriesExhausted"
            outcome: InvocationOutcome | None = None
            while attempts <= retries:
                if self._closed:
                    return
                if attempts:
                    self._sleep(self._delay(attempts))
                    if (config.max_event_age_s is not None
                            and self._clock() - queued_at > config.max_event_age_s):
                        condition = "EventAgeExceeded"
                        break
                try:
                    outcome = self._invoke(spec, event_json, lineage)
                except RecursionStopped as stop:
                    # Not retried: the chain is as long on every attempt.
                    self._discard(spec, event_json, config, StoppedOutcome.of(stop),
                                  stop.error_type, attempts)
                    return
                attempts += 1
                if outcome.ok:
                    return
            assert outcome is not None
            self._discard(spec, event_json, config, outcome, condition, attempts)
        except Exception:  # noqa: BLE001 - a dispatcher thread must survive anything
            logger.exception("asynchronous invocation of %s failed", spec.name)
        finally:
            self._activity.end()

    def _discard(self, spec: RuntimeFunction, event_json: str, config: AsyncConfig,  # noqa: PLR0917
                 outcome: InvocationOutcome, condition: str, attempts: int) -> None:
        if config.on_failure is None:
            logger.warning("asynchronous event for %s failed %d times; dropped (no on-failure "
                           "destination configured)", spec.name, attempts)
            return
        now = self._clock()
        record = async_failure_record(spec, event_json, outcome, condition=condition,
                                      invoke_count=attempts, now=now)
        logger.info("asynchronous event for %s failed %d times (%s); sent to %s", spec.name,
                    attempts, condition, config.on_failure)
        self._destinations.deliver(config.on_failure, record,
                                   s3_key=async_record_key(spec.name, now),
                                   account_id=spec.account_id, region=spec.region)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executors = list(self._executors.values())
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class StreamMapping:
    """The settings of one event source mapping that matter for delivery."""

    uuid: str
    batch_size: int = 100
    max_retry_attempts: int | None = None
    report_batch_item_failures: bool = False
    bisect_batch_on_function_error: bool = False
    # None or -1: no limit (AWS: until the record leaves the stream, 24 hours).
    max_record_age_s: int | None = None
    on_failure: str | None = None
    stream_arn: str = ""
    shard_id: str = ""
    # MaximumBatchingWindowInSeconds (0-300 for DynamoDB streams, default 0: no waiting).
    batching_window_s: float = 0.0

    @property
    def retries(self) -> int:
        if self.max_retry_attempts is None or self.max_retry_attempts < 0:
            return DEFAULT_STREAM_RETRIES
        return self.max_retry_attempts

    def too_old(self, records: Sequence[dict[str, Any]], now: float) -> bool:
        if self.max_record_age_s is None or self.max_record_age_s < 0 or not records:
            return False
        return now - _arrival(records[0], now) > self.max_record_age_s


def iterator_age_ms(records: Sequence[dict[str, Any]], now: float) -> float:
    """Lambda's IteratorAge of a batch read at `now`: the time since its newest record was
    written to the stream (Lambda Developer Guide, "Types of metrics for Lambda functions":
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)."""
    newest = max(_arrival(record, now) for record in records)
    return max(0.0, (now - newest) * 1000.0)


def _arrival(record: dict[str, Any], default: float) -> float:
    """When a stream record was written (its ApproximateCreationDateTime, epoch seconds)."""
    value = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    return float(value) if isinstance(value, int | float) else default


def stream_failure_record(spec: RuntimeFunction, mapping: StreamMapping,  # noqa: PLR0917
                          records: Sequence[dict[str, Any]], outcome: InvocationOutcome, *,
                          condition: str, invoke_count: int, now: float) -> dict[str, Any]:
    """Lambda's record of a discarded stream batch (`payload`: what only an S3 destination
    receives, the invocation's event as a JSON object, as AWS writes it)."""
    first, last = records[0], records[-1]
    return {
        "requestContext": {"requestId": outcome.request_id, "functionArn": spec.arn,
                           "condition": condition, "approximateInvokeCount": invoke_count},
        "responseContext": _response_context(spec, outcome),
        "version": "1.0", "timestamp": _timestamp(now),
        "DDBStreamBatchInfo": {
            "shardId": mapping.shard_id,
            "startSequenceNumber": str(first["dynamodb"]["SequenceNumber"]),
            "endSequenceNumber": str(last["dynamodb"]["SequenceNumber"]),
            "approximateArrivalOfFirstRecord": _timestamp(_arrival(first, now))[:-5] + "Z",
            "approximateArrivalOfLastRecord": _timestamp(_arrival(last, now))[:-5] + "Z",
            "batchSize": len(records), "streamArn": mapping.stream_arn},
        "payload": {"Records": list(records)},
    }


def _reported_failures(payload: str) -> Any:
    """The `batchItemFailures` a successful response carries (None when there are none)."""
    try:
        response = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        return None  # a non-JSON success is a success
    return response.get("batchItemFailures") if isinstance(response, dict) else None


def retry_from(outcome: InvocationOutcome, batch: Sequence[dict[str, Any]],
               report_batch_item_failures: bool) -> int | None:
    """Index of the first record to retry, or None when the whole batch succeeded.

    With ReportBatchItemFailures, AWS checkpoints at the lowest failed sequence number and
    retries from there; a malformed list or an unknown identifier fails the whole batch.
    """
    if not outcome.ok:
        return 0
    failures = _reported_failures(outcome.payload) if report_batch_item_failures else None
    if not failures:
        return None
    if not isinstance(failures, list):
        return 0
    positions = {str(r["dynamodb"]["SequenceNumber"]): i for i, r in enumerate(batch)}
    identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if any(i is None or str(i) not in positions for i in identifiers):
        return 0
    return min(positions[str(i)] for i in identifiers)


# The event a batch's records go in, as `json.dumps({"Records": [...]})` writes it (its default
# separators: what the handler receives is exactly this text).
_EVENT_START, _EVENT_END, _RECORD_SEPARATOR = '{"Records": [', "]}", ", "
_EVENT_OVERHEAD = len(_EVENT_START) + len(_EVENT_END)


class QueuedRecord(NamedTuple):
    """A stream record waiting for its batch, serialized once when queued: the text is what goes
    into the event, and its length what it adds to the payload (json.dumps escapes non-ASCII,
    so characters are bytes)."""

    record: dict[str, Any]
    text: str
    # time.monotonic() when queued: a batching window counts from its batch's first record.
    queued_at: float


def stream_event(batch: Sequence[QueuedRecord]) -> str:
    """The invocation's event: the same text as `json.dumps({"Records": records})`."""
    return _EVENT_START + _RECORD_SEPARATOR.join(q.text for q in batch) + _EVENT_END


def event_bytes(count: int, text_bytes: int) -> int:
    """The size of the event of `count` records whose texts are `text_bytes` long together."""
    return _EVENT_OVERHEAD + text_bytes + len(_RECORD_SEPARATOR) * max(0, count - 1)


def take_batch(queue: deque[QueuedRecord], batch_size: int,
               max_bytes: int = MAX_STREAM_EVENT_BYTES) -> list[QueuedRecord]:
    """Pop the next batch: up to `batch_size` records, stopping before the one that would take
    the event over `max_bytes`; always at least one (a record too big on its own goes alone:
    with DynamoDB's 400 KB items no stream record is)."""
    first = queue.popleft()
    batch = [first]
    size = _EVENT_OVERHEAD + len(first.text)
    step = len(_RECORD_SEPARATOR)
    while queue and len(batch) < batch_size:
        size += step + len(queue[0].text)
        if size > max_bytes:
            break
        batch.append(queue.popleft())
    return batch


def _records_of(batch: Sequence[QueuedRecord]) -> list[dict[str, Any]]:
    return [q.record for q in batch]


class StreamDispatcher:
    """Delivers one mapping's records in order, one batch in flight at a time."""

    def __init__(self, mapping: StreamMapping, invoke: StreamInvoke, activity: Activity, *,
                 sleep: Sleep, retry_delay_s: float = 0.2,
                 destinations: FailureDestinations | None = None,
                 clock: Clock = time.time) -> None:
        self.mapping = mapping
        self._invoke = invoke
        self._activity = activity
        self._sleep = sleep
        self._retry_delay_s = retry_delay_s
        self._destinations = destinations or NoDestinations()
        self._clock = clock
        self._queue: deque[QueuedRecord] = deque()
        # The total length of the queued records' texts, to know cheaply when the queue holds
        # a full 6 MB batch.
        self._queued_bytes = 0
        self._spec: RuntimeFunction | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"lambda-stream-{mapping.uuid[:8]}")
        self._thread.start()

    def add(self, spec: RuntimeFunction, mapping: StreamMapping,
            records: Sequence[dict[str, Any]]) -> None:
        # Serialized here, outside the lock and once per record: the batch's event is then
        # only joined, however often it is retried.
        now = time.monotonic()
        queued = [QueuedRecord(r, json.dumps(r), now) for r in records]
        with self._cond:
            # The latest code and settings apply from the next batch on, as on AWS.
            self._spec = spec
            self.mapping = mapping
            self._queue.extend(queued)
            self._queued_bytes += sum(len(q.text) for q in queued)
            self._activity.begin(len(queued))
            self._cond.notify()

    def _next_batch(self) -> tuple[RuntimeFunction, StreamMapping, list[QueuedRecord]] | None:
        with self._cond:
            while True:
                self._cond.wait_for(lambda: self._closed or bool(self._queue))
                if self._closed:
                    return None
                wait_s = self._window_left()
                if wait_s <= 0:
                    break
                # New records, a new mapping or close() wake this early; then look again.
                # The records stay counted in the Activity, so wait_idle waits for them.
                self._cond.wait(timeout=wait_s)
            assert self._spec is not None
            batch = take_batch(self._queue, max(1, self.mapping.batch_size))
            self._queued_bytes -= sum(len(q.text) for q in batch)
            return self._spec, self.mapping, batch

    def _window_left(self) -> float:
        """Seconds the next batch still waits for more records: the mapping's batching window
        counted from when its first record was queued, or 0 once the queue holds a full batch
        (BatchSize records or a 6 MB event), as Lambda stops at whichever comes first."""
        window = self.mapping.batching_window_s
        if window <= 0 or self._queue_is_full():
            return 0.0
        return self._queue[0].queued_at + window - time.monotonic()

    def _queue_is_full(self) -> bool:
        count = len(self._queue)
        return (count >= max(1, self.mapping.batch_size)
                or event_bytes(count, self._queued_bytes) >= MAX_STREAM_EVENT_BYTES)

    def _loop(self) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            spec, mapping, batch = taken
            try:
                self._deliver(spec, mapping, batch)
            except Exception:  # noqa: BLE001 - the shard must keep flowing
                logger.exception("stream delivery to %s failed", spec.name)
            finally:
                self._activity.end(len(batch))

    def _deliver(self, spec: RuntimeFunction, mapping: StreamMapping,
                 batch: list[QueuedRecord]) -> None:
        """The batch and, after bisection, its halves, each with its own retry count."""
        segments: deque[list[QueuedRecord]] = deque([batch])
        while segments and not self._closed:
            halves = self._deliver_segment(spec, mapping, segments.popleft())
            segments.extendleft(reversed(halves))

    def _deliver_segment(self, spec: RuntimeFunction, mapping: StreamMapping,
                         pending: list[QueuedRecord]) -> list[list[QueuedRecord]]:
        """Invoke with `pending` until it succeeds or is discarded; returns the halves to deliver
        instead when the invocation failed and the mapping bisects."""
        retries = 0
        while not self._closed:
            records = _records_of(pending)
            outcome = self._invoke(spec, stream_event(pending),
                                   iterator_age_ms(records, self._clock()))
            start = retry_from(outcome, records, mapping.report_batch_item_failures)
            if start is None:
                return []
            if not outcome.ok and mapping.bisect_batch_on_function_error and len(pending) > 1:
                middle = len(pending) // 2
                return [pending[:middle], pending[middle:]]  # a split is not a retry
            pending, records = pending[start:], records[start:]
            if retries >= mapping.retries:
                self._discard(spec, mapping, records, outcome, "RetryAttemptsExhausted",
                              retries + 1)
                return []
            retries += 1
            self._sleep(min(self._retry_delay_s * 2 ** (retries - 1), 5.0))
            if mapping.too_old(records, self._clock()):
                self._discard(spec, mapping, records, outcome, "RecordAgeExceeded", retries)
                return []
        return []

    def _discard(self, spec: RuntimeFunction, mapping: StreamMapping,  # noqa: PLR0917
                 records: list[dict[str, Any]], outcome: InvocationOutcome, condition: str,
                 invoke_count: int) -> None:
        first = records[0]["dynamodb"]["SequenceNumber"]
        last = records[-1]["dynamodb"]["SequenceNumber"]
        if mapping.on_failure is None:
            logger.warning("dropped %d stream records (sequence numbers %s..%s) for %s after %d "
                           "retries (mapping %s, %s; no on-failure destination)", len(records),
                           first, last, spec.name, invoke_count - 1, mapping.uuid, condition)
            return
        now = self._clock()
        record = stream_failure_record(spec, mapping, records, outcome, condition=condition,
                                       invoke_count=invoke_count, now=now)
        if not mapping.on_failure.startswith("arn:aws:s3:::"):
            del record["payload"]  # queues and topics get the batch's position only, as on AWS
        logger.info("discarded %d stream records (sequence numbers %s..%s) for %s (%s); sent "
                    "to %s", len(records), first, last, spec.name, condition, mapping.on_failure)
        self._destinations.deliver(
            mapping.on_failure, record, account_id=spec.account_id, region=spec.region,
            s3_key=stream_record_key(mapping.uuid, mapping.shard_id or "shard", now))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
