"""The executor: runs a plan step by step, with progress, and the retries real AWS needs.

A freshly created or changed IAM role is not usable by Lambda for several seconds (IAM is
eventually consistent): CreateFunction then fails with "The role defined for the function cannot
be assumed by Lambda", and a stream mapping with "Cannot access stream ... ensure the role can
perform ...". Those calls are retried with capped exponential backoff for about 150 seconds in
total, as chalice does; `sleep` is a parameter so tests take no time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from inventory_cli.aws import error_code
from inventory_cli.stack.compare import is_not_found
from inventory_cli.stack.errors import StepFailed
from inventory_cli.stack.instructions import APICall, EmptyBucket, Plan, Step, Wait, resolve

ClientFactory = Callable[[str], Any]
BeforeStep = Callable[[int, Step], None]

# Messages of InvalidParameterValueException that mean "the role has not propagated yet".
ROLE_NOT_READY_MESSAGES = (
    "cannot be assumed by Lambda",
    "Please ensure the role can perform",
    "execution role does not have permissions",
)


def backoff_delays(total: float = 150.0, first: float = 1.0,
                   cap: float = 15.0) -> tuple[float, ...]:
    """Delays doubling from `first` up to `cap`, adding up to at most `total` seconds."""
    delays: list[float] = []
    delay = first
    while sum(delays) + delay <= total:
        delays.append(delay)
        delay = min(delay * 2, cap)
    return tuple(delays)


ROLE_RETRY_DELAYS = backoff_delays()
# Waiters poll every 2 s for up to 5 minutes: Lambda and DynamoDB usually take seconds.
WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 150}


@dataclass
class ExecutionReport:
    applied: list[APICall | EmptyBucket] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    role_retries: int = 0


class Executor:
    def __init__(self, client: ClientFactory, *, console: Console,
                 sleep: Callable[[float], None] = time.sleep,
                 role_retry_delays: tuple[float, ...] = ROLE_RETRY_DELAYS,
                 waiter_config: Mapping[str, int] | None = None,
                 before_step: BeforeStep | None = None) -> None:
        self._client = client
        self._console = console
        self._sleep = sleep
        self._delays = role_retry_delays
        self._waiter_config = dict(waiter_config or WAITER_CONFIG)
        # Called with (index, step) before each step: progress hooks, and fault injection in tests.
        self._before_step = before_step

    def execute(self, plan: Plan) -> ExecutionReport:
        report = ExecutionReport()
        total = len(plan.steps)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   MofNCompleteColumn())
        with Progress(*columns, console=self._console, transient=True) as progress:
            task = progress.add_task("provisioning", total=total)
            for index, step in enumerate(plan.steps):
                progress.update(task, description=step.summary)
                if self._before_step is not None:
                    self._before_step(index, step)
                try:
                    self._run(step, report)
                except (ClientError, WaiterError) as exc:
                    raise StepFailed(
                        f"step {index + 1} of {total} failed ({step.summary}): {_reason(exc)}",
                        hint="the steps before it were applied; fix the cause and run the same "
                             "command again to continue") from exc
                if not isinstance(step, Wait):
                    report.applied.append(step)
                    progress.console.print(f"  [green]✓[/] {step.summary}")
                progress.advance(task)
        return report

    def _run(self, step: Step, report: ExecutionReport) -> None:
        if isinstance(step, APICall):
            self._call(step, report)
        elif isinstance(step, Wait):
            params = resolve(dict(step.params), report.variables)
            waiter = self._client(step.service).get_waiter(step.waiter)
            waiter.wait(**params, WaiterConfig=self._waiter_config)
        else:
            empty_bucket(self._client("s3"), step.bucket)

    def _call(self, step: APICall, report: ExecutionReport) -> None:
        params = resolve(dict(step.params), report.variables)
        method = getattr(self._client(step.service), step.method)
        delays = iter(self._delays if step.retry_while_role_propagates else ())
        while True:
            try:
                response = method(**params)
                break
            except ClientError as exc:
                delay = next(delays, None)
                if delay is None or not _role_not_ready(exc):
                    raise
                report.role_retries += 1
                self._sleep(delay)
        for name, path in step.outputs:
            value: Any = response
            for key in path:
                value = value[key]
            report.variables[name] = value


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of `bucket`; returns how many.

    Lists the first page again after each deletion instead of paginating: deleting under a
    paginator's feet skips entries, while "until nothing is listed" cannot.
    """
    deleted = 0
    while True:
        try:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        except ClientError as exc:
            if is_not_found(exc):
                return deleted
            raise
        entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if not entries:
            return deleted
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": entries, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise StepFailed(f"could not delete {first['Key']} from bucket {bucket}: "
                             f"{first.get('Code')}: {first.get('Message')}")
        deleted += len(entries)


def _role_not_ready(exc: ClientError) -> bool:
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) == "InvalidParameterValueException" and any(
        text in message for text in ROLE_NOT_READY_MESSAGES)


def _reason(exc: ClientError | WaiterError) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return str(exc)
