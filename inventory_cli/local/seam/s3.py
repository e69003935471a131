"""S3 in moto: browser-style POST uploads.

- moto stores whatever is posted; the POST policy's conditions (expiration, bucket, key,
  content-length-range, exact fields) are enforced here as S3 does
  (`install_s3_post_policy`). Its signature is not checked (moto checks no signatures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# -- S3 POST policies

class PostPolicyViolation(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def check_post_policy(policy_b64: str, fields: Mapping[str, str], *, bucket: str,
                      size: int, now: datetime) -> None:
    """Raise `PostPolicyViolation` where S3 would refuse a POST upload under this policy.

    Field names compare case-insensitively (as S3 does); `$key` etc. in conditions name form
    fields, `$bucket` the bucket of the URL.
    """
    import base64

    try:
        policy = json.loads(base64.b64decode(policy_b64))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy.get("conditions") or [])
    except (ValueError, KeyError, TypeError) as exc:
        raise PostPolicyViolation(400, "InvalidPolicyDocument",
                                  f"Invalid Policy: {exc}") from None
    if now >= expiration:
        raise PostPolicyViolation(403, "AccessDenied", "Invalid according to Policy: "
                                                       "Policy expired.")
    values = {k.lower(): v for k, v in fields.items()}
    values["bucket"] = bucket
    for condition in conditions:
        _check_post_condition(condition, values, size)


def _check_post_condition(condition: Any, values: Mapping[str, str], size: int) -> None:
    failed = PostPolicyViolation(403, "AccessDenied", "Invalid according to Policy: Policy "
                                 f"Condition failed: {json.dumps(condition)}")
    if isinstance(condition, dict):
        if any(values.get(name.lower()) != expected for name, expected in condition.items()):
            raise failed
        return
    operator = str(condition[0]).lower()
    if operator == "content-length-range":
        if size > int(condition[2]):
            raise PostPolicyViolation(400, "EntityTooLarge", "Your proposed upload exceeds "
                                      "the maximum allowed size")
        if size < int(condition[1]):
            raise PostPolicyViolation(400, "EntityTooSmall", "Your proposed upload is "
                                      "smaller than the minimum allowed size")
        return
    actual, expected = values.get(str(condition[1]).lstrip("$").lower()), str(condition[2])
    if (operator == "eq" and actual != expected) or (
            operator == "starts-with" and not str(actual or "").startswith(expected)):
        raise failed


def install_s3_post_policy() -> None:
    from datetime import UTC

    from moto.s3.responses import S3Response

    upstream_post = S3Response._bucket_response_post

    def bucket_response_post(self: S3Response, request: Any, bucket_name: str) -> Any:
        policy = (self.querystring.get("policy") or self.querystring.get("Policy") or [None])[0]
        self.path = self._get_path(request)  # what is_delete_keys reads, set as upstream does
        if policy is not None and not self.is_delete_keys():
            body = self.body if isinstance(self.body, bytes) else str(self.body).encode()
            fields = {str(k): str(v[0]) for k, v in self.querystring.items()
                      if k.lower() != "file"}
            try:
                check_post_policy(str(policy), fields, bucket=bucket_name, size=len(body),
                                  now=datetime.now(UTC))
            except PostPolicyViolation as exc:
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                       f"{exc.code}</Code><Message>{_xml_text(exc.message)}</Message></Error>")
                return exc.status, {"Content-Type": "application/xml"}, xml
        return upstream_post(self, request, bucket_name)

    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
