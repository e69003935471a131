"""`inventory upload --store-key`: a store sends its files through the stack's upload endpoint.

No AWS credentials and no AWS SDK call: plain HTTPS to the endpoint (the key in
`Authorization: Bearer`), which answers with a presigned S3 POST; the file then goes straight to
S3 as a form upload (fields first, the file last, as S3 requires). `--wait` polls the endpoint for
the store's own load report. The endpoint's API is in docs/store-uploads.md.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from inventory_cli.errors import InventoryError, UsageError
from inventory_cli.ops.upload import CheckedFile, LoadOutcome, UploadedFile

HTTP_TIMEOUT_S = 60.0
POLL_INTERVAL = 0.5
_HINTS = {
    "missing_key": "pass the key with --store-key or INVENTORY_STORE_KEY",
    "malformed_key": "use the key exactly as `inventory stores add` printed it (sk1.<id>.<secret>)",
    "unknown_key": "ask the stack's operator for a key (`inventory stores add STORE`)",
    "revoked_key": "ask the stack's operator for a new key (`inventory stores rotate STORE`)",
}


class StoreEndpointError(InventoryError):
    """The upload endpoint or S3 refused a request; `error` is the endpoint's error code."""

    def __init__(self, message: str, *, status: int, error: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class StoreUpload:
    store: str
    file: UploadedFile
    report_url: str


def _request(method: str, url: str, key: str, body: dict[str, Any] | None = None
             ) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json",
        "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            return response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InventoryError(f"cannot reach the upload endpoint {url}: {reason}",
                             hint="check --upload-url / INVENTORY_UPLOAD_URL") from None


def _json(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data or b"{}")
    except ValueError:
        return {"error": "bad_response", "message": data[:200].decode("utf-8", "replace")}
    return document if isinstance(document, dict) else {"value": document}


def _refused(status: int, body: dict[str, Any]) -> StoreEndpointError:
    if status == 403 and "error" not in body:
        # Every answer of the endpoint's function carries "error"; a 403 without it comes from
        # Lambda in front of the function (its body is {"Message": "Forbidden"}): the function
        # URL's public permissions are missing and the key was never looked at.
        said = str(body.get("Message") or body.get("message") or "Forbidden")
        return StoreEndpointError(
            f"the upload endpoint itself refused the request (HTTP 403 {said}) before any key "
            "was checked: not an answer about the key; the stack's function URL does not let "
            "the public call it", status=status, error="endpoint_forbidden",
            hint="ask the stack's operator to run `inventory provision`, which restores the "
                 "function URL's permissions (`inventory status` shows them as drifted)")
    error = str(body.get("error") or f"http_{status}")
    message = str(body.get("message") or body.get("Message") or "")
    return StoreEndpointError(f"the upload endpoint refused the request ({status} {error}): "
                              f"{message}", status=status, error=error, hint=_HINTS.get(error))


def whoami(upload_url: str, key: str) -> str:
    """The store the key belongs to (also checks the key before anything is sent)."""
    status, body = _request("GET", f"{upload_url.rstrip('/')}/whoami", key)
    if status != 200:
        raise _refused(status, body)
    return str(body["store"])


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = f"----inventory{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    safe_name = quote(filename)
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{safe_name}"\r\nContent-Type: text/csv\r\n\r\n'.encode())
    parts += [data, f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post_to_s3(post: dict[str, Any], filename: str, data: bytes) -> None:
    """Send the file with a presigned POST; S3's refusal (size, expiry, policy) is raised."""
    body, content_type = _multipart({str(k): str(v) for k, v in post["fields"].items()},
                                    filename, data)
    request = urllib.request.Request(str(post["url"]), data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        code = _xml_value(text, "Code") or f"http_{exc.code}"
        raise StoreEndpointError(f"S3 refused the file ({exc.code} {code}): "
                                 f"{_xml_value(text, 'Message') or text[:200]}",
                                 status=exc.code, error=code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise InventoryError(f"cannot reach S3 at {post['url']}: "
                             f"{getattr(exc, 'reason', exc)}") from None


def _xml_value(text: str, tag: str) -> str | None:
    start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
    return text[start + len(tag) + 2:end] if 0 <= start < end else None


def upload_file(upload_url: str, key: str, file: CheckedFile) -> StoreUpload:
    data = file.path.read_bytes()
    status, body = _request("POST", f"{upload_url.rstrip('/')}/uploads", key,
                            {"filename": file.path.name, "size": len(data)})
    if status != 200:
        raise _refused(status, body)
    post_to_s3(body["post"], file.path.name, data)
    uploaded = UploadedFile(path=file.path, key=str(body["key"]), size=len(data),
                            version_id=None, etag="")
    return StoreUpload(store=str(body["store"]), file=uploaded,
                       report_url=str(body["report_url"]))


def valid_upload_url(upload_url: str) -> str:
    if not upload_url.startswith(("http://", "https://")):
        raise UsageError(f"--upload-url {upload_url!r} is not an http(s) URL")
    return upload_url


def upload_files(upload_url: str, key: str, files: Sequence[CheckedFile]) -> list[StoreUpload]:
    """Send each file (the key was checked with `whoami` before the files were)."""
    valid_upload_url(upload_url)
    return [upload_file(upload_url, key, file) for file in files]


def wait_for_reports(key: str, uploads: Sequence[StoreUpload], *, timeout: float,
                     poll_interval: float = POLL_INTERVAL,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> list[LoadOutcome]:
    """Poll each upload's report URL until it is there (each key is new: any report is ours)."""
    deadline = clock() + timeout
    reports: dict[int, dict[str, Any]] = {}
    while True:
        for index, upload in enumerate(uploads):
            if index in reports:
                continue
            status, body = _request("GET", upload.report_url, key)
            if status == 200:
                reports[index] = body
            elif not (status == 404 and body.get("error") == "not_ready"):
                raise _refused(status, body)
        remaining = deadline - clock()
        if len(reports) == len(uploads) or remaining <= 0:
            break
        sleep(min(poll_interval, remaining))
    return [LoadOutcome(upload.file, reports.get(i)) for i, upload in enumerate(uploads)]
