"""CloudFront in moto: a distribution's origins keep what was sent.

moto 5.2.5 drops an origin's `OriginAccessControlId` and answers `S3OriginConfig` without its
`OriginAccessIdentity`, where CloudFront returns both as configured (CloudFront API reference,
GetDistributionConfig). Without them provision would see its private dashboard's distribution
as drifted on every run. The emulator itself plans no distribution (CloudFront specs are AWS
only): this serves the in-process tests of the stack.
"""

from __future__ import annotations

from typing import Any


def install_origin_settings() -> None:
    from moto.cloudfront.models import Origin

    upstream = Origin.__init__

    def __init__(self: Any, origin: dict[str, Any]) -> None:
        upstream(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId", "")
        if "S3OriginConfig" in origin:
            self.s3_origin_config = dict(origin["S3OriginConfig"])

    Origin.__init__ = __init__  # type: ignore[method-assign]
