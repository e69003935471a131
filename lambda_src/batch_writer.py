"""BatchWriteItem with bounded concurrency and bounded retries of unprocessed items.

One BatchWriteItem call takes 25 items; on AWS each call is a network round trip of about 10 ms,
so calls one after another leave the loader waiting most of the time. Here up to `max_workers`
calls are in flight at once (boto3 clients are thread-safe), and the caller is held back when
that many more batches are queued, so memory stays bounded however large the file is.

How many calls are in flight follows what limits the writer (see `ConcurrencyLimit`): calls that
mostly wait on the network get several in flight; calls that are CPU work get one, written from
the caller's thread, since more threads would only contend for the GIL.

DynamoDB may accept only part of a batch (`UnprocessedItems`, under throttling), or refuse all of
it (`ProvisionedThroughputExceededException`, `ThrottlingException`, once the client's own retries
are spent). Those items are sent again after an exponential backoff with full jitter. With a
`give_up` test (the loader's time budget) throttling never fails a write: items are retried until
`give_up()` says time is short, and what is still unwritten then is left in `unwritten` for the
next invocation. Without one, after `max_attempts` calls per batch `UnwrittenItems` is raised,
so the invocation fails and is retried by Lambda instead of dropping rows silently.

Callers must not put the same key twice (one BatchWriteItem may not hold duplicate keys, and two
batches in flight have no order); the loader writes only the winning row of each key.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

BATCH_SIZE = 25  # DynamoDB's maximum per BatchWriteItem
# At most this many calls in flight. Measured with benchmarks/bench_load.py on 2 cores: a fixed 8
# cost 1.40x the sequential floor when the calls are CPU work (an emulator in the same process),
# and a fixed 3 still 1.30-1.40x; sizing the limit from a measurement (ConcurrencyLimit) removes
# that cost and keeps the overlap where calls wait on the network.
DEFAULT_WORKERS = 8
# Batches written one at a time, at the start, to measure what a call costs.
WINDOW = 4
# One more call in flight only when it would add at least this share of a CPU's work: a
# measured share of 0.9 means calls are CPU work with a little noise, not a reason for 2.
SLACK = 0.15
DEFAULT_MAX_ATTEMPTS = 8
BASE_DELAY = 0.05
MAX_DELAY = 5.0

WriteRequest = dict[str, Any]

# Answers that mean "too fast, try again later" for the whole call.
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                              "RequestLimitExceeded"})


class UnwrittenItems(RuntimeError):
    """Items DynamoDB still had not accepted after every retry."""

    def __init__(self, table: str, requests: list[WriteRequest], attempts: int) -> None:
        keys = [_describe_key(request) for request in requests[:3]]
        more = f" and {len(requests) - 3} more" if len(requests) > 3 else ""
        super().__init__(
            f"{len(requests)} item(s) not written to {table} after {attempts} BatchWriteItem "
            f"attempts (UnprocessedItems): {', '.join(keys)}{more}")
        self.table = table
        self.requests = requests
        self.attempts = attempts


def _describe_key(request: WriteRequest) -> str:
    item = request.get("PutRequest", {}).get("Item", {})
    return "/".join(str(value.get("S", value)) for name, value in item.items()
                    if name in ("Store", "Item"))


def backoff_delay(attempt: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY,
                  rand: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)) (AWS Architecture Blog)."""
    return rand() * min(cap, base * 2.0**attempt)


class ConcurrencyLimit:
    """How many calls may be in flight, from a measurement of what one call costs.

    The first batches are written one at a time from the caller's thread, with nothing else in
    flight, so nothing contends. The very first is not measured (a new client loads its service
    model then, which is CPU work no later call repeats); over the next `WINDOW`, process CPU time
    over wall time is the share of a batch (parsing included) that needs the CPU. The rest is
    waiting on the network, and ceil(1 / share) calls in flight keep the CPU busy (Little's law):
    about 1 when the calls are CPU work (an emulator in the same process), several on AWS.
    Clocks are parameters so tests can play either kind of workload.
    """

    def __init__(self, maximum: int, *,
                 clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self.maximum = maximum
        self.probing = maximum > 1
        self.value = 1 if self.probing else maximum
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._batches = -1  # the first batch warms up and is not measured
        self._since = (clock(), cpu_clock())

    def batch_done(self) -> None:
        if not self.probing:
            return
        self._batches += 1
        if self._batches == 0:
            self._since = (self._clock(), self._cpu_clock())
            return
        if self._batches < WINDOW:
            return
        wall = self._clock() - self._since[0]
        cpu = self._cpu_clock() - self._since[1]
        self.probing = False
        share = cpu / wall if wall > 0 else 1.0
        wanted = math.ceil(1.0 / max(share, 1.0 / self.maximum) - SLACK)
        self.value = max(1, min(self.maximum, wanted))


class ConcurrentBatchWriter:
    """Use as a context manager; `put` items, leaving the block flushes and waits for all.

    An error from any batch is raised by a later `put`, or by `flush` at the latest.
    """

    def __init__(self, client: Any, table: str, *, max_workers: int = DEFAULT_WORKERS,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 sleep: Callable[[float], None] = time.sleep,
                 delay: Callable[[int], float] = backoff_delay,
                 limit: ConcurrencyLimit | None = None,
                 give_up: Callable[[], bool] | None = None) -> None:
        if max_workers < 1 or max_attempts < 1:
            raise ValueError("max_workers and max_attempts must be at least 1")
        self.limit = limit or ConcurrencyLimit(max_workers)
        self._client = client
        self._table = table
        self._max_workers = max_workers
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._delay = delay
        self._pool = ThreadPoolExecutor(max_workers=max_workers,
                                        thread_name_prefix="batch-write")
        self._pending: list[WriteRequest] = []
        self._in_flight: set[Future[int]] = set()
        self._error: BaseException | None = None
        self._give_up = give_up
        self._unwritten_lock = threading.Lock()
        # Requests still throttled when `give_up()` said stop (only with `give_up`).
        self.unwritten: list[WriteRequest] = []
        self.items_written = 0

    def __enter__(self) -> ConcurrentBatchWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc is None:
                self.flush()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def put(self, item: dict[str, Any]) -> None:
        self.put_request({"PutRequest": {"Item": item}})

    def put_request(self, request: WriteRequest) -> None:
        self._raise_if_failed()
        self._pending.append(request)
        if len(self._pending) == BATCH_SIZE:
            self._submit()

    def flush(self) -> None:
        """Send what is queued and wait for every call; raise the first error."""
        if self._pending:
            self._submit()
        self._collect(wait(self._in_flight).done)
        self._raise_if_failed()

    def _submit(self) -> None:
        batch, self._pending = self._pending, []
        limit = min(self.limit.value, self._max_workers)
        if limit == 1 and not self._in_flight:
            # CPU-bound calls: a thread would only add contention, so write from here.
            self.items_written += self._write_batch(batch)
            self.limit.batch_done()
            return
        while len(self._in_flight) >= limit:
            self._collect(wait(self._in_flight, return_when=FIRST_COMPLETED).done)
            self._raise_if_failed()
        self._in_flight.add(self._pool.submit(self._write_batch, batch))

    def _collect(self, done: set[Future[int]]) -> None:
        for future in done:
            self._in_flight.discard(future)
            error = future.exception()
            if error is not None:
                self._error = self._error or error
            else:
                self.items_written += future.result()
                self.limit.batch_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _write_batch(self, batch: list[WriteRequest]) -> int:
        requests = batch
        attempt = 0
        while self._give_up is not None or attempt < self._max_attempts:
            if attempt:
                if self._give_up is not None and self._give_up():
                    with self._unwritten_lock:
                        self.unwritten.extend(requests)
                    return len(batch) - len(requests)
                self._sleep(self._delay(min(attempt - 1, 16)))
            attempt += 1
            try:
                response = self._client.batch_write_item(RequestItems={self._table: requests})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in THROTTLING_CODES:
                    raise
                continue  # nothing of this call was written: all of it again, after a pause
            requests = response.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return len(batch)
        raise UnwrittenItems(self._table, requests, self._max_attempts)
