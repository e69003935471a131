"""store_scope: the prefix names its store unambiguously, and the loader keeps to it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_helpers import TABLE, table_items, upload_and_load

from lambda_src.store_scope import (
    decode_store,
    encode_store,
    row_rule_for_key,
    store_from_key,
    store_prefix,
)

# Any Unicode name a CSV can carry: no lone surrogates (not encodable in UTF-8, so in no file).
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(names)
def test_every_name_round_trips_through_its_prefix(store: str) -> None:
    prefix = store_prefix(store)
    assert prefix.startswith("stores/") and prefix.endswith("/")
    # One path segment, whatever the name: nothing can reach another store's prefix.
    assert prefix.count("/") == 2
    assert store_from_key(prefix + "x.csv") == store
    assert decode_store(encode_store(store)) == store


@given(names, names)
def test_different_names_never_share_a_prefix(a: str, b: str) -> None:
    if a != b:
        assert not store_prefix(a).startswith(store_prefix(b))


@pytest.mark.parametrize(("store", "prefix"), [
    ("Berlin", "stores/Berlin/"),
    ("São Paulo", "stores/S%C3%A3o%20Paulo/"),
    ("Store #7", "stores/Store%20%237/"),
    ("north/berlin", "stores/north%2Fberlin/"),
    ("../Pusan", "stores/%2E%2E%2FPusan/"),
    ("..", "stores/%2E%2E/"),
    ("%2F", "stores/%252F/"),
    ("Zürich Süd", "stores/Z%C3%BCrich%20S%C3%BCd/"),
])
def test_prefixes_of_awkward_names(store: str, prefix: str) -> None:
    assert store_prefix(store) == prefix
    assert store_from_key(prefix + "20261130-x.csv") == store


@pytest.mark.parametrize("key", [
    "inventory-berlin.csv",          # not under stores/
    "stores/Berlin",                 # no file under the prefix
    "stores/Berlin/",                # idem
    "stores//x.csv",                 # empty name
    "stores/%42erlin/x.csv",         # a second spelling of "Berlin": not canonical
    "stores/S%c3%a3o/x.csv",         # lower-case hex: not canonical
    "stores/a.b/x.csv",              # "." is always escaped
    "stores/S%C3/x.csv",             # not UTF-8
    "stores/a b/x.csv",              # a raw space
])
def test_keys_that_name_no_store(key: str) -> None:
    assert store_from_key(key) is None


def test_rule_rejects_other_stores_and_keeps_its_own() -> None:
    rule = row_rule_for_key(store_prefix("Berlin") + "x.csv")
    assert rule is not None
    assert rule("Berlin") is None
    assert "row of store 'Pusan'" in (rule("Pusan") or "")
    assert row_rule_for_key("inventory-berlin.csv") is None
    # Under stores/ but no valid prefix: nothing loads (only the operator could write it).
    invalid = row_rule_for_key("stores/%42erlin/x.csv")
    assert invalid is not None and invalid("Berlin") is not None


def test_loader_loads_only_the_stores_own_rows(s3: Any, dynamodb: Any, bucket: str,
                                               table: str) -> None:
    body = (b"store,item,count\nBerlin,Echo Dot,12\nPusan,Echo Dot,1\nBerlin,Echo Plus,0\n"
            b"../Berlin,Echo Show,3\n")
    key = store_prefix("Berlin") + "20261130T000000Z-ab12cd34-nightly.csv"
    loaded = upload_and_load(s3, dynamodb, bucket, key, body)
    assert table_items(dynamodb) == {("Berlin", "Echo Dot"): 12, ("Berlin", "Echo Plus"): 0}
    report = loaded.report(s3, bucket, key)
    assert report["status"] == "loaded" and report["loaded"] == 2
    assert report["rejected"] == [
        {"line": 3, "reason": "row of store 'Pusan': this file was uploaded with the key of "
                              "store 'Berlin', which may change only its own stock"},
        {"line": 5, "reason": "row of store '../Berlin': this file was uploaded with the key "
                              "of store 'Berlin', which may change only its own stock"},
    ]


def test_operator_uploads_outside_stores_load_every_store(s3: Any, dynamodb: Any, bucket: str,
                                                          table: str) -> None:
    body = b"store,item,count\nBerlin,Echo Dot,12\nPusan,Echo Dot,1\n"
    upload_and_load(s3, dynamodb, bucket, "all-stores.csv", body)
    assert table_items(dynamodb) == {("Berlin", "Echo Dot"): 12, ("Pusan", "Echo Dot"): 1}


def test_a_file_of_only_other_stores_loads_nothing(s3: Any, dynamodb: Any, bucket: str,
                                                   table: str) -> None:
    key = store_prefix("São Paulo") + "x.csv"
    loaded = upload_and_load(s3, dynamodb, bucket, key, b"store,item,count\nSao Paulo,A,1\n")
    assert table_items(dynamodb) == {}
    assert loaded.report(s3, bucket, key)["status"] == "rejected"


# ---- the key that sent a store's upload ----------------------------------------------------

def _loader_run(s3: Any, dynamodb: Any, bucket: str, key: str, keys: Any) -> dict[str, Any]:
    from lambda_helpers import Logs, s3_event_for

    from lambda_src.load_inventory import handle_event

    head = s3.head_object(Bucket=bucket, Key=key)
    event = s3_event_for(bucket, key, version_id=head.get("VersionId"),
                         etag=head["ETag"].strip('"'))
    summary: dict[str, Any] = handle_event(event, s3=s3, dynamodb=dynamodb, table=TABLE,
                                           log=Logs(), sleep=lambda _: None, key_lookup=keys)
    return summary


def _post_through_the_endpoint(s3: Any, bucket: str, store_key: str, keys: Any,
                               body: bytes) -> str:
    """Ask the endpoint's core for a POST and send the file with it, as a browser would (moto
    plays S3, policy and all)."""
    import requests

    from lambda_src.store_upload import Request, Settings, handle_request

    answer = handle_request(
        Request(method="POST", path="/uploads",
                headers={"authorization": f"Bearer {store_key}"},
                body=json.dumps({"filename": "berlin.csv", "size": len(body)})),
        lookup=keys, s3=s3, settings=Settings(bucket=bucket))
    assert answer.status == 200, answer.body
    post = answer.body["post"]
    sent = requests.post(post["url"], data=post["fields"],
                         files={"file": ("berlin.csv", body, "text/csv")}, timeout=10)
    assert sent.status_code in (200, 204), sent.text
    return str(answer.body["key"])


@pytest.mark.parametrize("change", ["revoke", "rotate", "none"])
def test_a_key_revoked_or_rotated_after_asking_for_a_post_loads_nothing(
        s3: Any, dynamodb: Any, bucket: str, table: str, change: str) -> None:
    from lambda_src import store_keys

    records: dict[str, store_keys.KeyRecord] = {}

    def keys(key_id: str) -> store_keys.KeyRecord | None:
        return records.get(key_id)

    store_key, record = store_keys.new_key("Berlin", now="2026-11-30T00:00:00Z")
    records[record.key_id] = record
    body = b"store,item,count\nBerlin,Echo Dot,3\nBerlin,Echo Show,1\n"
    key = _post_through_the_endpoint(s3, bucket, store_key, keys, body)
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {
        "store-key-id": record.key_id}
    state = {"revoke": store_keys.REVOKED, "rotate": store_keys.REPLACED,
             "none": store_keys.ACTIVE}[change]
    records[record.key_id] = store_keys.KeyRecord(**{**record.__dict__, "state": state})

    summary = _loader_run(s3, dynamodb, bucket, key, keys)
    report = json.loads(s3.get_object(Bucket=bucket, Key=f"reports/{key}.json")["Body"].read())
    if change == "none":
        assert table_items(dynamodb) == {("Berlin", "Echo Dot"): 3, ("Berlin", "Echo Show"): 1}
        assert report["status"] == "loaded"
        return
    how = {"revoke": "revoked", "rotate": "replaced by a newer key"}[change]
    reason = (f"the key of store 'Berlin' that sent this upload was {how} before the file was "
              "loaded: nothing loads (a revoked or rotated key stops working at once, also "
              "for uploads it had started)")
    assert table_items(dynamodb) == {}
    assert report["status"] == "rejected" and report["loaded"] == 0
    assert [(r["line"], r["reason"]) for r in report["rejected"]] == [(2, reason), (3, reason)]
    assert summary["files"][0]["loaded"] == 0


def test_a_key_of_another_store_or_no_lookup_loads_nothing_and_operator_files_load(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    from lambda_src import store_keys
    from lambda_src.store_scope import issuing_key_refusal

    _, pusan = store_keys.new_key("Pusan", now="2026-11-30T00:00:00Z")
    key = store_prefix("Berlin") + "x.csv"
    meta = {"store-key-id": pusan.key_id}
    assert issuing_key_refusal(key, meta, lambda _id: pusan) == (
        "the key that sent this upload is not a key of store 'Berlin': nothing loads")
    assert issuing_key_refusal(key, meta, lambda _id: None) == (
        "the key that sent this upload is not a key of store 'Berlin': nothing loads")
    assert issuing_key_refusal(key, meta, None) == (
        "the loader cannot check the key that sent this upload (it has no store keys table): "
        "nothing loads; `inventory provision` repairs the stack")
    # Written with AWS credentials (no issuing key): the store rule alone applies.
    assert issuing_key_refusal(key, {}, None) is None
    assert issuing_key_refusal("berlin.csv", meta, None) is None
    s3.put_object(Bucket=bucket, Key=key, Body=b"store,item,count\nBerlin,a,1\n")
    _loader_run(s3, dynamodb, bucket, key, None)
    assert table_items(dynamodb) == {("Berlin", "a"): 1}
