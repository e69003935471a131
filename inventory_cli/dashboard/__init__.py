"""The static dashboard page shipped inside the package, and the configuration provision writes.

The page (HTML, CSS, bundled JavaScript) lives in `static/`; it is built from `dashboard/` in the
repository by `npm run build` and committed, so installing the package needs no Node.js.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from importlib import resources

CONFIG_KEY = "config.json"
INDEX_KEY = "index.html"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def _content_type(name: str) -> str:
    suffix = name[name.rfind("."):] if "." in name else ""
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def iter_assets() -> Iterator[tuple[str, bytes, str]]:
    """Yield (key, body, content type) for every shipped file, `index.html` at the root."""
    root = resources.files(__package__).joinpath("static")

    def walk(node: resources.abc.Traversable, prefix: str) -> Iterator[tuple[str, bytes, str]]:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            key = f"{prefix}{child.name}"
            if child.is_dir():
                yield from walk(child, key + "/")
            elif not child.name.startswith("."):
                yield key, child.read_bytes(), _content_type(child.name)

    yield from walk(root, "")


def config_json(*, region: str, identity_pool_id: str, table: str, threshold: int,
                endpoint: str | None = None, stack: str | None = None,
                dashboard_role_arn: str | None = None,
                summary_table: str | None = None,
                upload_url: str | None = None, access: str = "public",
                user_pool_id: str | None = None,
                user_pool_client_id: str | None = None) -> bytes:
    """The page's configuration. `endpoint` is set only for an emulator (None on AWS); `stack`
    lets the page name the stack in the commands it suggests. `dashboard_role_arn` is the role
    the page assumes itself (basic flow: GetOpenIdToken + AssumeRoleWithWebIdentity) if reads
    with the enhanced flow's credentials are denied; None: no fallback. `upload_url` is the
    stores' upload endpoint (the store page's API), None when the stack has none. `access`:
    "public" (guests) or "private" (staff sign in to `user_pool_id` through the app client
    `user_pool_client_id`; both None when public)."""
    config = {
        "stack": stack,
        "region": region,
        "identityPoolId": identity_pool_id,
        "dashboardRoleArn": dashboard_role_arn,
        "table": table,
        "lowStockThreshold": threshold,
        "endpoint": endpoint,
        # The per-store and per-item summaries; None: read the table itself.
        "summaryTable": summary_table,
        "uploadUrl": upload_url,
        "access": access,
        "userPoolId": user_pool_id,
        "userPoolClientId": user_pool_client_id,
    }
    return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()


def dashboard_url(*, bucket: str, region: str, endpoint: str | None = None) -> str:
    """Where the page is served: S3 over HTTPS on AWS, the emulator itself locally."""
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{INDEX_KEY}"
    return f"https://{bucket}.s3.{region}.amazonaws.com/{INDEX_KEY}"


# Where the emulator serves a private stack's page: its stand-in for the CloudFront
# distribution (the bucket itself refuses anonymous reads, as on AWS).
CDN_PATH = "/_inventory/cdn/"


def cdn_url(*, bucket: str, endpoint: str | None = None, domain: str | None = None) -> str:
    """A private dashboard's address: the distribution's domain on AWS, the emulator's
    stand-in locally."""
    if endpoint:
        return f"{endpoint.rstrip('/')}{CDN_PATH}{bucket}/{INDEX_KEY}"
    return f"https://{domain}/{INDEX_KEY}"
