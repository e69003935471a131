"""The inventory CSV contract: what a valid store file is, in one place.

The loader (`lambda_src.load_inventory`) and the CLI (`inventory upload`, which checks files
before sending them) both use this module, so a file the CLI accepts is exactly a file the loader
loads. It is deployed inside the Lambda zip and imported by the CLI: standard library only.

The rules:
- UTF-8 with or without a BOM, LF or CRLF line endings, RFC 4180 quoting. A file that is not
  UTF-8 is rejected whole, naming the line where decoding failed.
- A header row; column names match case-insensitively after trimming; `store`, `item` and
  `count` are required, other columns are ignored.
- Values are trimmed. `store` is non-empty, at most MAX_STORE_BYTES bytes of UTF-8, `item` at
  most MAX_ITEM_BYTES, neither holds a control character (see "Name limits" below); `count` is a
  base-10 integer >= 0 of at most MAX_COUNT_DIGITS digits (`007` is 7). Blank lines are ignored.
- A quoted value opens and closes on one line: a quote left open at the end of its line rejects
  that row (the line is named and counted with the rejected rows) and reading goes on at the next
  line, so a stray `"` costs its own row and never the rest of the file.
- A bad row is rejected with its 1-based line and a reason; the other rows still load.
- The same (store, item) twice: the last row wins, and the duplicate is reported.

Parsing streams: input is any iterable of byte chunks (an S3 body, a file), split into physical
lines and decoded line by line, so memory holds one line at a time, never the whole file.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

REPORTS_PREFIX = "reports/"
REQUIRED_COLUMNS = ("store", "item", "count")
# --- Name limits ----------------------------------------------------------------------------
# Every place a store or item name goes must hold every name the contract accepts; a row that
# fails further down the pipeline is kept as a failure for good, so the contract refuses it here.
# AWS limits ("Constraints in Amazon DynamoDB", formerly "Service, account, and table quotas in
# Amazon DynamoDB": a partition key value at most 2,048 bytes, a sort key value 1,024; "Naming
# Amazon S3 objects": a key at most 1,024 bytes of UTF-8) against each consumer:
# - inventory table: Store (partition key) <= 2,048, Item (sort key) <= 1,024;
# - alert table: Store (partition key) <= 2,048 (EventId is the stream's, a few dozen bytes);
# - summary table, sort key Name: a store row is named by the store, an item row by the item
#   (<= 1,024 each), and a cell by the JSON of [store, item] (`update_summaries.cell_name`):
#   8 bytes of brackets, quotes and separator plus each name escaped. With control characters
#   refused, JSON escapes only `"` and `\` (one byte each, two escaped), so a name takes at most
#   twice its bytes: 8 + 2 * (store + item) <= 1,024, i.e. store + item <= 508;
# - a store's uploads: `stores/<percent-encoded store>/<16-char stamp>-<8 hex>-<stem of at most
#   60>.csv` (`store_scope`, `store_upload`): 98 + 3 * store bytes; its report adds `reports/`
#   and `.json` (111 + 3 * store) and the loader's checkpoint `reports/.loading/` and
#   `.<version>.<step>.checkpoint` (128 + 3 * store + the version id's length, 32 characters on
#   S3 today); a 200-byte store leaves that checkpoint 296 bytes for the version id and step.
# Hence a store name of at most 200 bytes and an item name of at most 300 (200 + 300 <= 508).
MAX_STORE_BYTES = 200
MAX_ITEM_BYTES = 300
MAX_NAME_BYTES = {"store": MAX_STORE_BYTES, "item": MAX_ITEM_BYTES}
# C0 and C1 controls and DEL (Unicode category Cc). JSON escapes C0 controls as six bytes
# (`\u0001`), which would break the bound above, and no real name holds one: a tab or a NUL in a
# name is a mistake that would make two names look the same.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# --- Count limit --------------------------------------------------------------------------
# A DynamoDB number holds 38 significant digits ("Constraints in Amazon DynamoDB", data types).
# The summaries add counts: a store row sums one count per item of the store, an item row one per
# store holding the item. A sum must fit too, or the summaries could not be kept (a summary that
# cannot be written would be a kept failure for good). With counts below 10^28 a sum stays below
# 10^38 up to 10^10 terms: ten billion rows under one store name (ten billion writes, over
# 200 GB in one table) before a summary could overflow, far beyond any inventory; a count nobody
# can mean (28 digits is ten thousand trillion trillion) is refused instead.
MAX_COUNT_DIGITS = 28
MAX_COUNT = 10**MAX_COUNT_DIGITS - 1
# One physical line may not exceed this; it keeps an unterminated quote or a file without any
# newline from filling memory (Lambda's default is 128 MB).
MAX_LINE_BYTES = 1024 * 1024
CHUNK_SIZE = 64 * 1024

_COUNT = re.compile(r"[0-9]+")  # not str.isdigit(): that accepts "²" and other Unicode digits
_UTF8_BOM = "\ufeff"


def report_key_for(key: str) -> str:
    """Where the loader writes the load report of the object `key`."""
    return f"{REPORTS_PREFIX}{key}.json"


def is_inventory_key(key: str) -> bool:
    """Whether an uploaded object is loaded: `.csv` in any letter case, and never a report."""
    return key.lower().endswith(".csv") and not key.startswith(REPORTS_PREFIX)


def normalize_etag(etag: str | None) -> str:
    """S3 APIs quote ETags, S3 events do not; reports store them unquoted."""
    return (etag or "").strip('"')


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One valid row; `line` is the 1-based line where it starts."""

    line: int
    store: str
    item: str
    count: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.store, self.item)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    """Row `line` repeats the (store, item) of `previous_line`; the later row wins."""

    line: int
    store: str
    item: str
    previous_line: int


class InvalidFile(ValueError):
    """The file cannot be loaded at all; `line` is where the problem was found."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
        self.reason = reason
        self.line = line


class NotUtf8(InvalidFile):
    """A line is not valid UTF-8."""


class MissingColumns(InvalidFile):
    """The header lacks required columns."""

    def __init__(self, missing: list[str], header: list[str], *, line: int) -> None:
        found = ", ".join(repr(name) for name in header) if header else "(nothing)"
        names = ", ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        super().__init__(
            f"missing column{plural} {names} (the header must name store, item and count; "
            f"found: {found})", line=line)
        self.missing = missing
        self.header = header


class MalformedCsv(InvalidFile):
    """The text cannot be split into CSV rows (a bare CR, an over-long line or value)."""


# --- streaming parser ----------------------------------------------------------------------------


def iter_file_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Chunks of a binary stream (an open file, an S3 StreamingBody)."""
    while chunk := stream.read(chunk_size):
        yield chunk


def _physical_lines(chunks: Iterable[bytes], first_line: int = 1) -> Iterator[bytes]:
    """Lines split at LF, each with its LF, the last one possibly without.

    UTF-8 never uses the byte 0x0A inside a multi-byte character, so splitting before decoding
    is exact, and decoding line by line tells which line is broken.
    """
    pending = b""
    line_no = first_line - 1
    for chunk in chunks:
        if not chunk:
            continue
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for part in parts:
            line_no += 1
            if len(part) >= MAX_LINE_BYTES:
                raise MalformedCsv(f"line is longer than {MAX_LINE_BYTES} bytes", line=line_no)
            yield part + b"\n"
        if len(pending) > MAX_LINE_BYTES:
            raise MalformedCsv(f"line is longer than {MAX_LINE_BYTES} bytes", line=line_no + 1)
    if pending:
        yield pending


@dataclass(frozen=True, slots=True)
class ReadPosition:
    """Where the next row of a file starts, and what a reader knew there.

    A reader given a position continues as if it had read the file up to it, from the bytes
    after `offset` alone (an S3 ranged GET): what lets a load continue in a new invocation.
    """

    offset: int = 0
    lines_read: int = 0
    rows_read: int = 0
    columns: tuple[int, int, int] | None = None
    header: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, object]:
        return {"offset": self.offset, "lines_read": self.lines_read,
                "rows_read": self.rows_read,
                "columns": list(self.columns) if self.columns else None,
                "header": list(self.header) if self.header is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReadPosition:
        columns = data.get("columns")
        header = data.get("header")
        return cls(offset=int(data["offset"]), lines_read=int(data["lines_read"]),
                   rows_read=int(data["rows_read"]),
                   columns=(int(columns[0]), int(columns[1]), int(columns[2]))
                   if columns else None,
                   header=tuple(str(name) for name in header) if header is not None else None)


class InventoryReader:
    """Parses a CSV stream into valid rows and rejected rows, as it reads.

    Iterate it once; whole-file problems raise `InvalidFile` (or a subclass) from the iteration.
    Afterwards `header` is the header as found, `rows_read` the number of data rows (valid or
    not, blank lines excluded) and `empty_reason` says why nothing was found, if nothing was.
    `position` is always where the next row starts; `start` continues from such a position
    (`chunks` are then the bytes from its offset on).
    """

    def __init__(self, chunks: Iterable[bytes], start: ReadPosition | None = None, *,
                 store_rule: Callable[[str], str | None] | None = None) -> None:
        self._chunks = chunks
        # Given a valid row's store, a reason to reject it (None: keep it): how a store's own
        # upload is kept to that store's rows (lambda_src.store_scope.row_rule_for_key).
        self._store_rule = store_rule
        start = start or ReadPosition()
        self._start_columns = start.columns
        self._lines_read = start.lines_read
        self._offset = start.offset
        self.header: list[str] | None = list(start.header) if start.header is not None else None
        self.rows_read = start.rows_read
        self._marked = (start.offset, start.lines_read, start.rows_read, start.columns)

    @property
    def position(self) -> ReadPosition:
        offset, lines_read, rows_read, columns = self._marked
        return ReadPosition(offset, lines_read, rows_read, columns,
                            tuple(self.header) if self.header is not None else None)

    @property
    def empty_reason(self) -> str | None:
        if self.header is None:
            return "the file is empty"
        if self.rows_read == 0:
            return "the file has a header but no rows"
        return None

    def _decoded_lines(self) -> Iterator[str]:
        for raw in _physical_lines(self._chunks, first_line=self._lines_read + 1):
            self._lines_read += 1
            self._offset += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NotUtf8(
                    f"not valid UTF-8 (byte {exc.start + 1} of the line: "
                    f"{raw[exc.start:exc.start + 1]!r}); save the file as UTF-8",
                    line=self._lines_read) from None
            if self._lines_read == 1:
                text = text.removeprefix(_UTF8_BOM)
            yield text

    def __iter__(self) -> Iterator[InventoryRow | RejectedRow]:
        # csv pulls one physical line at a time; the feed gives it one line per record, so after
        # each row the bytes consumed end exactly where the next row starts.
        feed = _OneLinePerRecord(self._decoded_lines())
        reader = csv.reader(feed, strict=False)
        columns = self._start_columns
        while True:
            start = self._lines_read + 1
            feed.next_record()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (_QuoteLeftOpen, csv.Error) as exc:
                reason = (UNCLOSED_QUOTE_REASON if isinstance(exc, _QuoteLeftOpen)
                          else _csv_error_reason(exc))
                one_row = isinstance(exc, _QuoteLeftOpen) or reason.startswith(_TOO_LONG)
                if columns is None or not one_row:
                    # Before the header nothing can load; a bare CR means a whole file of them.
                    raise MalformedCsv(reason, line=start) from None
                # The line is read to its end (the feed refused the next one): only this row
                # is lost, and reading goes on at the next line.
                self.rows_read += 1
                self._mark(columns)
                yield RejectedRow(start, reason)
                continue
            if _is_blank(fields):
                self._mark(columns)
                continue
            if columns is None:
                columns = _required_columns(fields, line=start)
                self.header = [name.strip() for name in fields]
                self._mark(columns)
                continue
            self.rows_read += 1
            self._mark(columns)
            row = validate_row(fields, columns, line=start)
            if self._store_rule is not None and isinstance(row, InventoryRow):
                other = self._store_rule(row.store)
                if other is not None:
                    row = RejectedRow(row.line, other)
            yield row

    def _mark(self, columns: tuple[int, int, int] | None) -> None:
        # A tuple per row, not a ReadPosition: a million rows should not pay for a dataclass.
        self._marked = (self._offset, self._lines_read, self.rows_read, columns)


UNCLOSED_QUOTE_REASON = ('a quoted value does not close on its line (a stray "?): '
                         'a value may not span lines')


_TOO_LONG = "a value is longer than"


class _QuoteLeftOpen(Exception):
    """The csv reader asked for a second line for one record: a quote was left open."""


class _OneLinePerRecord:
    """The lines of a file, given to csv.reader one per record.

    csv.reader takes the next line whenever a quoted value is still open at the end of one; a
    stray quote would then swallow the file up to the next quote, or to its end. Here asking for
    a second line raises `_QuoteLeftOpen` instead (csv.reader resets its state on every record,
    so reading goes on cleanly at the next line).
    """

    __slots__ = ("_lines", "_open")

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._open = False

    def next_record(self) -> None:
        self._open = True

    def __iter__(self) -> _OneLinePerRecord:
        return self

    def __next__(self) -> str:
        if not self._open:
            raise _QuoteLeftOpen
        self._open = False
        return next(self._lines)


def _csv_error_reason(exc: Exception) -> str:
    text = str(exc)
    if "new-line character" in text:
        return ("carriage return (CR) inside an unquoted value: use LF or CRLF line endings, "
                "and quote values that contain line breaks")
    if "field larger than field limit" in text:
        return f"{_TOO_LONG} {csv.field_size_limit()} characters"
    return f"not valid CSV: {text}"


def _is_blank(fields: list[str]) -> bool:
    # csv gives [] for an empty line and ["   "] for a line of spaces; ",," is a row of empties.
    return len(fields) <= 1 and not "".join(fields).strip()


def _required_columns(header: list[str], *, line: int) -> tuple[int, int, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        positions.setdefault(name.strip().lower(), index)  # the first of repeated names counts
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise MissingColumns(missing, [name.strip() for name in header], line=line)
    return positions["store"], positions["item"], positions["count"]


def validate_row(fields: list[str], columns: tuple[int, int, int], *,
                 line: int) -> InventoryRow | RejectedRow:
    """One data row against the contract: the row, or the rejection with every reason."""
    values: list[str] = []
    problems: list[str] = []
    for name, index in zip(REQUIRED_COLUMNS, columns, strict=True):
        if index >= len(fields):
            problems.append(f"no {name} value (the row has {len(fields)} "
                            f"field{'s' if len(fields) != 1 else ''})")
            values.append("")
        else:
            values.append(fields[index].strip())
    store, item, count_text = values
    if len(problems) == 0:
        problems.extend(_key_problems("store", store))
        problems.extend(_key_problems("item", item))
        if not _COUNT.fullmatch(count_text):
            shown = repr(count_text) if len(count_text) <= 40 else repr(count_text[:40]) + "..."
            problems.append(f"count {shown} is not a whole number >= 0")
        elif (digits := len(count_text.lstrip("0"))) > MAX_COUNT_DIGITS:
            # Counted, never converted: int() refuses strings over 4,300 digits.
            problems.append(f"count has {digits} digits (at most {MAX_COUNT_DIGITS})")
    if problems:
        return RejectedRow(line, "; ".join(problems))
    return InventoryRow(line, store, item, int(count_text))


def _key_problems(name: str, value: str) -> list[str]:
    if not value:
        return [f"{name} is empty"]
    problems = []
    limit = MAX_NAME_BYTES[name]
    # At most 3 UTF-8 bytes per code point below U+10000 and 4 above (2 UTF-16 units in JS):
    # most names are judged without encoding them.
    if len(value) * 4 > limit and (size := len(value.encode("utf-8"))) > limit:
        problems.append(f"{name} is {size} bytes long in UTF-8 (at most {limit})")
    control = _CONTROL.search(value)
    if control is not None:
        problems.append(f"{name} holds a control character (U+{ord(control.group()):04X}), "
                        f"which no name may hold")
    return problems


class DuplicateTracker:
    """Remembers the line of every (store, item) seen in one file.

    Memory grows with the number of distinct items in the file (a 100,000-item file takes some
    tens of MB); that is the price of reporting every duplicate with the line it overrides.
    """

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], int] = {}

    def see(self, row: InventoryRow) -> DuplicateRow | None:
        """Record `row`; if its key was seen before, the duplicate (the later row wins)."""
        previous = self._lines.get(row.key)
        self._lines[row.key] = row.line
        if previous is None:
            return None
        return DuplicateRow(row.line, row.store, row.item, previous)

    def is_winner(self, row: InventoryRow) -> bool:
        """Whether `row` is the last row of its key (after a complete pass over the file)."""
        return self._lines.get(row.key) == row.line

    def __len__(self) -> int:
        return len(self._lines)


# --- whole-file check (the CLI's entry point) -------------------------------------------------


@dataclass
class InventoryCheck:
    """Everything the contract says about one file.

    `rows` holds the rows that would be written: one per (store, item), the last one read.
    """

    rows: list[InventoryRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    rows_read: int = 0
    header: list[str] | None = None
    empty_reason: str | None = None


def check_chunks(chunks: Iterable[bytes], *,
                 store_rule: Callable[[str], str | None] | None = None) -> InventoryCheck:
    """Check a file given as byte chunks. Raises `InvalidFile` if it cannot be loaded at all."""
    reader = InventoryReader(chunks, store_rule=store_rule)
    tracker = DuplicateTracker()
    latest: dict[tuple[str, str], InventoryRow] = {}
    result = InventoryCheck()
    for parsed in reader:
        if isinstance(parsed, RejectedRow):
            result.rejected.append(parsed)
            continue
        duplicate = tracker.see(parsed)
        if duplicate is not None:
            result.duplicates.append(duplicate)
        latest[parsed.key] = parsed
    result.rows = list(latest.values())
    result.rows_read = reader.rows_read
    result.header = reader.header
    result.empty_reason = reader.empty_reason
    return result


def check_stream(stream: BinaryIO, *,
                 store_rule: Callable[[str], str | None] | None = None) -> InventoryCheck:
    """Check an open binary stream (read to its end, not closed)."""
    return check_chunks(iter_file_chunks(stream), store_rule=store_rule)


def check_file(path: str | os.PathLike[str], *,
               store_rule: Callable[[str], str | None] | None = None) -> InventoryCheck:
    """Check a local file. OSError if it cannot be read, `InvalidFile` if it cannot be loaded."""
    with open(path, "rb") as stream:
        return check_stream(stream, store_rule=store_rule)


def check_bytes(data: bytes) -> InventoryCheck:
    return check_chunks([data])
