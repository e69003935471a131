"""store_upload's core on moto: keys, presigned POSTs pinned to the store, reports per store."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from lambda_src import store_keys
from lambda_src.store_keys import KeyRecord
from lambda_src.store_scope import store_prefix
from lambda_src.store_upload import Request, Settings, handle_event, handle_request

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


class Keys:
    """The store keys table as the endpoint sees it (GetItem by key id)."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.lookups: list[str] = []

    def add(self, store: str, state: str = store_keys.ACTIVE) -> str:
        key, record = store_keys.new_key(store, now="2026-11-30T00:00:00Z")
        self.records[record.key_id] = KeyRecord(**{**record.__dict__, "state": state})
        return key

    def __call__(self, key_id: str) -> KeyRecord | None:
        self.lookups.append(key_id)
        return self.records.get(key_id)


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def settings(bucket: str) -> Settings:
    return Settings(bucket=bucket, max_bytes=1000, expires_in=120, now=lambda: NOW)


def call(keys: Keys, s3: Any, settings: Settings, method: str, path: str, *,
         key: str | None = None, body: Any = None, auth: str | None = None) -> tuple[int, Any]:
    headers = {}
    if auth is not None:
        headers["authorization"] = auth
    elif key is not None:
        headers["authorization"] = f"Bearer {key}"
    response = handle_request(
        Request(method=method, path=path, headers=headers,
                body="" if body is None else json.dumps(body), base_url="https://u.example"),
        lookup=keys, s3=s3, settings=settings)
    return response.status, response.body


def test_whoami_names_the_keys_store(keys: Keys, s3: Any, settings: Settings) -> None:
    key = keys.add("São Paulo")
    assert call(keys, s3, settings, "GET", "/whoami", key=key) == (200, {"store": "São Paulo"})


@pytest.mark.parametrize(("auth", "status", "error"), [
    (None, 401, "missing_key"),
    ("", 401, "missing_key"),
    ("Basic dXNlcjpwYXNz", 401, "malformed_key"),
    ("Bearer not-a-key", 401, "malformed_key"),
    ("Bearer sk1.0123456789abcdef0123.short", 401, "malformed_key"),
    ("Bearer sk1.0123456789abcdef0123." + "A" * 43, 401, "unknown_key"),
])
def test_missing_malformed_and_unknown_keys(keys: Keys, s3: Any, settings: Settings, *,
                                            auth: str | None, status: int, error: str) -> None:
    code, body = call(keys, s3, settings, "POST", "/uploads", auth=auth,
                      body={"filename": "a.csv"})
    assert (code, body["error"]) == (status, error)
    assert set(body) == {"error", "message"}  # nothing else is said


def test_a_wrong_secret_for_a_real_id_is_unknown_not_revoked(keys: Keys, s3: Any,
                                                             settings: Settings) -> None:
    key = keys.add("Berlin", state=store_keys.REVOKED)
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert call(keys, s3, settings, "GET", "/whoami", key=wrong)[1]["error"] == "unknown_key"
    code, body = call(keys, s3, settings, "GET", "/whoami", key=key)
    assert (code, body["error"]) == (403, "revoked_key")


def test_replaced_keys_fail_like_revoked_ones(keys: Keys, s3: Any, settings: Settings) -> None:
    key = keys.add("Berlin", state=store_keys.REPLACED)
    code, body = call(keys, s3, settings, "GET", "/reports", key=key)
    assert (code, body["error"]) == (403, "revoked_key") and "replaced" in body["message"]


def test_upload_is_pinned_to_the_stores_prefix_and_size(keys: Keys, s3: Any,
                                                         settings: Settings) -> None:
    key = keys.add("../Pusan")
    code, body = call(keys, s3, settings, "POST", "/uploads", key=key,
                      body={"filename": "../../etc/inventory.CSV", "size": 120})
    assert code == 200
    assert body["key"].startswith(store_prefix("../Pusan") + "20261130T120000Z-")
    assert body["key"].endswith("-inventory.csv") and body["key"].count("/") == 2
    assert body["max_bytes"] == 120 and body["expires_in"] == 120
    policy = json.loads(base64.b64decode(body["post"]["fields"]["policy"]))
    assert {"key": body["key"]} in policy["conditions"]
    assert ["content-length-range", 0, 120] in policy["conditions"]
    assert body["report_url"].startswith("https://u.example/reports/stores/%252E%252E%252FPusan/")


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"filename": "a.txt"}, 400, "bad_request"),
    ({"size": 3}, 400, "bad_request"),
    ({"filename": "a.csv", "size": -1}, 400, "bad_request"),
    ({"filename": "a.csv", "size": "12"}, 400, "bad_request"),
    ([1, 2], 400, "bad_request"),
    ({"filename": "a.csv", "size": 1001}, 413, "too_large"),
])
def test_bad_upload_requests(keys: Keys, s3: Any, settings: Settings, *, body: Any,
                             status: int, error: str) -> None:
    code, answer = call(keys, s3, settings, "POST", "/uploads", key=keys.add("Berlin"),
                        body=body)
    assert (code, answer["error"]) == (status, error)


def test_reports_are_the_stores_own(keys: Keys, s3: Any, settings: Settings, bucket: str
                                    ) -> None:
    berlin, pusan = keys.add("Berlin"), keys.add("Pusan")
    for store in ("Berlin", "Pusan"):
        key = f"{store_prefix(store)}20261130T1-a-x.csv"
        s3.put_object(Bucket=bucket, Key=f"reports/{key}.json", Body=json.dumps(
            {"status": "loaded", "loaded": 3, "rejected_count": 0, "source": {"key": key}}))
    code, listed = call(keys, s3, settings, "GET", "/reports", key=berlin)
    assert code == 200 and [r["key"] for r in listed["reports"]] == [
        "stores/Berlin/20261130T1-a-x.csv"]
    own = call(keys, s3, settings, "GET", "/reports/stores/Berlin/20261130T1-a-x.csv",
               key=berlin)
    assert own[0] == 200 and own[1]["loaded"] == 3
    # Pusan's report, asked for with Berlin's key, in every spelling: refused.
    for path in ("/reports/stores/Pusan/20261130T1-a-x.csv",
                 "/reports/stores%2FPusan%2F20261130T1-a-x.csv",
                 "/reports/stores/Berlin/../Pusan/20261130T1-a-x.csv",
                 "/reports/all-stores.csv"):
        code, body = call(keys, s3, settings, "GET", path, key=berlin)
        assert (code, body["error"]) == (403, "forbidden"), path
    assert call(keys, s3, settings, "GET", "/reports/stores/Pusan/20261130T1-a-x.csv",
                key=pusan)[0] == 200
    code, body = call(keys, s3, settings, "GET", "/reports/stores/Berlin/later.csv", key=berlin)
    assert (code, body["error"]) == (404, "not_ready")


def test_the_handler_never_logs_the_key(keys: Keys, s3: Any, settings: Settings) -> None:
    key = keys.add("Berlin")
    lines: list[str] = []
    event = {"version": "2.0", "rawPath": "/whoami", "headers": {"Authorization": f"Bearer {key}"},
             "requestContext": {"domainName": "abc.lambda-url.us-east-1.on.aws",
                                "http": {"method": "GET", "path": "/whoami"}}}
    result = handle_event(event, lookup=keys, s3=s3, settings=settings, log=lines.append)
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"store": "Berlin"}
    assert len(lines) == 1 and json.loads(lines[0])["store"] == "Berlin"
    secret = key.rsplit(".", 1)[1]
    assert secret not in lines[0] and key not in lines[0]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-east-2", "il-central-1"])
def test_the_post_names_the_buckets_regional_virtual_hosted_endpoint(
        keys: Keys, settings: Settings, region: str, moto_mock: None) -> None:
    """Not the global s3.amazonaws.com: S3 may redirect that (307) for a young bucket outside
    us-east-1, and regions opened after March 2019 refuse it (400)."""
    from botocore.config import Config

    s3 = boto3.client("s3", region_name=region, config=Config(signature_version="s3v4"))
    code, body = call(keys, s3, settings, "POST", "/uploads", key=keys.add("Berlin"),
                      body={"filename": "berlin.csv"})
    assert code == 200
    assert body["post"]["url"] == f"https://{settings.bucket}.s3.{region}.amazonaws.com/"
    # The policy is signed for the bucket and region, whatever host the POST goes to.
    fields = body["post"]["fields"]
    assert f"/{region}/s3/aws4_request" in fields["x-amz-credential"]


def test_on_an_emulator_the_post_keeps_the_emulators_address(keys: Keys, settings: Settings,
                                                             moto_mock: None) -> None:
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url="http://127.0.0.1:4599")
    code, body = call(keys, s3, settings, "POST", "/uploads", key=keys.add("Berlin"),
                      body={"filename": "berlin.csv"})
    assert code == 200 and body["post"]["url"] == f"http://127.0.0.1:4599/{settings.bucket}"


def test_the_post_pins_the_id_of_the_key_that_asked_for_it(keys: Keys, s3: Any,
                                                           settings: Settings) -> None:
    key = keys.add("Berlin")
    code, body = call(keys, s3, settings, "POST", "/uploads", key=key,
                      body={"filename": "berlin.csv"})
    key_id = store_keys.parse_key(key).key_id  # type: ignore[union-attr]
    assert code == 200 and body["post"]["fields"]["x-amz-meta-store-key-id"] == key_id
    policy = json.loads(base64.b64decode(body["post"]["fields"]["policy"]))
    assert {"x-amz-meta-store-key-id": key_id} in policy["conditions"]


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_BODIES = [
    ("deep nesting", _deep(8_000), 400, "bad_request"),
    ("deep nesting beyond the size limit", _deep(100_000), 413, "too_large"),
    ("deep objects", '{"a":' * 50_000 + "1" + "}" * 50_000, 413, "too_large"),
    ("nesting inside the limit of bytes", _deep(5_000), 400, "bad_request"),
    ("a huge integer", '{"filename": "a.csv", "size": ' + "9" * 5000 + "}", 400,
     "bad_request"),
    ("a float size", '{"filename": "a.csv", "size": 1e999}', 400, "bad_request"),
    ("NaN", '{"filename": "a.csv", "size": NaN}', 400, "bad_request"),
    ("a list filename", '{"filename": ["a.csv"], "size": 1}', 400, "bad_request"),
    ("a number filename", '{"filename": 7}', 400, "bad_request"),
    ("null", "null", 400, "bad_request"),
    ("a string", '"a.csv"', 400, "bad_request"),
    ("not JSON", "filename=a.csv", 400, "bad_request"),
    ("a huge body", '{"filename": "a.csv", "pad": "' + "x" * 200_000 + '"}', 413, "too_large"),
    ("a lone surrogate escape", '{"filename": "\\ud800.csv", "size": 1}', 200, None),
    ("brackets inside a string", '{"filename": "[[[[[[[[[[{{{{{{{{{\\"[[.csv"}', 200, None),
]


@pytest.mark.parametrize(("body", "status", "error"),
                         [pytest.param(b, s, e, id=name) for name, b, s, e in HOSTILE_BODIES])
def test_hostile_bodies_get_the_documented_shape_and_a_4xx(
        keys: Keys, s3: Any, settings: Settings, *, body: str, status: int,
        error: str | None) -> None:
    key = keys.add("Berlin")
    event = {"version": "2.0", "rawPath": "/uploads", "body": body, "isBase64Encoded": False,
             "headers": {"authorization": f"Bearer {key}"},
             "requestContext": {"domainName": "u.example", "http": {"method": "POST"}}}
    result = handle_event(event, lookup=keys, s3=s3, settings=settings, log=lambda _: None)
    answer = json.loads(result["body"])
    assert result["statusCode"] == status
    if error is not None:
        assert answer["error"] == error and isinstance(answer["message"], str)
        assert set(answer) <= {"error", "message", "max_bytes"}


@pytest.mark.parametrize("raw", [b"\xff\xfe{\x00", b'{"filename": "\xe9t\xe9.csv"}',
                                 b"not base64 at all!"])
def test_bytes_that_are_not_utf8_or_not_base64_are_a_400(keys: Keys, s3: Any,
                                                         settings: Settings, raw: bytes) -> None:
    key = keys.add("Berlin")
    encoded = (raw.decode("latin-1") if raw.startswith(b"not") else
               base64.b64encode(raw).decode())
    event = {"version": "2.0", "rawPath": "/uploads", "body": encoded, "isBase64Encoded": True,
             "headers": {"authorization": f"Bearer {key}"},
             "requestContext": {"domainName": "u.example", "http": {"method": "POST"}}}
    result = handle_event(event, lookup=keys, s3=s3, settings=settings, log=lambda _: None)
    answer = json.loads(result["body"])
    assert result["statusCode"] == 400 and set(answer) == {"error", "message"}


def test_a_failure_of_the_function_itself_is_a_500_in_the_same_shape(
        keys: Keys, settings: Settings) -> None:
    class Broken:
        def get_paginator(self, _: str) -> Any:
            raise RuntimeError("S3 is unreachable")

    key = keys.add("Berlin")
    lines: list[str] = []
    event = {"version": "2.0", "rawPath": "/reports", "headers": {"authorization": f"Bearer {key}"},
             "requestContext": {"domainName": "u.example", "http": {"method": "GET"}}}
    result = handle_event(event, lookup=keys, s3=Broken(), settings=settings, log=lines.append)
    assert result["statusCode"] == 500
    assert json.loads(result["body"])["error"] == "internal_error"
    assert set(json.loads(result["body"])) == {"error", "message"}
    assert json.loads(lines[0])["event"] == "store_request_failed"
    assert key not in "".join(lines)
