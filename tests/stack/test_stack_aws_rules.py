"""Rules AWS enforces that the stack must meet (each names its documentation page in
docs/stack.md): the two public permissions of a function URL, ListBucket beside PutObject for
S3 failure destinations, an account that blocks public function policies, a function AWS
reports as Failed. moto does not enforce these; where it cannot show AWS's answer, a botocore
before-call hook gives it."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from rich.console import Console
from stack_fixtures import fresh_aws, provisioned

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.stack import resources as r
from inventory_cli.stack.errors import StepFailed
from inventory_cli.stack.kinds.awslambda import _permission_steps
from inventory_cli.stack.model import EventInvokeConfigSpec, FunctionSpec, MappingSpec
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import teardown

NAMES = StackNames(stack="shop", account_id="123456789012", region="eu-central-1")
FUNCTION_ARN = "arn:aws:lambda:eu-central-1:123456789012:function:shop-store-upload"


def _url_spec() -> Any:
    specs = r.stack_resources_of(NAMES)
    return next(spec for spec in specs if spec.id == "store-upload-url")


# ---- function URLs: two public permissions ---------------------------------------------------

def _aws_statements() -> dict[str, dict[str, Any]]:
    """The two statements as AWS's GetPolicy shows them (the AddPermission parameters become
    conditions)."""
    return {
        r.FUNCTION_URL_SID: {
            "Sid": r.FUNCTION_URL_SID, "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl", "Resource": FUNCTION_ARN,
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}},
        r.FUNCTION_URL_INVOKE_SID: {
            "Sid": r.FUNCTION_URL_INVOKE_SID, "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN,
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}},
    }


def test_both_url_permissions_as_aws_shows_them_are_not_drift() -> None:
    assert _permission_steps(_url_spec(), _aws_statements(), new=False) == []


def test_a_missing_invoke_permission_is_planned_with_the_url_condition() -> None:
    statements = _aws_statements()
    del statements[r.FUNCTION_URL_INVOKE_SID]
    steps = _permission_steps(_url_spec(), statements, new=False)
    assert [(s.method, dict(s.params)) for s in steps] == [  # type: ignore[union-attr]
        ("add_permission", {"FunctionName": "shop-store-upload",
                            "StatementId": r.FUNCTION_URL_INVOKE_SID,
                            "Action": "lambda:InvokeFunction", "Principal": "*",
                            "InvokedViaFunctionUrl": True})]


@pytest.mark.parametrize("sid", [r.FUNCTION_URL_INVOKE_SID, "someone-elses"])
def test_a_public_invoke_without_the_url_condition_is_removed(sid: str) -> None:
    statements = _aws_statements()
    statements[sid] = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN}
    steps = _permission_steps(_url_spec(), statements, new=False)
    calls = [(s.method, s.params["StatementId"]) for s in steps]  # type: ignore[union-attr]
    assert ("remove_permission", sid) in calls
    # Whatever is added back is limited to the URL.
    assert all(s.params.get("InvokedViaFunctionUrl") is True  # type: ignore[union-attr]
               for s in steps if s.method == "add_permission"  # type: ignore[union-attr]
               and s.params["Action"] == "lambda:InvokeFunction")  # type: ignore[union-attr]


def test_url_permissions_are_provisioned_drift_checked_and_repaired(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    lam = session.client("lambda")
    function = aws.names.store_upload_function
    assert stack_status(aws).complete

    lam.remove_permission(FunctionName=function, StatementId=r.FUNCTION_URL_INVOKE_SID)
    lam.add_permission(FunctionName=function, StatementId="open", Action="lambda:InvokeFunction",
                       Principal="*")
    status = {s.resource: s for s in stack_status(fresh_aws(session, aws.stack)).resources}
    assert status["store-upload-url"].state == "drifted"
    assert "only those, to invoke it" in status["store-upload-url"].detail
    assert "remove the public (not limited to the URL) invoke permission open" in status[
        "store-upload-url"].detail

    repaired = provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    assert [(s.resource, getattr(s, "method", "")) for s in repaired.plan.changes] == [
        ("store-upload-url", "add_permission"), ("store-upload-url", "remove_permission")]
    assert stack_status(fresh_aws(session, aws.stack)).complete


# ---- S3 failure destinations need ListBucket too ---------------------------------------------

def test_every_role_whose_function_keeps_failures_may_put_and_list() -> None:
    specs = r.stack_resources_of(NAMES)
    keeping = {spec.function for spec in specs
               if isinstance(spec, EventInvokeConfigSpec | MappingSpec)}
    roles = {spec.role for spec in specs
             if isinstance(spec, FunctionSpec) and spec.name in keeping}
    assert roles == {NAMES.load_role, NAMES.check_role, NAMES.summarize_role}
    failures = f"arn:aws:s3:::{NAMES.failures_bucket}"
    for role in r.lambda_roles(NAMES):
        if role.name not in roles:
            continue
        granted = {(str(s["Action"]), str(s["Resource"])) for s in role.policy["Statement"]}
        assert ("s3:PutObject", f"{failures}/*") in granted, role.name
        assert ("s3:ListBucket", failures) in granted, role.name


# ---- an account that blocks public function policies ----------------------------------------

def _refuse_public_policies(session: boto3.session.Session) -> None:
    """AddPermission with a public principal answers as AWS does when the account blocks
    public function policies (others, like S3's, pass)."""
    def answer(model: Any, params: dict[str, Any], **_: Any) -> Any:
        # `params` is the serialized request: its body is the JSON AddPermission sends.
        if model.name != "AddPermission" or json.loads(params["body"])["Principal"] != "*":
            return None

        class _Http:
            status_code = 400

        return _Http(), {"Error": {"Code": "PublicPolicyException", "Message": (
            "Lambda prevented your policy from being created because it would grant public "
            "access to your function.")}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    session.events.register("before-call.lambda", answer)


def test_public_policy_refused_names_the_choice(session: boto3.session.Session,
                                                moto_mock: None) -> None:
    aws = Aws(session, stack="shop")
    _refuse_public_policies(session)
    with pytest.raises(StepFailed) as failed:
        provision(aws, sleep=lambda _: None,
                  console=Console(file=io.StringIO(), color_system=None))
    assert "allow anyone to call the URL of shop-store-upload" in str(failed.value)
    assert "PublicPolicyException" in str(failed.value)
    hint = failed.value.hint or ""
    assert "blocks public Lambda function policies" in hint
    assert "either allow public function policies for this account" in hint
    assert "or go without the store endpoint" in hint


# ---- a function AWS reports as Failed --------------------------------------------------------

FAILED_REASON = "The function could not be created: the KMS key is disabled."


def _report_failed(session: boto3.session.Session, function: str) -> None:
    """GetFunction answers for `function` as AWS does for a function whose creation failed
    (moto's functions are always Active)."""
    def answer(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        config = parsed.get("Configuration", {})
        if model.name == "GetFunction" and config.get("FunctionName") == function:
            config.update({"State": "Failed", "StateReason": FAILED_REASON,
                           "StateReasonCode": "KMSKeyNotFound"})

    session.events.register("after-call.lambda", answer)


def test_a_failed_function_is_not_ok_in_status_with_aws_reason(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    _report_failed(session, aws.names.load_function)
    status = {s.resource: s for s in stack_status(fresh_aws(session, aws.stack)).resources}
    assert status["load-function"].state == "drifted"
    assert (f"which Lambda reports as Failed: {FAILED_REASON} (KMSKeyNotFound)"
            in status["load-function"].detail)
    assert not stack_status(fresh_aws(session, aws.stack)).complete
    # Only the function is recreated; what hangs on it is made anew, the mapping-free
    # loader's S3 wiring included.
    assert {s.resource for s in stack_status(fresh_aws(session, aws.stack)).resources
            if s.state != "ok"} == {"load-function", "load-failure-destination",
                                    "load-recursion", "s3-invoke-permission"}


def test_provision_names_the_failed_state_and_its_reason(session: boto3.session.Session,
                                                         aws: Aws) -> None:
    provisioned(aws)
    _report_failed(session, aws.names.load_function)
    with pytest.raises(StepFailed) as failed:
        provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    message = str(failed.value)
    assert f"wait until function {aws.names.load_function} is active" in message
    assert f"State Failed: {FAILED_REASON} (KMSKeyNotFound)" in message


# ---- recursive loop detection ----------------------------------------------------------------

def test_the_loader_may_recurse_and_that_is_drift_checked(session: boto3.session.Session,
                                                          aws: Aws) -> None:
    provisioned(aws)
    lam = session.client("lambda")
    loader = aws.names.load_function
    assert lam.get_function_recursion_config(FunctionName=loader)["RecursiveLoop"] == "Allow"
    # Only the loader hands over to itself.
    for other in (aws.names.check_function, aws.names.summarize_function,
                  aws.names.store_upload_function):
        assert lam.get_function_recursion_config(FunctionName=other)["RecursiveLoop"] == (
            "Terminate")

    lam.put_function_recursion_config(FunctionName=loader, RecursiveLoop="Terminate")
    status = {s.resource: s for s in stack_status(fresh_aws(session, aws.stack)).resources}
    assert (status["load-recursion"].state, status["load-recursion"].detail) == (
        "drifted", f"set the recursive loop handling of {loader} back to Allow (it is "
                   "Terminate)")
    repaired = provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    assert [(s.resource, getattr(s, "method", "")) for s in repaired.plan.changes] == [
        ("load-recursion", "put_function_recursion_config")]
    assert lam.get_function_recursion_config(FunctionName=loader)["RecursiveLoop"] == "Allow"


def test_an_endpoint_without_recursion_config_gets_none(session: boto3.session.Session,
                                                        moto_mock: None) -> None:
    """An emulator that lacks the calls has no loop detection to switch off: provision and
    status go on without them (moto's own answer to an unknown call)."""
    calls: list[str] = []

    def unknown(model: Any, **_: Any) -> Any:
        calls.append(model.name)
        if "RecursionConfig" not in model.name:
            return None

        class _Http:
            status_code = 404

        return _Http(), {"Error": {"Code": "404", "Message": "Not yet implemented"},
                         "ResponseMetadata": {"HTTPStatusCode": 404}}

    session.events.register("before-call.lambda", unknown)
    aws = Aws(session, stack="shop")
    result = provision(aws, sleep=lambda _: None)
    assert "put_function_recursion_config" not in {
        getattr(s, "method", "") for s in result.plan.steps}
    assert "GetFunctionRecursionConfig" in calls
    status = stack_status(fresh_aws(session, "shop"))
    assert status.complete
    assert "load-recursion" not in {s.resource for s in status.resources}
    # Nothing of it counts as existing once the stack is gone.
    teardown(fresh_aws(session, "shop"))
    assert not stack_status(fresh_aws(session, "shop")).exists
