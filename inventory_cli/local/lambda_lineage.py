"""The chain of requests an invocation belongs to, as Lambda's recursive loop detection sees it.

AWS Lambda's guide ("Use Lambda recursive loop detection to prevent infinite loops") and the AWS
Compute Blog post that announced it ("Detecting and stopping recursive loops in AWS Lambda
functions"): Lambda tracks a chain of requests through the X-Ray trace header
(`X-Amzn-Trace-Id`) that the AWS SDK sends on every call made from inside a function (the SDK
copies the `_X_AMZN_TRACE_ID` environment variable the runtime sets for each invocation;
botocore's `add_recursion_detection_header`). When the same function has been invoked 16 times
in one chain (through SQS, SNS, S3 or a direct Invoke), the next invocation is stopped with
`RecursiveInvocationException`; an asynchronous one goes to the function's dead-letter queue or
on-failure destination. A function whose recursion config is `Allow` is never stopped.

The emulator carries the chain in the same header: `Root=...;Parent=...;Sampled=0;Lineage=...`,
where `Lineage` lists, per function of the chain (a short hash of its ARN), how many times it
was invoked: `Lineage=1a2b3c4d:3,5e6f7a8b:1`. AWS does not document that field's format; only
the emulator reads it. This module is plain data: no moto, no processes.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

# Invocations of one function in one chain that Lambda lets run; the next one is stopped.
MAX_CHAIN_INVOCATIONS = 16
TRACE_HEADER = "X-Amzn-Trace-Id"
# What the runtime sets per invocation and the SDK sends on as TRACE_HEADER.
TRACE_ENV = "_X_AMZN_TRACE_ID"
STOP_ERROR = "RecursiveInvocationException"


def function_key(function_arn: str) -> str:
    """A function's short name in the Lineage field (its unqualified ARN, hashed)."""
    base = ":".join(function_arn.split(":")[:7])
    return hashlib.sha256(base.encode()).hexdigest()[:8]


def _new_root() -> str:
    # X-Ray's trace id: version 1, the time in hex seconds, 96 random bits.
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True)
class Lineage:
    """One chain: its root trace id and how often each function was invoked in it."""

    root: str = field(default_factory=_new_root)
    counts: tuple[tuple[str, int], ...] = ()

    def count(self, function_arn: str) -> int:
        return dict(self.counts).get(function_key(function_arn), 0)

    def after(self, function_arn: str) -> Lineage:
        """The chain once `function_arn` has been invoked once more."""
        counts = dict(self.counts)
        key = function_key(function_arn)
        counts[key] = counts.get(key, 0) + 1
        return Lineage(self.root, tuple(sorted(counts.items())))

    def header(self) -> str:
        """The trace header value an invocation in this chain sees (and its SDK sends on)."""
        lineage = ",".join(f"{key}:{count}" for key, count in self.counts)
        parent = uuid.uuid4().hex[:16]
        return f"Root={self.root};Parent={parent};Sampled=0;Lineage={lineage}"


def parse(header: str | None) -> Lineage | None:
    """The chain a request's trace header names; None without a header (a new chain)."""
    if not header:
        return None
    fields: dict[str, str] = {}
    for part in unquote(header).split(";"):
        name, _, value = part.partition("=")
        fields[name.strip().lower()] = value.strip()
    root = fields.get("root")
    if not root:
        return None
    counts: dict[str, int] = {}
    for entry in filter(None, fields.get("lineage", "").split(",")):
        key, _, number = entry.rpartition(":")
        try:
            counts[key] = max(counts.get(key, 0), int(number))
        except ValueError:
            continue  # not ours: a lineage we cannot read starts no count
    return Lineage(root, tuple(sorted(counts.items())))


class RecursionStopped(Exception):
    """Lambda's loop detection stopped an invocation before it ran."""

    error_type = STOP_ERROR

    def __init__(self, function_name: str, count: int) -> None:
        self.function_name, self.count = function_name, count
        super().__init__(
            f"Lambda stopped the invocation of {function_name}: it would have been invocation "
            f"{count} of that function in one chain of requests, over the {MAX_CHAIN_INVOCATIONS} "
            f"that recursive loop detection allows (the function's recursion config is "
            f"Terminate; PutFunctionRecursionConfig RecursiveLoop=Allow turns the stop off)")


# The chain of the request this thread is serving (set by the emulator for each request it
# receives, so an invocation that request causes continues the caller's chain).
_request = threading.local()


def set_request_lineage(lineage: Lineage | None) -> None:
    _request.lineage = lineage


def request_lineage() -> Lineage | None:
    lineage: Lineage | None = getattr(_request, "lineage", None)
    return lineage
