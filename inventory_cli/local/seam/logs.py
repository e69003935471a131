"""CloudWatch Logs in moto: where the runtime writes each invocation's log."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory_cli.local.lambda_worker import FunctionSpec


# -- CloudWatch Logs for function output -------------------------------------------------------

class MotoLogSink:
    """Writes invocation logs into moto's CloudWatch Logs, creating group and stream as needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, spec: FunctionSpec, stream: str, events: Sequence[tuple[int, str]]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[spec.account_id][spec.region]
        with self._lock:
            backend.ensure_log_group(spec.log_group)
            backend.ensure_log_stream(spec.log_group, stream)
            backend.put_log_events(spec.log_group, stream,
                                   [{"timestamp": t, "message": m} for t, m in events])
