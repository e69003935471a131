"""How long an invocation may still work, and handing the rest of a load to a new invocation.

Lambda ends an invocation at its timeout whatever it is doing. The loader stops taking new rows
once `TimeBudget.short()` (the remaining time is below a margin), saves a checkpoint, and invokes
its own function asynchronously (`InvocationType=Event`, the role may invoke only its own ARN)
with an event that names the checkpoint. The margin covers what is left to do after that:
waiting for the batches in flight, writing the checkpoint, the invoke call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# The share of the invocation's time kept back, bounded: 30% of 5 s is 1.5 s, of 30 s 9 s, and
# never more than 10 s (a 60 s loader works 50 s an invocation).
MARGIN_SHARE = 0.3
MIN_MARGIN_MS = 1000
MAX_MARGIN_MS = 10_000
# The writer keeps retrying throttled items until this share of the margin is left.
WRITER_STOP_SHARE = 0.6

# The key of a continuation event; S3 events never have it.
CONTINUATION_FIELD = "inventory_continuation"
# A load may hand over this often in a row (`hops` in the continuation event). A chain that
# has not finished by then (at a 60 s timeout, over two and a half hours of loading; 1,000,000
# rows take a dozen) is not going to: it ends as a kept failure of its file instead of running
# on. `inventory retry` of that failure goes on from the last checkpoint with a new allowance.
# Lambda's own recursive loop detection stops such a chain after 16 invocations unless the
# function's recursion config is Allow (Lambda developer guide, "Use Lambda recursive loop
# detection to prevent infinite loops"); the stack sets Allow and this bound takes its place.
MAX_HAND_OVERS = 200


class LoadCannotFinish(RuntimeError):
    """A chain of hand-overs reached `MAX_HAND_OVERS`: the invocation fails on purpose, so that
    Lambda keeps the continuation event (which names the file) as a failure."""


@dataclass(frozen=True)
class TimeBudget:
    remaining_ms: Callable[[], int]
    margin_ms: int

    @classmethod
    def of(cls, context: Any) -> TimeBudget | None:
        """The budget of a Lambda context; None without one (a test, a script: no limit)."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return None
        total = int(remaining())
        margin = int(min(MAX_MARGIN_MS, max(MIN_MARGIN_MS, total * MARGIN_SHARE)))
        return cls(remaining, min(margin, total // 2))

    def short(self) -> bool:
        """Time to stop taking rows and hand over."""
        return self.remaining_ms() < self.margin_ms

    def writer_should_stop(self) -> bool:
        """Time to stop retrying throttled items; they go into the checkpoint instead."""
        return self.remaining_ms() < self.margin_ms * WRITER_STOP_SHARE


HandOver = Callable[[Mapping[str, Any]], None]


def invoke_self(lambda_client: Any, function_arn: str) -> HandOver:
    """A hand-over that starts a new asynchronous invocation of this function with an event."""

    def hand_over(event: Mapping[str, Any]) -> None:
        answer = lambda_client.invoke(FunctionName=function_arn, InvocationType="Event",
                                      Payload=json.dumps(event).encode("utf-8"))
        if int(answer.get("StatusCode", 0)) != 202:
            raise RuntimeError(f"Lambda did not queue the continuation of the load "
                               f"(status {answer.get('StatusCode')})")

    return hand_over
