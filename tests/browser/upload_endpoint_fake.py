"""A stand-in for the store upload endpoint, in front of a real emulator, for the page's tests.

What is real: the emulator process (S3, the loader Lambda, DynamoDB), the presigned POST (made by
boto3 against the emulator's S3, exactly as the endpoint makes it), the upload and the load
report. What is a stand-in: only the endpoint's answers (docs/TEAM-CONTRACTS.md "Issue 11": keys,
`whoami`, `uploads`, `reports/<key>`), from a dict of keys in this process.

The page must reach the endpoint and S3 on its own origin, as it does on the emulator (which
serves the endpoint at `<endpoint>/_inventory/function-urls/<function>/`). So this is a small
HTTP server that answers that path itself and forwards every other request, unchanged, to the
emulator: the page, the endpoint and S3 share its origin, and the page runs under the same CSP as
in production. The real emulator route replaces it once it exists.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import boto3
from botocore.exceptions import ClientError

FUNCTION_URLS = "/_inventory/function-urls/"
KEY_PATTERN = re.compile(r"isk_[A-Za-z0-9_-]{32}")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "host"}


def store_prefix(store: str) -> str:
    """Unambiguous and reversible for any name (the real one is lambda_src.store_scope's)."""
    return f"stores/{quote(store, safe='')}/"


@dataclass
class FakeStack:
    """One stack's endpoint: its keys and its uploads bucket."""

    function: str
    bucket: str
    max_bytes: int = 10 * 1024 * 1024
    keys: dict[str, str] = field(default_factory=dict)  # key -> store
    revoked: set[str] = field(default_factory=set)

    def add_store(self, store: str) -> str:
        key = "isk_" + secrets.token_urlsafe(24)
        self.keys[key] = store
        return key

    def revoke(self, store: str) -> None:
        self.revoked.update(k for k, s in self.keys.items() if s == store)


class FakeEndpoint:
    """Answers the contract's routes for every registered stack; the rest goes to the emulator."""

    def __init__(self, emulator: str, session: boto3.session.Session) -> None:
        self.emulator = emulator.rstrip("/")
        self.session = session
        self.stacks: dict[str, FakeStack] = {}
        self.url = ""  # set by start()
        self._server: ThreadingHTTPServer | None = None

    def add_stack(self, function: str, bucket: str) -> FakeStack:
        stack = self.stacks[function] = FakeStack(function=function, bucket=bucket)
        return stack

    def upload_url(self, function: str) -> str:
        return f"{self.url}{FUNCTION_URLS}{function}"

    # -- the contract -------------------------------------------------------------------------

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        function, _, route = path[len(FUNCTION_URLS):].partition("/")
        stack = self.stacks.get(function)
        if stack is None:
            return 404, {"error": "not_found", "message": f"no function URL for {function}"}
        store, refusal = self._authenticate(stack, headers.get("Authorization"))
        if refusal is not None:
            return refusal
        route = urlsplit(route).path
        if method == "GET" and route.startswith("reports/"):
            return self._report(stack, store, unquote(route[len("reports/"):]))
        routes = {
            ("GET", "whoami"): lambda: (200, {"store": store}),
            ("POST", "uploads"): lambda: self._grant(stack, store, body),
            ("GET", "reports"): lambda: self._reports(stack, store),
        }
        handler = routes.get((method, route))
        if handler is None:
            return 404, {"error": "not_found", "message": f"no route {method} {route}"}
        return handler()

    @staticmethod
    def _authenticate(stack: FakeStack, auth: str | None) -> tuple[str, tuple[int, Any] | None]:
        if not auth:
            return "", (401, {"error": "missing_key",
                              "message": "no Authorization: Bearer <key> header"})
        token = auth.removeprefix("Bearer ")
        if token == auth or not KEY_PATTERN.fullmatch(token):
            return "", (401, {"error": "malformed_key", "message": "this is not a store key"})
        store = stack.keys.get(token)
        if store is None:
            return "", (401, {"error": "unknown_key", "message": "no store has this key"})
        if token in stack.revoked:
            return "", (403, {"error": "revoked_key",
                              "message": f"this key of {store} was revoked"})
        return store, None

    def _grant(self, stack: FakeStack, store: str, body: bytes) -> tuple[int, Any]:
        try:
            request = json.loads(body)
            filename, size = request["filename"], request["size"]
            assert isinstance(filename, str) and isinstance(size, int)
        except (ValueError, KeyError, TypeError, AssertionError):
            return 400, {"error": "bad_request",
                         "message": 'send {"filename": ..., "size": ...}'}
        if size > stack.max_bytes:
            return 413, {"error": "too_large",
                         "message": f"the file has {size} bytes; at most {stack.max_bytes}"}
        key = f"{store_prefix(store)}{uuid.uuid4().hex}.csv"
        s3 = self.session.client("s3", endpoint_url=self.url)  # the URL the browser posts to
        post = s3.generate_presigned_post(
            stack.bucket, key, Conditions=[["content-length-range", 1, stack.max_bytes]],
            ExpiresIn=300)
        base = self.upload_url(stack.function)
        return 200, {"store": store, "key": key, "post": post, "max_bytes": stack.max_bytes,
                     "expires_in": 300, "report_url": f"{base}/reports/{quote(key, safe='/')}"}

    def _reports(self, stack: FakeStack, store: str) -> tuple[int, Any]:
        s3 = self.session.client("s3", endpoint_url=self.emulator)
        listing = s3.list_objects_v2(Bucket=stack.bucket,
                                     Prefix=f"reports/{store_prefix(store)}")
        reports = []
        for obj in listing.get("Contents", []):
            report = json.loads(s3.get_object(Bucket=stack.bucket, Key=obj["Key"])["Body"].read())
            reports.append({"key": report["source"]["key"], "status": report["status"],
                            "loaded": report["loaded"], "rejected_count": report["rejected_count"],
                            "when": obj["LastModified"].isoformat()})
        reports.sort(key=lambda r: r["when"], reverse=True)
        return 200, {"store": store, "reports": reports}

    def _report(self, stack: FakeStack, store: str, key: str) -> tuple[int, Any]:
        if not key.startswith(store_prefix(store)):
            return 403, {"error": "forbidden", "message": "not a report of your store"}
        s3 = self.session.client("s3", endpoint_url=self.emulator)
        try:
            body = s3.get_object(Bucket=stack.bucket, Key=f"reports/{key}.json")["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return 404, {"error": "not_ready", "message": "no load report yet"}
            raise
        return 200, json.loads(body)

    # -- the server ---------------------------------------------------------------------------

    def start(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._body()
                if self.path.startswith(FUNCTION_URLS):
                    status, answer = endpoint.answer(self.command, self.path, self.headers, body)
                    data = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._forward(body)

            def _forward(self, body: bytes) -> None:
                target = urlsplit(endpoint.emulator)
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="fake-upload-endpoint").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
