"""Store upload keys: their format, and how they are kept (standard library only).

A key reads `sk1.<key id>.<secret>`: the id (20 hex digits) is the record's hash key in the store
keys table, so the endpoint finds it with one GetItem; the secret (32 random bytes, base64url)
is never stored. The record keeps a random salt and HMAC-SHA256(salt, secret), compared in
constant time. The secret has 256 bits of entropy, so a slow password hash would add nothing.

Used by the endpoint (`store_upload.py`) to check keys and by `inventory stores` to make them:
one definition of the format on both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

KEY_VERSION = "sk1"
_KEY = re.compile(r"sk1\.([0-9a-f]{20})\.([A-Za-z0-9_-]{43})")

# Record states. A rotated key is "replaced": it fails like a revoked one.
ACTIVE = "active"
REVOKED = "revoked"
REPLACED = "replaced"

# The S3 user metadata name (x-amz-meta-...) under which an upload made through the endpoint
# records the id of the key that asked for it; the loader checks that key is still active.
ISSUING_KEY_METADATA = "store-key-id"

# The table's hash key, and the attributes of a record.
KEY_ID = "KeyId"
STORE = "Store"
SALT = "Salt"
DIGEST = "Digest"
STATE = "State"
CREATED = "Created"
CHANGED = "Changed"


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    store: str
    salt: str
    digest: str
    state: str
    created: str
    changed: str = ""

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(key_digest(self.salt, secret), self.digest)

    def to_item(self) -> dict[str, dict[str, str]]:
        """The DynamoDB item, in low-level attribute values."""
        item = {KEY_ID: self.key_id, STORE: self.store, SALT: self.salt, DIGEST: self.digest,
                STATE: self.state, CREATED: self.created}
        if self.changed:
            item[CHANGED] = self.changed
        return {name: {"S": value} for name, value in item.items()}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> KeyRecord:
        def text(name: str) -> str:
            return str((item.get(name) or {}).get("S", ""))

        return cls(key_id=text(KEY_ID), store=text(STORE), salt=text(SALT),
                   digest=text(DIGEST), state=text(STATE), created=text(CREATED),
                   changed=text(CHANGED))


def parse_key(text: str) -> ParsedKey | None:
    """The parts of a well-formed key, or None."""
    match = _KEY.fullmatch(text.strip())
    if match is None:
        return None
    return ParsedKey(key_id=match.group(1), secret=match.group(2))


def key_digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode("ascii"), hashlib.sha256).hexdigest()


def new_key(store: str, *, now: str) -> tuple[str, KeyRecord]:
    """A fresh key (shown once, never stored) and the record that lets the endpoint check it."""
    key_id = secrets.token_hex(10)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    record = KeyRecord(key_id=key_id, store=store, salt=salt, digest=key_digest(salt, secret),
                       state=ACTIVE, created=now)
    return f"{KEY_VERSION}.{key_id}.{secret}", record


KeyLookup = Callable[[str], "KeyRecord | None"]


def dynamodb_lookup(dynamodb: Any, table: str) -> KeyLookup:
    """Find a key's record by id with one strongly consistent GetItem (a key revoked a moment
    ago reads as revoked)."""
    def lookup(key_id: str) -> KeyRecord | None:
        item = dynamodb.get_item(TableName=table, Key={KEY_ID: {"S": key_id}},
                                 ConsistentRead=True).get("Item")
        return KeyRecord.from_item(item) if item else None

    return lookup
