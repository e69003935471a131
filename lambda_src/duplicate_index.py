"""Which rows of a file repeat an earlier (store, item), in a few bytes per row.

"The last row wins" needs, for every valid row, whether a later row has the same key (then it
is not written) and which earlier row it replaces (then it is reported). A dict of key tuples
costs a few hundred bytes per row, too much for a million rows in 256 MB. `KeyIndex` keeps 20
bytes per row instead, in `array`s: a 128-bit digest of the key and the row's line. At the end
of the first pass, `duplicates()` sorts them (by digest, then line) a bucket at a time and turns
runs of equal digests into `DuplicateLines`: two sorted arrays that the writing pass walks with
a cursor.

Collisions: rows are grouped by the whole 128-bit digest (BLAKE2b), never by a shorter hash, so
two keys that share the 64 bits a bucket and the sort start from are still told apart by the
other 64. Two distinct keys with equal 128-bit digests would be taken as one key; at a million
rows the chance of that is about 1e-27.

Both structures serialise to bytes (for the checkpoint a load hands to its next invocation).
Arrays are stored in the machine's byte order; Lambda runs only little-endian machines.
"""

from __future__ import annotations

import bisect
import hashlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

# 2**6 buckets by the digest's top bits: each is sorted on its own, so the temporary list of
# Python ints a sort needs is 1/64 of the rows (about 1 MB at a million rows, not 50 MB).
BUCKET_BITS = 6
_LINE_BITS = 32
_LINE_MASK = (1 << _LINE_BITS) - 1
_LOW_MASK = (1 << 64) - 1

KeyDigest = Callable[[str, str], int]


def key_digest(store: str, item: str) -> int:
    """A 128-bit digest of (store, item); the length prefix keeps ("ab", "c") from ("a", "bc")."""
    store_bytes = store.encode("utf-8")
    digest = hashlib.blake2b(len(store_bytes).to_bytes(4, "big"), digest_size=16)
    digest.update(store_bytes)
    digest.update(item.encode("utf-8"))
    return int.from_bytes(digest.digest(), "big")


@dataclass
class _Bucket:
    high: array[int] = field(default_factory=lambda: array("Q"))
    low: array[int] = field(default_factory=lambda: array("Q"))
    lines: array[int] = field(default_factory=lambda: array("I"))


class KeyIndex:
    """The digest and line of every valid row, in the order the rows were read."""

    def __init__(self, digest: KeyDigest = key_digest) -> None:
        self._digest = digest
        self._buckets = [_Bucket() for _ in range(1 << BUCKET_BITS)]
        self.rows = 0

    def add(self, store: str, item: str, line: int) -> None:
        value = self._digest(store, item)
        high = value >> 64
        bucket = self._buckets[high >> (64 - BUCKET_BITS)]
        bucket.high.append(high)
        bucket.low.append(value & _LOW_MASK)
        bucket.lines.append(line)
        self.rows += 1

    def duplicates(self) -> DuplicateLines:
        """Every row that repeats an earlier one's key, with that row's line."""
        pairs: list[int] = []
        for bucket in self._buckets:
            # One Python int per row of this bucket: digest above, line below; equal digests
            # sort together, in line order.
            entries = sorted((h << 96) | (lo << _LINE_BITS) | line
                             for h, lo, line in zip(bucket.high, bucket.low, bucket.lines,
                                                    strict=True))
            for before, after in zip(entries, entries[1:], strict=False):
                if before >> _LINE_BITS == after >> _LINE_BITS:
                    pairs.append(((after & _LINE_MASK) << _LINE_BITS) | (before & _LINE_MASK))
        pairs.sort()
        lines = array("I", (pair >> _LINE_BITS for pair in pairs))
        previous = array("I", (pair & _LINE_MASK for pair in pairs))
        return DuplicateLines(lines, previous, array("I", sorted(previous)))

    def to_bytes(self) -> bytes:
        sizes = array("Q", (len(b.lines) for b in self._buckets))
        parts = [sizes.tobytes()]
        for bucket in self._buckets:
            parts += [bucket.high.tobytes(), bucket.low.tobytes(), bucket.lines.tobytes()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, digest: KeyDigest = key_digest) -> KeyIndex:
        index = cls(digest)
        view = memoryview(data)
        sizes = array("Q")
        sizes.frombytes(view[:8 << BUCKET_BITS])
        offset = 8 << BUCKET_BITS
        for bucket, size in zip(index._buckets, sizes, strict=True):
            for column in (bucket.high, bucket.low, bucket.lines):
                length = size * column.itemsize
                column.frombytes(view[offset:offset + length])
                offset += length
            index.rows += size
        return index


@dataclass
class DuplicateLines:
    """`lines[i]` repeats the key of `previous[i]` (sorted by line); `superseded`: every line
    a later row replaces (sorted), i.e. the rows not to write."""

    lines: array[int]
    previous: array[int]
    superseded: array[int]

    def __len__(self) -> int:
        return len(self.lines)

    def cursor(self, from_line: int = 0) -> DuplicateCursor:
        return DuplicateCursor(self, from_line)

    def to_bytes(self) -> bytes:
        return (array("Q", [len(self.lines)]).tobytes() + self.lines.tobytes()
                + self.previous.tobytes() + self.superseded.tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> DuplicateLines:
        view = memoryview(data)
        count = array("Q")
        count.frombytes(view[:8])
        size = count[0] * 4
        columns = []
        for start in (8, 8 + size, 8 + 2 * size):
            column = array("I")
            column.frombytes(view[start:start + size])
            columns.append(column)
        return cls(*columns)


class DuplicateCursor:
    """Answers for rows met in increasing line order, from `from_line` on, in O(1) each."""

    def __init__(self, lines: DuplicateLines, from_line: int) -> None:
        self._lines = lines
        self._dup = bisect.bisect_left(lines.lines, from_line)
        self._superseded = bisect.bisect_left(lines.superseded, from_line)

    def replaced_line(self, line: int) -> int | None:
        """The earlier line that row `line` repeats, if any."""
        lines = self._lines.lines
        while self._dup < len(lines) and lines[self._dup] < line:
            self._dup += 1
        if self._dup < len(lines) and lines[self._dup] == line:
            return self._lines.previous[self._dup]
        return None

    def is_superseded(self, line: int) -> bool:
        """Whether a later row has the key of row `line` (so it is not written)."""
        superseded = self._lines.superseded
        while self._superseded < len(superseded) and superseded[self._superseded] < line:
            self._superseded += 1
        return self._superseded < len(superseded) and superseded[self._superseded] == line

