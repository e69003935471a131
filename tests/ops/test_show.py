"""`inventory show`: one store by Query, all by Scan, totals, low stock, three output formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cli_runner import Cli
from ops_doubles import load_object, put_rows

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def loaded(cli: Cli, aws: Aws, stack: StackNames) -> StackNames:
    """The six lab files uploaded and loaded, as the loader would."""
    result = cli("upload", *sorted(str(p) for p in SAMPLES.glob("*.csv")))
    assert result.exit_code == 0, result.output
    for path in SAMPLES.glob("*.csv"):
        load_object(aws, stack, path.name)
    return stack


def test_one_store_is_read_with_a_query_and_shown_sorted(cli: Cli,
        aws: Aws, loaded: StackNames, dynamodb_operations: list[str]) -> None:
    result = cli("show", "--store", "Berlin", "--output", "table")
    assert result.exit_code == 0, result.output
    assert dynamodb_operations == ["Query"]
    assert result.stdout == (
        "Store    Item             Count      \n"
        "─────────────────────────────────────\n"
        "Berlin   Amazon Tap          15      \n"
        "Berlin   Echo (2nd Gen)      19      \n"
        "Berlin   Echo Dot            12      \n"
        "Berlin   Echo Look           10      \n"
        "Berlin   Echo Plus            0   low\n"
        "Berlin   Echo Show           18      \n"
        "low: count at or below the stack's threshold (0)\n"
    )


def test_every_store_is_read_with_paginated_scans(cli: Cli,
        aws: Aws, loaded: StackNames, dynamodb_operations: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory_cli.ops import query

    calls: list[dict[str, object]] = []
    real = query._paginate

    def small_pages(aws: Aws, names: StackNames, operation: str, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return real(aws, names, operation, PaginationConfig={"PageSize": 5}, **kwargs)

    monkeypatch.setattr(query, "_paginate", small_pages)
    result = cli("show", "--output", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 36
    assert dynamodb_operations == ["Scan"] * 8  # 36 rows in pages of 5, and one empty page
    assert rows == sorted(rows, key=lambda r: (r["store"], r["item"]))
    assert rows[0] == {"store": "Berlin", "item": "Amazon Tap", "count": 15}


def test_totals_sum_every_store(cli: Cli, aws: Aws, loaded: StackNames) -> None:
    expected: dict[str, int] = {}
    for path in SAMPLES.glob("*.csv"):
        for row in csv.DictReader(io.StringIO(path.read_text())):
            expected[row["item"]] = expected.get(row["item"], 0) + int(row["count"])
    result = cli("show", "--totals", "--output", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {"item": item, "count": expected[item], "stores": 6} for item in sorted(expected)]
    table = cli("show", "--totals", "--output", "table")
    assert table.stdout == (
        "Item             Total   Stores   \n"
        "──────────────────────────────────\n"
        "Amazon Tap          40        6   \n"
        "Echo (2nd Gen)      96        6   \n"
        "Echo Dot            84        6   \n"
        "Echo Look           81        6   \n"
        "Echo Plus           59        6   \n"
        "Echo Show           72        6   \n"
        "low: count at or below the stack's threshold (0)\n"
    )
    assert sum(expected.values()) == 40 + 96 + 84 + 81 + 59 + 72


def test_low_lists_the_out_of_stock_item_of_every_store(cli: Cli,
                                                        aws: Aws, loaded: StackNames) -> None:
    result = cli("show", "--low", "--output", "csv")
    assert result.exit_code == 0
    assert result.stdout == (
        "store,item,count\n"
        "Berlin,Echo Plus,0\n"
        "Calcutta,Echo (2nd Gen),0\n"
        "Karachi,Echo Plus,0\n"
        "Pusan,Echo Show,0\n"
        "Shanghai,Amazon Tap,0\n"
        "Springfield,Echo Show,0\n"
    )


def test_threshold_comes_from_the_check_function(cli: Cli, aws: Aws, loaded: StackNames) -> None:
    aws.client("lambda").update_function_configuration(
        FunctionName=loaded.check_function,
        Environment={"Variables": {"LOW_STOCK_THRESHOLD": "10"}})
    result = cli("show", "--store", "Berlin", "--low", "--output", "table")
    assert result.exit_code == 0
    assert result.stdout == (
        "Store    Item        Count      \n"
        "────────────────────────────────\n"
        "Berlin   Echo Look      10   low\n"
        "Berlin   Echo Plus       0   low\n"
        "low: count at or below the stack's threshold (10)\n"
    )


def test_a_missing_store_lists_the_existing_ones(cli: Cli, aws: Aws, loaded: StackNames) -> None:
    result = cli("show", "--store", "berlin")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: no stock recorded for store 'berlin'; stores: Berlin, Calcutta, Karachi, Pusan, "
        "Shanghai, Springfield\n"
        "Hint: store names are case-sensitive: did you mean 'Berlin'?\n")


def test_a_store_of_an_empty_table(cli: Cli, aws: Aws, stack: StackNames) -> None:
    result = cli("show", "--store", "Berlin")
    assert result.exit_code == 1
    assert result.stderr == ("Error: no stock recorded for store 'Berlin': the table is empty\n"
                             "Hint: load a file with `inventory upload FILE`\n")
    empty = cli("show", "--output", "table")
    assert (empty.exit_code, empty.stdout) == (
        0, "No stock recorded yet. Load a file with `inventory upload FILE`.\n")
    assert cli("show").stdout == "[]\n"


def test_names_are_shown_literally_not_as_markup(cli: Cli, aws: Aws, stack: StackNames) -> None:
    put_rows(aws, stack, [("[bold]x[/bold]", "[red]Echo[/red]", 3), ("[bold]x[/bold]", "a", 0)])
    result = cli("show", "--store", "[bold]x[/bold]", "--output", "table")
    assert result.exit_code == 0
    assert result.stdout == (
        "Store            Item              Count      \n"
        "──────────────────────────────────────────────\n"
        "[bold]x[/bold]   [red]Echo[/red]       3      \n"
        "[bold]x[/bold]   a                     0   low\n"
        "low: count at or below the stack's threshold (0)\n"
    )


def test_totals_and_store_together_are_a_usage_error(cli: Cli, aws: Aws, stack: StackNames) -> None:
    result = cli("show", "--totals", "--store", "Berlin")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --totals sums over all stores; it cannot be combined with --store\n")


def test_a_missing_table_is_an_incomplete_stack(cli: Cli, aws: Aws, stack: StackNames) -> None:
    aws.client("dynamodb").delete_table(TableName=stack.table)
    result = cli("show")
    assert result.exit_code == 1
    assert result.stderr == ("Error: the stack's table inventory-inventory does not exist\n"
                             "Hint: `inventory provision` creates what is missing\n")
