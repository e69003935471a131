"""moto patch: a function's resource policy as Lambda shows it, for the function URL's check.

moto 5.2.5 keeps AddPermission's `FunctionUrlAuthType` as a bare key of the statement and does
not know `InvokedViaFunctionUrl` at all (it is kept as a bare key too). Lambda turns both into
conditions of the statement (AWS Lambda developer guide, "Control access to Lambda function
URLs"): `{"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}` and
`{"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}`. Here they become those conditions, so
GetPolicy answers as Lambda does and the emulator's function URLs can check them
(`function_urls.missing_public_permissions`).

`install()` is called from the seam's `install()`; `find_target` is what the emulator server
hands the function URL route.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from inventory_cli.local.function_urls import UrlTarget

AUTH_TYPE_KEY = "lambda:FunctionUrlAuthType"
VIA_URL_KEY = "lambda:InvokedViaFunctionUrl"


def install() -> None:
    from moto.awslambda.policy import Policy

    upstream = Policy.decode_policy

    @functools.wraps(upstream)
    def decode_policy(self: Policy, obj: dict[str, Any]) -> Policy:
        auth_type = obj.pop("FunctionUrlAuthType", None)
        via_url = obj.pop("InvokedViaFunctionUrl", None)
        policy = upstream(self, obj)
        statement = policy.statements[0]
        if auth_type is not None:
            statement.setdefault("Condition", {}).setdefault("StringEquals", {})[
                AUTH_TYPE_KEY] = str(auth_type)
        if via_url is not None:
            # Lambda's policy documents carry booleans as strings.
            statement.setdefault("Condition", {}).setdefault("Bool", {})[VIA_URL_KEY] = (
                "true" if via_url in (True, "true", "True") else "false")
        return policy

    Policy.decode_policy = decode_policy  # type: ignore[method-assign]


def policy_statements(fn: Any) -> tuple[dict[str, Any], ...]:
    """The statements of a moto LambdaFunction's resource policy (none: an empty tuple)."""
    policy = getattr(fn, "policy", None)
    return tuple(dict(s) for s in getattr(policy, "statements", None) or ())


def find_target(function: str) -> UrlTarget | None:
    """The seam's `function_url_target`, with the function's resource policy attached."""
    from moto.awslambda.models import lambda_backends

    from inventory_cli.local import moto_seam

    target: UrlTarget | None = moto_seam.function_url_target(function)
    if target is None:
        return None
    spec = target.spec
    try:
        fn = lambda_backends[spec.account_id][spec.region].get_function(spec.name)
    except Exception:  # noqa: BLE001 - deleted meanwhile: no policy, so no access
        return dataclasses.replace(target, statements=())
    return dataclasses.replace(target, statements=policy_statements(fn))
