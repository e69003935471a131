"""moto patch: a browser-style S3 POST upload must be signed, as S3 requires.

moto 5.2.5 stores whatever is POSTed to a bucket; the seam checks the POST policy's conditions
when a policy is sent (`check_post_policy`), but a POST without a policy, or with a policy that
anyone wrote and "signed", was stored too: anything on the machine could write any store's
folder. S3 (Amazon S3 API reference, "Authenticating Requests in Browser-Based Uploads Using
POST (AWS Signature Version 4)" and "Creating a POST Policy") requires the form to carry the
policy and its SigV4 signature: `x-amz-signature` is the hex HMAC-SHA256 of the base64 policy
with the signing key derived from the secret of the `x-amz-credential`'s access key
(`AWS4<secret>` -> date -> region -> `s3` -> `aws4_request`), and temporary keys need their
session token in `x-amz-security-token`. Here the emulator checks that with the secrets it
knows (its own fixed keys, IAM users' keys, STS-issued keys) and answers as S3 does: 403
`AccessDenied` without a policy or signature fields, `InvalidAccessKeyId` for a key it does not
know, `InvalidToken` for a wrong session token, `SignatureDoesNotMatch` for a forged signature.
The policy's own conditions (expiry, bucket, key, size) are then checked by the seam as before.

`install()` is called from the seam's `install()`, after the seam's own POST policy check (so
this check runs first, as S3 authenticates before it evaluates the policy).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

ALGORITHM = "AWS4-HMAC-SHA256"
# The key moto's MockAWS sets in the environment (moto/core/models.py, `_fake_creds`).
_MOTO_MOCK_KEY = ("FOOBARKEY", "FOOBARSECRET")


class PostRefused(Exception):
    def __init__(self, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra

    def xml(self) -> str:
        fields = "".join(f"<{name}>{_xml_text(value)}</{name}>"
                         for name, value in self.extra.items())
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                f"{self.code}</Code><Message>{_xml_text(self.message)}</Message>{fields}"
                "</Error>")


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """SigV4's signing key for one day, region and service."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def policy_signature(policy_b64: str, *, secret: str, date: str, region: str) -> str:
    return hmac.new(signing_key(secret, date, region), policy_b64.encode(),
                    hashlib.sha256).hexdigest()


# An access key the emulator knows: its secret and, for temporary keys, its session token.
KnownKey = tuple[str, str | None]


def check_post_signature(fields: Mapping[str, str], lookup: Any) -> None:
    """Raise PostRefused where S3 would refuse this form's authentication.

    `fields`: the form fields (names in any case); `lookup(access_key_id)`: the KnownKey of an
    access key, or None.
    """
    values = {k.lower(): v for k, v in fields.items()}
    policy = values.get("policy")
    if not policy:
        # No policy: an anonymous upload, which a bucket without a public-write grant refuses.
        raise PostRefused("AccessDenied", "Access Denied")
    if values.get("awsaccesskeyid") and not values.get("x-amz-algorithm"):
        _check_sigv2(values, policy, lookup)
        return
    missing = [name for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-signature")
               if not values.get(name)]
    if missing:
        raise PostRefused("AccessDenied", f"Bucket POST must contain a field named "
                                          f"'{missing[0]}'")
    if values["x-amz-algorithm"] != ALGORITHM:
        raise PostRefused("AccessDenied", f"the x-amz-algorithm {values['x-amz-algorithm']!r} "
                                          f"is not supported; use {ALGORITHM}")
    parts = values["x-amz-credential"].split("/")
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
        raise PostRefused("AccessDenied", f"malformed x-amz-credential "
                                          f"{values['x-amz-credential']!r}")
    access_key, date, region = parts[0], parts[1], parts[2]
    secret = _secret_of(access_key, values, lookup)
    expected = policy_signature(policy, secret=secret, date=date, region=region)
    if not hmac.compare_digest(expected, values["x-amz-signature"].lower()):
        raise PostRefused("SignatureDoesNotMatch", "The request signature we calculated does "
                          "not match the signature you provided. Check your key and signing "
                          "method.", AWSAccessKeyId=access_key)


def _secret_of(access_key: str, values: Mapping[str, str], lookup: Any) -> str:
    """The signing key's secret, once the key is known and its session token matches."""
    known = lookup(access_key)
    if known is None:
        raise PostRefused("InvalidAccessKeyId", "The AWS Access Key Id you provided does not "
                          "exist in our records.", AWSAccessKeyId=access_key)
    secret, token = known
    if token is not None and values.get("x-amz-security-token") != token:
        raise PostRefused("InvalidToken", "The provided token is malformed or otherwise "
                                          "invalid.")
    return str(secret)


def _check_sigv2(values: Mapping[str, str], policy: str, lookup: Any) -> None:
    """The older POST form (AWSAccessKeyId, signature = base64 HMAC-SHA1 of the policy), which
    botocore still makes by default and S3 accepts where Signature Version 2 is supported
    (S3 API reference, "Authenticating Requests: Browser-Based Uploads Using POST (AWS
    Signature Version 2)")."""
    access_key = values["awsaccesskeyid"]
    secret = _secret_of(access_key, values, lookup)
    expected = base64.b64encode(hmac.new(secret.encode(), policy.encode(),
                                         hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, values.get("signature", "")):
        raise PostRefused("SignatureDoesNotMatch", "The request signature we calculated does "
                          "not match the signature you provided. Check your key and signing "
                          "method.", AWSAccessKeyId=access_key)


def known_key(access_key_id: str) -> KnownKey | None:
    """The secret (and session token) of an access key the emulator issued or was given."""
    fixed = _fixed_keys().get(access_key_id)
    if fixed is not None:
        return fixed
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for _account, partitions in list(sts_backends.items()):
        for backend in list(partitions.values()):
            for role in list(backend.assumed_roles):
                if role.access_key_id == access_key_id:
                    return str(role.secret_access_key), str(role.session_token)
    for _account, iam_partitions in list(iam_backends.items()):
        for iam in list(iam_partitions.values()):
            for user in list(iam.users.values()):
                for key in list(user.access_keys):
                    if key.access_key_id == access_key_id:
                        return str(key.secret_access_key), None
    return None


def _fixed_keys() -> dict[str, KnownKey]:
    """The emulator's own keys: the CLI's for the local target, and the one functions get."""
    from inventory_cli.aws import LOCAL_CREDENTIALS
    from inventory_cli.local import lambda_worker

    keys: dict[str, KnownKey] = {
        LOCAL_CREDENTIALS["aws_access_key_id"]: (LOCAL_CREDENTIALS["aws_secret_access_key"],
                                                 None)}
    # moto's in-process mock (`mock_aws`) puts this fixed key in the environment; once the seam
    # is installed in a process (it patches moto's classes for good), POSTs signed with it must
    # still pass there, as that mock's other requests do.
    keys[_MOTO_MOCK_KEY[0]] = (_MOTO_MOCK_KEY[1], None)
    function = getattr(lambda_worker, "_FUNCTION_CREDENTIALS", None) or {}
    if function.get("AWS_ACCESS_KEY_ID"):
        keys[function["AWS_ACCESS_KEY_ID"]] = (function["AWS_SECRET_ACCESS_KEY"],
                                               function.get("AWS_SESSION_TOKEN"))
    return keys


def install() -> None:
    from moto.s3.responses import S3Response

    upstream = S3Response._bucket_response_post

    @functools.wraps(upstream)
    def bucket_response_post(self: S3Response, request: Any, bucket_name: str) -> Any:
        self.path = self._get_path(request)  # what is_delete_keys reads, set as upstream does
        if not self.is_delete_keys():  # every other bucket POST is a form upload
            fields = {str(k): str(v[0]) for k, v in self.querystring.items()
                      if k.lower() != "file"}
            try:
                check_post_signature(fields, known_key)
            except PostRefused as refused:
                return 403, {"Content-Type": "application/xml"}, refused.xml()
        return upstream(self, request, bucket_name)

    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]
