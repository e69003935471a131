"""S3 in moto: browser-style POST uploads, and what IAM sees of an S3 request.

- moto stores whatever is posted; the POST policy's conditions (expiration, bucket, key,
  content-length-range, exact fields) are enforced here as S3 does
  (`install_s3_post_policy`). Its signature is not checked (moto checks no signatures), but
  the role of the key that signed it must allow s3:PutObject on the object, as on S3.
- Role enforcement (`seam/iam.py`): the permissions a request needs (`iam_wants`). A GET or
  HEAD of a missing object needs s3:ListBucket on the bucket too: without it S3 answers 403
  AccessDenied instead of 404 NoSuchKey (S3 API Reference, GetObject and HeadObject,
  "Permissions").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from inventory_cli.local.seam import iam

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
                refusal = post_refusal(fields, bucket_name)
                if refusal is not None:
                    raise PostPolicyViolation(403, "AccessDenied", refusal.message)
            except PostPolicyViolation as exc:
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                       f"{exc.code}</Code><Message>{_xml_text(exc.message)}</Message></Error>")
                return exc.status, {"Content-Type": "application/xml"}, xml
        return upstream_post(self, request, bucket_name)

    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- role enforcement ---------------------------------------------------------------------------

_ARN_PREFIX = "arn:aws:s3:::"


def iam_wants(response: Any, resource: str) -> list[iam.Want]:
    """The permissions an S3 request needs; `resource` is the bucket or object ARN moto names."""
    action = str(response._get_action() or "")
    query = getattr(response, "querystring", None) or {}
    versioned = "versionId" in query
    if versioned and action in ("GetObject", "DeleteObject"):
        action += "Version"  # S3 API Reference: reading or deleting a version
    context: dict[str, list[str]] = {}
    if action in ("ListBucket", "ListBucketVersions"):
        # The condition keys of a listing (Service Authorization Reference, Amazon S3).
        for name in ("prefix", "delimiter", "max-keys"):
            if name in query:
                context[f"s3:{name}"] = [str(query[name][0])]
    wants = [iam.Want(f"s3:{action}", resource, context)]
    if action in ("GetObject", "GetObjectVersion") and not versioned:
        bucket, _, key = resource.removeprefix(_ARN_PREFIX).partition("/")
        if key and _bucket_exists(response, bucket) and not _object_exists(response, bucket, key):
            wants.append(iam.Want("s3:ListBucket", _ARN_PREFIX + bucket))
    return wants


def _bucket_exists(response: Any, bucket: str) -> bool:
    try:
        response.backend.get_bucket(bucket)
    except Exception:  # noqa: BLE001 - moto's MissingBucket; S3 answers NoSuchBucket itself
        return False
    return True


def _object_exists(response: Any, bucket: str, key: str) -> bool:
    from moto.s3.models import FakeKey

    found = response.backend.get_bucket(bucket).keys.get(key)
    return isinstance(found, FakeKey)  # a delete marker is no object


def refuse(refusal: iam.Refusal) -> Exception:
    from moto.s3.exceptions import S3ClientError

    error = S3ClientError("AccessDenied", refusal.message)
    error.http_status_code = 403  # type: ignore[attr-defined]
    return error


def post_refusal(fields: Mapping[str, str], bucket: str) -> iam.Refusal | None:
    """A presigned POST acts as the key that signed its policy (x-amz-credential): the key's
    role needs s3:PutObject on the object (S3 API Reference, "Browser-based uploads using
    POST")."""
    if not iam.enforcing():
        return None
    values = {k.lower(): v for k, v in fields.items()}
    # A SigV4 policy names its key in x-amz-credential, a legacy (SigV2) one in AWSAccessKeyId.
    key_id = values.get("x-amz-credential", "").partition("/")[0] or values.get(
        "awsaccesskeyid", "")
    session = iam.session_for_key(key_id)
    if session is None:
        return None
    key = values.get("key", "")
    return iam.check(session, iam.Want("s3:PutObject", f"{_ARN_PREFIX}{bucket}/{key}"))


def anonymous_refusal(response: Any, resource: str) -> Exception | None:
    """An unsigned GET or HEAD of an object (a browser, a script with no account) is allowed
    only by a bucket policy statement for everyone (`"Principal": "*"`) that allows
    s3:GetObject on it, and not at all while the bucket's Block Public Access restricts public
    buckets (S3 User Guide, "Blocking public access to your Amazon S3 storage", and "The
    meaning of public"). S3 answers 403 AccessDenied."""
    from moto.s3.exceptions import S3ClientError

    method = str(getattr(response, "method", "") or "").upper()
    bucket, _, key = resource.removeprefix(_ARN_PREFIX).partition("/")
    if method not in ("GET", "HEAD") or not key or not _bucket_exists(response, bucket):
        return None
    found = response.backend.get_bucket(bucket)
    block = getattr(found, "public_access_block", None)
    restricted = bool(block is not None and str(
        getattr(block, "restrict_public_buckets", "")).lower() in ("true", "1"))
    policy = getattr(found, "policy", None)
    document = json.loads(policy) if isinstance(policy, bytes | str) and policy else {}
    public = [st for st in document.get("Statement", []) if isinstance(st, Mapping)
              and st.get("Principal") in ("*", {"AWS": "*"})]
    verdict = iam.decide([{"Statement": public}], "s3:GetObject", resource,
                         {"aws:securetransport": ["true"]})
    if verdict == "allow" and not restricted:
        return None
    error = S3ClientError("AccessDenied", "Access Denied")
    error.http_status_code = 403  # type: ignore[attr-defined]
    return error


def install_role_checks() -> None:
    iam.register_service("S3Response", iam_wants, refuse)
    iam.register_anonymous("S3Response", anonymous_refusal)
