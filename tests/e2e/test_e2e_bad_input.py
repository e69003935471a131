"""End-to-end bad input: one file with every class of bad row, through the installed command.

A store file as a hostile user would write it: names one byte over the contract's limits and
names exactly at them made of the characters JSON doubles in the summaries' key, a control
character in a name, a count one digit too long and counts of the largest size summed over
three stores, a count a float cannot hold, and a quote left open on one line followed by two
hundred valid rows. The CLI refuses to send it and names every line with its limit; sent anyway
(`--skip-invalid`), the loader loads exactly the valid rows, the summaries take every one of them
(`show --totals` equals a full scan, exactly), and nothing is kept as a failure.

Same targets and variables as `test_e2e_pipeline.py` (default: an emulator of the test's own).
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from e2e_target import INVENTORY, Target, loaded_rows

from lambda_src.inventory_csv import MAX_COUNT, MAX_ITEM_BYTES, MAX_STORE_BYTES

pytestmark = pytest.mark.e2e

BIG = MAX_COUNT  # 28 nines: three of them sum to 29 digits, within DynamoDB's 38
ODD = 2**53 + 1
QUOTES_STORE = '"' * MAX_STORE_BYTES  # JSON doubles each: the summaries' key at its largest
BACKSLASH_ITEM = "\\" * MAX_ITEM_BYTES


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def bad_file(path: Path, stores: tuple[str, ...] = ("Berlin", "Pusan", "Lyon"),
             ) -> tuple[Path, dict[tuple[str, str], int], dict[int, str]]:
    """The file, the rows that must load, and line -> the reason each bad line must get.
    With one store, every valid row is that store's (a store's own upload)."""
    lines = ["store,item,count"]
    good: dict[tuple[str, str], int] = {}
    bad: dict[int, str] = {}

    def row(store: str, item: str, count: str, *, reason: str | None = None,
            raw: str | None = None) -> None:
        lines.append(raw if raw is not None else f"{quoted(store)},{quoted(item)},{count}")
        if reason is None:
            good[(store, item)] = int(count)
        else:
            bad[len(lines)] = reason

    for store in stores:
        row(store, "Echo", str(BIG))
    row("Berlin", "Tap", str(ODD))
    row(QUOTES_STORE if len(stores) > 1 else "Berlin", BACKSLASH_ITEM, "3")
    row("Berlin", "Dot", "0")
    row("s" * (MAX_STORE_BYTES + 1), "Echo", "1",
        reason=f"store is {MAX_STORE_BYTES + 1} bytes long in UTF-8 (at most {MAX_STORE_BYTES})")
    row("Berlin", "é" * (MAX_ITEM_BYTES // 2) + "x", "1",
        reason=f"item is {MAX_ITEM_BYTES + 1} bytes long in UTF-8 (at most {MAX_ITEM_BYTES})")
    row("Berlin", "Echo\tDot", "1",
        reason="item holds a control character (U+0009), which no name may hold")
    row("Berlin", "Show", "1" + "0" * 28, reason="count has 29 digits (at most 28)")
    row("", "", "", raw='Berlin,"Echo Spot,4',
        reason='a quoted value does not close on its line (a stray "?): '
               'a value may not span lines')
    for n in range(200):  # what an open quote used to swallow
        row(stores[-1], f"Item {n:03d}", str(n + 1))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, good, bad


def assert_summaries_equal_the_table(target: Target, good: dict[tuple[str, str], int]) -> None:
    """The table holds exactly `good`; `show --totals` is its sums; nothing was kept as failed."""
    assert scan(target) == good
    totals: dict[str, int] = defaultdict(int)
    stores: dict[str, int] = defaultdict(int)
    for (_store, item), count in good.items():
        totals[item] += count
        stores[item] += 1
    shown = target.json("show", "--totals", "--output", "json")
    assert {t["item"]: (t["count"], t["stores"]) for t in shown} == {
        item: (totals[item], stores[item]) for item in totals}
    failures: list[Any] = target.json("failures", "--output", "json")
    assert failures == []


def scan(target: Target) -> dict[tuple[str, str], int]:
    ddb = target.boto3_client("dynamodb")
    rows = {}
    for page in ddb.get_paginator("scan").paginate(TableName=target.table(),
                                                   ConsistentRead=True):
        for item in page["Items"]:
            rows[(item["Store"]["S"], item["Item"]["S"])] = int(item["Count"]["N"])
    return rows


def test_every_class_of_bad_row_is_refused_with_its_limit_and_nothing_valid_is_lost(
        e2e: Target) -> None:
    path, good, bad = bad_file(e2e.work / "hostile.csv")
    e2e.run("provision")

    # The CLI's own check: nothing sent, every bad line named with its reason.
    refused = e2e.run("upload", "--wait", path.name, expect=1)
    said = " ".join((refused.stdout + refused.stderr).split())
    for line, reason in bad.items():
        assert f"{line} {reason}" in said, (line, reason, said)
    assert scan(e2e) == {}

    # Sent anyway: the loader refuses the same lines and loads every valid row.
    sent = e2e.run("upload", "--wait", "--skip-invalid", path.name, expect=1)
    assert loaded_rows(sent.stdout) == {
        path.name: ("loaded", len(good) + len(bad), len(good), len(bad))}
    e2e.settle(expected_alerts=1)  # Berlin's Dot at 0
    # The summaries hold every row, exactly (29-digit sums), and nothing was kept as failed.
    assert_summaries_equal_the_table(e2e, good)
    assert sum(count for (_, item), count in good.items() if item == "Echo") == 3 * BIG
    status = e2e.run("status", "--output", "json", expect=None)
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)


def test_a_stores_own_upload_of_bad_input_loads_exactly_its_valid_rows(e2e: Target) -> None:
    """The same classes of bad row through the store endpoint (`upload --store-key`, no AWS
    credentials): the loader's report names them in the same words, and loads the rest."""
    path, good, bad = bad_file(e2e.work / "berlin.csv", stores=("Berlin",))
    e2e.run("provision")
    issued = e2e.json("stores", "add", "Berlin", "--output", "json")
    env = {**e2e.env, "INVENTORY_STORE_KEY": issued["key"],
           "INVENTORY_UPLOAD_URL": issued["upload_url"]}
    env = {name: value for name, value in env.items()
           if not name.startswith("AWS_") or name in ("AWS_CONFIG_FILE",
                                                      "AWS_SHARED_CREDENTIALS_FILE")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    sent = subprocess.run([str(INVENTORY), "upload", "--skip-invalid", "--wait", path.name],
                          cwd=e2e.work, env=env, capture_output=True, text=True,
                          timeout=e2e.timeout_s * 2, check=False)
    assert sent.returncode == 1, sent.stdout + sent.stderr  # rows were rejected
    # The loader's report, as `--wait` prints it: every bad line with the contract's words.
    said = " ".join((sent.stdout + sent.stderr).split())
    assert loaded_rows(sent.stdout).popitem()[1] == ("loaded", len(good) + len(bad), len(good),
                                                     len(bad))
    for line, reason in bad.items():
        assert f"line {line}: {reason}" in said, (line, reason, said)
    e2e.settle(expected_alerts=1)
    assert_summaries_equal_the_table(e2e, good)
