"""Store uploads end to end: keys made by `inventory stores`, the endpoint over real HTTP (curl
and `inventory upload --store-key`, both in subprocesses, with no AWS credentials), S3 enforcing
the presigned POST, and the loader keeping each store to its own rows.

Runs wherever the other e2e tests run (the private emulator by default; see
test_e2e_pipeline.py for INVENTORY_E2E_ENDPOINT / INVENTORY_E2E_TARGET).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e_target import Target, loaded_rows, write_csv

pytestmark = pytest.mark.e2e

CURL = shutil.which("curl")


def curl(*args: str) -> tuple[int, str]:
    """Run curl; (HTTP status, body)."""
    assert CURL, "curl is needed for these tests (apt-get install curl)"
    proc = subprocess.run([CURL, "-sS", "-w", "\n%{http_code}", *args], capture_output=True,
                          text=True, timeout=60, check=True)
    body, _, status = proc.stdout.rpartition("\n")
    return int(status), body


def call(url: str, key: str | None, method: str = "GET",
         body: dict[str, Any] | None = None) -> tuple[int, Any]:
    args = ["-X", method, url]
    if key is not None:
        args += ["-H", f"Authorization: Bearer {key}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    status, text = curl(*args)
    return status, json.loads(text)


def post_form(post: dict[str, Any], path: Path) -> tuple[int, str]:
    """The second call of the README's curl recipe: the presigned POST, the file last."""
    fields = [arg for name, value in post["fields"].items()
              for arg in ("--form-string", f"{name}={value}")]
    return curl(*fields, "-F", f"file=@{path}", post["url"])


def store_env(target: Target) -> dict[str, str]:
    """What a store's machine has: no AWS credentials, no endpoint, nothing of the operator's."""
    env = dict(target.env)
    for name in list(env):
        if name.startswith("AWS_") and name not in ("AWS_CONFIG_FILE",
                                                     "AWS_SHARED_CREDENTIALS_FILE"):
            del env[name]
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    return env


def store_upload(target: Target, key: str, url: str, *files: Path,
                 expect: int) -> subprocess.CompletedProcess[str]:
    """`inventory upload --store-key` as a store's nightly job runs it (key and URL from env)."""
    env = {**store_env(target), "INVENTORY_STORE_KEY": key, "INVENTORY_UPLOAD_URL": url}
    from e2e_target import INVENTORY

    proc = subprocess.run([str(INVENTORY), "upload", *map(str, files), "--wait", "--timeout",
                           str(target.timeout_s)], cwd=target.work, env=env,
                          capture_output=True, text=True, timeout=target.timeout_s * 2,
                          check=False)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc


def test_keys_scope_and_reports(e2e: Target) -> None:
    e2e.run("provision")
    berlin = e2e.json("stores", "add", "Berlin", "--output", "json")
    pusan = e2e.json("stores", "add", "Pusan", "--output", "json")
    assert set(berlin) == {"store", "key", "upload_url", "page_url"}
    assert berlin["page_url"].endswith("/upload.html")
    url = berlin["upload_url"]
    again = e2e.run("stores", "add", "Berlin", expect=1)
    assert "already has an upload key" in again.stderr and berlin["key"] not in again.stderr

    # Berlin's key, a file with Pusan rows: Berlin's load, Pusan's rejected with the reason.
    mixed = write_csv(e2e.work / "nightly.csv", [("Berlin", "Echo Dot", 12),
                                                 ("Pusan", "Echo Dot", 99),
                                                 ("Berlin", "Echo Plus", 0)])
    out = store_upload(e2e, berlin["key"], url, mixed, expect=1).stdout
    (key, outcome), = loaded_rows(out).items()
    assert key.startswith("stores/Berlin/") and key.endswith("-nightly.csv")
    assert outcome == ("loaded", 3, 2, 1)
    assert "line 3: row of store 'Pusan': this file was uploaded with the key of store " \
           "'Berlin'" in out
    stock = e2e.json("show", "--output", "json")
    assert sorted((r["store"], r["item"], r["count"]) for r in stock) == [
        ("Berlin", "Echo Dot", 12), ("Berlin", "Echo Plus", 0)]

    # curl, two calls: ask for the POST, send the file. Then Pusan's own report.
    own = write_csv(e2e.work / "pusan.csv", [("Pusan", "Echo Show", 4)])
    status, grant = call(f"{url}/uploads", pusan["key"], "POST", {"filename": "pusan.csv"})
    assert status == 200 and grant["store"] == "Pusan"
    assert post_form(grant["post"], own)[0] in (200, 201, 204)
    report = _poll_report(e2e, grant["report_url"], pusan["key"])
    assert (report["status"], report["loaded"], report["rejected_count"]) == ("loaded", 1, 0)

    # A store reading another store's report: refused, in any spelling.
    for other in (grant["report_url"], grant["report_url"].replace("stores/Pusan/",
                                                                   "stores%2FPusan%2F")):
        status, body = call(other, berlin["key"])
        assert (status, body["error"]) == (403, "forbidden")
    status, listed = call(f"{url}/reports", berlin["key"])
    assert status == 200 and [r["key"] for r in listed["reports"]] == [key]

    # Wrong, missing, malformed keys.
    wrong = berlin["key"][:-1] + ("A" if berlin["key"][-1] != "A" else "B")
    for bad, code, error in ((None, 401, "missing_key"), ("nope", 401, "malformed_key"),
                             (wrong, 401, "unknown_key")):
        status, body = call(f"{url}/uploads", bad, "POST", {"filename": "x.csv"})
        assert (status, body["error"]) == (code, error)
        assert set(body) == {"error", "message"}

    # Rotation: the old key stops, the new one works.
    rotated = e2e.json("stores", "rotate", "Berlin", "--output", "json")
    assert rotated["key"] != berlin["key"]
    status, body = call(f"{url}/whoami", berlin["key"])
    assert (status, body["error"]) == (403, "revoked_key")
    assert call(f"{url}/whoami", rotated["key"]) == (200, {"store": "Berlin"})
    refused = store_upload(e2e, berlin["key"], url, own, expect=1)
    assert "403 revoked_key" in refused.stderr and berlin["key"] not in refused.stderr

    # Revocation.
    e2e.run("stores", "revoke", "Pusan")
    status, body = call(f"{url}/whoami", pusan["key"])
    assert (status, body["error"]) == (403, "revoked_key")
    listed_stores = {r["store"]: r for r in e2e.json("stores", "list", "--output", "json")}
    assert listed_stores["Pusan"]["state"] == "revoked"
    assert listed_stores["Berlin"]["state"] == "active"
    assert listed_stores["Berlin"]["last_upload"] is not None
    # The table holds no key, only salted HMACs.
    items = e2e.boto3_client("dynamodb").scan(TableName=f"{e2e.stack}-store-keys")["Items"]
    assert len(items) == 3
    stored = json.dumps(items)
    for issued in (berlin, pusan, rotated):
        assert issued["key"].rsplit(".", 1)[1] not in stored


def _poll_report(e2e: Target, report_url: str, key: str) -> Any:
    from e2e_target import poll

    def read() -> tuple[int, Any]:
        return call(report_url, key)

    status, body = poll(read, lambda r: r[0] != 404, e2e.timeout_s, "the load report")
    assert status == 200, body
    return body


def test_awkward_store_names(e2e: Target) -> None:
    e2e.run("provision")
    for number, store in enumerate(["../Pusan", "%2F", "Store #7 / north", "São Paulo"]):
        issued = e2e.json("stores", "add", store, "--output", "json")
        assert issued["store"] == store
        own = write_csv(e2e.work / f"own-{number}.csv", [(store, "Echo Dot", number),
                                                          ("Pusan", "Echo Dot", 99)])
        out = store_upload(e2e, issued["key"], issued["upload_url"], own, expect=1).stdout
        (key, outcome), = loaded_rows(out).items()
        assert outcome == ("loaded", 2, 1, 1) and key.count("/") == 2, out
        rows = e2e.json("show", "--store", store, "--output", "json")
        assert [(r["store"], r["count"]) for r in rows] == [(store, number)]
    stores = {r["store"] for r in e2e.json("show", "--output", "json")}
    assert stores == {"../Pusan", "%2F", "Store #7 / north", "São Paulo"}  # no "Pusan"


def test_files_over_the_limit_are_refused_by_s3(e2e: Target) -> None:
    e2e.run("provision")
    issued = e2e.json("stores", "add", "Berlin", "--output", "json")
    url, key = issued["upload_url"], issued["key"]
    status, body = call(f"{url}/uploads", key, "POST",
                        {"filename": "huge.csv", "size": 10 * 1024 * 1024 + 1})
    assert (status, body["error"]) == (413, "too_large")
    # A client that declares less than it sends: S3 itself refuses the bytes (the policy's
    # content-length-range), and nothing is stored.
    status, grant = call(f"{url}/uploads", key, "POST", {"filename": "small.csv", "size": 20})
    assert status == 200 and grant["max_bytes"] == 20
    big = write_csv(e2e.work / "big.csv", [("Berlin", f"Item {i}", i) for i in range(10)])
    status, text = post_form(grant["post"], big)
    assert status == 400 and "EntityTooLarge" in text
    # The key is pinned too: the same policy cannot write anywhere else.
    moved = dict(grant["post"], fields={**grant["post"]["fields"],
                                        "key": "stores/Pusan/x.csv"})
    status, text = post_form(moved, write_csv(e2e.work / "tiny.csv", []))
    assert status == 403 and "AccessDenied" in text
    s3 = e2e.boto3_client("s3")
    listed = s3.list_objects_v2(Bucket=e2e.uploads_bucket(), Prefix="stores/")
    assert listed.get("KeyCount", 0) == 0
