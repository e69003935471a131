"""Lambda's metrics on the emulator: each invocation record becomes the `AWS/Lambda` datapoints
AWS would publish for it, in the emulator's CloudWatch (dimension `FunctionName`).

What AWS publishes per invocation (Lambda Developer Guide, "Types of metrics for Lambda
functions": https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):
- Invocations: 1 for every invocation that ran, failed or not; a throttled one is not counted.
- Errors: 1 when the function failed (raised, timed out, could not start), else 0; an answer
  with `batchItemFailures` is a success and counts 0.
- Throttles: 1 for an invocation refused for want of concurrency. The emulator also writes 0
  for every invocation that ran, so a Sum reads 0 rather than missing (the alarms treat missing
  as not breaching, so either reads the same).
- Duration: milliseconds the handler ran (not for a throttled invocation).
- IteratorAge: for stream batches only, milliseconds between the newest record's arrival in
  the stream and Lambda reading the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from inventory_cli.local.invocation_records import InvocationRecord
from inventory_cli.local.seam.cloudwatch import Datapoint

NAMESPACE = "AWS/Lambda"
Put = Callable[[str, str, Sequence[Datapoint]], None]


def lambda_datapoints(record: InvocationRecord) -> list[Datapoint]:
    """The datapoints Lambda publishes for one invocation."""
    dimensions = (("FunctionName", record.function_name),)

    def point(metric: str, value: float, unit: str) -> Datapoint:
        return Datapoint(NAMESPACE, metric, dimensions, float(value), record.finished_at, unit)

    if record.throttled:
        return [point("Throttles", 1, "Count")]
    points = [point("Invocations", 1, "Count"), point("Errors", 0 if record.ok else 1, "Count"),
              point("Throttles", 0, "Count"),
              point("Duration", record.duration_ms, "Milliseconds")]
    if record.iterator_age_ms is not None:
        points.append(point("IteratorAge", record.iterator_age_ms, "Milliseconds"))
    return points


def _account_and_region(function_arn: str) -> tuple[str, str]:
    # arn:aws:lambda:<region>:<account>:function:<name>
    parts = function_arn.split(":")
    return parts[4], parts[3]


class LambdaMetrics:
    """An `InvocationRecords` listener writing each record's datapoints through `put`
    (default: into moto's CloudWatch, through the seam)."""

    def __init__(self, put: Put | None = None) -> None:
        if put is None:
            from inventory_cli.local.seam.cloudwatch import put_datapoints

            put = put_datapoints
        self._put = put

    def __call__(self, record: InvocationRecord) -> None:
        account_id, region = _account_and_region(record.function_arn)
        self._put(account_id, region, lambda_datapoints(record))
