"""The executor: runs a plan step by step, with progress, and the retries real AWS needs.

Real AWS answers some calls with an error that only means "not yet" (a role not yet assumable,
a permission not yet visible to S3, backups still being enabled). Which errors those are, for
which call, is kept in one table, `inventory_cli.stack.transient`; the executor consults it for
every APICall, retries with capped backoff while the answer matches, says in the progress that
it is waiting and why, and gives up once the rule's bound is spent. `sleep` is a parameter so
tests take no time.
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
from inventory_cli.stack import resources
from inventory_cli.stack.compare import is_not_found
from inventory_cli.stack.errors import StepFailed
from inventory_cli.stack.instructions import APICall, EmptyBucket, Plan, Step, Wait, resolve
from inventory_cli.stack.transient import TRANSIENT, TransientRule

ClientFactory = Callable[[str], Any]
BeforeStep = Callable[[int, Step], None]
TransientTable = Mapping[tuple[str, str], TransientRule]

# Waiters poll every 2 s for up to 5 minutes: Lambda and DynamoDB usually take seconds.
WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 150}


class _GaveUp(Exception):
    """A transient error outlasted its rule's bound (carries the last AWS answer)."""

    def __init__(self, error: ClientError, rule: TransientRule, waited: float) -> None:
        super().__init__(str(error))
        self.error, self.rule, self.waited = error, rule, waited


@dataclass
class ExecutionReport:
    applied: list[APICall | EmptyBucket] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    # Transient answers retried, and the seconds slept waiting for them.
    retries: int = 0
    waited_s: float = 0.0


class Executor:
    def __init__(self, client: ClientFactory, *, console: Console,
                 sleep: Callable[[float], None] = time.sleep,
                 transient: TransientTable = TRANSIENT,
                 waiter_config: Mapping[str, int] | None = None,
                 before_step: BeforeStep | None = None) -> None:
        self._client = client
        self._console = console
        self._sleep = sleep
        self._transient = transient
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
                    self._run(step, report, progress.console)
                except _GaveUp as exc:
                    raise StepFailed(
                        f"step {index + 1} of {total} failed ({step.summary}): "
                        f"{_reason(exc.error)} (still failing after waiting {exc.waited:g} s "
                        f"for it to pass: {exc.rule.why})",
                        hint="AWS usually settles within that time: run the same command again "
                             f"to continue; {exc.rule.if_it_persists}"
                    ) from exc.error
                except (ClientError, WaiterError) as exc:
                    raise StepFailed(
                        f"step {index + 1} of {total} failed ({step.summary}): {_reason(exc)}",
                        hint=_hint(step, exc)) from exc
                if not isinstance(step, Wait):
                    report.applied.append(step)
                    progress.console.print(f"  [green]✓[/] {step.summary}")
                progress.advance(task)
        return report

    def _run(self, step: Step, report: ExecutionReport, console: Console) -> None:
        if isinstance(step, APICall):
            self._call(step, report, console)
        elif isinstance(step, Wait):
            params = resolve(dict(step.params), report.variables)
            waiter = self._client(step.service).get_waiter(step.waiter)
            waiter.wait(**params, WaiterConfig=self._waiter_config)
        else:
            empty_bucket(self._client("s3"), step.bucket)

    def _call(self, step: APICall, report: ExecutionReport, console: Console) -> None:
        params = resolve(dict(step.params), report.variables)
        method = getattr(self._client(step.service), step.method)
        rule = self._rule(step, report)
        delays = iter(rule.delays if rule is not None else ())
        waited = 0.0
        while True:
            try:
                response = method(**params)
                break
            except ClientError as exc:
                if rule is None or not rule.matches(error_code(exc), _message(exc)):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise _GaveUp(exc, rule, waited) from exc
                report.retries += 1
                console.print(f"  [yellow]…[/] waiting {delay:g} s before retrying "
                              f"{step.summary}: {rule.why} ({error_code(exc)})",
                              soft_wrap=True)
                self._sleep(delay)
                waited += delay
                report.waited_s += delay
        for name, path in step.outputs:
            value: Any = response
            for key in path:
                value = value[key]
            report.variables[name] = value

    def _rule(self, step: APICall, report: ExecutionReport) -> TransientRule | None:
        """The transient-error rule that applies to `step` in this run, if any."""
        rule = self._transient.get((step.service, step.method))
        if rule is None or rule.only_after is None:
            return rule
        after = rule.only_after
        ran_before = any(isinstance(done, APICall) and done.service == after.service
                         and done.method == after.method
                         and done.params.get(after.same) == step.params.get(after.same)
                         for done in report.applied)
        return rule if ran_before else None


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


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _reason(exc: ClientError | WaiterError) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        message = str(err.get("Message", ""))
        if message.lstrip().startswith("<"):  # an endpoint's HTML error page, not an AWS answer
            message = f"the endpoint answered HTTP {_status(exc)} with an HTML page"
        return f"{err.get('Code', 'Error')}: {message}".rstrip(": ")
    return str(exc) + _failed_state(exc)


def _failed_state(exc: WaiterError) -> str:
    """Why a resource a waiter watched ended in a failed state, as AWS says it (a function's
    StateReason or LastUpdateStatusReason)."""
    answer = exc.last_response if isinstance(exc.last_response, dict) else {}
    config = answer.get("Configuration", answer)
    for state, reason, code in (("State", "StateReason", "StateReasonCode"),
                                ("LastUpdateStatus", "LastUpdateStatusReason",
                                 "LastUpdateStatusReasonCode")):
        if config.get(state) == "Failed" and config.get(reason):
            suffix = f" ({config[code]})" if config.get(code) else ""
            return f"; {state} Failed: {config[reason]}{suffix}"
    return ""


# Answers of an endpoint that lacks an API (LocalStack's free edition and a plain moto server
# have no Cognito identity pool roles).
_UNSUPPORTED_CODES = {"NotImplemented", "NotImplementedException", "UnknownOperationException",
                      "InternalFailure", "InternalError", "500", "501"}


def _hint(step: Step, exc: ClientError | WaiterError) -> str:
    if isinstance(exc, ClientError) and error_code(exc) == "PublicPolicyException":
        # The account's BlockPublicAccess setting refuses a public function policy (Lambda API
        # reference, AddPermission, Errors: PublicPolicyException,
        # https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html; the developer
        # guide's "Block public access to Lambda resources").
        return ("this account blocks public Lambda function policies, and the stores' upload "
                "endpoint is a public function URL (each request is checked against a store's "
                "key inside): either allow public function policies for this account (Lambda's "
                "Block Public Access settings, or the organization policy that denies function "
                "URLs with AuthType NONE), or go without the store endpoint: everything planned "
                "before this step is in place, and `inventory upload` still loads files")
    if (step.resource in resources.DASHBOARD_RESOURCE_IDS and isinstance(exc, ClientError)
            and (error_code(exc) in _UNSUPPORTED_CODES or _status(exc) >= 500)):
        return ("this endpoint does not seem to support the dashboard's Cognito identity pool: "
                "provision without the dashboard, `inventory provision --no-dashboard`")
    return ("the steps before it were applied; fix the cause and run the same command again "
            "to continue")


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
