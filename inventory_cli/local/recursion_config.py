"""Lambda's recursion config (PutFunctionRecursionConfig, GetFunctionRecursionConfig) on moto,
which lacks both calls: the setting is kept per function, "Terminate" until set, as on AWS
(Lambda API reference: PutFunctionRecursionConfig, GetFunctionRecursionConfig).

Only the stored setting: whether an invocation chain is stopped is the Lambda runtime's
business. Installed by the stack tests (in-process moto); the emulator's server seam serves the
same calls.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import unquote

_PATH = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/recursion-config/?$"
_VALUES = ("Allow", "Terminate")
_lock = threading.Lock()
_installed = False


def recursive_loop(fn: Any) -> str:
    """A moto `LambdaFunction`'s setting ("Terminate" until set)."""
    return str(getattr(fn, "_inventory_recursive_loop", "Terminate"))


def install() -> None:
    """Add both calls to moto's Lambda, once per process."""
    global _installed  # noqa: PLW0603 - a process-wide, idempotent switch is the point
    with _lock:
        if _installed:
            return
        from moto.awslambda import urls
        from moto.awslambda.exceptions import ValidationException
        from moto.awslambda.responses import LambdaResponse

        def _function(self: LambdaResponse) -> Any:
            name = unquote(re.split(r"/+", self.path.split("?")[0].rstrip("/"))[-2])
            return self.backend.get_function(name)  # UnknownFunctionException: 404 as on AWS

        def put_function_recursion_config(self: LambdaResponse) -> str:
            value = json.loads(self.body or "{}").get("RecursiveLoop")
            if value not in _VALUES:
                raise ValidationException(str(value), "RecursiveLoop", " or ".join(_VALUES))
            _function(self)._inventory_recursive_loop = value
            return json.dumps({"RecursiveLoop": value})

        def get_function_recursion_config(self: LambdaResponse) -> str:
            return json.dumps({"RecursiveLoop": recursive_loop(_function(self))})

        LambdaResponse.put_function_recursion_config = (  # type: ignore[attr-defined]
            put_function_recursion_config)
        LambdaResponse.get_function_recursion_config = (  # type: ignore[attr-defined]
            get_function_recursion_config)
        urls.url_paths.setdefault(_PATH, LambdaResponse.dispatch)
        _installed = True
