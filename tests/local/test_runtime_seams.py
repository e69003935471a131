"""What the emulator's Lambda-runtime patches rely on in moto: fails loudly if an upgrade of
moto moves it (lambda_recursion, function_url_permissions, s3_event_versions,
s3_post_signatures)."""

from __future__ import annotations

import inspect


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(inspect.unwrap(function)).parameters)  # type: ignore[arg-type]


def test_the_moto_attributes_the_runtime_patches_use_are_where_expected() -> None:
    from moto.awslambda import urls
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda.policy import Policy
    from moto.core.responses import BaseResponse
    from moto.iam.models import IAMBackend
    from moto.s3 import notifications
    from moto.sts.models import AssumedRole, STSBackend

    assert isinstance(urls.url_paths, dict)
    assert _parameters(BaseResponse.setup_class) == [
        "self", "request", "full_url", "headers", "use_raw_body"]
    assert _parameters(LambdaFunction.invoke) == [
        "self", "body", "request_headers", "response_headers"]
    assert _parameters(Policy.decode_policy) == ["self", "obj"]
    assert "policy.statements.append(obj)" in inspect.getsource(inspect.unwrap(
        Policy.decode_policy))
    assert _parameters(notifications._get_s3_event) == [
        "event_name", "bucket", "key", "notification_id"]
    assert "_get_s3_event(" in inspect.getsource(notifications.send_event)
    assert "self.assumed_roles" in inspect.getsource(STSBackend.__init__)
    assert {"access_key_id", "secret_access_key", "session_token"} <= set(
        inspect.getsource(AssumedRole.__init__).replace("self.", " ").split())
    assert "self.users: dict" in inspect.getsource(IAMBackend.__init__)
