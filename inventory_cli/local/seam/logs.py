"""CloudWatch Logs in moto: where the runtime writes each invocation's log, and what IAM sees of
a Logs request.

Lambda writes a function's log with the function's execution role: without
logs:CreateLogStream and logs:PutLogEvents on its log group (and logs:CreateLogGroup where the
group does not exist) the lines are lost, while the function itself runs (Lambda Developer
Guide, "Sending Lambda function logs to CloudWatch Logs"). The sink does the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inventory_cli.local.seam import iam

if TYPE_CHECKING:
    from inventory_cli.local.lambda_worker import RuntimeFunction

logger = logging.getLogger(__name__)


def log_group_arn(region: str, account_id: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{group}"


# -- CloudWatch Logs for function output -------------------------------------------------------

class MotoLogSink:
    """Writes invocation logs into moto's CloudWatch Logs, creating group and stream as needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: set[tuple[str, str]] = set()

    def write(self, spec: RuntimeFunction, stream: str, events: Sequence[tuple[int, str]]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[spec.account_id][spec.region]
        with self._lock:
            if not self._role_may_write(spec, stream, backend):
                return
            backend.ensure_log_group(spec.log_group)
            backend.ensure_log_stream(spec.log_group, stream)
            backend.put_log_events(spec.log_group, stream,
                                   [{"timestamp": t, "message": m} for t, m in events])

    def _role_may_write(self, spec: RuntimeFunction, stream: str, backend: Any) -> bool:
        session = iam.session_of_credentials(spec.credentials) if iam.enforcing() else None
        if session is None:
            return True
        group = log_group_arn(spec.region, spec.account_id, spec.log_group)
        wants = [iam.Want("logs:CreateLogStream", f"{group}:log-stream:{stream}"),
                 iam.Want("logs:PutLogEvents", f"{group}:log-stream:{stream}")]
        if spec.log_group not in backend.groups:
            wants.insert(0, iam.Want("logs:CreateLogGroup", group))
        refusal = iam.first_refusal(session, wants)
        if refusal is None:
            self._refused.discard((spec.arn, spec.log_group))
            return True
        if (spec.arn, spec.log_group) not in self._refused:  # once, not for every invocation
            self._refused.add((spec.arn, spec.log_group))
            logger.warning("the log of %s is lost: %s", spec.name, refusal.message)
        return False


# -- role enforcement ---------------------------------------------------------------------------

def iam_wants(response: Any, _resource: str) -> list[iam.Want]:
    """The permission a Logs request needs: its action on the group (and stream) it names."""
    action = str(response._get_action() or "")
    group = response._get_param("logGroupName")
    if not group:
        return [iam.Want(f"logs:{action}", "*")]
    arn = log_group_arn(response.region, response.current_account, str(group))
    stream = response._get_param("logStreamName")
    return [iam.Want(f"logs:{action}", f"{arn}:log-stream:{stream}" if stream else f"{arn}:*")]


def install_role_checks() -> None:
    # CloudWatch Logs answers a refusal with HTTP 400 AccessDeniedException.
    iam.register_service("LogsResponse", iam_wants,
                         iam.json_refusal("AccessDeniedException", 400))
