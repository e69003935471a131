"""The store upload page's test site: a provisioned stack, its page, its endpoint, store keys.

Everything is the real thing: the stack is provisioned by the installed `inventory` command on
the test emulator, which serves the page provision uploaded (`upload.html` in the dashboard
bucket), the stack's upload endpoint (the store-upload function behind the emulator's
function-URL route) and S3, all on one origin. Store keys come from `inventory stores add`,
and are rotated and revoked with the same command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard_stack import DashboardStack

from inventory_cli.dashboard import CONFIG_KEY


@dataclass
class UploadSite:
    stack: DashboardStack

    @property
    def page_url(self) -> str:
        return self.stack.url.removesuffix("index.html") + "upload.html"

    @property
    def upload_url(self) -> str:
        url: str = self.stack.config()["uploadUrl"]
        return url

    def stores(self, *args: str) -> str:
        return self.stack.inventory.run(self.stack.stack, "stores", *args)

    def add_store(self, store: str) -> str:
        """A new key for `store`, as `inventory stores add` prints it."""
        issued = json.loads(self.stores("add", store, "--output", "json"))
        assert issued["store"] == store
        assert issued["page_url"] == self.page_url
        assert issued["upload_url"] == self.upload_url
        key: str = issued["key"]
        return key

    def rotate(self, store: str) -> str:
        key: str = json.loads(self.stores("rotate", store, "--output", "json"))["key"]
        return key

    def revoke(self, store: str) -> None:
        self.stores("revoke", store)

    # -- looking at (and breaking) the stack from outside --------------------------------------

    def uploaded_keys(self) -> list[str]:
        """Every stored upload (not the reports) in the uploads bucket."""
        s3 = self.stack.client("s3")
        listing = s3.list_objects_v2(Bucket=self.stack.names.uploads_bucket)
        return sorted(o["Key"] for o in listing.get("Contents", [])
                      if not o["Key"].startswith("reports/"))

    def report(self, key: str) -> dict[str, Any]:
        body = self.stack.client("s3").get_object(
            Bucket=self.stack.names.uploads_bucket, Key=f"reports/{key}.json")["Body"].read()
        report: dict[str, Any] = json.loads(body)
        return report

    def count_of(self, store: str, item: str) -> int | None:
        answer = self.stack.client("dynamodb").get_item(
            TableName=self.stack.names.table, Key={"Store": {"S": store}, "Item": {"S": item}})
        return int(answer["Item"]["Count"]["N"]) if "Item" in answer else None

    def stop_loading(self) -> None:
        """Break the stack from outside: S3 no longer tells the loader about new files."""
        self.stack.client("s3").put_bucket_notification_configuration(
            Bucket=self.stack.names.uploads_bucket, NotificationConfiguration={})

    def config_without_uploads(self) -> None:
        """config.json as a stack without the upload endpoint has it."""
        self.stack.rewrite_config(uploadUrl=None)
        assert self.stack.config()["uploadUrl"] is None, CONFIG_KEY


def write_bytes(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
