"""Names a user typed (stores, items) as messages show them.

Two different names must never look the same in a message: a store written with a combining
accent (NFD) and the same store precomposed (NFC), or one with a zero-width space, would
otherwise read alike in "row of store 'X'". The loader, the store endpoint and the CLI quote
names with `quoted_name`; the upload page's check (`dashboard/src/csvcheck.js`, `quotedName`)
does the same, character for character.
"""

from __future__ import annotations

import unicodedata

# Invisible, separator and combining characters: escaped (the plain space is kept).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs", "Mn", "Mc",
                                 "Me"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quoted_name(name: str) -> str:
    """A name quoted for messages, so that two different names never look the same: in single
    quotes, with every invisible or combining character (and the quote and backslash) escaped
    as in Python (\\u200b, \\u0301); anything else as it is."""
    out = []
    for char in name:
        if char in "'\\":
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char != " " and unicodedata.category(char) in _ESCAPED_CATEGORIES:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"
