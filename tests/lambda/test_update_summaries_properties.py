"""Property: after any sequence of uploads, restocks and deletes, delivered in any way Lambda
and `inventory retry` can deliver them (batches, duplicates, retried and bisected batches, old
records replayed late, a rebuild racing the stream), the summaries equal a full scan."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_helpers import Logs
from summary_helpers import (
    StreamModel,
    create_summary_table,
    expected_summaries,
    stored_summaries,
)

from lambda_src import update_summaries as summarizer

STORES = ("Berlin", "Paris", "Zürich")
ITEMS = ("Echo Dot", "Echo Plus", "Kindle")
_tables = itertools.count()

operation = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(STORES), st.sampled_from(ITEMS),
              st.integers(0, 6)),
    st.tuples(st.just("delete"), st.sampled_from(STORES), st.sampled_from(ITEMS),
              st.just(0)),
)


def play(model: StreamModel, operations: list[tuple[str, str, str, int]]) -> None:
    for op, store, item, count in operations:
        if op == "put":
            model.put(store, item, count)
        else:
            model.delete(store, item)


def deliveries(draw: Any, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The stream in order in batches, each maybe retried whole or bisected, with old records
    replayed at random points; every record is delivered at least once."""
    batches: list[list[dict[str, Any]]] = []
    position = 0
    while position < len(records):
        size = draw(st.integers(1, 6))
        batch = records[position:position + size]
        batches.append(batch)
        how = draw(st.sampled_from(("once", "retried", "bisected", "replay")))
        if how == "retried":
            batches.append(batch)
        elif how == "bisected" and len(batch) > 1:
            half = len(batch) // 2
            batches += [batch[:half], batch[half:]]
        elif how == "replay":
            old = draw(st.lists(st.sampled_from(records[:position + size]), max_size=3))
            batches.append(old)
        position += size
    return batches


def deliver(ddb: Any, table: str, batch: list[dict[str, Any]], threshold: int) -> None:
    logs = Logs()
    result = summarizer.handle_event({"Records": copy.deepcopy(batch)}, ddb=ddb, table=table,
                                     threshold=threshold, log=logs, sleep=lambda _: None)
    assert result == {"batchItemFailures": []}, logs.lines


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), operations=st.lists(operation, min_size=1, max_size=25),
       threshold=st.integers(0, 3))
def test_summaries_equal_a_full_scan_whatever_the_delivery(
        dynamodb: Any, data: st.DataObject, operations: list[tuple[str, str, str, int]],
        threshold: int) -> None:
    table = create_summary_table(dynamodb, f"summaries-{next(_tables)}")
    try:
        model = StreamModel()
        play(model, operations)
        for batch in deliveries(data.draw, model.records):
            deliver(dynamodb, table, batch, threshold)
        assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, threshold)
    finally:
        dynamodb.delete_table(TableName=table)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), before=st.lists(operation, max_size=15),
       after=st.lists(operation, max_size=10), old_threshold=st.integers(0, 3),
       threshold=st.integers(0, 3))
def test_a_rebuild_racing_the_stream_ends_exact(  # noqa: PLR0917 - Hypothesis arguments
        dynamodb: Any, data: st.DataObject, before: list[tuple[str, str, str, int]],
        after: list[tuple[str, str, str, int]], old_threshold: int, threshold: int) -> None:
    """Some records were summarised (under the old threshold) before a rebuild, some are still
    in the stream; the rebuild scans the table at one moment, then the stream and late replays
    go on under the new threshold."""
    table = create_summary_table(dynamodb, f"summaries-{next(_tables)}")
    try:
        model = StreamModel()
        play(model, before)
        delivered = data.draw(st.integers(0, len(model.records)))
        for batch in deliveries(data.draw, model.records[:delivered]):
            deliver(dynamodb, table, batch, old_threshold)
        # The rebuild: its start time (less the margin) before the scan, the scan of the rows.
        # Any time up to the scan will do (the margin for clock skew), also one before some of
        # the records it reads.
        since = model.clock - data.draw(st.sampled_from((0.0, 0.6, 1.1, 2.6, 60.0)))
        scanned = dict(model.rows)
        failed = summarizer.apply_cells(
            dynamodb, table, sorted(set(scanned) | set(_cells(dynamodb, table))),
            lambda cell, state: summarizer.rebuild_cell(state, scanned.get(cell), threshold,
                                                        since),
            log=print, sleep=lambda _: None)
        assert not failed
        dynamodb.put_item(TableName=table, Item={
            "Kind": {"S": "meta"}, "Name": {"S": "rebuild"},
            "Threshold": {"N": str(threshold)}, "Since": {"N": repr(since)}})
        old_records = list(model.records)
        play(model, after)
        rest = model.records[delivered:]
        for batch in deliveries(data.draw, rest):
            deliver(dynamodb, table, batch, threshold)
        # Records from before the rebuild, replayed late (`inventory retry`).
        late = data.draw(st.lists(st.sampled_from(old_records), max_size=6)
                         if old_records else st.just([]))
        deliver(dynamodb, table, late, threshold)
        assert stored_summaries(dynamodb, table) == expected_summaries(model.rows, threshold)
    finally:
        dynamodb.delete_table(TableName=table)


def _cells(ddb: Any, table: str) -> list[tuple[str, str]]:
    pages = ddb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="Kind = :k",
        ExpressionAttributeValues={":k": {"S": "cell"}})
    return [(i["Store"]["S"], i["Item"]["S"]) for page in pages for i in page["Items"]]
