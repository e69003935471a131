"""Faults in BatchWriteItem: unprocessed items are retried with backoff, and never lost."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_helpers import TABLE, Logs, table_items, upload_and_load

from lambda_src.batch_writer import (
    BASE_DELAY,
    MAX_DELAY,
    WINDOW,
    ConcurrencyLimit,
    ConcurrentBatchWriter,
    UnwrittenItems,
    backoff_delay,
)


class Throttling:
    """A DynamoDB client that accepts only part of each batch, as DynamoDB does when throttled.

    It writes the first `accept` requests of a call and returns the rest as UnprocessedItems,
    for the first `throttled_calls` calls (or for ever).
    """

    def __init__(self, dynamodb: Any, *, accept: int = 10,
                 throttled_calls: int | None = None) -> None:
        self._dynamodb = dynamodb
        self._accept = accept
        self._throttled_calls = throttled_calls
        self._lock = threading.Lock()
        self.calls: list[int] = []  # requests per call

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:  # noqa: N803
        (table, requests), = RequestItems.items()
        with self._lock:
            self.calls.append(len(requests))
            throttled = self._throttled_calls is None or len(self.calls) <= self._throttled_calls
        if not throttled:
            result: dict[str, Any] = self._dynamodb.batch_write_item(RequestItems=RequestItems)
            return result
        accepted, rest = requests[:self._accept], requests[self._accept:]
        if accepted:
            self._dynamodb.batch_write_item(RequestItems={table: accepted})
        return {"UnprocessedItems": {table: rest} if rest else {}}


def _item(n: int) -> dict[str, Any]:
    return {"Store": {"S": "S"}, "Item": {"S": f"item {n:03d}"}, "Count": {"N": str(n)}}


def test_unprocessed_items_are_retried_until_written(dynamodb: Any, table: str) -> None:
    client = Throttling(dynamodb, accept=10, throttled_calls=6)
    sleeps: list[float] = []
    with ConcurrentBatchWriter(client, table, max_workers=1, sleep=sleeps.append,
                               delay=lambda attempt: 0.05 * 2 ** attempt) as writer:
        for n in range(50):
            writer.put(_item(n))
    assert writer.items_written == 50
    assert table_items(dynamodb) == {("S", f"item {n:03d}"): n for n in range(50)}
    # Batch 1: 25 -> 15 -> 5 left over, then accepted; batch 2 the same (calls 4-6 throttled).
    assert client.calls == [25, 15, 5, 25, 15, 5]
    assert sleeps == [0.05, 0.1, 0.05, 0.1]


def test_retries_exhausted_raise_naming_the_items(dynamodb: Any, table: str) -> None:
    client = Throttling(dynamodb, accept=0)
    sleeps: list[float] = []
    writer = ConcurrentBatchWriter(client, table, max_workers=2, max_attempts=4,
                                   sleep=sleeps.append, delay=float)
    with pytest.raises(UnwrittenItems) as caught, writer:
        for n in range(3):
            writer.put(_item(n))
    assert str(caught.value) == (
        f"3 item(s) not written to {table} after 4 BatchWriteItem attempts (UnprocessedItems): "
        "S/item 000, S/item 001, S/item 002")
    assert client.calls == [3, 3, 3, 3]
    assert sleeps == [0.0, 1.0, 2.0]


def test_the_loader_fails_the_invocation_when_items_stay_unwritten(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    # 2 items a call: a batch of 25 would need 13 calls, more than the 8 attempts allowed.
    client = Throttling(dynamodb, accept=2)
    with pytest.raises(UnwrittenItems):
        upload_and_load(s3, dynamodb=client, bucket=bucket, key="t.csv",
                        body=b"store,item,count\n" + b"".join(
                            f"S,i{n},{n}\n".encode() for n in range(30)))
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="reports/")


def test_the_loader_loses_nothing_under_throttling(s3: Any, dynamodb: Any, bucket: str,
                                                   table: str) -> None:
    client = Throttling(dynamodb, accept=7, throttled_calls=40)
    sleeps: list[float] = []
    body = b"store,item,count\n" + b"".join(f"S,i{n},{n}\n".encode() for n in range(500))
    loaded = upload_and_load(s3, dynamodb=client, bucket=bucket, key="t.csv", body=body,
                             sleep=sleeps.append)
    assert table_items(dynamodb, TABLE) == {("S", f"i{n}"): n for n in range(500)}
    assert loaded.report(s3, bucket, "t.csv")["loaded"] == 500
    # 20 batches of 25; the first 40 calls each left items over, so at least 40 retries.
    assert len(client.calls) >= 20 + 40 - 20
    assert len(sleeps) == len(client.calls) - 20


def test_in_flight_calls_are_bounded(dynamodb: Any, table: str) -> None:
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    class Slow:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            # Long enough that three calls overlap even on a busy machine (10 ms did not always).
            time.sleep(0.05)
            with lock:
                state["now"] -= 1
            result: dict[str, Any] = dynamodb.batch_write_item(RequestItems=RequestItems)
            return result

    # The calls are waits (a network), so the measured limit is the maximum. The process CPU
    # clock is fixed at 0 so that other work of this test process (the in-process emulator's
    # share, a busy machine) cannot make the measurement say 2: that was this test's flake.
    limit = ConcurrencyLimit(3, cpu_clock=lambda: 0.0)
    with ConcurrentBatchWriter(Slow(), table, max_workers=3, limit=limit) as writer:
        for n in range(25 * 40):
            writer.put(_item(n))
    assert state["most"] == 3
    assert writer.limit.value == 3
    assert len(table_items(dynamodb)) == 1000


class FakeClocks:
    """Wall and CPU clocks a test advances by hand."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def batch(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def _limit(clocks: FakeClocks, maximum: int = 8) -> ConcurrencyLimit:
    return ConcurrencyLimit(maximum, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)


def test_network_bound_calls_get_several_in_flight() -> None:
    clocks = FakeClocks()
    limit = _limit(clocks, maximum=8)
    assert (limit.value, limit.probing) == (1, True)
    clocks.batch(wall=0.100, cpu=0.100)  # the first call loads the client's model: not measured
    limit.batch_done()
    for _ in range(WINDOW):
        clocks.batch(wall=0.012, cpu=0.003)  # a quarter of each call needs the CPU
        limit.batch_done()
    assert (limit.value, limit.probing) == (4, False)
    for _ in range(WINDOW * 3):  # measured once: later batches do not move it
        clocks.batch(wall=0.010, cpu=0.010)
        limit.batch_done()
    assert limit.value == 4


@pytest.mark.parametrize(("wall", "cpu", "expected"), [
    (0.010, 0.0098, 1),   # CPU work: one at a time, nothing to overlap
    (0.010, 0.0045, 3),   # 45% CPU: ceil(1 / 0.45)
    (0.020, 0.0001, 5),   # almost all network: the maximum
    (0.010, 0.012, 1),    # more CPU than wall (threads of C code): still 1
])
def test_the_limit_is_sized_from_the_cpu_share_of_a_call(wall: float, cpu: float,
                                                        expected: int) -> None:
    clocks = FakeClocks()
    limit = _limit(clocks, maximum=5)
    for _ in range(1 + WINDOW):
        clocks.batch(wall=wall, cpu=cpu)
        limit.batch_done()
    assert limit.value == expected



def test_an_error_from_a_batch_stops_the_writer(dynamodb: Any) -> None:
    writer = ConcurrentBatchWriter(dynamodb, "no-such-table", max_workers=2)
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException), writer:
        for n in range(25 * 10):
            writer.put(_item(n))


def test_settings_are_checked(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrentBatchWriter(dynamodb, TABLE, max_workers=0)


@given(attempt=st.integers(min_value=0, max_value=40),
       fraction=st.floats(min_value=0.0, max_value=0.999999))
def test_backoff_is_full_jitter_and_capped(attempt: int, fraction: float) -> None:
    delay = backoff_delay(attempt, rand=lambda: fraction)
    assert 0.0 <= delay <= min(MAX_DELAY, BASE_DELAY * 2**attempt)
    assert backoff_delay(attempt, rand=lambda: 1.0) == min(MAX_DELAY, BASE_DELAY * 2**attempt)


def test_logs_are_silent_about_retries(s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    # Retries are routine under throttling: the one log line per file still holds.
    client = Throttling(dynamodb, accept=3, throttled_calls=5)
    loaded = upload_and_load(s3, dynamodb=client, bucket=bucket, key="q.csv",
                             body=b"store,item,count\nA,a,1\nA,b,2\nA,c,3\nA,d,4\n")
    assert isinstance(loaded.logs, Logs)
    assert [e["event"] for e in loaded.logs.events()] == ["load_report"]
    assert loaded.logs.events()[0]["loaded"] == 4
