"""Hypothesis properties of the contract and the loader.

- Any set of valid rows, written as any CSV a spreadsheet could produce (BOM or not, LF or CRLF,
  header in any case and column order, extra columns, quoting), reads back exactly (last row wins).
- Through the loader into DynamoDB: the table holds exactly the valid rows' last values; no
  invalid row is ever written.
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_helpers import create_table, table_items, upload_and_load

from lambda_src.inventory_csv import MAX_COUNT, MAX_ITEM_BYTES, MAX_STORE_BYTES, check_chunks


# Names: any text without surrogates or control characters, trimmed and non-empty (trimming is
# part of the contract, covered by unit tests), within the contract's byte limits.
def _name(limit: int) -> st.SearchStrategy[str]:
    return st.text(
        alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40,
    ).map(str.strip).filter(lambda s: 0 < len(s.encode()) <= limit)


key_text = _name(MAX_ITEM_BYTES)
count = st.integers(min_value=0, max_value=10**12) | st.integers(0, MAX_COUNT)
valid_row = st.tuples(st.sampled_from(["Berlin", "Pusan", "M\u00fcnchen"]) | _name(MAX_STORE_BYTES),
                      key_text, count)

_counter = itertools.count()


@st.composite
def csv_files(draw: st.DrawFn, rows: list[tuple[str, str, str]]) -> bytes:
    """`rows` of (store, item, count text) written as some valid CSV dialect."""
    columns = draw(st.permutations(["store", "item", "count", "notes"]))
    header = [draw(st.sampled_from([name, name.upper(), f" {name.title()} "]))
              for name in columns]
    out = io.StringIO()
    # csv.writer leaves a bare CR unquoted when the line ends in LF only; spreadsheets quote it
    # (the contract refuses a CR in an unquoted value).
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    if any("\r" in value for row in rows for value in row):
        quoting = csv.QUOTE_ALL
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
                        quoting=quoting)
    writer.writerow(header)
    for store, item, count_text in rows:
        values = {"store": store, "item": item, "count": count_text, "notes": "n, \"x\""}
        writer.writerow([values[name] for name in columns])
        if draw(st.booleans()) and draw(st.booleans()):
            out.write(draw(st.sampled_from(["\n", "\r\n"])))  # a blank line
    data = out.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


def _chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), rows=st.lists(valid_row, max_size=30), chunk=st.integers(1, 70))
def test_valid_rows_read_back_exactly(data: st.DataObject, rows: list[tuple[str, str, int]],
                                      chunk: int) -> None:
    text_rows = [(s, i, data.draw(st.sampled_from([str(c), f"{c:05d}"])))
                 for s, i, c in rows]
    result = check_chunks(_chunked(data.draw(csv_files(text_rows)), chunk))
    expected = {(s, i): c for s, i, c in rows}
    assert {r.key: r.count for r in result.rows} == expected
    assert result.rejected == []
    assert result.rows_read == len(rows)
    assert len(result.duplicates) == len(rows) - len(expected)


invalid_row = st.one_of(
    st.tuples(st.just(""), key_text, count.map(str)),
    st.tuples(key_text, st.just("   "), count.map(str)),
    st.tuples(key_text, st.just("x" * (MAX_ITEM_BYTES + 1)), count.map(str)),
    st.tuples(st.just("s" * (MAX_STORE_BYTES + 1)), key_text, count.map(str)),
    st.tuples(key_text, st.just("a\tb"), count.map(str)),
    st.tuples(key_text, key_text, st.just(str(MAX_COUNT + 1))),
    st.tuples(key_text, key_text, st.sampled_from(["-3", "1.5", "", "twelve", "1e3", "+1"])),
    st.tuples(key_text, key_text, st.integers(-(10**6), -1).map(str)),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(),
       rows=st.lists(st.tuples(st.booleans(), valid_row, invalid_row), max_size=40))
def test_the_table_holds_exactly_the_valid_rows(s3: Any, dynamodb: Any, bucket: str,
                                                data: st.DataObject,
                                                rows: list[tuple[bool, Any, Any]]) -> None:
    chosen = [(str(v[0]), str(v[1]), str(v[2])) if ok else (str(b[0]), str(b[1]), str(b[2]))
              for ok, v, b in rows]
    table = create_table(dynamodb, f"prop-{next(_counter)}")
    body = data.draw(csv_files(chosen))
    loaded = upload_and_load(s3, dynamodb, bucket, "prop/file.csv", body, table=table)

    expected = {(s, i): int(c) for ok, (s, i, c) in zip((r[0] for r in rows), chosen,
                                                        strict=True) if ok}
    assert table_items(dynamodb, table) == expected
    report = loaded.report(s3, bucket, "prop/file.csv")
    assert report["loaded"] == len(expected)
    assert report["rejected_count"] == sum(1 for ok, _, _ in rows if not ok)
    assert report["rows_read"] == len(rows)
