"""Transient AWS answers (inventory_cli.stack.transient): retried while they last, bounded, and
only for the call and error they belong to. Each AWS answer is reproduced with botocore's
Stubber (one call) or a before-call hook on the moto session (a whole provision)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.stack.errors import StepFailed
from inventory_cli.stack.executor import Executor
from inventory_cli.stack.instructions import APICall, Plan
from inventory_cli.stack.provision import provision
from inventory_cli.stack.transient import TRANSIENT, backoff_delays

ROLE_NOT_READY = "The role defined for the function cannot be assumed by Lambda."
BACKUPS_NOT_READY = ("Backups are being enabled for the table: shop-inventory. "
                     "Please retry later")
NOT_VALIDATED = "Unable to validate the following destination configurations"

PITR = APICall("table", "dynamodb", "update_continuous_backups",
               {"TableName": "shop-inventory", "PointInTimeRecoverySpecification": {
                   "PointInTimeRecoveryEnabled": True}},
               "turn on point-in-time recovery of table shop-inventory")
NOTIFY = APICall("uploads-notification", "s3", "put_bucket_notification_configuration",
                 {"Bucket": "up", "NotificationConfiguration": {}},
                 "notify shop-load-inventory of new .csv files in up")
BLOCK = APICall("dashboard-bucket", "s3", "put_public_access_block",
                {"Bucket": "dash", "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "IgnorePublicAcls": True,
                    "BlockPublicPolicy": False, "RestrictPublicBuckets": False}},
                "set the public access block of bucket dash")
POLICY = APICall("dashboard-bucket", "s3", "put_bucket_policy",
                 {"Bucket": "dash", "Policy": "{}"}, "set the policy of bucket dash")
CREATE = APICall("load-function", "lambda", "create_function",
                 {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
                  "Code": {"ZipFile": b"zip"}}, "create function f", creates=True)


def _client(service: str) -> Any:
    return boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x",
                                 region_name="us-east-1").client(service)


def _run(client: Any, plan: Plan, sleeps: list[float], out: io.StringIO | None = None
         ) -> Any:
    console = Console(file=out or io.StringIO(), width=200, color_system=None)
    return Executor(lambda _service: client, console=console, sleep=sleeps.append).execute(plan)


# (step, error code, message of the transient answer, a success response, bound in seconds)
CASES = [
    pytest.param(CREATE, "InvalidParameterValueException", ROLE_NOT_READY,
                 {"FunctionName": "f"}, 150, id="role-propagation"),
    pytest.param(PITR, "ContinuousBackupsUnavailableException", BACKUPS_NOT_READY,
                 {"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED"}}, 300,
                 id="pitr-after-create"),
    pytest.param(NOTIFY, "InvalidArgument", NOT_VALIDATED, {}, 120,
                 id="notification-after-add-permission"),
]


@pytest.mark.parametrize(("step", "code", "message", "success", "bound"), CASES)
def test_transient_answers_are_retried_until_the_call_succeeds(
        step: APICall, code: str, message: str, success: dict[str, Any], bound: float) -> None:
    client = _client(step.service)
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error(step.method, code, message, 400)
        stub.add_response(step.method, success)
        sleeps: list[float] = []
        out = io.StringIO()
        report = _run(client, Plan((step,)), sleeps, out)
        stub.assert_no_pending_responses()
    rule = TRANSIENT[(step.service, step.method)]
    assert sleeps == list(rule.delays[:3])
    assert (report.retries, report.waited_s) == (3, sum(sleeps))
    assert report.applied == [step]
    # The progress says that it waits, for what, and why.
    waiting = [line for line in out.getvalue().splitlines() if "waiting" in line]
    assert len(waiting) == 3
    assert waiting[0] == (f"  … waiting {sleeps[0]:g} s before retrying {step.summary}: "
                          f"{rule.why} ({code})")


@pytest.mark.parametrize(("step", "code", "message", "success", "bound"), CASES)
def test_transient_answers_give_up_after_the_bound_naming_the_step(
        step: APICall, code: str, message: str, success: dict[str, Any], bound: float) -> None:
    client = _client(step.service)
    rule = TRANSIENT[(step.service, step.method)]
    sleeps: list[float] = []
    with Stubber(client) as stub:
        for _ in range(len(rule.delays) + 1):
            stub.add_client_error(step.method, code, message, 400)
        with pytest.raises(StepFailed) as failed:
            _run(client, Plan((step,)), sleeps)
        stub.assert_no_pending_responses()
    assert bound - rule.max_delay_s < sum(sleeps) <= bound
    assert failed.value.message == (
        f"step 1 of 1 failed ({step.summary}): {code}: {message} (still failing after waiting "
        f"{sum(sleeps):g} s for it to pass: {rule.why})")
    assert "run the same command again" in (failed.value.hint or "")


@pytest.mark.parametrize(("step", "code", "message"), [
    pytest.param(CREATE, "InvalidParameterValueException",
                 "Unzipped size must be smaller than 262144000 bytes", id="same-code-other-text"),
    pytest.param(PITR, "TableNotFoundException", "Table not found: shop-inventory",
                 id="pitr-no-table"),
    pytest.param(NOTIFY, "InvalidArgument",
                 "Configuration is ambiguously defined. Cannot have overlapping suffixes in two "
                 "rules if the prefixes are overlapping for the same event type.",
                 id="notification-overlap"),
    pytest.param(POLICY, "AccessDenied", "Access Denied", id="policy-without-block-change"),
])
def test_other_answers_fail_at_once(step: APICall, code: str, message: str) -> None:
    client = _client(step.service)
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_client_error(step.method, code, message, 400)
        with pytest.raises(StepFailed) as failed:
            _run(client, Plan((step,)), sleeps)
        stub.assert_no_pending_responses()
    assert sleeps == []
    assert failed.value.message == f"step 1 of 1 failed ({step.summary}): {code}: {message}"


def test_bucket_policy_access_denied_is_retried_only_after_its_block_changed() -> None:
    client = _client("s3")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_response("put_public_access_block", {})
        stub.add_client_error("put_bucket_policy", "AccessDenied", "Access Denied", 403)
        stub.add_client_error("put_bucket_policy", "AccessDenied", "Access Denied", 403)
        stub.add_response("put_bucket_policy", {})
        report = _run(client, Plan((BLOCK, POLICY)), sleeps)
        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0]
    assert report.applied == [BLOCK, POLICY]

    # Still refused after the bound: the account's own block is the likely cause, and named.
    sleeps.clear()
    with Stubber(client) as stub:
        stub.add_response("put_public_access_block", {})
        for _ in range(len(TRANSIENT[("s3", "put_bucket_policy")].delays) + 1):
            stub.add_client_error("put_bucket_policy", "AccessDenied", "Access Denied", 403)
        with pytest.raises(StepFailed) as failed:
            _run(client, Plan((BLOCK, POLICY)), sleeps)
    assert 45 < sum(sleeps) <= 60
    assert "the account's S3 Block Public Access may forbid public bucket policies" in (
        failed.value.hint or "")

    # The block of ANOTHER bucket changed: this bucket's AccessDenied is a real refusal.
    other_block = APICall(BLOCK.resource, "s3", "put_public_access_block",
                          {**BLOCK.params, "Bucket": "uploads"}, "set the block of uploads")
    sleeps.clear()
    with Stubber(client) as stub:
        stub.add_response("put_public_access_block", {})
        stub.add_client_error("put_bucket_policy", "AccessDenied", "Access Denied", 403)
        with pytest.raises(StepFailed, match=r"^step 2 of 2 failed \(set the policy of bucket "
                                             r"dash\): AccessDenied: Access Denied$"):
            _run(client, Plan((other_block, POLICY)), sleeps)
    assert sleeps == []


def test_backoff_doubles_up_to_its_cap_within_the_total() -> None:
    assert backoff_delays(total=10, first=1, cap=4) == (1, 2, 4)
    role = TRANSIENT[("lambda", "create_function")]
    assert 140 <= sum(role.delays) <= 150 and max(role.delays) == 15.0


class _AwsAnswers:
    """A before-call hook: the first `times` calls of each operation get the given error."""

    def __init__(self, session: boto3.session.Session,
                 answers: dict[str, tuple[int, str, str, int]],
                 when: Callable[[str, dict[str, Any]], bool] = lambda _op, _p: True) -> None:
        self.left = {op: times for op, (times, _, _, _) in answers.items()}
        self.answers = answers
        self.when = when
        session.events.register("before-call", self._answer)

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        # `params` is the serialized request (url, body, ...), not the API parameters.
        op = model.name
        if self.left.get(op, 0) <= 0 or not self.when(op, params):
            return None
        self.left[op] -= 1
        # botocore takes a (http response, parsed response) returned here as the call's answer.
        _, code, message, status = self.answers[op]

        class _Http:
            status_code = status

        return _Http(), {"Error": {"Code": code, "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


def test_a_whole_provision_rides_out_each_transient_answer(session: boto3.session.Session,
                                                          moto_mock: None) -> None:
    aws = Aws(session, stack="shop")
    dashboard_bucket = aws.names.dashboard_bucket
    answers = _AwsAnswers(session, {
        "CreateFunction": (2, "InvalidParameterValueException", ROLE_NOT_READY, 400),
        "UpdateContinuousBackups": (2, "ContinuousBackupsUnavailableException",
                                    BACKUPS_NOT_READY, 400),
        "PutBucketNotificationConfiguration": (3, "InvalidArgument", NOT_VALIDATED, 400),
        "PutBucketPolicy": (2, "AccessDenied", "Access Denied", 403),
    }, when=lambda op, request: op != "PutBucketPolicy" or dashboard_bucket in str(
        request.get("url")))
    out = io.StringIO()
    sleeps: list[float] = []
    result = provision(aws, console=Console(file=out, width=300, color_system=None),
                       sleep=sleeps.append)
    assert answers.left == {"CreateFunction": 0, "UpdateContinuousBackups": 0,
                            "PutBucketNotificationConfiguration": 0, "PutBucketPolicy": 0}
    assert result.report is not None and result.report.retries == 9
    waits = [line.split(": ", 1)[1] for line in out.getvalue().splitlines() if "waiting" in line]
    assert waits == [
        *[TRANSIENT[("dynamodb", "update_continuous_backups")].why
          + " (ContinuousBackupsUnavailableException)"] * 2,
        *[TRANSIENT[("lambda", "create_function")].why
          + " (InvalidParameterValueException)"] * 2,
        *[TRANSIENT[("s3", "put_bucket_notification_configuration")].why
          + " (InvalidArgument)"] * 3,
        *[TRANSIENT[("s3", "put_bucket_policy")].why + " (AccessDenied)"] * 2,
    ]
    from inventory_cli.stack.status import stack_status

    assert stack_status(aws).complete
