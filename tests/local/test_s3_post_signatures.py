"""Browser-style S3 POST uploads on a real emulator process: signed, or refused as S3 refuses.

A POST the emulator's own keys, an IAM user's key or an STS key signed is stored; one with no
policy, a policy signed with a made-up secret, an unknown key, a wrong session token, or a
policy changed after signing is refused with S3's error code, and nothing is stored.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from inventory_cli.aws import LOCAL_CREDENTIALS
from inventory_cli.local.emulator import EmulatorInfo
from inventory_cli.local.seam.s3_post_signatures import (
    PostRefused,
    check_post_signature,
    policy_signature,
)

Clients = Callable[[str], Any]
BUCKET = "post-signatures"
BODY = b"Store,Item,Count\nBerlin,Echo Dot,3\n"


@pytest.fixture(scope="module")
def bucket(clients: Clients) -> str:
    clients("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def _signer(emulator: EmulatorInfo, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        region_name="us-east-1").client("s3", endpoint_url=emulator.endpoint,
                                        config=Config(signature_version="s3v4"))


def _grant(signer: Any, key: str, **extra: Any) -> dict[str, Any]:
    post: dict[str, Any] = signer.generate_presigned_post(
        Bucket=BUCKET, Key=key, Conditions=[["content-length-range", 0, 1000]], **extra)
    return post


def _post(post: dict[str, Any], fields: dict[str, str] | None = None) -> tuple[int, str]:
    answer = requests.post(post["url"], data=post["fields"] if fields is None else fields,
                           files={"file": ("f.csv", BODY)}, timeout=30)
    if answer.status_code >= 300:
        return answer.status_code, ET.fromstring(answer.text).findtext("Code") or ""
    return answer.status_code, ""


def _stored(clients: Clients, key: str) -> bool:
    listing = clients("s3").list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [])
    return any(o["Key"] == key for o in listing)


def test_posts_signed_with_keys_the_emulator_knows_are_stored(
        clients: Clients, bucket: str, emulator: EmulatorInfo) -> None:
    operator = _signer(emulator, LOCAL_CREDENTIALS["aws_access_key_id"],
                       LOCAL_CREDENTIALS["aws_secret_access_key"])
    assert _post(_grant(operator, "ok/operator.csv"))[0] == 204
    iam = clients("iam")
    iam.create_user(UserName="poster")
    made = iam.create_access_key(UserName="poster")["AccessKey"]
    user = _signer(emulator, made["AccessKeyId"], made["SecretAccessKey"])
    assert _post(_grant(user, "ok/user.csv"))[0] == 204
    # The emulator enforces roles: the role that signs must itself be allowed to put the object.
    iam.create_role(RoleName="poster", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": "*"}}]}))
    iam.put_role_policy(RoleName="poster", PolicyName="put", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    role = clients("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/poster",
                                      RoleSessionName="poster")["Credentials"]
    temporary = _signer(emulator, role["AccessKeyId"], role["SecretAccessKey"],
                        role["SessionToken"])
    assert _post(_grant(temporary, "ok/role.csv"))[0] == 204
    for key in ("ok/operator.csv", "ok/user.csv", "ok/role.csv"):
        assert clients("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read() == BODY


def test_unsigned_forged_and_expired_posts_are_refused_as_s3_refuses_them(
        clients: Clients, bucket: str, emulator: EmulatorInfo) -> None:
    operator = _signer(emulator, LOCAL_CREDENTIALS["aws_access_key_id"],
                       LOCAL_CREDENTIALS["aws_secret_access_key"])
    real = _grant(operator, "bad/target.csv")
    fields = dict(real["fields"])
    # No policy (and no signature): an anonymous upload.
    assert _post(real, {"key": "bad/no-policy.csv"}) == (403, "AccessDenied")
    # The signature of someone who does not know the secret.
    forger = _signer(emulator, LOCAL_CREDENTIALS["aws_access_key_id"], "guessed")
    assert _post(_grant(forger, "bad/forged.csv")) == (403, "SignatureDoesNotMatch")
    # A key the emulator never issued.
    assert _post(_grant(_signer(emulator, "AKIANOBODY", "x"), "bad/unknown.csv")) == (
        403, "InvalidAccessKeyId")
    # A real grant whose policy was widened afterwards (any key under bad/), same signature.
    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"] = [c for c in policy["conditions"]
                            if not (isinstance(c, dict) and "key" in c)] + [
        ["starts-with", "$key", "bad/"]]
    widened = {**fields, "key": "bad/widened.csv",
               "policy": base64.b64encode(json.dumps(policy).encode()).decode()}
    assert _post(real, widened) == (403, "SignatureDoesNotMatch")
    # A temporary key with another session's token.
    role = clients("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/any",
                                      RoleSessionName="other")["Credentials"]
    stolen = _signer(emulator, role["AccessKeyId"], role["SecretAccessKey"], "not-the-token")
    assert _post(_grant(stolen, "bad/token.csv")) == (403, "InvalidToken")
    # A correctly signed policy that has expired.
    assert _post(_grant(operator, "bad/expired.csv", ExpiresIn=-60)) == (403, "AccessDenied")
    for key in ("bad/no-policy.csv", "bad/forged.csv", "bad/unknown.csv", "bad/widened.csv",
                "bad/token.csv", "bad/expired.csv"):
        assert not _stored(clients, key), key
    assert _post(real)[0] == 204  # the untouched grant still works
    assert _stored(clients, "bad/target.csv")


def test_the_signature_is_botocores_sigv4_over_the_base64_policy() -> None:
    # botocore's presigned POST (the store endpoint's signer) is the reference.
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    signer = boto3.session.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key=secret,
        region_name="eu-west-1").client("s3", config=Config(signature_version="s3v4"))
    fields = signer.generate_presigned_post(Bucket="b", Key="k.csv")["fields"]
    date = fields["x-amz-credential"].split("/")[1]
    assert policy_signature(fields["policy"], secret=secret, date=date,
                            region="eu-west-1") == fields["x-amz-signature"]
    keys = {"AKIAIOSFODNN7EXAMPLE": (secret, None)}
    check_post_signature(fields, keys.get)  # no refusal
    wrong_region = {**fields, "x-amz-credential": fields["x-amz-credential"].replace(
        "eu-west-1", "us-east-1")}
    with pytest.raises(PostRefused, match="signature we calculated"):
        check_post_signature(wrong_region, keys.get)
