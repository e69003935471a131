"""One file, three readers: the loader, the summaries and the upload page's check agree row by row.

Hypothesis writes hostile files: quotes opened and never closed, doubled and stray quotes,
commas and CRs inside values, names at and around the contract's byte limits (the JSON-doubling
worst case of all quotes included), Unicode and control characters, counts at and past the
28-digit limit. For each file:
- the page's check (dashboard/src/csvcheck.js under Node, one process for every example) gives
  exactly what the contract gives (`inventory_csv.check_chunks`, what `inventory upload` runs):
  the same rows, rejected lines and reasons, duplicates, or the same whole-file refusal;
- the loader (the real handler, on moto) writes exactly those rows and reports exactly those
  rejected lines;
- the summaries, fed the stream records moto's table really produced, apply every one of them
  (no record fails, so nothing is ever kept as a failure) and keep one cell per table row with
  its count, and totals equal to a full scan.
"""

from __future__ import annotations

import base64
import importlib
import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_helpers import Logs, create_table, table_items, upload_and_load
from summary_helpers import create_summary_table, expected_summaries, stored_summaries
from test_samples_pipeline import stream_records

from lambda_src import inventory_csv as contract
from lambda_src import update_summaries as summarizer

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
RUNNER = BROWSER_TESTS / "csvcheck_runner.mjs"
THRESHOLD = 2


def _python_result(data: bytes) -> dict[str, Any]:
    # The comparison's Python side, shared with the page's corpus test.
    if str(BROWSER_TESTS) not in sys.path:
        sys.path.append(str(BROWSER_TESTS))
    corpus = importlib.import_module("test_upload_page_csvcheck")
    result: dict[str, Any] = corpus.python_result(data)
    return result


class PageCheck:
    """The page's check in one long-lived Node process: a file in, its result out."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node, "Node.js is needed (it builds the dashboard bundle too)"
        self._process = subprocess.Popen([node, str(RUNNER), "--lines"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def check(self, data: bytes) -> dict[str, Any]:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps([base64.b64encode(data).decode(), None]) + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        assert answer, "the Node runner stopped"
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        assert self._process.stdin
        self._process.stdin.close()
        self._process.wait(timeout=30)


@dataclass(frozen=True)
class Moto:
    session: boto3.session.Session
    s3: Any
    dynamodb: Any
    bucket: str


@pytest.fixture
def moto(session: boto3.session.Session, s3: Any, dynamodb: Any, bucket: str) -> Moto:
    return Moto(session, s3, dynamodb, bucket)


@pytest.fixture(scope="module")
def page_check() -> Iterator[PageCheck]:
    runner = PageCheck()
    yield runner
    runner.close()


# ---- hostile files ------------------------------------------------------------------------------

def _of_bytes(size: int, unit: str) -> str:
    """A name of exactly `size` bytes of UTF-8 made of `unit` (1 or 2 bytes) and ASCII."""
    width = len(unit.encode())
    return unit * (size // width) + "x" * (size % width)


def _near(limit: int) -> st.SearchStrategy[str]:
    # '"' and '\\' are the worst case of the summaries' cell key: JSON doubles them.
    return st.builds(_of_bytes, st.integers(limit - 2, limit + 2),
                     st.sampled_from(["a", "é", '"', "\\"]))


def names(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["Berlin", "Pusan", "München", "東京", 'The "Tap"', "a,b", "it's", "\\",
                         " spaced ", "😀"]),
        st.text(st.characters(codec="utf-8"), min_size=0, max_size=8),
        st.text(st.sampled_from(list('ab"\\,é東😀 \t\x00\x85\u200b\u3000')), max_size=10),
        _near(limit), _near(limit),
    )


counts = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers(0, contract.MAX_COUNT).map(str),
    st.integers(contract.MAX_COUNT // 2, contract.MAX_COUNT).map(str),  # sums past 10**28
    st.integers(contract.MAX_COUNT - 2, contract.MAX_COUNT * 1000).map(str),
    st.integers(0, 99).map(lambda n: f"000{n}"),
    st.sampled_from(["-1", "1.5", "", "x", "1e3", "٣", " 7 ", "+1"]),
)


@st.composite
def field(draw: st.DrawFn, value: str) -> str:
    """`value` written as a spreadsheet would (quoted when it must be), or broken on purpose."""
    quoted = '"' + value.replace('"', '""') + '"'
    plain = value if not any(ch in value for ch in ',"\r\n') else quoted
    return draw(st.sampled_from([plain] * 12 + [quoted] * 4 + [
        '"' + value,  # a quote opened and never closed
        quoted + "x",  # text after the closing quote
        value,  # unquoted even if it holds a comma or a quote
    ]))


@st.composite
def hostile_files(draw: st.DrawFn) -> bytes:
    valid = ["store,item,count", "Store,Item,Count,notes", " count , ITEM ,store",
             "\ufeffstore,item,count"]
    header = draw(st.sampled_from(valid * 4 + ["store,item", '"store,item,count']))
    columns = [name.strip().lower() for name in header.lstrip("\ufeff").split(",")]
    stores = draw(st.lists(names(contract.MAX_STORE_BYTES), min_size=1, max_size=3))
    items = draw(st.lists(names(contract.MAX_ITEM_BYTES), min_size=1, max_size=4))
    lines = [header]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row"] * 8 + ["blank", "noise"]))
        if kind == "blank":
            lines.append("")
            continue
        if kind == "noise":
            lines.append(draw(st.text(st.sampled_from(list('a,"\r 東')), max_size=12)))
            continue
        values = {"store": draw(st.sampled_from(stores)), "item": draw(st.sampled_from(items)),
                  "count": draw(counts), "notes": "n"}
        lines.append(",".join(draw(field(values.get(name, ""))) for name in columns))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + draw(st.sampled_from([ending, ""]))
    return text.encode("utf-8")


# ---- the property -------------------------------------------------------------------------------

_tables = itertools.count()


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=hostile_files())
def test_the_loader_the_summaries_and_the_page_agree_row_by_row(
        moto: Moto, page_check: PageCheck, data: bytes) -> None:
    session, s3, dynamodb, bucket = moto.session, moto.s3, moto.dynamodb, moto.bucket
    expected = _python_result(data)
    assert page_check.check(data) == expected

    n = next(_tables)
    table = create_table(dynamodb, f"agree-{n}")
    loaded = upload_and_load(s3, dynamodb, bucket, f"agree/{n}.csv", data, table=table)
    report = loaded.report(s3, bucket, f"agree/{n}.csv")
    rows = table_items(dynamodb, table)
    if "invalid" in expected:
        line, reason, _ = expected["invalid"]
        assert report["status"] == "rejected"
        # Rows refused before the file turned out unreadable are listed first.
        assert report["rejected"][-1] == {"line": line or 0, "reason": reason}
        assert rows == {}
        return
    # The loader: exactly the contract's rows (the last of each key) and rejected lines.
    assert rows == {(store, item): int(count) for _, store, item, count in expected["rows"]}
    assert [[r["line"], r["reason"]] for r in report["rejected"]] == expected["rejected"]
    assert (report["rows_read"], report["loaded"], report["rejected_count"]) == (
        expected["rows_read"], len(expected["rows"]), len(expected["rejected"]))
    assert [[d["line"], d["store"], d["item"], d["previous_line"]]
            for d in report["duplicates"]] == expected["duplicates"]

    # The summaries, from the table's own stream: nothing fails, one cell per row, exact sums.
    summary_table = create_summary_table(dynamodb, f"agree-summaries-{n}")
    logs = Logs()
    records = stream_records(session, dynamodb, table, {})
    result = summarizer.handle_event({"Records": records}, ddb=dynamodb, table=summary_table,
                                     threshold=THRESHOLD, log=logs, sleep=lambda _: None)
    assert result == {"batchItemFailures": []}
    assert logs.events("summary_update_failed") == []
    cells = {}
    for page in dynamodb.get_paginator("query").paginate(
            TableName=summary_table, KeyConditionExpression="Kind = :k",
            ExpressionAttributeValues={":k": {"S": summarizer.CELL_KIND}}):
        for cell in page["Items"]:
            cells[(cell["Store"]["S"], cell["Item"]["S"])] = summarizer.whole_number(
                cell["Count"]["N"])
    assert cells == rows
    stored = stored_summaries(dynamodb, summary_table)
    assert stored == expected_summaries(rows, THRESHOLD)
    # Every sum is a number DynamoDB holds (38 significant digits; moto does not check).
    assert all(len(str(row["Units"]).rstrip("0")) <= 38
               for kind in stored.values() for row in kind.values())


def test_a_stray_quote_costs_the_loader_one_counted_row(moto: Moto) -> None:
    lines = [f"Berlin,Item {n:03d},{n}" for n in range(300)]
    lines[40] = 'Berlin,"Item 040,40'  # line 42 of the file
    body = ("store,item,count\n" + "\n".join(lines) + "\n").encode()
    table = create_table(moto.dynamodb, "stray-quote")
    loaded = upload_and_load(moto.s3, moto.dynamodb, moto.bucket, "stray.csv", body, table=table)
    report = loaded.report(moto.s3, moto.bucket, "stray.csv")
    assert (report["status"], report["rows_read"], report["loaded"], report["rejected_count"]) \
        == ("loaded", 300, 299, 1)
    assert report["rejected"] == [{"line": 42, "reason": contract.UNCLOSED_QUOTE_REASON}]
    rows = table_items(moto.dynamodb, table)
    assert len(rows) == 299 and rows[("Berlin", "Item 299")] == 299
