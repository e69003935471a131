"""What each finished invocation tells the rest of the emulator.

AWS derives both the function metrics (Invocations, Errors, Throttles, Duration, IteratorAge;
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html) and the bill (requests
and GB-seconds: memory x billed duration, https://aws.amazon.com/lambda/pricing/) from the same
facts about an invocation. The runtime states those facts once, as an `InvocationRecord`, and
whoever needs them (the emulator's metrics and alarms, its meter) subscribes here, so neither
reaches into the runtime.
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvocationRecord:
    function_name: str
    function_arn: str
    memory_mb: int
    # Wall time the handler ran, as the worker measured it (0 when it never started).
    duration_ms: float
    # False when the handler raised or timed out (Lambda's Errors metric).
    ok: bool
    # True when the invocation was refused for want of concurrency (Lambda's Throttles);
    # a throttled invocation ran nothing and is not billed.
    throttled: bool
    # Epoch seconds when the invocation finished.
    finished_at: float
    # For a stream batch: now minus the newest record's ApproximateCreationDateTime, in ms
    # (Lambda's IteratorAge); None for every other source.
    iterator_age_ms: float | None = None

    @property
    def billed_ms(self) -> int:
        """Lambda bills duration rounded up to the next millisecond, at least 1 ms."""
        if self.throttled:
            return 0
        return max(1, math.ceil(self.duration_ms))

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


Listener = Callable[[InvocationRecord], None]


class InvocationRecords:
    """Fan-out of invocation records to listeners; a failing listener is logged, not raised."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, record: InvocationRecord) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(record)
            except Exception:  # noqa: BLE001 - a metric lost must not lose the invocation
                logger.exception("invocation listener %r failed", listener)
