"""boto3 clients for the handlers: created on first use, then reused by later invocations.

Nothing here runs at import time, so importing a handler needs no AWS (tests start their mock
first). boto3 clients are thread-safe, so the loader's writer threads share one.
"""

from __future__ import annotations

import threading
from typing import Any

# The loader keeps up to this many requests in flight; the connection pool must not be smaller.
MAX_POOL_CONNECTIONS = 16

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
            _clients[service] = existing
        return existing


def reset_clients() -> None:
    """Forget cached clients (tests: each test starts its own mock)."""
    with _lock:
        _clients.clear()
