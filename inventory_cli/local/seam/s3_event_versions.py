"""moto patch: S3 event records name the object's version, as S3 does.

moto 5.2.5 builds its notification records (`moto.s3.notifications._get_s3_event`) without
`versionId`. S3 sends it for an object of a versioning-enabled bucket (Amazon S3 user guide,
"Event message structure": `"versionId": "object version if bucket is versioning-enabled,
otherwise null"`), and what the pipeline keeps and redoes depends on it: the loader reads the
version it was told about, `inventory failures` shows it, and `inventory retry` skips a kept
event whose key holds a newer version by now. Here the record carries it.

`install()` is called from the seam's `install()`.
"""

from __future__ import annotations

import functools
from typing import Any


def install() -> None:
    from moto.s3 import notifications

    upstream = notifications._get_s3_event

    @functools.wraps(upstream)
    def get_s3_event(event_name: str, bucket: Any, key: Any,
                     notification_id: str) -> dict[str, list[dict[str, Any]]]:
        event = upstream(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        # An object written while versioning was never enabled (or is suspended) has the
        # version "null", and its record names none.
        if version and version != "null":
            for record in event["Records"]:
                record["s3"]["object"]["versionId"] = str(version)
        return event

    notifications._get_s3_event = get_s3_event
