"""moto patch: Lambda's recursive loop detection on the emulator.

moto 5.2.5 has neither `PutFunctionRecursionConfig` nor `GetFunctionRecursionConfig` (botocore
has both: `PUT`/`GET /2024-08-31/functions/<name>/recursion-config`), and follows no chain of
requests. Here:
- the two calls are served; a function's `RecursiveLoop` is `Terminate` until set to `Allow`
  (AWS Lambda API reference, PutFunctionRecursionConfig: "By default, Lambda sets your
  function's configuration to Terminate");
- every request the emulator serves sets the chain of requests it belongs to from its
  `X-Amzn-Trace-Id` header (`lambda_lineage`), so the invocations it causes (an S3 event, an
  SNS delivery, an Invoke) continue that chain;
- a synchronous Invoke that loop detection stops answers `RecursiveInvocationException`
  (HTTP 400) as Lambda does; asynchronous ones are stopped by the runtime (`lambda_dispatch`).

`install()` is called from the seam's `install()`; `loop_allowed` is what the emulator server
hands the Lambda runtime.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from inventory_cli.local import lambda_lineage

if TYPE_CHECKING:
    from inventory_cli.local.lambda_worker import RuntimeFunction

RECURSION_CONFIG_PATH = (r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)"
                         r"/recursion-config/?$")
ALLOW, TERMINATE = "Allow", "Terminate"
_ATTRIBUTE = "_inventory_recursive_loop"


def recursive_loop(fn: Any) -> str:
    """A moto LambdaFunction's recursion config."""
    return str(getattr(fn, _ATTRIBUTE, TERMINATE))


def loop_allowed(spec: RuntimeFunction) -> bool:
    """Whether the function's recursion config is Allow (read at the moment of the stop, so a
    config set by any client takes effect for the next invocation)."""
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[spec.account_id][spec.region].get_function(spec.name)
    except Exception:  # noqa: BLE001 - moto raises several kinds for "no function"
        return False
    return recursive_loop(fn) == ALLOW


def install() -> None:
    _install_request_lineage()
    _install_recursion_config()
    _install_stopped_invoke()


def _install_request_lineage() -> None:
    """Every request moto serves names the chain it belongs to (none: a new one)."""
    from moto.core.responses import BaseResponse

    upstream = BaseResponse.setup_class

    @functools.wraps(upstream)
    def setup_class(self: BaseResponse, request: Any, full_url: str | None = None,
                    headers: Any = None, use_raw_body: bool | None = None) -> None:
        carried = request.headers if headers is None else headers
        value = None
        for name, text in dict(carried or {}).items():
            if name.lower() == lambda_lineage.TRACE_HEADER.lower():
                value = str(text)
        lambda_lineage.set_request_lineage(lambda_lineage.parse(value))
        upstream(self, request, full_url, headers, use_raw_body)

    BaseResponse.setup_class = setup_class  # type: ignore[method-assign]


def _install_recursion_config() -> None:
    from moto.awslambda import urls
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.responses import LambdaResponse

    def function_of(response: LambdaResponse) -> Any:
        name = unquote(response.path.rstrip("/").rsplit("/", 2)[-2])
        return response.backend.get_function(name)  # ResourceNotFoundException if unknown

    def put_function_recursion_config(self: LambdaResponse) -> str:
        fn = function_of(self)
        try:
            value = json.loads(self.body or "{}").get("RecursiveLoop")
        except (ValueError, AttributeError):
            value = None
        if value not in (ALLOW, TERMINATE):
            raise LambdaClientError(
                "ValidationException",
                f"1 validation error detected: Value '{value}' at 'recursiveLoop' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]")
        setattr(fn, _ATTRIBUTE, value)
        return json.dumps({"RecursiveLoop": value})

    def get_function_recursion_config(self: LambdaResponse) -> str:
        return json.dumps({"RecursiveLoop": recursive_loop(function_of(self))})

    urls.url_paths[RECURSION_CONFIG_PATH] = LambdaResponse.dispatch
    LambdaResponse.put_function_recursion_config = put_function_recursion_config  # type: ignore[attr-defined]
    LambdaResponse.get_function_recursion_config = get_function_recursion_config  # type: ignore[attr-defined]


def _install_stopped_invoke() -> None:
    """A stopped synchronous Invoke is Lambda's RecursiveInvocationException, not a function
    error (botocore: Lambda.Client.exceptions.RecursiveInvocationException)."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaFunction

    upstream = LambdaFunction.invoke

    @functools.wraps(upstream)
    def invoke(self: LambdaFunction, body: Any, request_headers: Any,
               response_headers: Any) -> Any:
        try:
            return upstream(self, body, request_headers, response_headers)
        except lambda_lineage.RecursionStopped as stop:
            raise LambdaClientError(stop.error_type, str(stop)) from None

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
