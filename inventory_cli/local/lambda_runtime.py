"""The emulator's Lambda runtime: warm worker pools, invocations and their CloudWatch logs.

`LambdaRuntime` is what the moto seam hands invocations to. It does not touch moto: it receives
plain `RuntimeFunction`s and writes logs through a `LogSink`. Each function has its own pool of
worker processes (execution environments); a pool serves one generation of the function (code,
handler, environment, timeout), so an update replaces the workers. Every invocation's output
goes to the function's log group between START and END/REPORT lines, as on AWS.

Every invocation belongs to a chain of requests (`lambda_lineage`): the one of the request that
caused it (an S3 PUT, an SNS publish or an Invoke made from inside a function carries it in its
trace header), or a new one. The runtime hands the chain to the worker, whose SDK sends it on,
and stops the 17th invocation of one function in one chain unless `loop_allowed` says the
function's recursion config is Allow.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from inventory_cli.local import lambda_lineage
from inventory_cli.local.invocation_records import InvocationRecord, InvocationRecords
from inventory_cli.local.lambda_dispatch import (
    Activity,
    AsyncConfig,
    AsyncInvoker,
    Clock,
    FailureDestinations,
    Sleep,
    StreamDispatcher,
    StreamMapping,
)
from inventory_cli.local.lambda_lineage import Lineage, RecursionStopped
from inventory_cli.local.lambda_worker import RuntimeFunction, Worker, WorkerReply, extract_code

logger = logging.getLogger(__name__)

# Lambda returns at most the last 4 KB of the log with LogType=Tail.
_LOG_TAIL_BYTES = 4096


class _FromRequest:
    """The chain of the request the calling thread is serving (see lambda_lineage)."""


FROM_REQUEST = _FromRequest()
LoopAllowed = Callable[[RuntimeFunction], bool]


def _never(spec: RuntimeFunction) -> bool:
    return False  # Terminate, Lambda's default recursion config


class CodeUnavailable(Exception):
    """The function's zip cannot be unpacked (none was stored, or it is not a zip)."""


class LogSink(Protocol):
    """Where invocation logs go: (timestamp in ms, line) events appended to a log stream."""

    def write(self, spec: RuntimeFunction, stream: str, events: Sequence[tuple[int, str]]) -> None:
        ...


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    ok: bool
    payload: str
    log_text: str
    duration_ms: float

    @property
    def log_tail_base64(self) -> str:
        return base64.b64encode(self.log_text.encode()[-_LOG_TAIL_BYTES:]).decode()


class WorkerPool:
    """The execution environments of one function: reused when idle, capped in number."""

    def __init__(self, spawn: Callable[[RuntimeFunction], Worker], *, max_workers: int) -> None:
        self._spawn = spawn
        self._max_workers = max_workers
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._busy = 0
        self._generation: tuple[Any, ...] | None = None
        self._cond = threading.Condition()
        self._closed = False

    def acquire(self, spec: RuntimeFunction) -> Worker:
        retired: list[Worker] = []
        with self._cond:
            if spec.generation != self._generation:
                # New code or configuration: idle workers of the old one are of no further use.
                retired, self._idle = self._idle, []
                self._generation = spec.generation
            self._cond.wait_for(lambda: self._closed or bool(self._idle)
                                or self._busy < self._max_workers)
            if self._closed:
                raise RuntimeError("the Lambda runtime is shutting down")
            worker = self._idle.pop() if self._idle else None
            self._busy += 1
        with self._cond:
            self._all.difference_update(retired)
        for old in retired:
            old.stop()
        if worker is None:
            try:
                worker = self._spawn(spec)
            except BaseException:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify()
                raise
            with self._cond:
                self._all.add(worker)
        return worker

    def release(self, worker: Worker, *, reusable: bool) -> None:
        with self._cond:
            self._busy -= 1
            keep = (reusable and not self._closed and worker.alive
                    and worker.spec.generation == self._generation)
            if keep:
                self._idle.append(worker)
            else:
                self._all.discard(worker)
            self._cond.notify()
        if not keep:
            worker.stop()

    def reap_idle(self, idle_for_s: float) -> int:
        """Stop workers unused for `idle_for_s` (Lambda reclaims idle environments too)."""
        cutoff = time.monotonic() - idle_for_s
        with self._cond:
            stale = [w for w in self._idle if w.last_used < cutoff]
            self._idle = [w for w in self._idle if w.last_used >= cutoff]
            self._all.difference_update(stale)
        for worker in stale:
            worker.stop()
        return len(stale)

    @property
    def worker_pids(self) -> list[int]:
        with self._cond:
            return sorted(w.pid for w in self._all)

    @property
    def size(self) -> int:
        with self._cond:
            return len(self._all)

    def close(self) -> None:
        """Stop every worker, busy ones too (their invocation then ends as a lost worker)."""
        with self._cond:
            self._closed = True
            workers, self._idle = list(self._all), []
            self._all.clear()
            self._cond.notify_all()
        _side_by_side([functools.partial(w.stop, timeout_s=1.0) for w in workers], "stop-worker")


def _side_by_side(tasks: Sequence[Callable[[], None]], name: str) -> None:
    """Run the tasks in threads of their own and wait for all. Stopping a worker may wait a
    moment for its process to exit; an emulator with dozens of warm workers should still stop
    in about that moment, not dozens of them."""
    threads = [threading.Thread(target=task, name=name, daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _log_events(reply: WorkerReply, request_id: str, spec: RuntimeFunction, started_ms: int,
                ended_ms: int) -> list[tuple[int, str]]:
    events = [(started_ms, f"START RequestId: {request_id} Version: {spec.version}")]
    events += [(ended_ms, line) for line in reply.output.splitlines()]
    report = (f"REPORT RequestId: {request_id}\tDuration: {reply.duration_ms:.2f} ms\t"
              f"Billed Duration: {max(1, round(reply.duration_ms + 0.5))} ms\t"
              f"Memory Size: {spec.memory_mb} MB\tMax Memory Used: {reply.max_memory_mb} MB")
    if reply.init_ms is not None:
        report += f"\tInit Duration: {reply.init_ms:.2f} ms"
    events += [(ended_ms, f"END RequestId: {request_id}"), (ended_ms, report)]
    return events


# Lambda runs each asynchronous event at once, up to the account's concurrency (1,000 by
# default): twenty files uploaded together load side by side, and their stream records reach
# the summaries interleaved, twenty stores to a batch (a batch's item rows are then shared by
# twenty records, not three). The emulator runs up to 20 at once (each worker is a process of
# about 60 MB, started only when needed and reclaimed when idle); it was 3, which made the
# summaries' batches, and so their writes, unlike AWS's (docs/benchmarks.md).
ASYNC_CONCURRENCY = 20
MAX_WORKERS_PER_FUNCTION = 20


class LambdaRuntime:
    """Runs functions in warm worker processes; synchronous, asynchronous and stream delivery."""

    def __init__(self, *, home: Path, endpoint: str, log_sink: LogSink,
                 max_workers_per_function: int = MAX_WORKERS_PER_FUNCTION,
                 async_concurrency: int = ASYNC_CONCURRENCY,
                 async_retry_delays_s: Sequence[float] = (1.0, 2.0),
                 stream_retry_delay_s: float = 0.2, idle_ttl_s: float = 600.0,
                 sleep: Sleep = time.sleep, python: str = sys.executable,
                 destinations: FailureDestinations | None = None,
                 clock: Clock = time.time, loop_allowed: LoopAllowed = _never,
                 records: InvocationRecords | None = None) -> None:
        self.home = home
        # Every finished invocation is published here (metrics, alarms, the meter listen).
        self.records = records or InvocationRecords()
        self._loop_allowed = loop_allowed
        self.endpoint = endpoint
        self._log_sink = log_sink
        self._code_root = home / "lambda" / "code"
        self._max_workers = max_workers_per_function
        self._python = python
        self._sleep = sleep
        self._idle_ttl_s = idle_ttl_s
        self._stream_retry_delay_s = stream_retry_delay_s
        self._destinations = destinations
        self._clock = clock
        self._pools: dict[str, WorkerPool] = {}
        self._streams: dict[str, StreamDispatcher] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.activity = Activity()
        self._async = AsyncInvoker(self._invoke_in_chain, self.activity,
                                   concurrency=async_concurrency,
                                   retry_delays_s=async_retry_delays_s, sleep=sleep,
                                   destinations=destinations, clock=clock)
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True,
                                        name="lambda-reaper")
        self._reaper.start()

    # -- invocation ---------------------------------------------------------------------------

    def _invoke_in_chain(self, spec: RuntimeFunction, event_json: str,
                         lineage: Lineage | None) -> InvocationResult:
        return self.invoke(spec, event_json, lineage=lineage)

    def chain_for(self, spec: RuntimeFunction, lineage: Lineage | None) -> Lineage:
        """The chain an invocation of `spec` runs in, or RecursionStopped when loop detection
        stops it (the function's 17th in this chain, and its recursion config not Allow)."""
        chain = (lineage or Lineage()).after(spec.arn)
        count = chain.count(spec.arn)
        if count > lambda_lineage.MAX_CHAIN_INVOCATIONS and not self._loop_allowed(spec):
            logger.warning("recursive loop detection stopped %s (invocation %d of one chain)",
                           spec.name, count)
            raise RecursionStopped(spec.name, count)
        return chain

    def invoke(self, spec: RuntimeFunction, event_json: str,
               lineage: Lineage | None | _FromRequest = FROM_REQUEST, *,
               iterator_age_ms: float | None = None) -> InvocationResult:
        """One synchronous invocation (RequestResponse); its log goes to the log group.

        `lineage`: the chain of requests it continues (default: the one of the request this
        thread serves; None: a new chain). Raises RecursionStopped when loop detection stops it.
        `iterator_age_ms`: for a stream batch, its IteratorAge (published with its record).

        Never refused for concurrency: an invocation waits for a free worker of the function's
        pool instead, so no record is ever `throttled` (Lambda would refuse it).
        """
        if isinstance(lineage, _FromRequest):
            lineage = lambda_lineage.request_lineage()
        chain = self.chain_for(spec, lineage)
        request_id = str(uuid.uuid4())
        started_ms = int(time.time() * 1000)
        if not spec.runtime.startswith("python"):
            refused = WorkerReply(ok=False, payload=json.dumps({
                "errorMessage": f"the local emulator runs only Python functions, not "
                                f"{spec.runtime}", "errorType": "Runtime.InvalidRuntime"}),
                output="", duration_ms=0.0)
            return self._finish(spec, refused, request_id, started_ms,
                                stream=f"unsupported-{request_id}",
                                iterator_age_ms=iterator_age_ms)
        pool = self._pool(spec)
        try:
            worker = pool.acquire(spec)
        except CodeUnavailable as exc:
            refused = WorkerReply(ok=False, payload=json.dumps({
                "errorMessage": str(exc), "errorType": "Runtime.InvalidEntrypoint"}),
                output=f"{exc}\n", duration_ms=0.0)
            return self._finish(spec, refused, request_id, started_ms,
                                stream=f"invalid-code-{request_id}",
                                iterator_age_ms=iterator_age_ms)
        reply: WorkerReply | None = None
        try:
            reply = worker.invoke(event_json, request_id=request_id, timeout_s=spec.timeout_s,
                                  trace_header=chain.header())
        finally:
            pool.release(worker, reusable=reply is not None and not reply.worker_lost)
        return self._finish(spec, reply, request_id, started_ms, stream=worker.log_stream,
                            iterator_age_ms=iterator_age_ms)

    def _finish(self, spec: RuntimeFunction, reply: WorkerReply, request_id: str, started_ms: int,
                *, stream: str, iterator_age_ms: float | None = None) -> InvocationResult:
        events = _log_events(reply, request_id, spec, started_ms, int(time.time() * 1000))
        try:
            self._log_sink.write(spec, stream, events)
        except Exception:  # noqa: BLE001 - losing a log must not lose the invocation's result
            logger.exception("could not write the log of %s", spec.name)
        self.records.publish(InvocationRecord(
            function_name=spec.name, function_arn=spec.arn, memory_mb=spec.memory_mb,
            duration_ms=reply.duration_ms, ok=reply.ok, throttled=False,
            finished_at=self._clock(), iterator_age_ms=iterator_age_ms))
        return InvocationResult(request_id=request_id, ok=reply.ok, payload=reply.payload,
                                log_text="\n".join(line for _, line in events) + "\n",
                                duration_ms=reply.duration_ms)

    def submit_event(self, spec: RuntimeFunction, event_json: str,
                     config: AsyncConfig | None = None) -> None:
        """Queue an asynchronous invocation (S3, SNS, InvocationType=Event) and return at once;
        `config`: the function's event invoke config (retries, event age, on-failure). The event
        continues the chain of the request this thread serves (the PUT, publish or Invoke that
        caused it)."""
        self._async.submit(spec, event_json, config, lambda_lineage.request_lineage())

    def _invoke_stream_batch(self, spec: RuntimeFunction, event_json: str,
                             iterator_age_ms: float) -> InvocationResult:
        return self.invoke(spec, event_json, lineage=None, iterator_age_ms=iterator_age_ms)

    def submit_stream_records(self, spec: RuntimeFunction, mapping: StreamMapping,
                              records: Sequence[dict[str, Any]]) -> None:
        """Queue stream records for a mapping; they are delivered in order, in batches."""
        if not records:
            return
        with self._lock:
            if self._closed.is_set():
                return
            dispatcher = self._streams.get(mapping.uuid)
            if dispatcher is None:
                # Stream records start chains of their own: DynamoDB streams are not among
                # the sources loop detection follows.
                dispatcher = StreamDispatcher(mapping, self._invoke_stream_batch, self.activity,
                                              sleep=self._sleep,
                                              retry_delay_s=self._stream_retry_delay_s,
                                              destinations=self._destinations,
                                              clock=self._clock)
                self._streams[mapping.uuid] = dispatcher
        dispatcher.add(spec, mapping, records)

    # -- workers ------------------------------------------------------------------------------

    def _pool(self, spec: RuntimeFunction) -> WorkerPool:
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the Lambda runtime is shutting down")
            pool = self._pools.get(spec.arn)
            if pool is None:
                pool = WorkerPool(self._spawn, max_workers=self._max_workers)
                self._pools[spec.arn] = pool
            return pool

    def _spawn(self, spec: RuntimeFunction) -> Worker:
        try:
            code_dir = extract_code(spec, self._code_root)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CodeUnavailable(f"cannot unpack the code of {spec.name} "
                                  f"(CodeSha256 {spec.code_sha256 or 'none'}): {exc}") from exc
        return Worker(spec, code_dir=code_dir, endpoint=self.endpoint, python=self._python)

    def _reap_loop(self) -> None:
        while not self._closed.wait(timeout=min(60.0, self._idle_ttl_s)):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap_idle(self._idle_ttl_s)

    # -- status and shutdown ------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._lock:
            pools = list(self._pools.values())
        return {"pending": self.activity.pending, "workers": sum(p.size for p in pools),
                "functions": len(pools)}

    def wait_idle(self, timeout_s: float) -> bool:
        """True once every queued event and stream record has been handled."""
        return self.activity.wait_idle(timeout_s)

    def shutdown(self) -> None:
        """Stop delivering and end every worker process."""
        self._closed.set()
        self._async.close()
        with self._lock:
            streams = list(self._streams.values())
            pools = list(self._pools.values())
        for dispatcher in streams:
            dispatcher.close()
        _side_by_side([pool.close for pool in pools], "close-pool")
