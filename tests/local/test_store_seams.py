"""The store uploads' moto seams: fail loudly if what they patch moves; check what they enforce.

(The same seams are exercised over real HTTP by tests/e2e/test_store_uploads.py.)
"""

from __future__ import annotations

import base64
import inspect
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from inventory_cli.local import moto_seam
from inventory_cli.local.moto_seam import PostPolicyViolation, check_post_policy

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_patched_and_used_moto_attributes_are_where_the_seams_expect_them() -> None:
    from moto.awslambda.models import FunctionUrlConfig, LambdaFunction, lambda_backends
    from moto.core.responses import BaseResponse
    from moto.s3.responses import S3Response

    assert list(inspect.signature(S3Response._bucket_response_post).parameters) == [
        "self", "request", "bucket_name"]
    assert hasattr(S3Response, "is_delete_keys") and hasattr(S3Response, "_get_path")
    # Form fields arrive in `querystring`, the file in `body` (BaseResponse.setup_class).
    setup = inspect.getsource(BaseResponse.setup_class)
    assert "querystring[key] = [value]" in setup and 'self.body = request.form["file"]' in setup
    assert "self.url_config" in inspect.getsource(LambdaFunction.__init__)
    assert "self.config = config" in inspect.getsource(FunctionUrlConfig.__init__)
    assert isinstance(lambda_backends, object)


def _policy(conditions: list[object], expires: datetime = NOW + timedelta(minutes=5)) -> str:
    document = {"expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
    return base64.b64encode(json.dumps(document).encode()).decode()


POLICY = _policy([{"bucket": "b"}, {"key": "stores/Berlin/x.csv"},
                  {"Content-Type": "text/csv"}, ["content-length-range", 0, 10],
                  ["starts-with", "$x-amz-meta-tag", "ok"]])
FIELDS = {"key": "stores/Berlin/x.csv", "content-type": "text/csv", "x-amz-meta-tag": "ok-1"}


def test_a_post_within_the_policy_passes() -> None:
    check_post_policy(POLICY, FIELDS, bucket="b", size=10, now=NOW)


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"size": 11}, 400, "EntityTooLarge"),
    ({"fields": {**FIELDS, "key": "stores/Pusan/x.csv"}}, 403, "AccessDenied"),
    ({"bucket": "other"}, 403, "AccessDenied"),
    ({"fields": {**FIELDS, "content-type": "text/html"}}, 403, "AccessDenied"),
    ({"fields": {**FIELDS, "x-amz-meta-tag": "bad"}}, 403, "AccessDenied"),
    ({"now": NOW + timedelta(minutes=6)}, 403, "AccessDenied"),
    ({"policy": "not base64 json"}, 400, "InvalidPolicyDocument"),
])
def test_posts_outside_the_policy_are_refused_as_s3_refuses_them(
        change: dict[str, Any], status: int, code: str) -> None:
    args: dict[str, Any] = {"policy": POLICY, "fields": FIELDS, "bucket": "b", "size": 5,
                            "now": NOW, **change}
    with pytest.raises(PostPolicyViolation) as refused:
        check_post_policy(args["policy"], args["fields"], bucket=args["bucket"],
                          size=args["size"], now=args["now"])
    assert (refused.value.status, refused.value.code) == (status, code)


def test_function_url_target_finds_only_functions_with_a_url(
        session: boto3.session.Session) -> None:
    moto_seam.install()
    role = session.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")[
        "Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
    lam = session.client("lambda")
    for name in ("with-url", "without-url"):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                            Handler="app.handler", Code={"ZipFile": buffer.getvalue()})
    lam.create_function_url_config(FunctionName="with-url", AuthType="NONE")
    target = moto_seam.function_url_target("with-url")
    assert target is not None and target.auth_type == "NONE"
    assert target.spec.name == "with-url" and target.spec.handler == "app.handler"
    assert moto_seam.function_url_target("without-url") is None
    assert moto_seam.function_url_target("missing") is None
