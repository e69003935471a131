"""How event sources reach a function: asynchronous events and stream batches.

Like AWS, both are asynchronous to the caller (an S3 PUT or a DynamoDB write returns before the
function runs):
- Asynchronous events (S3 notifications, SNS, `InvocationType=Event`) run on a few concurrent
  workers per function and are retried twice on error, as Lambda does for asynchronous invokes.
- Stream records (a DynamoDB stream event source mapping) are delivered in order, one batch at a
  time per mapping (a shard), up to the mapping's BatchSize. A failed batch is retried; with
  `ReportBatchItemFailures`, from the lowest failed sequence number on (AWS's checkpoint rule).
  After the mapping's MaximumRetryAttempts (bounded here even when AWS's default is "forever")
  the records are dropped and the drop is logged.

This module knows nothing of moto and nothing of processes: it is handed an `invoke` callable.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from inventory_cli.local.lambda_worker import FunctionSpec

logger = logging.getLogger(__name__)

# AWS retries a failed asynchronous invocation twice.
ASYNC_RETRIES = 2
# AWS's default for streams is to retry until the record expires (a day); locally that would
# block the shard forever, so an unset or infinite MaximumRetryAttempts means this many.
DEFAULT_STREAM_RETRIES = 3


class InvocationOutcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def payload(self) -> str: ...


Invoke = Callable[[FunctionSpec, str], InvocationOutcome]
Sleep = Callable[[float], None]


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
    """Runs asynchronous events of each function on a small pool, retrying failures twice."""

    def __init__(self, invoke: Invoke, activity: Activity, *, concurrency: int = 3,
                 retry_delays_s: Sequence[float] = (1.0, 2.0), sleep: Sleep) -> None:
        self._invoke = invoke
        self._activity = activity
        self._concurrency = concurrency
        self._retry_delays = list(retry_delays_s)[:ASYNC_RETRIES]
        self._sleep = sleep
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, spec: FunctionSpec, event_json: str) -> None:
        with self._lock:
            if self._closed:
                return
            executor = self._executors.get(spec.arn)
            if executor is None:
                executor = ThreadPoolExecutor(max_workers=self._concurrency,
                                              thread_name_prefix=f"lambda-async-{spec.name}")
                self._executors[spec.arn] = executor
            self._activity.begin()
            executor.submit(self._run, spec, event_json)

    def _run(self, spec: FunctionSpec, event_json: str) -> None:
        try:
            for attempt in range(len(self._retry_delays) + 1):
                if self._closed:
                    return
                if attempt:
                    self._sleep(self._retry_delays[attempt - 1])
                outcome = self._invoke(spec, event_json)
                if outcome.ok:
                    return
            logger.warning("asynchronous event for %s failed %d times; dropped (AWS would send "
                           "it to an on-failure destination if one were configured)",
                           spec.name, len(self._retry_delays) + 1)
        except Exception:  # noqa: BLE001 - a dispatcher thread must survive anything
            logger.exception("asynchronous invocation of %s failed", spec.name)
        finally:
            self._activity.end()

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

    @property
    def retries(self) -> int:
        if self.max_retry_attempts is None or self.max_retry_attempts < 0:
            return DEFAULT_STREAM_RETRIES
        return self.max_retry_attempts


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


class StreamDispatcher:
    """Delivers one mapping's records in order, one batch in flight at a time."""

    def __init__(self, mapping: StreamMapping, invoke: Invoke, activity: Activity, *,
                 sleep: Sleep, retry_delay_s: float = 0.2) -> None:
        self.mapping = mapping
        self._invoke = invoke
        self._activity = activity
        self._sleep = sleep
        self._retry_delay_s = retry_delay_s
        self._records: deque[dict[str, Any]] = deque()
        self._spec: FunctionSpec | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"lambda-stream-{mapping.uuid[:8]}")
        self._thread.start()

    def add(self, spec: FunctionSpec, mapping: StreamMapping,
            records: Sequence[dict[str, Any]]) -> None:
        with self._cond:
            # The latest code and settings apply from the next batch on, as on AWS.
            self._spec = spec
            self.mapping = mapping
            self._records.extend(records)
            self._activity.begin(len(records))
            self._cond.notify()

    def _next_batch(self) -> tuple[FunctionSpec, StreamMapping, list[dict[str, Any]]] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._closed or bool(self._records))
            if self._closed:
                return None
            assert self._spec is not None
            size = max(1, self.mapping.batch_size)
            batch = [self._records.popleft() for _ in range(min(size, len(self._records)))]
            return self._spec, self.mapping, batch

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

    def _deliver(self, spec: FunctionSpec, mapping: StreamMapping,
                 batch: list[dict[str, Any]]) -> None:
        pending = batch
        for attempt in range(mapping.retries + 1):
            if self._closed:
                return
            if attempt:
                self._sleep(min(self._retry_delay_s * 2 ** (attempt - 1), 5.0))
            outcome = self._invoke(spec, json.dumps({"Records": pending}))
            start = retry_from(outcome, pending, mapping.report_batch_item_failures)
            if start is None:
                return
            pending = pending[start:]
        first = pending[0]["dynamodb"]["SequenceNumber"]
        last = pending[-1]["dynamodb"]["SequenceNumber"]
        logger.warning("dropped %d stream records (sequence numbers %s..%s) for %s after %d "
                       "retries (mapping %s)", len(pending), first, last, spec.name,
                       mapping.retries, mapping.uuid)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
