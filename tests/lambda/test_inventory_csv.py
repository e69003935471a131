"""The CSV contract, rule by rule (no AWS involved)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lambda_src import inventory_csv as contract
from lambda_src.inventory_csv import (
    DuplicateRow,
    InventoryRow,
    MalformedCsv,
    MissingColumns,
    NotUtf8,
    RejectedRow,
    check_bytes,
    check_chunks,
)

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


def rows_of(data: bytes) -> list[tuple[int, str, str, int]]:
    return [(r.line, r.store, r.item, r.count) for r in check_bytes(data).rows]


def test_plain_file() -> None:
    result = check_bytes(b"store,item,count\nBerlin,Echo Dot,12\nBerlin,Echo Plus,0\n")
    assert rows_of(b"store,item,count\nBerlin,Echo Dot,12\nBerlin,Echo Plus,0\n") == [
        (2, "Berlin", "Echo Dot", 12), (3, "Berlin", "Echo Plus", 0)]
    assert (result.rows_read, result.rejected, result.duplicates) == (2, [], [])
    assert result.header == ["store", "item", "count"]
    assert result.empty_reason is None


def test_bom_and_crlf() -> None:
    data = b"\xef\xbb\xbfstore,item,count\r\nBerlin,Echo Dot,12\r\nPusan,Echo,3"
    assert rows_of(data) == [(2, "Berlin", "Echo Dot", 12), (3, "Pusan", "Echo", 3)]
    assert check_bytes(data).header == ["store", "item", "count"]


def test_quoted_comma_and_quote() -> None:
    data = b'store,item,count\nBerlin,"Echo, 2nd Gen",4\nBerlin,"The ""Tap""",5\n'
    assert rows_of(data) == [(2, "Berlin", "Echo, 2nd Gen", 4), (3, "Berlin", 'The "Tap"', 5)]


def test_a_quoted_value_may_not_span_lines() -> None:
    # Line 2 opens a quote it does not close; line 3 is then read as a row of its own.
    data = b'store,item,count\nBerlin,"Echo\nShow",4\nBerlin,Echo Dot,x\n'
    result = check_bytes(data)
    assert result.rows == []
    assert result.rejected == [
        RejectedRow(2, contract.UNCLOSED_QUOTE_REASON),
        RejectedRow(3, "no count value (the row has 2 fields)"),
        RejectedRow(4, "count 'x' is not a whole number >= 0")]
    assert result.rows_read == 3


def test_headers_are_case_insensitive_trimmed_and_extra_columns_ignored() -> None:
    data = b" Count ,notes, ITEM,Store \n5,ignore me,Echo Dot,Berlin,and,more,fields\n"
    assert rows_of(data) == [(2, "Berlin", "Echo Dot", 5)]
    assert check_bytes(data).header == ["Count", "notes", "ITEM", "Store"]


def test_values_are_trimmed() -> None:
    assert rows_of(b"store,item,count\n  Berlin ,\tEcho Dot  , 12 \n") == [
        (2, "Berlin", "Echo Dot", 12)]


@pytest.mark.parametrize("count,expected", [("12", 12), ("007", 7), ("0", 0),
                                            ("1" + "0" * 27, 10**27),
                                            ("0" * 40 + "9" * 28, contract.MAX_COUNT)])
def test_valid_counts(count: str, expected: int) -> None:
    assert rows_of(f"store,item,count\nB,I,{count}\n".encode()) == [(2, "B", "I", expected)]


@pytest.mark.parametrize("count", ["-3", "1.5", "", "twelve", "+3", "1 2", "\u00b2", "1e3",
                                   "\u0661"])
def test_invalid_counts(count: str) -> None:
    result = check_bytes(f'store,item,count\nB,I,"{count}"\n'.encode())
    assert result.rows == []
    assert result.rejected == [RejectedRow(2, f"count {count!r} is not a whole number >= 0")]


def test_a_count_whose_sums_could_overflow_a_dynamodb_number_is_rejected() -> None:
    # 28 digits at most, so that a summary (a sum of up to 10**10 counts) keeps within 38.
    result = check_bytes(b"store,item,count\nB,I," + b"9" * 29 + b"\nB,J," + b"9" * 5000 + b"\n")
    assert result.rejected == [RejectedRow(2, "count has 29 digits (at most 28)"),
                               RejectedRow(3, "count has 5000 digits (at most 28)")]
    assert 10**10 * contract.MAX_COUNT < 10**38


def test_name_limits_are_bytes_of_utf8_not_characters() -> None:
    store_at_limit = "\u00e9" * 100  # 200 bytes, 100 characters
    item_at_limit = "\U0001f600" * 75  # 300 bytes, 75 characters (150 UTF-16 units)
    data = (f"store,item,count\n{store_at_limit},{item_at_limit},1\n"
            f"B,{item_at_limit}a,1\n{store_at_limit}a,x,1\n{'s' * 201},{'i' * 301},1\n").encode()
    result = check_bytes(data)
    assert [(r.line, r.store, r.item) for r in result.rows] == [
        (2, store_at_limit, item_at_limit)]
    assert result.rejected == [
        RejectedRow(3, "item is 301 bytes long in UTF-8 (at most 300)"),
        RejectedRow(4, "store is 201 bytes long in UTF-8 (at most 200)"),
        RejectedRow(5, "store is 201 bytes long in UTF-8 (at most 200); "
                       "item is 301 bytes long in UTF-8 (at most 300)"),
    ]


def test_names_at_the_limits_fit_every_key_they_become() -> None:
    # The worst case of each: names of quotes (JSON doubles them) and of bytes percent-encoding
    # triples; the summaries' cell key and a store upload's checkpoint key must still fit.
    from lambda_src.load_checkpoint import checkpoint_key
    from lambda_src.store_scope import store_prefix
    from lambda_src.update_summaries import cell_name

    store, item = '"' * contract.MAX_STORE_BYTES, "\\" * contract.MAX_ITEM_BYTES
    assert len(cell_name(store, item).encode()) <= 1024  # the summary table's sort key
    assert max(len(store.encode()), len(item.encode())) <= 1024  # inventory / alert tables
    upload = f"{store_prefix('é' * (contract.MAX_STORE_BYTES // 2))}20260101T000000Z-" \
             f"0123abcd-{'s' * 60}.csv"
    assert len(contract.report_key_for(upload).encode()) <= 1024  # an S3 object key
    assert len(checkpoint_key(upload, "v" * 64, 99999).encode()) <= 1024


@pytest.mark.parametrize("name", ["A\tB", "A\x00", "\x7fA", "A\x85B", "A\x9fB", "A\rB"])
def test_names_with_control_characters_are_rejected(name: str) -> None:
    code = next(ord(ch) for ch in name if ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f)
    data = f'store,item,count\n"{name}",x,1\nB,"{name}",2\n'.encode()
    assert check_bytes(data).rejected == [
        RejectedRow(2, f"store holds a control character (U+{code:04X}), which no name may hold"),
        RejectedRow(3, f"item holds a control character (U+{code:04X}), which no name may hold")]


def test_empty_values_and_short_rows_are_rejected_with_every_reason() -> None:
    data = b"store,item,count\n,,\nBerlin\n , Echo ,1\n"
    assert check_bytes(data).rejected == [
        RejectedRow(2, "store is empty; item is empty; count '' is not a whole number >= 0"),
        RejectedRow(3, "no item value (the row has 1 field); no count value (the row has 1 field)"),
        RejectedRow(4, "store is empty"),
    ]


def test_valid_rows_of_a_file_with_bad_rows_still_count() -> None:
    result = check_bytes(b"store,item,count\nA,a,1\nA,b,-1\nA,c,2\n")
    assert [r.item for r in result.rows] == ["a", "c"]
    assert result.rows_read == 3
    assert result.rejected == [RejectedRow(3, "count '-1' is not a whole number >= 0")]


def test_blank_lines_are_ignored_but_counted_as_lines() -> None:
    data = b"\n\nstore,item,count\n\nA,a,1\n   \n\r\nA,b,x\n\n"
    result = check_bytes(data)
    assert [(r.line, r.item) for r in result.rows] == [(5, "a")]
    assert result.rejected == [RejectedRow(8, "count 'x' is not a whole number >= 0")]
    assert result.rows_read == 2


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"])
def test_empty_file(data: bytes) -> None:
    result = check_bytes(data)
    assert (result.rows, result.rows_read, result.header) == ([], 0, None)
    assert result.empty_reason == "the file is empty"


def test_header_only() -> None:
    result = check_bytes(b"store,item,count\r\n\r\n")
    assert (result.rows, result.rows_read) == ([], 0)
    assert result.empty_reason == "the file has a header but no rows"


def test_duplicates_last_row_wins_and_are_reported() -> None:
    data = b"store,item,count\nA,a,1\nA,b,2\nA,a,3\nA,a,4\n"
    result = check_bytes(data)
    assert [(r.line, r.item, r.count) for r in result.rows] == [(5, "a", 4), (3, "b", 2)]
    assert result.duplicates == [DuplicateRow(4, "A", "a", 2), DuplicateRow(5, "A", "a", 4)]


def test_duplicate_keys_compare_after_trimming() -> None:
    result = check_bytes(b"store,item,count\nA,a,1\n A , a ,2\n")
    assert result.duplicates == [DuplicateRow(3, "A", "a", 2)]
    assert [r.count for r in result.rows] == [2]


def test_invalid_utf8_rejects_the_whole_file_naming_the_line() -> None:
    data = b'store,item,count\nA,"multi\nline",1\nA,b,2\nA,caf\xe9,3\nA,d,4\n'
    with pytest.raises(NotUtf8) as caught:
        check_bytes(data)
    assert caught.value.line == 5
    assert caught.value.reason == ("not valid UTF-8 (byte 6 of the line: b'\\xe9'); "
                                   "save the file as UTF-8")
    assert str(caught.value).startswith("line 5: not valid UTF-8")


def test_latin1_header_is_not_utf8() -> None:
    with pytest.raises(NotUtf8) as caught:
        check_bytes("store,item,count,größe\n".encode("latin-1"))
    assert caught.value.line == 1


def test_missing_columns_name_them_and_the_header_found() -> None:
    with pytest.raises(MissingColumns) as caught:
        check_bytes(b"\n Store ;item;qty\nA;b;1\n")
    error = caught.value
    # A semicolon-separated file is one column named "Store ;item;qty".
    assert (error.line, error.missing, error.header) == (
        2, ["store", "item", "count"], ["Store ;item;qty"])
    assert str(error) == ("line 2: missing columns store, item, count (the header must name "
                          "store, item and count; found: 'Store ;item;qty')")
    with pytest.raises(MissingColumns, match="missing column count .*found: 'store', 'item'"):
        check_bytes(b"store,item\nA,b\n")


def test_missing_columns_is_an_invalid_file() -> None:
    assert issubclass(MissingColumns, contract.InvalidFile)
    assert issubclass(NotUtf8, contract.InvalidFile)
    assert issubclass(MalformedCsv, contract.InvalidFile)


def test_bare_carriage_returns_are_refused_with_a_reason() -> None:
    with pytest.raises(MalformedCsv) as caught:
        check_bytes(b"store,item,count\rA,b,1\rC,d,2\r")
    assert caught.value.line == 1
    assert "carriage return (CR)" in caught.value.reason


def test_an_overlong_line_is_refused_without_reading_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "MAX_LINE_BYTES", 100)
    with pytest.raises(MalformedCsv) as caught:
        check_chunks([b"store,item,count\nA,b,1\n", b"x" * 60, b"y" * 60, b"z" * 60])
    assert (caught.value.line, caught.value.reason) == (3, "line is longer than 100 bytes")


def test_an_unclosed_quote_costs_its_own_row_and_no_other() -> None:
    lines = [f"S,item {n},{n}" for n in range(300)]
    lines[10] = 'S,"item 10,10'
    lines[200] = 'S,item 200,"200'
    result = check_bytes(("store,item,count\n" + "\n".join(lines)).encode())
    assert result.rejected == [RejectedRow(12, contract.UNCLOSED_QUOTE_REASON),
                               RejectedRow(202, contract.UNCLOSED_QUOTE_REASON)]
    assert len(result.rows) == 298
    assert result.rows_read == 300


def test_an_unclosed_quote_at_the_end_of_the_file_or_in_the_header() -> None:
    assert check_bytes(b'store,item,count\nA,b,"1').rejected == [
        RejectedRow(2, contract.UNCLOSED_QUOTE_REASON)]
    with pytest.raises(MalformedCsv) as error:
        check_bytes(b'store,"item,count\nA,b,1\n')
    assert (error.value.line, error.value.reason) == (1, contract.UNCLOSED_QUOTE_REASON)


def test_chunk_boundaries_do_not_matter() -> None:
    data = ("\ufeffstore,item,count\r\nM\u00fcnchen,\"Gr\u00f6\u00dfe, XL\",3\r\n"
            "\u6771\u4eac,\u30a8\u30b3\u30fc,\"0\"\r\nA,b,-1\r\n").encode()
    whole = check_bytes(data)
    byte_by_byte = check_chunks(data[i:i + 1] for i in range(len(data)))
    assert byte_by_byte == whole
    assert [(r.store, r.item) for r in whole.rows] == [("M\u00fcnchen", "Gr\u00f6\u00dfe, XL"),
                                                       ("\u6771\u4eac", "\u30a8\u30b3\u30fc")]
    assert whole.rejected == [RejectedRow(4, "count '-1' is not a whole number >= 0")]


def test_check_file_and_check_stream(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(b"store,item,count\nA,b,1\n")
    assert contract.check_file(path).rows == [InventoryRow(2, "A", "b", 1)]
    assert contract.check_stream(io.BytesIO(path.read_bytes())).rows == [
        InventoryRow(2, "A", "b", 1)]
    with pytest.raises(FileNotFoundError):
        contract.check_file(tmp_path / "missing.csv")


def test_the_lab_samples_are_valid() -> None:
    files = sorted(SAMPLES.glob("*.csv"))
    assert len(files) == 6
    for path in files:
        result = contract.check_file(path)
        assert (len(result.rows), result.rejected, result.duplicates) == (6, [], [])
        assert [r.count for r in result.rows].count(0) == 1


@pytest.mark.parametrize("key,loaded", [
    ("inventory-berlin.csv", True), ("north region/Berlin.CSV", True), ("a.Csv", True),
    ("reports/inventory-berlin.csv.json", False), ("reports/x.csv", False),
    ("notes.txt", False), ("berlin.csv.bak", False), ("csv", False),
])
def test_which_keys_are_loaded(key: str, loaded: bool) -> None:
    assert contract.is_inventory_key(key) is loaded


def test_report_keys() -> None:
    assert contract.REPORTS_PREFIX == "reports/"
    assert contract.report_key_for("a b/x.csv") == "reports/a b/x.csv.json"
    assert not contract.is_inventory_key(contract.report_key_for("x.csv"))
    assert contract.normalize_etag('"abc"') == "abc" == contract.normalize_etag("abc")


def test_the_contract_imports_only_the_standard_library() -> None:
    # The CLI imports this module at start-up, and it ships inside the Lambda zip.
    import subprocess
    import sys

    code = ("import sys, lambda_src.inventory_csv; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('boto3', 'botocore', 'inventory_cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_lambda_code_never_imports_the_cli() -> None:
    package = Path(contract.__file__).parent
    offenders = [path.name for path in package.glob("*.py")
                 if "inventory_cli" in path.read_text()]
    assert offenders == []
