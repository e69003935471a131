"""The loader's compact duplicate index and its resumable reading, on their own."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_src.duplicate_index import DuplicateLines, KeyIndex, key_digest
from lambda_src.inventory_csv import (
    DuplicateTracker,
    InventoryReader,
    InventoryRow,
    ReadPosition,
    check_bytes,
)


def _pairs(lines: DuplicateLines) -> list[tuple[int, int]]:
    return list(zip(lines.lines, lines.previous, strict=True))


def _tracker_pairs(keys: list[tuple[str, str]]) -> list[tuple[int, int]]:
    tracker = DuplicateTracker()
    pairs = []
    for line, (store, item) in enumerate(keys, 2):
        duplicate = tracker.see(InventoryRow(line, store, item, 0))
        if duplicate is not None:
            pairs.append((duplicate.line, duplicate.previous_line))
    return pairs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "AB", ""]),
                          st.sampled_from(["x", "Bx", "y", ""])), max_size=60))
def test_the_index_finds_exactly_what_a_dict_of_keys_finds(keys: list[tuple[str, str]]) -> None:
    index = KeyIndex()
    for line, (store, item) in enumerate(keys, 2):
        index.add(store, item, line)
    found = index.duplicates()
    assert _pairs(found) == _tracker_pairs(keys)
    assert list(found.superseded) == sorted(previous for _, previous in _tracker_pairs(keys))


def test_keys_that_share_the_first_64_bits_are_still_different_keys() -> None:
    def colliding(store: str, item: str) -> int:
        # Every key lands in one bucket with equal sort bits; only the low 64 bits differ.
        return (0xDEADBEEF << 64) | (key_digest(store, item) & ((1 << 64) - 1))

    keys = [("Berlin", "Echo"), ("Pusan", "Tap"), ("Berlin", "Echo"), ("Pusan", "Dot"),
            ("Pusan", "Tap")]
    index = KeyIndex(colliding)
    for line, (store, item) in enumerate(keys, 2):
        index.add(store, item, line)
    assert _pairs(index.duplicates()) == [(4, 2), (6, 3)]


def test_the_digest_tells_apart_keys_that_concatenate_alike() -> None:
    assert key_digest("ab", "c") != key_digest("a", "bc")
    assert key_digest("Berlin", "Echo") == key_digest("Berlin", "Echo")


def test_the_index_costs_20_bytes_a_row_and_survives_a_round_trip() -> None:
    rng = random.Random(7)
    index = KeyIndex()
    keys = [(f"S{rng.randrange(20)}", f"i{rng.randrange(3000)}") for _ in range(10_000)]
    for line, (store, item) in enumerate(keys, 2):
        index.add(store, item, line)
    data = index.to_bytes()
    assert len(data) == 20 * 10_000 + 8 * 64  # and 8 bytes of size per bucket
    again = KeyIndex.from_bytes(data)
    assert again.rows == 10_000
    expected = _tracker_pairs(keys)
    assert _pairs(again.duplicates()) == expected
    found = DuplicateLines.from_bytes(index.duplicates().to_bytes())
    assert _pairs(found) == expected


def test_an_index_without_duplicates_round_trips() -> None:
    empty = DuplicateLines.from_bytes(KeyIndex().duplicates().to_bytes())
    assert len(empty) == 0 and not empty.cursor().is_superseded(5)


def test_the_cursor_answers_rows_in_line_order_from_any_line() -> None:
    keys = [("A", "a"), ("B", "b"), ("A", "a"), ("C", "c"), ("B", "b"), ("A", "a")]
    index = KeyIndex()
    for line, (store, item) in enumerate(keys, 2):
        index.add(store, item, line)
    found = index.duplicates()
    answers = []
    cursor = found.cursor()
    for line in range(2, 8):
        answers.append((line, cursor.replaced_line(line), cursor.is_superseded(line)))
    assert answers == [(2, None, True), (3, None, True), (4, 2, True), (5, None, False),
                       (6, 3, False), (7, 4, False)]
    later = found.cursor(from_line=6)
    assert (later.replaced_line(6), later.is_superseded(6)) == (3, False)


BODY = ('\ufeffstore,item,count\r\n'
        'Berlin,"Echo Dot",1\r\n'
        'Berlin,"Echo\n'
        '\r\n'
        'Berlin,Tap,x\r\n'
        '"Pusan","Echo, 2nd",3\r\n'
        'Pusan,Tap,4\r\n').encode()


def test_a_reader_resumed_at_any_row_boundary_reads_what_the_whole_reader_reads() -> None:
    whole = InventoryReader([BODY])
    rows = list(whole)
    positions: list[ReadPosition] = [ReadPosition()]
    reader = InventoryReader([BODY])
    for _ in reader:
        positions.append(reader.position)
    for done, position in enumerate(positions):
        start = ReadPosition.from_dict(position.as_dict())  # as a checkpoint carries it
        resumed = InventoryReader([BODY[start.offset:]], start=start)
        assert list(resumed) == rows[done:]
        assert resumed.rows_read == whole.rows_read
        assert resumed.header == whole.header
    # Line 3 leaves a quote open (a rejected row of its own); line 4 is blank.
    assert [row.line for row in rows] == [2, 3, 5, 6, 7]


def test_positions_point_at_row_starts_in_bytes() -> None:
    reader = InventoryReader([BODY])
    next(iter(reader))
    assert BODY[reader.position.offset:].startswith(b'Berlin,"Echo\n\r\nBerlin,Tap')
    assert check_bytes(BODY).rows_read == 5
