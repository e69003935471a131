"""Lambda `store_upload`: the stores' own way in, behind a function URL (AuthType NONE).

Every request carries `Authorization: Bearer <store key>`; the key is checked first (one GetItem,
HMAC compared in constant time), so nothing answers without a valid, active key. Then:

- `GET  /whoami`              -> `{"store"}`
- `POST /uploads`             -> a presigned S3 POST whose policy pins the object key (under the
                                 store's own prefix, a name chosen here, ending in .csv) and a
                                 maximum size; the client sends the file straight to S3.
- `GET  /reports`             -> the store's latest load reports (its own prefix only)
- `GET  /reports/<object key>`-> one load report, 404 `not_ready` until the loader wrote it

Errors are JSON `{"error", "message"}` (a 413 `too_large` also `max_bytes`): 401
missing/malformed/unknown key, 403 revoked key or another store's object, 400 bad request
(whatever the body: not JSON, nested too deep, wrong types, numbers out of range, bytes that are
not UTF-8), 413 too large (the file, or the request body itself), 404 not found, 500
`internal_error` when the function itself failed (S3 or DynamoDB unreachable). Nothing else.

`handle_request` is the pure core (a `Request`, injected clients and settings); `lambda_handler`
only translates the function-URL event (payload format 2.0) and the response.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from lambda_src.aws_clients import client
from lambda_src.environment import (
    MAX_UPLOAD_BYTES,
    STORE_KEYS_TABLE,
    UPLOAD_EXPIRES_S,
    UPLOADS_BUCKET,
)
from lambda_src.inventory_csv import REPORTS_PREFIX, is_inventory_key, report_key_for
from lambda_src.store_keys import (
    ACTIVE,
    ISSUING_KEY_METADATA,
    REPLACED,
    KeyLookup,
    KeyRecord,
    dynamodb_lookup,
    parse_key,
)
from lambda_src.store_scope import store_from_key, store_prefix
from lambda_src.structured_log import write_line

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_EXPIRES_S = 300
# A request body is a small JSON object ({"filename", "size"}): anything larger is refused before
# it is parsed (a function URL itself accepts up to 6 MB).
MAX_REQUEST_BODY_BYTES = 16 * 1024
# How deep a body's JSON may nest; the parser's own recursion limit is far deeper and ends in a
# RecursionError, which must not escape as the platform's 502.
MAX_JSON_DEPTH = 8
# The S3 user metadata (x-amz-meta-<name>) a presigned POST pins: the id of the key that asked
# for it, so the loader can refuse the file if that key was revoked or replaced meanwhile.
ISSUING_KEY_FIELD = f"x-amz-meta-{ISSUING_KEY_METADATA}"
# How many of a store's latest reports `GET /reports` returns.
REPORTS_LISTED = 50
# Set only by the local emulator, which serves the URL under a path of its own.
URL_BASE_HEADER = "x-inventory-url-base"
_STEM = re.compile(r"[^A-Za-z0-9_-]+")

Log = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: str = ""
    base_url: str = ""


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    store: str | None = None

    def to_function_url(self) -> dict[str, Any]:
        return {"statusCode": self.status,
                "headers": {"content-type": "application/json", "cache-control": "no-store"},
                "body": json.dumps(self.body, ensure_ascii=False),
                "isBase64Encoded": False}


@dataclass(frozen=True)
class Settings:
    bucket: str
    max_bytes: int = DEFAULT_MAX_BYTES
    expires_in: int = DEFAULT_EXPIRES_S
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def _error(status: int, error: str, message: str, store: str | None = None) -> Response:
    return Response(status, {"error": error, "message": message}, store)


# ---- the key -----------------------------------------------------------------------------

def authenticate(headers: Mapping[str, str], lookup: KeyLookup) -> KeyRecord | Response:
    """The active record of the request's key (its store, its id), or the error response."""
    header = headers.get("authorization", "").strip()
    if not header:
        return _error(401, "missing_key", "send the store key as 'Authorization: Bearer <key>'")
    scheme, _, token = header.partition(" ")
    parsed = parse_key(token) if scheme.lower() == "bearer" else None
    if parsed is None:
        return _error(401, "malformed_key",
                      "the Authorization header must be 'Bearer sk1.<id>.<secret>', as "
                      "'inventory stores add' printed it")
    record = lookup(parsed.key_id)
    # A wrong secret and an unknown id look the same: the answer tells nothing about which ids
    # exist. Only the holder of the real secret learns that it was revoked.
    if record is None or not record.matches(parsed.secret):
        return _error(401, "unknown_key", "this key is not a key of this stack")
    if record.state != ACTIVE:
        why = ("it was replaced by a newer key ('inventory stores rotate')"
               if record.state == REPLACED else "it was revoked")
        return _error(403, "revoked_key", f"this key no longer works: {why}", record.store)
    return record


# ---- routes ------------------------------------------------------------------------------

def handle_request(request: Request, *, lookup: KeyLookup, s3: Any,
                   settings: Settings) -> Response:
    record = authenticate(request.headers, lookup)
    if isinstance(record, Response):
        return record
    store = record.store
    method, path = request.method.upper(), request.path
    route = path.rstrip("/")
    if (method, route) in (("GET", ""), ("GET", "/whoami")):
        return Response(200, {"store": store}, store)
    if (method, route) == ("POST", "/uploads"):
        return _new_upload(request, record, s3=s3, settings=settings)
    if method == "GET" and route == "/reports":
        return _list_reports(store, s3=s3, settings=settings)
    if method == "GET" and path.startswith("/reports/"):
        return _one_report(path.removeprefix("/reports/"), store, s3=s3, settings=settings)
    return _error(400, "bad_request", f"no route {method} {path}: use GET /whoami, POST "
                  "/uploads, GET /reports or GET /reports/<key>", store)


def _request_body(request: Request, store: str) -> dict[str, Any] | Response:
    """The body as a JSON object, or the 4xx answer: whatever the body holds, nothing escapes as
    an exception (Lambda would answer 502 with its own error body)."""
    try:
        size = len(request.body.encode("utf-8"))
    except UnicodeEncodeError:
        return _error(400, "bad_request", "the body is not UTF-8 text; it should be JSON: "
                      "{\"filename\", \"size\"}", store)
    if size > MAX_REQUEST_BODY_BYTES:
        return Response(413, {"error": "too_large", "max_bytes": MAX_REQUEST_BODY_BYTES,
                              "message": f"the request body is larger than "
                                         f"{MAX_REQUEST_BODY_BYTES} bytes; it should be "
                                         "{\"filename\", \"size\"}"}, store)
    if _nesting(request.body) > MAX_JSON_DEPTH:
        return _error(400, "bad_request", f"the body nests deeper than {MAX_JSON_DEPTH} levels; "
                      "it should be {\"filename\", \"size\"}", store)
    try:
        body = json.loads(request.body or "{}")
    except (ValueError, RecursionError):  # int() of > 4,300 digits is a ValueError too
        return _error(400, "bad_request", "the body must be JSON: {\"filename\", \"size\"}", store)
    if not isinstance(body, dict):
        return _error(400, "bad_request", "the body must be a JSON object", store)
    return body


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in JSON `text` (brackets inside strings not counted);
    linear and without recursion, so it is safe on any input."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _new_upload(request: Request, record: KeyRecord, *, s3: Any,
                settings: Settings) -> Response:
    store = record.store
    body = _request_body(request, store)
    if isinstance(body, Response):
        return body
    filename, size = body.get("filename"), body.get("size")
    if not isinstance(filename, str) or not is_inventory_key(filename.rsplit("/", 1)[-1]):
        return _error(400, "bad_request", "filename must be a name ending in .csv", store)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        return _error(400, "bad_request", "size must be a whole number of bytes >= 0", store)
    if size is not None and size > settings.max_bytes:
        return Response(413, {"error": "too_large", "max_bytes": settings.max_bytes,
                              "message": f"the file has {size} bytes; at most "
                                         f"{settings.max_bytes} are accepted"}, store)
    # The name is ours: a time stamp (so keys sort by upload time), a random part (so two
    # uploads never collide) and the file's stem, reduced to characters safe anywhere.
    stem = _STEM.sub("-", filename.rsplit("/", 1)[-1][:-4]).strip("-")[:60] or "upload"
    stamp = settings.now().strftime("%Y%m%dT%H%M%SZ")
    key = f"{store_prefix(store)}{stamp}-{secrets.token_hex(4)}-{stem}.csv"
    limit = settings.max_bytes if size is None else size
    post = s3.generate_presigned_post(
        Bucket=settings.bucket, Key=key,
        Fields={"Content-Type": "text/csv", ISSUING_KEY_FIELD: record.key_id},
        # generate_presigned_post adds {"bucket"} and {"key": key} (an exact match) itself; the
        # issuing key's id is pinned too, so the file always names the key that sent it.
        Conditions=[{"Content-Type": "text/csv"}, {ISSUING_KEY_FIELD: record.key_id},
                    ["content-length-range", 0, limit]],
        ExpiresIn=settings.expires_in)
    return Response(200, {
        "store": store, "key": key,
        "post": {"url": post_url(post["url"], settings.bucket, s3), "fields": post["fields"]},
        "max_bytes": limit, "expires_in": settings.expires_in,
        "report_url": f"{request.base_url}/reports/{quote(key, safe='/')}",
    }, store)


def post_url(presigned: str, bucket: str, s3: Any) -> str:
    """Where the browser or script sends the POST: the bucket's regional virtual-hosted endpoint
    (`https://<bucket>.s3.<region>.amazonaws.com/`) on AWS; on an emulator, the URL botocore made
    from the emulator's endpoint.

    botocore names the global `https://<bucket>.s3.amazonaws.com/`. S3's "Request routing"
    (Amazon S3 User Guide) says a request there for a bucket outside us-east-1 may get an "HTTP
    307 Temporary Redirect" for up to 24 hours after the bucket was created (a browser's CORS
    preflight does not follow it, nor does urllib a POST), and that regions launched after
    March 20, 2019 answer 400 Bad Request instead. The POST policy's signature covers the policy,
    not the host, so naming the regional host changes nothing else."""
    endpoint = str(getattr(s3.meta, "endpoint_url", "") or "")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if not (host == "amazonaws.com" or host.endswith(".amazonaws.com")
            or host.endswith(".amazonaws.com.cn")):
        return presigned  # an emulator's own address
    suffix = "amazonaws.com.cn" if host.endswith(".amazonaws.com.cn") else "amazonaws.com"
    return f"https://{bucket}.s3.{s3.meta.region_name}.{suffix}/"


def _list_reports(store: str, *, s3: Any, settings: Settings) -> Response:
    prefix = REPORTS_PREFIX + store_prefix(store)
    objects: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket,
                                                              Prefix=prefix):
        objects += page.get("Contents", [])
    # Keys start with the upload's time stamp: the last ones are the latest uploads.
    latest = sorted(objects, key=lambda o: o["Key"])[-REPORTS_LISTED:]
    reports = []
    for obj in reversed(latest):
        report = _read_json(s3, settings.bucket, obj["Key"])
        if report is None:
            continue
        when = obj.get("LastModified")
        reports.append({
            "key": obj["Key"].removeprefix(REPORTS_PREFIX).removesuffix(".json"),
            "status": report.get("status"), "loaded": report.get("loaded"),
            "rejected_count": report.get("rejected_count"),
            "when": when.isoformat() if isinstance(when, datetime) else str(when or ""),
        })
    return Response(200, {"store": store, "reports": reports}, store)


def _one_report(raw_key: str, store: str, *, s3: Any, settings: Settings) -> Response:
    # Whether the platform hands the path over still percent-encoded or decoded once, the key
    # is accepted only if it is under the caller's own prefix.
    # Only names this endpoint makes: one file name right under the store's prefix.
    candidates = (unquote(raw_key), raw_key)
    key = next((k for k in candidates
                if store_from_key(k) == store and k.count("/") == 2), None)
    if key is None:
        return _error(403, "forbidden", "a store can read only the reports of its own uploads",
                      store)
    report = _read_json(s3, settings.bucket, report_key_for(key))
    if report is None:
        return _error(404, "not_ready", "no load report yet: the loader has not finished",
                      store)
    return Response(200, report, store)


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
            return None
        raise
    document = json.loads(body)
    return document if isinstance(document, dict) else None


# ---- the function URL --------------------------------------------------------------------

def request_from_event(event: Mapping[str, Any]) -> Request:
    """A function-URL event (payload format 2.0) as a `Request`."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and body:
        try:
            # Bytes that are not UTF-8 stay visible (as lone surrogates) for the 400 below.
            body = base64.b64decode(body).decode("utf-8", errors="surrogateescape")
        except ValueError:  # not base64 after all: treated as the text it is
            body = str(body)
    elif not isinstance(body, str):
        body = json.dumps(body)
    base = headers.get(URL_BASE_HEADER) or f"https://{context.get('domainName', '')}"
    return Request(method=str(http.get("method", "GET")),
                   path=str(event.get("rawPath") or http.get("path") or "/"),
                   headers=headers, body=body, base_url=base.rstrip("/"))


def handle_event(event: Mapping[str, Any], *, lookup: KeyLookup, s3: Any, settings: Settings,
                 log: Log = print) -> dict[str, Any]:
    started = time.monotonic()
    request = request_from_event(event)
    try:
        response = handle_request(request, lookup=lookup, s3=s3, settings=settings)
    except Exception as exc:  # a fault of ours or of AWS, never of the body: still the shape
        log(json.dumps({"event": "store_request_failed", "error": type(exc).__name__,
                        "detail": str(exc)[:300]}))
        response = _error(500, "internal_error", "the upload endpoint failed; try again in a "
                          "minute (the stack's operator sees why in `inventory logs "
                          "store-upload`)")
    # Never the Authorization header or the key: only what was asked and the outcome.
    log(json.dumps({"event": "store_request", "method": request.method,
                    "route": request.path.split("/")[1] if "/" in request.path else "",
                    "status": response.status, "store": response.store,
                    "error": response.body.get("error"),
                    "ms": round((time.monotonic() - started) * 1000, 1)}, ensure_ascii=False))
    return response.to_function_url()


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings(bucket=os.environ[UPLOADS_BUCKET],
                        max_bytes=int(os.environ.get(MAX_UPLOAD_BYTES, DEFAULT_MAX_BYTES)),
                        expires_in=int(os.environ.get(UPLOAD_EXPIRES_S, DEFAULT_EXPIRES_S)))
    return handle_event(event, lookup=dynamodb_lookup(client("dynamodb"),
                                                      os.environ[STORE_KEYS_TABLE]),
                        s3=_s3_for_presigning(), settings=settings, log=write_line)


_presigning: list[Any] = []


def _s3_for_presigning() -> Any:
    # SigV4: the only signature every region accepts for a POST policy (botocore's default for
    # presigned POSTs is still the legacy one). Created once per execution environment.
    if not _presigning:
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 6})
        _presigning.append(boto3.client("s3", region_name=os.environ.get("AWS_REGION"),
                                        config=config))
    return _presigning[0]
