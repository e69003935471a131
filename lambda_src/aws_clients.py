"""boto3 clients for the handlers: created on first use, then reused by later invocations.

Nothing here runs at import time, so importing a handler needs no AWS (tests start their mock
first). boto3 clients are thread-safe, so the loader's writer threads share one.

The functions run on the SDK the Lambda runtime bundles, whose version "depends on the runtime
version and your AWS Region" (Lambda developer guide, "Building Lambda functions with Python",
Runtime-included SDK versions). A client is checked when it is made (the first use in an
execution environment, so at cold start): an SDK without a parameter the code relies on fails
the invocation with one `sdk_too_old` line naming the release needed, instead of botocore's
own "Unknown parameter" in the middle of a load.
"""

from __future__ import annotations

import threading
from typing import Any

from lambda_src.structured_log import log_event

# The loader keeps up to this many requests in flight; the connection pool must not be smaller.
MAX_POOL_CONNECTIONS = 16

# Parameters newer than some runtime-bundled SDKs: service -> operation -> (parameter, the first
# botocore release whose model has it). PutObject's If-None-Match (S3 conditional writes, August
# 2024) creates each load checkpoint only once (load_checkpoint.save).
REQUIRED_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "s3": {"PutObject": ("IfNoneMatch", "1.35.2")},
}

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    """The cached client for `service` (region and endpoint from the Lambda environment)."""
    with _lock:
        existing = _clients.get(service)
        if existing is None:
            import boto3
            from botocore.config import Config

            # Standard retry mode backs off on throttling and 5xx answers, per request.
            config = Config(retries={"mode": "standard", "max_attempts": 6},
                            max_pool_connections=MAX_POOL_CONNECTIONS)
            existing = boto3.client(service, config=config)
            check_sdk(existing, service)
            _clients[service] = existing
        return existing


def bounded_client(service: str) -> Any:
    """A client whose every request ends within a few seconds of being sent: one attempt, short
    timeouts. For writes that must not land later than the caller allows (the summaries'
    unconditional cell writes: update_summaries.FAST_WINDOW_S); the caller retries itself."""
    key = service + "/bounded"
    with _lock:
        existing = _clients.get(key)
        if existing is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": 1},
                            connect_timeout=3, read_timeout=5,
                            max_pool_connections=MAX_POOL_CONNECTIONS)
            existing = boto3.client(service, config=config)
            _clients[key] = existing
        return existing


class SdkTooOld(RuntimeError):
    """The runtime's SDK lacks a parameter the function's code relies on."""


def check_sdk(made: Any, service: str) -> None:
    """Raise SdkTooOld (after logging `sdk_too_old`) if the client's model lacks a parameter
    of REQUIRED_PARAMETERS."""
    import botocore

    for operation, (parameter, release) in REQUIRED_PARAMETERS.get(service, {}).items():
        shape = made.meta.service_model.operation_model(operation).input_shape
        if shape is not None and parameter in shape.members:
            continue
        found = str(getattr(botocore, "__version__", "unknown"))
        log_event("sdk_too_old", service=service, operation=operation, parameter=parameter,
                  needed=f"botocore >= {release}", found=found)
        raise SdkTooOld(f"the runtime's SDK (botocore {found}) has no {parameter} for "
                        f"{service} {operation}; this function needs botocore >= {release} "
                        f"(boto3 >= {release})")


def reset_clients() -> None:
    """Forget cached clients (tests: each test starts its own mock)."""
    with _lock:
        _clients.clear()
