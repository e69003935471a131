"""Store uploads under hostile input, end to end on the emulator through the installed command:
bodies that break JSON parsers get the documented `{error, message}` answer with a 4xx; a key
revoked or rotated between asking for a POST and sending it loads nothing; a store file with
only another store's rows is refused by `inventory upload --store-key` before sending."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from e2e_target import Target, write_csv
from test_store_uploads import CURL, call, post_form, store_upload

pytestmark = pytest.mark.e2e


def raw_post(url: str, key: str, body: bytes, content_type: str = "application/json"
             ) -> tuple[int, Any]:
    """POST `body` as it is (curl reads it from stdin, so no shell or argument limit)."""
    assert CURL
    proc = subprocess.run([CURL, "-sS", "-w", "\n%{http_code}", "-X", "POST", url,
                           "-H", f"Authorization: Bearer {key}",
                           "-H", f"Content-Type: {content_type}", "--data-binary", "@-"],
                          input=body, capture_output=True, timeout=60, check=True)
    text, _, status = proc.stdout.decode("utf-8", "replace").rpartition("\n")
    return int(status), json.loads(text)


HOSTILE = [
    ("deep nesting", b"[" * 8000 + b"]" * 8000, 400),
    ("deeper than the size bound", b"[" * 100_000 + b"]" * 100_000, 413),
    ("a huge integer", b'{"filename": "a.csv", "size": ' + b"9" * 5000 + b"}", 400),
    ("an overflowing float", b'{"filename": "a.csv", "size": 1e999}', 400),
    ("NaN", b'{"filename": "a.csv", "size": NaN}', 400),
    ("wrong types", b'{"filename": {"a": 1}, "size": [1]}', 400),
    ("not UTF-8", b'{"filename": "\xff\xfe.csv"}', 400),
    ("not JSON", b"filename=a.csv&size=1", 400),
    ("a bare string", b'"a.csv"', 400),
    ("a 1 MB body", b'{"filename": "a.csv", "pad": "' + b"x" * 1_000_000 + b'"}', 413),
]


def test_hostile_bodies_get_the_documented_answer(e2e: Target) -> None:
    e2e.run("provision")
    issued = e2e.json("stores", "add", "Berlin", "--output", "json")
    url, key = issued["upload_url"], issued["key"]
    answers = {}
    for name, body, status in HOSTILE:
        answers[name] = raw_post(f"{url}/uploads", key, body)
        got_status, answer = answers[name]
        assert got_status == status, (name, answers[name])
        assert set(answer) <= {"error", "message", "max_bytes"}, (name, answer)
        assert isinstance(answer["error"], str) and isinstance(answer["message"], str), name
    # A binary body (the URL hands it over base64-encoded) is judged the same way.
    status, answer = raw_post(f"{url}/uploads", key, b"\x00\xff\x10", "application/octet-stream")
    assert status == 400 and set(answer) == {"error", "message"}
    # Nothing was stored, and the endpoint still works.
    listed = e2e.boto3_client("s3").list_objects_v2(Bucket=e2e.uploads_bucket(), Prefix="stores/")
    assert listed.get("KeyCount", 0) == 0
    assert call(f"{url}/whoami", key) == (200, {"store": "Berlin"})
    # `inventory logs store-upload`: one line per request (never the key), in the order made.
    lines = e2e.run("logs", "store-upload", "--since", "1h").stdout.splitlines()
    requests = [json.loads(line[line.index("{"):]) for line in lines
                if '"store_request"' in line]
    assert [r["status"] for r in requests] == [s for _, _, s in HOSTILE] + [400, 200]
    assert all(line.split()[2] == "store-upload" for line in lines)
    assert key not in "\n".join(lines)


@pytest.mark.parametrize("change", ["revoke", "rotate"])
def test_a_key_revoked_between_presign_and_post_loads_nothing(e2e: Target, change: str) -> None:
    e2e.run("provision")
    issued = e2e.json("stores", "add", "Berlin", "--output", "json")
    url, key = issued["upload_url"], issued["key"]
    path = write_csv(e2e.work / "berlin.csv", [("Berlin", "Echo Dot", 5)])
    status, grant = call(f"{url}/uploads", key, "POST", {"filename": "berlin.csv"})
    assert status == 200
    # The operator revokes (or rotates) the key; the store then sends the file with the POST it
    # got before. S3 takes it (the POST is still valid); the loader refuses it.
    e2e.run("stores", change, "Berlin")
    assert post_form(grant["post"], path)[0] in (200, 201, 204)
    report = _poll_report_any_key(e2e, grant["key"])
    how = {"revoke": "revoked", "rotate": "replaced by a newer key"}[change]
    assert report["status"] == "rejected" and report["loaded"] == 0, report
    assert report["rejected"][0]["reason"] == (
        f"the key of store 'Berlin' that sent this upload was {how} before the file was "
        "loaded: nothing loads (a revoked or rotated key stops working at once, also for "
        "uploads it had started)")
    assert e2e.json("show", "--output", "json") == []
    assert e2e.json("failures", "--output", "json") == []


def _poll_report_any_key(e2e: Target, object_key: str) -> Any:
    """The load report, read with the operator's credentials (the store's key no longer
    works, so the endpoint would not show it)."""
    from e2e_target import poll

    s3 = e2e.boto3_client("s3")

    def read() -> Any:
        try:
            body = s3.get_object(Bucket=e2e.uploads_bucket(),
                                 Key=f"reports/{object_key}.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    return poll(read, lambda r: r is not None, e2e.timeout_s, "the load report")


def test_upload_refuses_a_file_of_only_another_store_before_sending(e2e: Target) -> None:
    e2e.run("provision")
    issued = e2e.json("stores", "add", "Berlin", "--output", "json")
    pusan_only = write_csv(e2e.work / "pusan.csv", [("Pusan", "Echo Dot", 1),
                                                    ("Pusan", "Echo Show", 2)])
    refused = store_upload(e2e, issued["key"], issued["upload_url"], pusan_only, expect=1)
    words = " ".join(refused.stderr.split())
    assert "none of its 2 rows is a row of store 'Berlin' (the key's store), so nothing would " \
           "load" in words, refused.stderr
    assert "Error: 1 file refused, nothing was sent" in words
    listed = e2e.boto3_client("s3").list_objects_v2(Bucket=e2e.uploads_bucket(), Prefix="stores/")
    assert listed.get("KeyCount", 0) == 0
    # A mixed file: the other store's row is a warning, the file is sent, Berlin's row loads.
    mixed = write_csv(e2e.work / "Mixed.Csv", [("Berlin", "Echo Dot", 3), ("Pusan", "Echo", 1)])
    sent = store_upload(e2e, issued["key"], issued["upload_url"], mixed, expect=1)
    assert sent.stderr.startswith(
        f"Warning: {mixed} line 3: row of store 'Pusan': this file was uploaded with the key of "
        "store 'Berlin', which may change only its own stock\n"), sent.stderr
    assert [(r["store"], r["count"]) for r in e2e.json("show", "--output", "json")] == [
        ("Berlin", 3)]

