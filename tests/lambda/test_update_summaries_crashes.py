"""Property: the unconditional path stays exact when an invocation dies anywhere between its
cell writes and its drains (a timeout, a lost execution environment), when its window closes
part-way, and when a replay or a rebuild holding the lease writes beside the stream: after
Lambda's retries the summaries equal a full scan."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_helpers import Logs
from summary_helpers import StreamModel, create_summary_table, expected_summaries, stored_summaries
from test_update_summaries_properties import deliveries, operation, play

from lambda_src import update_summaries as summarizer

_tables = itertools.count()
_WRITES = ("batch_write_item", "transact_write_items", "update_item", "put_item")


class Killed(Exception):  # noqa: N818 - what happened to the invocation
    """The invocation stops here (not an AWS error: nothing in the function catches it)."""


class Dying:
    """The DynamoDB client of an invocation that is stopped before its `kill_at`-th write."""

    def __init__(self, real: Any, kill_at: int | None, kill_on: str | None = None) -> None:
        self._real = real
        self._kill_at = kill_at
        self._kill_on = kill_on
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name not in _WRITES:
            return method

        def write(**kwargs: Any) -> Any:
            self.writes += 1
            if (self._kill_at is not None and self.writes >= self._kill_at
                    or name == self._kill_on):
                raise Killed(name)
            return method(**kwargs)

        return write


class Ticks:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def deliver_until_done(ddb: Any, table: str, batch: list[dict[str, Any]], threshold: int, *,
                       kills: list[int | None], step: float, replay: bool) -> None:
    """Lambda's retries: the batch again until an invocation returns without failures (each
    attempt may die at the next of `kills`)."""
    for attempt in range(len(kills) + 3):
        kill_at = kills[attempt] if attempt < len(kills) else None
        client = Dying(ddb, kill_at)
        event: dict[str, Any] = {"Records": copy.deepcopy(batch)}
        if replay:
            event[summarizer.REPLAY_FIELD] = True
        try:
            result = summarizer.handle_event(event, ddb=client, table=table,
                                             threshold=threshold, log=Logs(),
                                             sleep=lambda _: None, monotonic=Ticks(step))
        except Killed:
            continue
        if result == {"batchItemFailures": []}:
            return
    raise AssertionError("the batch never went through")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), operations=st.lists(operation, min_size=1, max_size=25),
       threshold=st.integers(0, 3))
def test_summaries_equal_a_full_scan_whatever_dies(
        dynamodb: Any, data: st.DataObject, operations: list[tuple[str, str, str, int]],
        threshold: int) -> None:
    table = create_summary_table(dynamodb, f"crash-summaries-{next(_tables)}")
    try:
        model = StreamModel()
        play(model, operations)
        for batch in deliveries(data.draw, model.records):
            kills = data.draw(st.lists(st.one_of(st.none(), st.integers(1, 8)), max_size=2))
            # 0.5: the window never closes; 6: it closes after a few reads of the clock.
            step = data.draw(st.sampled_from((0.5, 6.0)))
            replay = data.draw(st.booleans())
            deliver_until_done(dynamodb, table, batch, threshold, kills=kills, step=step,
                               replay=replay)
        assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, threshold)
    finally:
        dynamodb.delete_table(TableName=table)


def test_a_drain_that_never_committed_is_aborted_and_its_cells_moved_by_the_next_reader(
        dynamodb: Any) -> None:
    table = create_summary_table(dynamodb, f"crash-summaries-{next(_tables)}")
    model = StreamModel()
    model.put("Berlin", "Echo Dot", 3)
    model.put("Paris", "Echo Dot", 0)
    # Dies at its first transaction: both cells written, no drain.
    client = Dying(dynamodb, kill_at=None, kill_on="transact_write_items")
    try:
        summarizer.handle_event({"Records": copy.deepcopy(model.records)}, ddb=client,
                                table=table, threshold=1, log=Logs(), sleep=lambda _: None)
    except Killed as killed:
        assert str(killed) == "transact_write_items"
    else:
        raise AssertionError("the invocation should have died")
    assert stored_summaries(dynamodb, table) == {"store": {}, "item": {}}
    drains = dynamodb.query(TableName=table, KeyConditionExpression="Kind = :k",
                            ExpressionAttributeValues={":k": {"S": "drain"}})["Items"]
    assert drains == []
    # Lambda's retry: the cells are already at these records; their drain is aborted and
    # their changes reach the rows once.
    assert summarizer.handle_event({"Records": copy.deepcopy(model.records)}, ddb=dynamodb,
                                   table=table, threshold=1, log=Logs(),
                                   sleep=lambda _: None) == {"batchItemFailures": []}
    assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, 1)
    states = {i["State"]["S"] for i in dynamodb.query(
        TableName=table, KeyConditionExpression="Kind = :k",
        ExpressionAttributeValues={":k": {"S": "drain"}})["Items"]}
    assert states == {"aborted", "done"}


def test_a_lease_holder_waits_out_the_last_window_and_stops_new_ones(dynamodb: Any) -> None:
    table = create_summary_table(dynamodb, f"crash-summaries-{next(_tables)}")
    now = [1_000.0]
    slept: list[float] = []
    assert summarizer.register_fast(dynamodb, table, now[0])
    now[0] += 4.0
    lease = summarizer.Lease(dynamodb, table, clock=lambda: now[0], sleep=slept.append)
    lease.ensure()
    # The window registered at 1,000 s runs to 1,020 s; requests sent in it settle by 1,035 s.
    assert slept == [1_000.0 + summarizer.FAST_WINDOW_S + summarizer.WRITE_SETTLE_S - 1_004.0]
    assert not summarizer.register_fast(dynamodb, table, now[0] + 1)
    lease.ensure()  # renewed in time: no second wait
    assert len(slept) == 1
    lease.release()
    assert summarizer.register_fast(dynamodb, table, now[0] + 2)


def test_a_window_that_closes_hands_the_rest_of_the_batch_to_the_conditional_path(
        dynamodb: Any, monkeypatch: Any) -> None:
    """A lease taken while the batch is under way: the groups not yet written go through
    transactions with conditions, the ones written before are drained as usual."""
    table = create_summary_table(dynamodb, f"crash-summaries-{next(_tables)}")
    model = StreamModel()
    for n in range(150):  # 150 item rows and one store row: two groups
        model.put("Berlin", f"item {n:03d}", n % 4)
    registered = []

    def register_once(ddb: Any, table_name: str, now: float) -> bool:
        registered.append(now)
        return len(registered) == 1

    monkeypatch.setattr(summarizer, "register_fast", register_once)
    transactions: list[int] = []
    real = dynamodb.transact_write_items

    def count(**kwargs: Any) -> Any:
        transactions.append(len(kwargs["TransactItems"]))
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "transact_write_items", count)
    result = summarizer.handle_event({"Records": copy.deepcopy(model.records)}, ddb=dynamodb,
                                     table=table, threshold=1, log=Logs(),
                                     sleep=lambda _: None, monotonic=Ticks(3.0))
    assert result == {"batchItemFailures": []}
    assert len(registered) >= 2  # the window ran out and could not be renewed
    monkeypatch.undo()
    assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, 1)
    drains = dynamodb.query(TableName=table, KeyConditionExpression="Kind = :k",
                            ExpressionAttributeValues={":k": {"S": "drain"}})["Items"]
    # The first group drained; the second's token aborted before any of its cells was written,
    # its cells moved by conditional transactions.
    assert sorted(d["State"]["S"] for d in drains) == ["aborted", "done"]
    assert len(transactions) > 1


def test_an_unanswered_cell_write_is_waited_out_before_the_conditional_path(
        dynamodb: Any) -> None:
    """A BatchWriteItem without an answer may still be applied: the cells it carried are moved
    with conditions only after WRITE_SETTLE_S."""
    from botocore.exceptions import ReadTimeoutError

    table = create_summary_table(dynamodb, f"crash-summaries-{next(_tables)}")
    model = StreamModel()
    model.put("Berlin", "Echo Dot", 3)

    class Unanswered:
        def __getattr__(self, name: str) -> Any:
            return getattr(dynamodb, name)

        def batch_write_item(self, **kwargs: Any) -> Any:
            dynamodb.batch_write_item(**kwargs)  # applied, but the answer is lost
            raise ReadTimeoutError(endpoint_url="http://dynamodb")

    slept: list[float] = []
    result = summarizer.handle_event({"Records": copy.deepcopy(model.records)}, ddb=dynamodb,
                                     table=table, threshold=0, log=Logs(), sleep=slept.append,
                                     fast_ddb=Unanswered())
    assert result == {"batchItemFailures": []}
    assert summarizer.WRITE_SETTLE_S in slept
    assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, 0)
