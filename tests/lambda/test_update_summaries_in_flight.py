"""The unconditional path with several groups in flight (update_summaries.GROUPS_IN_FLIGHT, as
the function runs): groups are written and drained at once; a group that fails leaves its cells
(its drain aborted) and the groups not started yet for the conditional path, while the groups in
flight finish; an invocation dying in one group while others are in flight, or a write whose
answer never came, still ends in summaries equal to a full scan."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_helpers import Logs
from summary_helpers import StreamModel, create_summary_table, expected_summaries, stored_summaries

from inventory_cli.local import moto_seam
from lambda_src import update_summaries as summarizer

IN_FLIGHT = summarizer.GROUPS_IN_FLIGHT
_tables = itertools.count()


@pytest.fixture
def summaries(dynamodb: Any) -> str:
    # In-process moto is thread-safe for these calls only with the emulator's seam: item writes
    # and transactions under one lock, transactions copying the items they name (not the table
    # another thread is writing to).
    moto_seam.install()
    return create_summary_table(dynamodb, f"in-flight-summaries-{next(_tables)}")


def _model(stores: int = 3, items: int = 250) -> StreamModel:
    model = StreamModel()
    for n in range(items):
        for s in range(stores):
            model.put(f"Store {s}", f"item {n:04d}", (n + s) % 5)
    return model


def _groups(model: StreamModel) -> list[set[tuple[str, str]]]:
    """The batch's groups, as the function forms them (every cell is new)."""
    cells = summarizer.by_item(model.rows)
    plans = [(cell, summarizer.NO_CELL, summarizer.NO_CELL) for cell in cells]
    return [{cell for cell, _, _ in group} for group in summarizer.drain_groups(plans)]


def _cells_of(request: dict[str, Any]) -> set[tuple[str, str]]:
    return {(put["PutRequest"]["Item"]["Store"]["S"], put["PutRequest"]["Item"]["Item"]["S"])
            for puts in request["RequestItems"].values() for put in puts}


def _markers(dynamodb: Any, table: str) -> list[str]:
    items = dynamodb.query(TableName=table, KeyConditionExpression="Kind = :k",
                           ExpressionAttributeValues={":k": {"S": "drain"}})["Items"]
    return sorted(item["State"]["S"] for item in items)


def _pending_cells(dynamodb: Any, table: str) -> set[tuple[str, str]]:
    """Cells that carry a drain token: written by the unconditional path."""
    items = dynamodb.query(TableName=table, KeyConditionExpression="Kind = :k",
                           ExpressionAttributeValues={":k": {"S": "cell"}})["Items"]
    return {(item["Store"]["S"], item["Item"]["S"]) for item in items if "Pend" in item}


class Recording:
    """A DynamoDB client that records, per BatchWriteItem, its thread and cells, and how many
    were in flight at once; `before_write` may hold or fail a call (it gets the call's cells)."""

    def __init__(self, real: Any, *, delay: float = 0.0,
                 before_write: Callable[[set[tuple[str, str]]], None] | None = None) -> None:
        self._real = real
        self._delay = delay
        self._before_write = before_write
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.writes: list[tuple[str, set[tuple[str, str]]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def batch_write_item(self, **kwargs: Any) -> Any:
        cells = _cells_of(kwargs)
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.writes.append((threading.current_thread().name, cells))
        try:
            if self._before_write is not None:
                self._before_write(cells)
            time.sleep(self._delay)
            return self._real.batch_write_item(**kwargs)
        finally:
            with self._lock:
                self.in_flight -= 1


def _deliver(dynamodb: Any, table: str, records: list[dict[str, Any]], *, fast_ddb: Any = None,
             logs: Logs | None = None, sleep: Callable[[float], None] = lambda _: None,
             monotonic: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    return summarizer.handle_event({"Records": copy.deepcopy(records)}, ddb=dynamodb,
                                   table=table, threshold=1, log=logs or Logs(), sleep=sleep,
                                   monotonic=monotonic, fast_ddb=fast_ddb,
                                   groups_in_flight=IN_FLIGHT)


def test_the_lambda_handler_keeps_several_groups_in_flight() -> None:
    import inspect

    assert 1 < IN_FLIGHT <= 16  # within aws_clients.MAX_POOL_CONNECTIONS
    assert "groups_in_flight=GROUPS_IN_FLIGHT" in inspect.getsource(summarizer.lambda_handler)


def test_several_groups_are_written_and_drained_at_once(dynamodb: Any, summaries: str) -> None:
    model = _model(items=500)
    groups = _groups(model)
    assert len(groups) > IN_FLIGHT
    recording = Recording(dynamodb, delay=0.05)
    logs = Logs()
    assert _deliver(dynamodb, summaries, model.records, fast_ddb=recording, logs=logs) == {
        "batchItemFailures": []}
    assert recording.most_in_flight == IN_FLIGHT
    assert len({thread for thread, _ in recording.writes}) == IN_FLIGHT
    # Each group's writes come from one thread, one after another.
    for group in groups:
        assert len({thread for thread, cells in recording.writes if cells <= group}) == 1
    [batch] = logs.events("summary_batch")
    assert (batch["cells_written"], batch["drains"], batch["conditional_cells"]) == (
        len(model.rows), len(groups), 0)
    rows = sum(len({s for s, _ in group}) + len({i for _, i in group}) for group in groups)
    assert batch["rows"] == rows
    assert _markers(dynamodb, summaries) == ["done"] * len(groups)
    assert stored_summaries(dynamodb, summaries) == expected_summaries(model.rows, 1)


def test_a_failed_group_leaves_its_cells_and_the_groups_not_started_the_others_finish(
        dynamodb: Any, summaries: str) -> None:
    model = _model(items=500)
    groups = _groups(model)
    assert len(groups) >= IN_FLIGHT + 2
    failing = groups[1]
    started: set[int] = set()
    all_started = threading.Event()
    failed = threading.Event()
    released: set[int] = set()

    def before_write(cells: set[tuple[str, str]]) -> None:
        index = next(n for n, group in enumerate(groups) if cells <= group)
        started.add(index)
        if len(started) == IN_FLIGHT:
            all_started.set()
        if index == 1:
            # Fails once every group of the first round is in flight.
            assert all_started.wait(10)
            failed.set()
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}},
                              "BatchWriteItem")
        # The others go on only once it has failed (and its drain is aborted).
        if index not in released:
            assert failed.wait(10)
            time.sleep(0.2)
            released.add(index)

    logs = Logs()
    recording = Recording(dynamodb, before_write=before_write)
    assert _deliver(dynamodb, summaries, model.records, fast_ddb=recording, logs=logs) == {
        "batchItemFailures": []}
    assert started == set(range(IN_FLIGHT))  # the groups after them were not started
    [left] = logs.events("summary_fast_path_left")
    assert left["cells"] == len(failing) and "InternalServerError" in left["error"]
    [batch] = logs.events("summary_batch")
    not_started = [cell for group in groups[IN_FLIGHT:] for cell in group]
    assert batch["drains"] == IN_FLIGHT - 1
    assert batch["cells_written"] == sum(len(group) for group in groups[:IN_FLIGHT])
    assert batch["conditional_cells"] == len(failing) + len(not_started)
    # The failed group's token is aborted; the groups in flight beside it drained.
    assert _markers(dynamodb, summaries) == ["aborted"] + ["done"] * (IN_FLIGHT - 1)
    # No cell of a group not started was written without a condition.
    assert _pending_cells(dynamodb, summaries).isdisjoint(not_started)
    assert stored_summaries(dynamodb, summaries) == expected_summaries(model.rows, 1)


def test_the_window_is_checked_by_one_thread_at_a_time(dynamodb: Any, summaries: str) -> None:
    model = _model()
    cells = summarizer.by_item(model.rows)
    newest = {summarizer.change_of(r).cell: summarizer.change_of(r) for r in model.records}
    checking = []
    overlaps = []
    lock = threading.Lock()

    def in_window() -> bool:
        with lock:
            checking.append(1)
            if len(checking) > 1:
                overlaps.append(len(checking))
        time.sleep(0.01)  # as long as a renewal (register_fast) might take
        with lock:
            checking.pop()
        return True

    stats: dict[str, int] = {}
    left = summarizer.apply_unconditionally(
        dynamodb, summaries, cells,
        lambda cell, before: summarizer.stream_cell(before, newest[cell], 1, None),
        fast_ddb=Recording(dynamodb, delay=0.02), in_window=in_window, sleep=lambda _: None,
        log=Logs(), stats=stats, groups_in_flight=IN_FLIGHT)
    assert left == []
    assert overlaps == []
    assert stats["drains"] == len(_groups(model))
    assert stored_summaries(dynamodb, summaries) == expected_summaries(model.rows, 1)


def test_a_window_that_closes_with_groups_in_flight_hands_them_to_the_conditional_path(
        dynamodb: Any, summaries: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    registered: list[float] = []

    def register_once(ddb: Any, table_name: str, now: float) -> bool:
        registered.append(now)
        return len(registered) == 1

    monkeypatch.setattr(summarizer, "register_fast", register_once)
    ticks = itertools.count(step=3)  # the window has room for a few checks only
    logs = Logs()
    assert _deliver(dynamodb, summaries, model.records, logs=logs,
                    monotonic=lambda: float(next(ticks))) == {"batchItemFailures": []}
    monkeypatch.undo()
    [batch] = logs.events("summary_batch")
    markers = _markers(dynamodb, summaries)
    # Every group started either drained or was aborted; the rest went through conditions.
    assert markers.count("done") == batch["drains"]
    assert markers.count("aborted") >= 1
    assert batch["conditional_cells"] > 0
    assert stored_summaries(dynamodb, summaries) == expected_summaries(model.rows, 1)


class Killed(Exception):  # noqa: N818 - what happened to the invocation
    """The invocation stops (nothing in the function catches it)."""


class Failing:
    """The client of an invocation whose `chunk`-th write of group `group` goes wrong as `how`:
    `dies` (the invocation is stopped: every later write of any thread fails too), `refused`
    (a ClientError) or `unanswered` (applied, but the answer never comes: a BotoCoreError)."""

    def __init__(self, real: Any, groups: list[set[tuple[str, str]]], group: int, chunk: int,
                 how: str) -> None:
        self._real = real
        self._groups = groups
        self._group = group
        self._chunk = chunk
        self._how = how
        self._lock = threading.Lock()
        self._seen = 0
        self.dead = False
        self.hit = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name not in ("batch_write_item", "transact_write_items", "update_item", "put_item"):
            return method

        def write(**kwargs: Any) -> Any:
            if self.dead:
                raise Killed(name)
            if name == "batch_write_item" and _cells_of(kwargs) <= self._groups[self._group]:
                with self._lock:
                    self._seen += 1
                    hit = self._seen == self._chunk
                if hit:
                    self.hit = True
                    if self._how == "dies":
                        self.dead = True
                        raise Killed(name)
                    if self._how == "refused":
                        raise ClientError({"Error": {"Code": "InternalServerError",
                                                     "Message": "boom"}}, "BatchWriteItem")
                    method(**kwargs)
                    raise ReadTimeoutError(endpoint_url="http://dynamodb")
            return method(**kwargs)

        return write


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(group=st.integers(0, 4), chunk=st.integers(1, 8),
       how=st.sampled_from(("dies", "refused", "unanswered")), restock=st.booleans())
def test_summaries_equal_a_full_scan_when_one_group_fails_with_others_in_flight(
        dynamodb: Any, group: int, chunk: int, how: str, restock: bool) -> None:
    moto_seam.install()
    table = create_summary_table(dynamodb, f"in-flight-summaries-{next(_tables)}")
    try:
        model = _model(stores=2, items=400)  # five groups of up to 194 cells (8 writes)
        groups = _groups(model)
        failing = Failing(dynamodb, groups, group % len(groups), chunk, how)
        slept: list[float] = []
        try:
            _deliver(dynamodb, table, model.records, fast_ddb=failing, sleep=slept.append)
        except Killed:
            assert how == "dies"
        if failing.hit and how == "unanswered":
            assert slept == [summarizer.WRITE_SETTLE_S]
        batches = [model.records]  # Lambda's retry
        if restock:
            # The next batch changes cells of every group, some of them still pending.
            start = len(model.records)
            for n in range(0, 400, 7):
                model.put("Store 1", f"item {n:04d}", 0 if n % 2 else 9)
            batches.append(model.records[start:])
        for batch in batches:
            assert _deliver(dynamodb, table, batch) == {"batchItemFailures": []}
        assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, 1)
        aborted = _markers(dynamodb, table).count("aborted")
        if how != "dies" and failing.hit:
            assert aborted == 1  # the failed group's; the others in flight drained
        else:
            assert aborted <= IN_FLIGHT  # every group in flight when the invocation died
    finally:
        dynamodb.delete_table(TableName=table)


class RecordingReads:
    """The client, recording how many BatchGetItem calls are in flight at once."""

    def __init__(self, real: Any, delay: float = 0.02) -> None:
        self._real = real
        self._delay = delay
        self._lock = threading.Lock()
        self.current = 0
        self.most = 0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def batch_get_item(self, **kwargs: Any) -> Any:
        with self._lock:
            self.current += 1
            self.calls += 1
            self.most = max(self.most, self.current)
        try:
            time.sleep(self._delay)
            return self._real.batch_get_item(**kwargs)
        finally:
            with self._lock:
                self.current -= 1


def test_a_batchs_cells_are_read_several_calls_at_once_with_the_same_answer(
        dynamodb: Any, summaries: str) -> None:
    model = _model(stores=3, items=250)  # 750 cells: 8 BatchGetItem calls
    _deliver(dynamodb, summaries, model.records[:300])  # some cells exist, some do not
    cells = summarizer.by_item(model.rows)
    one_by_one = RecordingReads(dynamodb)
    expected = summarizer.read_cells(one_by_one, summaries, cells)
    overlapped = RecordingReads(dynamodb)
    assert summarizer.read_cells(overlapped, summaries, cells, in_flight=IN_FLIGHT) == expected
    # 8 calls for the cells and 1 for the markers of the cells the first batch wrote.
    assert (one_by_one.most, one_by_one.calls) == (1, 9)
    assert overlapped.calls == 9 and overlapped.most > 1
    assert sum(1 for state in expected.values() if state != summarizer.NO_CELL) == 300
