"""The upload page's CSV check agrees with the loader's contract, file by file.

The page (dashboard/src/csvcheck.js) checks a file before sending it; `inventory upload` and the
loader use lambda_src/inventory_csv.py. Both run on the same corpus here (the JS under Node, the
runtime CI already uses to build the bundle): the cases of tests/lambda/test_inventory_csv.py and
a few thousand seeded random files built from the characters the rules care about. They must
accept the same rows, reject the same lines with the same reasons, report the same duplicates,
and refuse the same whole files with the same line and reason.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lambda_src import inventory_csv as contract
from lambda_src.store_scope import row_rule_for_key, store_prefix

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "csvcheck_runner.mjs"
SAMPLES = HERE.parents[1] / "samples"

# The cases of tests/lambda/test_inventory_csv.py, and the edges the port had to get right.
CASES: list[bytes] = [
    b"store,item,count\nBerlin,Echo Dot,12\nBerlin,Echo Plus,0\n",
    b"\xef\xbb\xbfstore,item,count\r\nBerlin,Echo Dot,12\r\nPusan,Echo,3",
    b'store,item,count\nBerlin,"Echo, 2nd Gen",4\nBerlin,"The ""Tap""",5\n',
    b'store,item,count\nBerlin,"Echo\nShow",4\nBerlin,Echo Dot,x\n',
    b" Count ,notes, ITEM,Store \n5,ignore me,Echo Dot,Berlin,and,more,fields\n",
    b"store,item,count\n  Berlin ,\tEcho Dot  , 12 \n",
    *(f"store,item,count\nB,I,{c}\n".encode() for c in ("12", "007", "0", "1" + "0" * 27,
                                                        "9" * 28, "0" * 30 + "9" * 28)),
    *(f'store,item,count\nB,I,"{c}"\n'.encode()
      for c in ("-3", "1.5", "", "twelve", "+3", "1 2", "\u00b2", "1e3", "\u0661")),
    b"store,item,count\nB,I," + b"9" * 29 + b"\n",
    b"store,item,count\nB,I," + b"0" * 5 + b"9" * 29 + b"\n",
    b"store,item,count\nB,I," + b"9" * 5000 + b"\n",
    # Names at and over their limits, in bytes of UTF-8 (not characters, not UTF-16 units).
    f"store,item,count\n{'é' * 100},x,1\nB,{'é' * 150},1\n{'é' * 100}a,x,1\nB,a{'é' * 150},1\n"
    f"{'s' * 201},{'i' * 301},1\n{'😀' * 50},{'😀' * 75},1\n{'😀' * 50}a,{'😀' * 75}a,1\n"
    f"{'東' * 66}ab,{'東' * 100},2\n{'東' * 67},{'東' * 101},2\n".encode(),
    # Control characters in names (C0, DEL, C1), quoted or not; trimmed ones at the ends are fine.
    "store,item,count\nA,\"b\tc\",1\nA\x00,b,1\nA,b\x7f,1\nA\x85x,b,1\n\tA\t,\x1fb\x1f,1\n".encode(),
    b"store,item,count\n,,\nBerlin\n , Echo ,1\n",
    b"store,item,count\nA,a,1\nA,b,-1\nA,c,2\n",
    b"\n\nstore,item,count\n\nA,a,1\n   \n\r\nA,b,x\n\n",
    b"", b"\xef\xbb\xbf", b"\n\r\n  \n",
    b"store,item,count\r\n\r\n",
    b"store,item,count\nA,a,1\nA,b,2\nA,a,3\nA,a,4\n",
    b"store,item,count\nA,a,1\n A , a ,2\n",
    b'store,item,count\nA,"multi\nline",1\nA,b,2\nA,caf\xe9,3\nA,d,4\n',
    # Quotes left open: each costs its own line, never the lines after it.
    b'store,item,count\nA,"b,1\nC,d,2\nE,"f""g,3\nH,i,"4\r\nJ,k,5\nL,m,"6',
    b'store,item,count\nA,b,1,"\nC,"d"e"f,2\n"\n"""\n',
    b'"store,item,count\nA,b,1\n',
    b'store,"item\n,count\nA,b,1\n',
    "store,item,count,größe\n".encode("latin-1"),
    b"\n Store ;item;qty\nA;b;1\n",
    b"store,item\nA,b\n",
    b"store,item,count\rA,b,1\rC,d,2\r",
    b'store,item,count\nA,"b,1\nC,d,2\n',
    ("\ufeffstore,item,count\r\nM\u00fcnchen,\"Gr\u00f6\u00dfe, XL\",3\r\n"
     "\u6771\u4eac,\u30a8\u30b3\u30fc,\"0\"\r\nA,b,-1\r\n").encode(),
    # Lines at and over the line limit, terminated or not.
    b"store,item,count\nA,b,1\n" + b"x" * (contract.MAX_LINE_BYTES - 1) + b"\n",
    b"store,item,count\nA,b,1\n" + b"x" * contract.MAX_LINE_BYTES + b"\nA,c,2\n",
    b"store,item,count\nA,b,1\n" + b"x" * contract.MAX_LINE_BYTES,
    b"store,item,count\nA,b,1\n" + b"x" * (contract.MAX_LINE_BYTES + 1),
    # A value at and over csv's field limit.
    b'store,item,count\nA,"' + b"v" * 131072 + b'",1\n',
    b'store,item,count\nA,"' + b"v" * 131073 + b'",1\n',
    b"store,item,count\nA," + "é".encode() * 131073 + b",1\n",
    # Whitespace Python strips and JavaScript does not, and the reverse (U+FEFF, U+0085).
    "store,item,count\n\x1cA\x1f,\x85b\u3000,\u20031\u2029\n\ufeffC,d,2\n".encode(),
    "\n\ufeffstore,item,count\nA,b,1\n".encode(),
    # repr() of odd counts: quotes, backslashes, controls, non-printables, astral, long.
    b"store,item,count\nA,a,it's\nA,b,\"say \"\"x\"\"\"\nA,c,\"'\"\"\"\nA,d,a\\b\n",
    "store,item,count\nA,a,\x01\x7f\x9f\xa0\xad\u200b\U0001f600\U000e0001 \n".encode(),
    b"store,item,count\nA,a," + b"n" * 41 + b"\nA,b," + b"7" * 39 + b"x\n",
    # Quotes in odd places (strict=False keeps going), NUL, empty quoted lines.
    b'store,item,count\nA,"b"x,1\nA,b"c"d,2\n"",\n""\n" "\nA,"\x00",3\n',
    b'store,item,count\nA,b,"1"\r\r\nA,c,2\r\n',
    b'store,item,count\nA,b,"1\r\nA,c,2\r\n',
    b'store,item,count\nA,b,1,"\n',
    # Header oddities: repeated, empty, quoted.
    b'count,store,item,store\n1,A,b,B\n',
    b",\nA,b,1\n",
    b'"store","item","count"\n"A","b","1"\n',
    b'"st\nore",item,count\nA,b,1\n',
    # Broken UTF-8 of every kind: stray continuation, overlong, surrogate, truncated, > U+10FFFF.
    *(b"store,item,count\nA,b" + bad + b",1\n" for bad in (
        b"\x80", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xe2\x82",
        b"\xe2\x82A", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80", b"\xff", b"\xe2")),
    b"store,item,count\nA,b,1\xe2",
    *(path.read_bytes() for path in sorted(SAMPLES.glob("*.csv"))),
]

# Pieces of values the rules care about: whitespace Python strips (and JavaScript's trim() does
# not, or the reverse), quotes, digits, non-ASCII, the column names.
_PIECES = ["a", "b", "Berlin", "東京", "é", "\U0001f600", "0", "7", "007", "-1", "1.5", " ", "\t",
           "\ufeff", "\x85", "\u3000", "\x1c", "\x00", "\x7f", "'", "\\", '"', '""', "store",
           "item", "count", " Count ", "", "9" * 14, "é" * 50, "x" * 101, "東" * 33]
_NOISE = [",", '"', "\n", "\r", "\r\n", " "]
_BAD_BYTES = [b"\xe9", b"\x80", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xc3"]


def _random_line(rng: random.Random) -> str:
    if rng.random() < 0.5:  # a plausible row, so rows load and duplicates happen
        row = [rng.choice(["A", "B", " A ", "Berlin", "東京"]), rng.choice(["a", "b", "c"]),
               rng.choice(["1", "007", "0", " 2 "])]
        return ",".join(row) + rng.choice(["\n", "\r\n"])
    fields = []
    for _ in range(rng.choice([0, 1, 2, 3, 3, 3, 3, 4, 5])):
        value = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.2:
            value = '"' + value.replace('"', rng.choice(['""', '"'])) + '"'
        fields.append(value)
    line = ",".join(fields)
    if rng.random() < 0.1:
        at = rng.randint(0, len(line))
        line = line[:at] + rng.choice(_NOISE) + line[at:]
    return line + rng.choice(["\n", "\n", "\n", "\r\n", ""])


def random_files(count: int, seed: int) -> list[bytes]:
    """Seeded random files, most with a valid header so the row rules get exercised."""
    rng = random.Random(seed)
    files = []
    for _ in range(count):
        head = rng.choice(["store,item,count\n", "\ufeffitem, STORE ,count,x\r\n",
                           "store,item,count\n", "", "\n"])
        data = (head + "".join(_random_line(rng) for _ in range(rng.randint(0, 8)))).encode()
        if rng.random() < 0.05:
            at = rng.randint(0, len(data))
            data = data[:at] + rng.choice(_BAD_BYTES) + data[at:]
        files.append(data)
    return files


def python_result(data: bytes, store: str | None = None) -> dict[str, Any]:
    # A store's upload: the loader's rule for a key under that store's prefix.
    rule = None if store is None else row_rule_for_key(f"{store_prefix(store)}upload.csv")
    try:
        r = contract.check_chunks([data], store_rule=rule)
    except contract.InvalidFile as exc:
        return {"invalid": [exc.line, exc.reason, str(exc)]}
    return {
        "rows": [[row.line, row.store, row.item, str(row.count)] for row in r.rows],
        "rejected": [[row.line, row.reason] for row in r.rejected],
        "duplicates": [[d.line, d.store, d.item, d.previous_line] for d in r.duplicates],
        "rows_read": r.rows_read,
        "header": r.header,
        "empty_reason": r.empty_reason,
    }


def javascript_results(files: list[bytes], store: str | None = None) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "Node.js is needed (it builds the dashboard bundle too)"
    payload = json.dumps([[base64.b64encode(data).decode(), store] for data in files])
    done = subprocess.run([node, str(RUNNER)], input=payload, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(files)
    return results


def assert_agree(files: list[bytes], store: str | None = None) -> None:
    disagreements = []
    for data, js in zip(files, javascript_results(files, store), strict=True):
        py = python_result(data, store)
        if js != py:
            disagreements.append((data[:200], py, js))
    assert disagreements == []


def test_the_contract_cases_give_the_same_rows_lines_and_reasons() -> None:
    assert_agree(CASES)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_files_give_the_same_results(seed: int) -> None:
    assert_agree(random_files(1500, seed))


@pytest.mark.parametrize("store", ["A", "Berlin", " A ", "東京", "it's"])
def test_a_stores_own_upload_rejects_other_stores_rows_with_the_loaders_reason(
    store: str
) -> None:
    files = CASES + random_files(800, 3)
    assert_agree(files, store)
    reasons = [reason for data in files for _, reason in python_result(data, store).get(
        "rejected", [])]
    assert any(reason.startswith("row of store ") for reason in reasons)


def test_names_that_look_alike_are_told_apart_in_the_reason() -> None:
    """A row of "Köln" written with a combining accent (NFD), or with a zero-width space, read
    in an upload of "Köln" (NFC): the reason shows the escape, the page's check says the same."""
    nfc = "K\u00f6ln"
    data = "store,item,count\nKo\u0308ln,a,1\nK\u00f6ln\u200b,b,2\n".encode()
    assert_agree([data], nfc)
    reasons = [reason for _, reason in python_result(data, nfc)["rejected"]]
    assert reasons == [
        "row of store 'Ko\\u0308ln': this file was uploaded with the key of store 'K\u00f6ln', "
        "which may change only its own stock",
        "row of store 'K\u00f6ln\\u200b': this file was uploaded with the key of store "
        "'K\u00f6ln', which may change only its own stock"]


def test_the_corpus_covers_every_outcome() -> None:
    # The comparison above would pass vacuously if every file ended the same way.
    outcomes = [python_result(data) for data in CASES + random_files(1500, 1)]
    reasons = [o["invalid"][1] for o in outcomes if "invalid" in o]
    for start in ("not valid UTF-8", "missing columns store, item, count", "missing column count",
                  "line is longer than 1048576 bytes", "a quoted value does not close",
                  "carriage return (CR) inside an unquoted value"):
        assert any(reason.startswith(start) for reason in reasons), start
    row_reasons = [reason for o in outcomes for _, reason in o.get("rejected", [])]
    for part in ("a quoted value does not close on its line", "bytes long in UTF-8 (at most 300)",
                 "bytes long in UTF-8 (at most 200)", "holds a control character",
                 "digits (at most 28)", "a value is longer than 131072 characters"):
        assert any(part in reason for reason in row_reasons), part
    assert sum(bool(o.get("rows")) for o in outcomes) > 100
    assert sum(bool(o.get("rejected")) for o in outcomes) > 100
    assert sum(bool(o.get("duplicates")) for o in outcomes) > 10
    assert {o.get("empty_reason") for o in outcomes} >= {
        None, "the file is empty", "the file has a header but no rows"}
