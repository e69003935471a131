"""The summaries from the CLI's side: `show --totals` reads them, `rebuild-summaries` and
provision compute them, and a rebuild racing the stream stays exact."""

from __future__ import annotations

import json

import pytest
from cli_runner import Cli
from ops_doubles import put_rows

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.ops import summaries
from lambda_src import update_summaries as summarizer


def test_totals_are_one_query_of_the_item_rows_not_a_scan(cli: Cli,
        aws: Aws, stack: StackNames, dynamodb_operations: list[str]) -> None:
    put_rows(aws, stack, [(f"Store{s:02}", f"Item{i:02}", (s + i) % 5)
                          for s in range(20) for i in range(30)])
    dynamodb_operations.clear()
    result = cli("show", "--totals", "--output", "json")
    assert result.exit_code == 0, result.output
    assert dynamodb_operations.count("Scan") == 0
    assert dynamodb_operations.count("Query") == 1
    totals = json.loads(result.stdout)
    assert len(totals) == 30
    assert totals[0] == {"item": "Item00", "count": sum(s % 5 for s in range(20)), "stores": 20}


def test_stores_read_back_with_their_low_items(aws: Aws, stack: StackNames) -> None:
    put_rows(aws, stack, [("Berlin", "Echo Dot", 0), ("Berlin", "Kindle", 4),
                          ("Paris", "Kindle", 0)])
    assert summaries.read_store_summaries(aws, stack) == [
        summaries.StoreSummary("Berlin", items=2, units=4, low_count=1,
                               low_items={"Echo Dot": 0}),
        summaries.StoreSummary("Paris", items=1, units=0, low_count=1, low_items={"Kindle": 0}),
    ]
    assert summaries.read_item_summaries(aws, stack)[1] == summaries.ItemSummary(
        "Kindle", stores=2, units=4, low_count=1, low_stores={"Paris": 0})


def test_rebuild_summaries_command(cli: Cli, aws: Aws, stack: StackNames) -> None:
    put_rows(aws, stack, [("Berlin", "Echo Dot", 0)])
    result = cli("rebuild-summaries", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"rebuilt": True, "rows_scanned": 1, "cells_changed": 1,
                                         "threshold": 0}
    again = cli("rebuild-summaries", "--if-needed", "--output", "table")
    assert again.exit_code == 0
    assert again.stdout == "The summaries are up to date; nothing to rebuild.\n"


def test_a_rebuild_fixes_summaries_the_stream_never_kept_and_ignores_old_replays(
        aws: Aws, stack: StackNames) -> None:
    """Rows written while no summarizer ran (an older stack): the rebuild computes them; a
    record from before the rebuild replayed afterwards does not undo it."""
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=stack.table, Item={"Store": {"S": "Berlin"}, "Item": {"S": "Dot"},
                                              "Count": {"N": "9"}})
    stale = {"eventID": "old", "eventName": "MODIFY", "dynamodb": {
        "Keys": {"Store": {"S": "Berlin"}, "Item": {"S": "Dot"}},
        "NewImage": {"Store": {"S": "Berlin"}, "Item": {"S": "Dot"}, "Count": {"N": "0"}},
        "SequenceNumber": "100", "ApproximateCreationDateTime": 1_000.0}}
    summaries.rebuild_summaries(aws, stack, threshold=0, clock=lambda: 2_000.0)
    assert summaries.read_store_summaries(aws, stack) == [
        summaries.StoreSummary("Berlin", items=1, units=9, low_count=0)]
    result = summarizer.handle_event({"Records": [stale]}, ddb=ddb, table=stack.summary_table,
                                     threshold=0, log=lambda _: None)
    assert result == {"batchItemFailures": []}
    assert summaries.read_store_summaries(aws, stack)[0].units == 9
    # A record created after the rebuild began applies.
    fresh = json.loads(json.dumps(stale))
    fresh["dynamodb"]["SequenceNumber"] = "101"
    fresh["dynamodb"]["ApproximateCreationDateTime"] = 1_990.0
    summarizer.handle_event({"Records": [fresh]}, ddb=ddb, table=stack.summary_table,
                            threshold=0, log=lambda _: None)
    assert summaries.read_store_summaries(aws, stack) == [
        summaries.StoreSummary("Berlin", items=1, units=0, low_count=1, low_items={"Dot": 0})]


def test_totals_without_a_summary_table_say_how_to_repair(cli: Cli,
                                                          aws: Aws, stack: StackNames) -> None:
    aws.client("dynamodb").delete_table(TableName=stack.summary_table)
    result = cli("show", "--totals")
    assert result.exit_code == 1
    assert "summary table inventory-summaries does not exist" in result.stderr


def test_big_counts_read_back_exactly_through_show_totals(cli: Cli,
                                                          aws: Aws, stack: StackNames) -> None:
    big = 10**28 - 1  # the contract's largest count; three make 29 digits
    put_rows(aws, stack, [("Berlin", "Echo", big), ("Paris", "Echo", big), ("Lyon", "Echo", big),
                          ("Berlin", "Tap", 2**53 + 1)])
    result = cli("show", "--totals", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"item": "Echo", "count": 3 * big, "stores": 3},
                                         {"item": "Tap", "count": 2**53 + 1, "stores": 1}]
    table = cli("show", "--totals", "--output", "table")
    assert f"{3 * big}" in table.stdout  # the table prints every digit, not 3e+28
    assert summaries.read_store_summaries(aws, stack)[0].units == big + 2**53 + 1


def test_a_rebuild_isolates_a_cell_dynamodb_refuses_and_names_it(
        aws: Aws, stack: StackNames) -> None:
    """A row written around the contract (an item of 600 quotes: its summaries' key would be
    1,208 bytes) fails alone; every other cell is rebuilt and the error says how many failed."""
    put_rows(aws, stack, [(f"S{n % 3}", f"Item {n}", n) for n in range(30)])
    aws.client("dynamodb").put_item(TableName=stack.table, Item={
        "Store": {"S": "S1"}, "Item": {"S": '"' * 600}, "Count": {"N": "5"}})
    with pytest.raises(summaries.SummaryRebuildFailed) as failed:
        summaries.rebuild_summaries(aws, stack, threshold=0, sleep=lambda _: None)
    assert str(failed.value).startswith(
        "1 of 31 summary cells could not be updated: ValidationException")
    by_store = {s.store: s for s in summaries.read_store_summaries(aws, stack)}
    assert {name: s.units for name, s in by_store.items()} == {
        f"S{k}": sum(n for n in range(30) if n % 3 == k) for k in range(3)}
