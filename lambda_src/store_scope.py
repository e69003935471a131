"""Which store an uploaded object belongs to, from its key alone (standard library only).

A store's uploads live under `stores/<encoded name>/`. The name is percent-encoded from its
UTF-8 bytes, leaving only ASCII letters, digits, `-` and `_` as they are (so `/`, `.`, `%`,
spaces and anything non-ASCII are always escaped, with upper-case hex). That makes the prefix

- one path segment whatever the name ("a/b" -> `a%2Fb`, "../x" -> `%2E%2E%2Fx`), so no name
  can reach into another store's prefix or out of `stores/`;
- reversible, and canonical: `store_from_key` accepts only the one spelling `store_prefix`
  produces, so "%42erlin" never passes for "Berlin" and two prefixes never name the same store.

The loader uses `row_rule_for_key` to load only the rows of the store the key names, and
`issuing_key_refusal` to load nothing of an upload whose key was revoked or replaced after it
asked for the upload (the presigned POST records the key's id in the object's metadata).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import unquote

from lambda_src.names import quoted_name
from lambda_src.store_keys import ACTIVE, ISSUING_KEY_METADATA, REPLACED, KeyLookup

STORES_PREFIX = "stores/"
# Characters left as they are; everything else becomes %XX of its UTF-8 bytes.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_SEGMENT = re.compile(r"(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+")

RowRule = Callable[[str], "str | None"]


def encode_store(store: str) -> str:
    """The path segment of a store name (non-empty names only)."""
    if not store:
        raise ValueError("a store name cannot be empty")
    data = store.encode("utf-8")  # raises for lone surrogates, which no file can carry
    return "".join(chr(b) if chr(b) in _UNRESERVED else f"%{b:02X}" for b in data)


def decode_store(segment: str) -> str | None:
    """The store a path segment names, or None if it is not one `encode_store` produces."""
    if not _SEGMENT.fullmatch(segment):
        return None
    try:
        store = unquote(segment, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None
    if not store or encode_store(store) != segment:
        return None
    return store


def store_prefix(store: str) -> str:
    """`stores/<encoded>/`: where every upload of `store` goes."""
    return f"{STORES_PREFIX}{encode_store(store)}/"


def store_from_key(key: str) -> str | None:
    """The store whose prefix holds `key`, or None if `key` is not a store upload."""
    if not key.startswith(STORES_PREFIX):
        return None
    segment, slash, rest = key[len(STORES_PREFIX):].partition("/")
    if not slash or not rest:
        return None
    return decode_store(segment)


def is_store_key(key: str) -> bool:
    """True for any key under `stores/`, valid store prefix or not."""
    return key.startswith(STORES_PREFIX)


def other_store_reason(expected: str, found: str) -> str:
    return (f"row of store {quoted_name(found)}: this file was uploaded with the key of store "
            f"{quoted_name(expected)}, which may change only its own stock")


def row_rule_for_key(key: str) -> RowRule | None:
    """For a key under `stores/`: a rule that turns a row's store into a rejection reason
    (None: the row may load). None for keys outside `stores/`: every store may load.

    A key under `stores/` whose prefix names no store (only the operator could write one) loads
    nothing: the scope is enforced, never guessed.
    """
    if not is_store_key(key):
        return None
    expected = store_from_key(key)
    if expected is None:
        return lambda _store: (f"the file is under {STORES_PREFIX} but not under a valid "
                               f"store prefix ({STORES_PREFIX}<store>/...): nothing loads")

    def rule(store: str) -> str | None:
        return None if store == expected else other_store_reason(expected, store)

    return rule



def issuing_key_refusal(key: str, metadata: Mapping[str, str],
                        lookup: KeyLookup | None) -> str | None:
    """Why nothing of the upload `key` may load because of the store key that asked for it, or
    None. `metadata` is the object's user metadata (S3 gives the names in lower case).

    An object written through the endpoint names the issuing key (its POST policy pins the
    field, so the store cannot leave it out). That key must still be active, and a key of the
    store whose prefix holds the object, when the loader reads the file: a revoked or rotated
    key stops working at once, also for POSTs it obtained before. An object without the field
    was written with AWS credentials (the operator's), not through the endpoint: the store rule
    alone applies. `lookup` None: the loader cannot check keys, so it loads nothing it would
    have to check."""
    store = store_from_key(key)
    key_id = metadata.get(ISSUING_KEY_METADATA)
    if store is None or not key_id:
        return None
    if lookup is None:
        return ("the loader cannot check the key that sent this upload (it has no store keys "
                "table): nothing loads; `inventory provision` repairs the stack")
    record = lookup(key_id)
    if record is None or record.store != store:
        return (f"the key that sent this upload is not a key of store {quoted_name(store)}: "
                "nothing loads")
    if record.state != ACTIVE:
        how = "replaced by a newer key" if record.state == REPLACED else "revoked"
        return (f"the key of store {quoted_name(store)} that sent this upload was {how} before "
                "the file was loaded: nothing loads (a revoked or rotated key stops working at "
                "once, also for uploads it had started)")
    return None
