"""The emulator's stand-in for CloudFront: `GET /_inventory/cdn/<bucket>/<key>` serves the
files of a stack's dashboard bucket, whatever the bucket's policy.

On AWS a private dashboard's bucket refuses anonymous reads and a CloudFront distribution
reads it through its Origin Access Control; the emulator has no CloudFront, so this route plays
the distribution (only for buckets named as a stack's dashboard bucket), while the bucket
itself refuses anonymous reads as on AWS (`seam/s3.anonymous_refusal`).
"""

from __future__ import annotations

import re
from typing import Any

from inventory_cli.config import LOCAL_ACCOUNT_ID
from inventory_cli.dashboard import CDN_PATH, INDEX_KEY
from inventory_cli.local.function_urls import HttpResponse

PREFIX = CDN_PATH
# `StackNames.dashboard_bucket`: <stack>-dashboard-<account>-<region>.
_DASHBOARD_BUCKET = re.compile(r"^[a-z][a-z0-9-]*-dashboard-\d{12}-[a-z]{2}(-[a-z]+)+-\d$")


def serve(environ: dict[str, Any]) -> HttpResponse:
    from moto.s3.models import s3_backends

    if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return _answer(405, b"Method Not Allowed", "text/plain")
    bucket, _, key = str(environ.get("PATH_INFO", ""))[len(PREFIX):].partition("/")
    key = key or INDEX_KEY
    if not _DASHBOARD_BUCKET.match(bucket):
        return _answer(403, b"Not a dashboard bucket", "text/plain")
    try:
        found = s3_backends[LOCAL_ACCOUNT_ID]["aws"].get_object(bucket, key)
    except Exception:  # noqa: BLE001 - moto's MissingBucket / MissingKey
        found = None
    if found is None:
        return _answer(404, b"Not Found", "text/plain")
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else bytes(found.value)
    # moto keeps the object's Content-Type and Cache-Control among its metadata.
    metadata = getattr(found, "metadata", None) or {}
    return _answer(200, body, str(metadata.get("Content-Type") or "application/octet-stream"),
                   cache=str(metadata.get("Cache-Control") or "no-cache"))


def _answer(status: int, body: bytes, content_type: str, cache: str = "no-cache"
            ) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", content_type), ("Cache-Control", cache)],
                        body)
