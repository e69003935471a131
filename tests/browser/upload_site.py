"""The store upload page's test site: a provisioned stack, its page, an endpoint and store keys.

The stack is provisioned by the installed `inventory` command on the test emulator, and the
page is the one provision put in the dashboard bucket. The endpoint is the stand-in of
upload_endpoint_fake.py (the emulator's own route replaces it when it exists): config.json's
`upload_url` is pointed at it, and the page is opened through it, so page, endpoint and S3 share
one origin as they do on the emulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard_stack import DashboardStack
from upload_endpoint_fake import FakeEndpoint, FakeStack


@dataclass
class UploadSite:
    stack: DashboardStack
    endpoint: FakeEndpoint
    fake: FakeStack

    @classmethod
    def build(cls, stack: DashboardStack, endpoint: FakeEndpoint) -> UploadSite:
        fake = endpoint.add_stack(stack.names.store_upload_function, stack.names.uploads_bucket)
        site = cls(stack=stack, endpoint=endpoint, fake=fake)
        stack.rewrite_config(upload_url=site.upload_url)
        return site

    @property
    def upload_url(self) -> str:
        return self.endpoint.upload_url(self.stack.names.store_upload_function)

    @property
    def page_url(self) -> str:
        return f"{self.endpoint.url}/{self.stack.names.dashboard_bucket}/upload.html"

    def add_store(self, store: str) -> str:
        """A new key for `store` (what `inventory stores add` prints)."""
        return self.fake.add_store(store)

    def revoke(self, store: str) -> None:
        self.fake.revoke(store)

    def set_max_bytes(self, limit: int) -> None:
        self.fake.max_bytes = limit

    # -- looking at the stack from outside -----------------------------------------------------

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


def write_bytes(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
