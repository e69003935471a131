"""Store upload keys, from the operator's side: add, list, rotate, revoke.

The key format and its hashing are `lambda_src.store_keys` (one definition for this module and
the endpoint). Keys are shown once, when made; the table keeps only a salt and an HMAC. A store
exists while it has records in the store keys table; its state is `active` while one of its keys
works, else `revoked`. "Last upload" is the newest object under the store's prefix.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from inventory_cli.config import StackNames
from inventory_cli.errors import InventoryError, StackIncomplete, UsageError, printable
from lambda_src import store_keys
from lambda_src.inventory_csv import MAX_STORE_BYTES
from lambda_src.store_scope import STORES_PREFIX, store_from_key

if TYPE_CHECKING:
    from inventory_cli.aws import Aws

Clock = Callable[[], datetime]
# The CSV contract's limit: the longest store name every consumer holds (its keys, its uploads'
# prefix; see inventory_csv). A longer store could never load a row.
MAX_STORE_NAME_BYTES = MAX_STORE_BYTES
PAGE_KEY = "upload.html"


class StoreExists(InventoryError):
    """`stores add` for a store that already has a working key."""


class StoreNotFound(InventoryError):
    """No key was ever made for this store."""


@dataclass(frozen=True)
class IssuedKey:
    store: str
    key: str
    upload_url: str
    page_url: str | None  # None: the stack has no dashboard, so no page

    def as_json(self) -> dict[str, str | None]:
        return {"store": self.store, "key": self.key, "upload_url": self.upload_url,
                "page_url": self.page_url}


@dataclass(frozen=True)
class StoreRow:
    store: str
    created: str
    last_upload: str | None
    state: str

    def as_json(self) -> dict[str, Any]:
        return {"store": self.store, "created": self.created, "last_upload": self.last_upload,
                "state": self.state}


# Characters a new store name may not hold: they are invisible or look like others, so two
# different names could look the same (in `stores list`, in a file, in an error): format
# characters (zero-width, bidi marks: Cf), private-use and unassigned code points, line and
# paragraph separators, and every space but U+0020.
_LOOK_ALIKE_CATEGORIES = frozenset({"Cf", "Co", "Cn", "Zl", "Zp"})


def store_name(name: str) -> str:
    """The name as stored and matched (trimmed, as the CSV contract trims values) or UsageError:
    any existing store is found with it, whatever it holds."""
    store = name.strip()
    if not store:
        raise UsageError("a store name cannot be empty")
    return store


def valid_store_name(name: str) -> str:
    """A new store's name (`stores add`), or UsageError saying why not.

    Refused, not silently changed, because the store's files must spell the name exactly as it
    is stored: control, invisible and look-alike characters (a name that differs from another
    only in them would look the same), and names not in Unicode NFC (the composed "é", not
    "e" + a combining accent), with the NFC spelling to use instead."""
    store = store_name(name)
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in store):
        raise UsageError(f"store name {printable(store)} contains control characters")
    odd = [c for c in store if unicodedata.category(c) in _LOOK_ALIKE_CATEGORIES
           or (unicodedata.category(c) == "Zs" and c != " ")]
    if odd:
        shown = ", ".join(dict.fromkeys(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}"
                                        for c in odd))
        raise UsageError(
            f"store name {printable(store)} contains invisible or look-alike characters "
            f"({shown}): a name that differs only in them would look the same",
            hint="type the name with plain spaces and no hidden characters")
    nfc = unicodedata.normalize("NFC", store)
    if nfc != store:
        raise UsageError(
            f"store name {printable(store)} is not in Unicode normal form NFC: it looks the same "
            f"as {printable(nfc)} but is spelled with other code points",
            hint=f"use the NFC spelling, `inventory stores add {_quoted(nfc)}`, and make sure "
                 "the store's files spell it the same way")
    if len(store.encode("utf-8")) > MAX_STORE_NAME_BYTES:
        raise UsageError(f"store name is longer than {MAX_STORE_NAME_BYTES} bytes of UTF-8")
    return store


def _now_text(clock: Clock) -> str:
    return clock().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def upload_url_of(aws: Aws, names: StackNames) -> str:
    """The endpoint's URL as the endpoint itself reports it (GetFunctionUrlConfig): Lambda's URL
    on AWS, LocalStack's on LocalStack. Only the built-in emulator serves function URLs under a
    route of its own, which the URL it reports does not name."""
    from inventory_cli.stack.resources import local_function_url

    try:
        config = aws.client("lambda").get_function_url_config(
            FunctionName=names.store_upload_function)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise StackIncomplete(f"the stack has no store upload endpoint "
                                  f"({names.store_upload_function} has no URL)",
                                  hint="`inventory provision` creates it") from None
        raise
    if aws.endpoint_url and is_builtin_emulator(aws):
        return local_function_url(aws.endpoint_url, names.store_upload_function)
    return str(config["FunctionUrl"]).rstrip("/")


def is_builtin_emulator(aws: Aws) -> bool:
    """True for `--local`, or an `--endpoint-url` where the built-in emulator answers its own
    health route (any other endpoint, e.g. LocalStack, does not have it)."""
    if aws.builtin_emulator:
        return True
    if not aws.endpoint_url:
        return False
    import json
    import urllib.request

    from inventory_cli.local.server import HEALTH_PATH

    # No proxy: the endpoint is usually on this machine, and a proxy would answer for it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(aws.endpoint_url.rstrip("/") + HEALTH_PATH, timeout=2.0) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return isinstance(answer, dict) and "lambda" in answer


def page_url_of(aws: Aws, names: StackNames) -> str | None:
    """The upload page's URL, or None for a stack without a dashboard (nowhere serves it)."""
    from inventory_cli.stack.deployed import dashboard_url_of

    try:
        aws.client("s3").head_object(Bucket=names.dashboard_bucket, Key=PAGE_KEY)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket",
                                                          "403", "AccessDenied"):
            return None
        raise
    # Beside the dashboard: S3 (public), CloudFront or the emulator's stand-in (private).
    index = dashboard_url_of(aws)
    return f"{index.rsplit('/', 1)[0]}/{PAGE_KEY}"


def _records(aws: Aws, names: StackNames) -> list[store_keys.KeyRecord]:
    ddb = aws.client("dynamodb")
    records = []
    try:
        for page in ddb.get_paginator("scan").paginate(TableName=names.store_keys_table,
                                                        ConsistentRead=True):
            records += [store_keys.KeyRecord.from_item(item) for item in page.get("Items", [])]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise StackIncomplete(f"the stack's store keys table {names.store_keys_table} "
                                  "does not exist", hint="`inventory provision` creates it"
                                  ) from None
        raise
    return records


def _put_new_key(aws: Aws, names: StackNames, store: str, now: str) -> str:
    key, record = store_keys.new_key(store, now=now)
    aws.client("dynamodb").put_item(TableName=names.store_keys_table, Item=record.to_item(),
                                    ConditionExpression="attribute_not_exists(KeyId)")
    return key


def _retire(aws: Aws, names: StackNames, records: list[store_keys.KeyRecord], state: str,
            now: str) -> int:
    ddb = aws.client("dynamodb")
    for record in records:
        ddb.update_item(TableName=names.store_keys_table,
                        Key={store_keys.KEY_ID: {"S": record.key_id}},
                        UpdateExpression="SET #s = :s, #c = :c",
                        ExpressionAttributeNames={"#s": store_keys.STATE,
                                                  "#c": store_keys.CHANGED},
                        ExpressionAttributeValues={":s": {"S": state}, ":c": {"S": now}})
    return len(records)


def _issued(aws: Aws, names: StackNames, store: str, key: str,
            upload_url: str | None = None) -> IssuedKey:
    return IssuedKey(store=store, key=key, upload_url=upload_url or upload_url_of(aws, names),
                     page_url=page_url_of(aws, names))


def add_store(aws: Aws, names: StackNames, name: str, *,
              clock: Clock = lambda: datetime.now(UTC)) -> IssuedKey:
    """A first key for a store (or a new one for a store whose keys were all revoked)."""
    store = valid_store_name(name)
    url = upload_url_of(aws, names)  # a stack without the endpoint gets no key it cannot use
    active = [r for r in _records(aws, names) if r.store == store and r.state == store_keys.ACTIVE]
    if active:
        raise StoreExists(f"store {printable(store)} already has an upload key",
                          hint=f"`inventory stores rotate {_quoted(store)}` makes a new one")
    return _issued(aws, names, store, _put_new_key(aws, names, store, _now_text(clock)), url)


def rotate_store(aws: Aws, names: StackNames, name: str, *,
                 clock: Clock = lambda: datetime.now(UTC)) -> IssuedKey:
    """A new key for the store; its previous keys stop working."""
    store = store_name(name)
    every = _records(aws, names)
    records = [r for r in every if r.store == store]
    if not records:
        raise StoreNotFound(f"no store {printable(store)}{_near(store, every)}",
                            hint=f"`inventory stores add {_quoted(store)}` creates it")
    now = _now_text(clock)
    key = _put_new_key(aws, names, store, now)
    _retire(aws, names, [r for r in records if r.state == store_keys.ACTIVE],
            store_keys.REPLACED, now)
    return _issued(aws, names, store, key)


def revoke_store(aws: Aws, names: StackNames, name: str, *,
                 clock: Clock = lambda: datetime.now(UTC)) -> int:
    """Stop every key of the store; returns how many were working."""
    store = store_name(name)
    every = _records(aws, names)
    records = [r for r in every if r.store == store]
    if not records:
        raise StoreNotFound(f"no store {printable(store)}{_near(store, every)}",
                            hint="`inventory stores list` shows the stores")
    return _retire(aws, names, [r for r in records if r.state == store_keys.ACTIVE],
                   store_keys.REVOKED, _now_text(clock))


def _last_uploads(aws: Aws, names: StackNames) -> dict[str, datetime]:
    latest: dict[str, datetime] = {}
    paginator = aws.client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=names.uploads_bucket, Prefix=STORES_PREFIX):
        for obj in page.get("Contents", []):
            store = store_from_key(obj["Key"])
            if store is not None and (store not in latest or obj["LastModified"] > latest[store]):
                latest[store] = obj["LastModified"]
    return latest


def stores_with_keys(aws: Aws, names: StackNames) -> list[StoreRow]:
    """Every store that has an upload key, with its keys and its last upload."""
    by_store: dict[str, list[store_keys.KeyRecord]] = {}
    for record in _records(aws, names):
        by_store.setdefault(record.store, []).append(record)
    uploads = _last_uploads(aws, names) if by_store else {}
    rows = []
    for store, records in sorted(by_store.items(), key=lambda kv: kv[0].casefold()):
        last = uploads.get(store)
        active = any(r.state == store_keys.ACTIVE for r in records)
        rows.append(StoreRow(
            store=store, created=min(r.created for r in records),
            last_upload=(last.astimezone(UTC).isoformat(timespec="seconds").replace(
                "+00:00", "Z") if last else None),
            state=store_keys.ACTIVE if active else store_keys.REVOKED))
    return rows


def _near(store: str, records: list[store_keys.KeyRecord]) -> str:
    """", but there is '...'" for stores whose names look the same once invisible characters
    are dropped and both are in NFC: the one the operator most likely meant."""
    def plain(name: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFC", name)
                       if unicodedata.category(c) not in _LOOK_ALIKE_CATEGORIES)

    alike = sorted({r.store for r in records if r.store != store and plain(r.store) ==
                    plain(store)})
    return f" (but there is {', '.join(printable(s) for s in alike)})" if alike else ""


def _quoted(store: str) -> str:
    import shlex

    return shlex.quote(store)
