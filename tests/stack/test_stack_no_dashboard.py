"""`provision --no-dashboard`, the account's S3 Block Public Access, and the note about a new
bucket notification: what a first run on a real account needs (in-process moto)."""

from __future__ import annotations

import boto3
import pytest
from stack_fixtures import CallRecorder, fresh_aws, leftovers
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app
from inventory_cli.stack import resources as r
from inventory_cli.stack.account import AccountBlocksPublicDashboard
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import teardown

ACCOUNT = "123456789012"


def _run(aws: Aws, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), obj=aws)
    return result.exit_code, result.stdout, result.stderr


def _dashboard_things(session: boto3.session.Session, aws: Aws) -> list[str]:
    dashboard = aws.names.dashboard_bucket
    return [thing for thing in leftovers(session, aws.names)
            if "identity pool" in thing or dashboard in thing
            or aws.names.dashboard_role in thing]


def test_no_dashboard_stack_has_none_and_remembers_it(session: boto3.session.Session,
                                                      aws: Aws) -> None:
    code, out, _ = _run(aws, "provision", "--no-dashboard")
    assert code == 0
    assert "  Dashboard            none (--no-dashboard)" in out.splitlines()
    assert _dashboard_things(session, aws) == []
    arn = session.client("dynamodb").describe_table(TableName=aws.names.table)["Table"][
        "TableArn"]
    tags = session.client("dynamodb").list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert {"Key": "inventory:dashboard", "Value": "off"} in tags

    # Later runs read the choice back from the table: no flag, no change, still no dashboard.
    again = provision(fresh_aws(session, "inventory"))
    assert again.plan.is_empty and not again.dashboard

    status = stack_status(aws)
    assert [s.resource for s in status.resources] == [
        rid for rid in r.RESOURCE_IDS if rid not in r.DASHBOARD_RESOURCE_IDS]
    assert status.complete and not status.dashboard
    code, out, _ = _run(aws, "status")
    assert code == 0
    assert out.splitlines()[-1] == "Dashboard: off (provisioned with --no-dashboard)"

    code, out, err = _run(aws, "dashboard")
    assert (code, out) == (1, "")
    assert err == ("Error: stack 'inventory' has no dashboard: it was provisioned with "
                   "--no-dashboard\nHint: `inventory provision --dashboard` adds it "
                   "(private, staff sign in; `--public-dashboard` for the guests' page)\n")

    teardown(aws)
    assert leftovers(session, aws.names) == []


def test_the_dashboard_can_be_turned_off_and_on_again(session: boto3.session.Session,
                                                      aws: Aws) -> None:
    provision(aws, sleep=lambda _: None, dashboard_access="public")
    assert len(_dashboard_things(session, aws)) == 4  # pool, role, bucket, tagged role
    dashboard_bucket = aws.names.dashboard_bucket
    session.client("s3").put_object(Bucket=dashboard_bucket, Key="extra.txt", Body=b"x")

    # Switched off by hand (the tag), the old dashboard shows up as a leftover in status.
    ddb = session.client("dynamodb")
    arn = ddb.describe_table(TableName=aws.names.table)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": r.DASHBOARD_TAG, "Value": "off"}])
    status = stack_status(fresh_aws(session, "inventory"))
    assert not status.complete
    assert f"delete bucket {dashboard_bucket}" in status.leftovers
    ddb.untag_resource(ResourceArn=arn, TagKeys=[r.DASHBOARD_TAG])

    off = provision(fresh_aws(session, "inventory"), dashboard=False, sleep=lambda _: None)
    assert {s.resource for s in off.plan.changes} == {
        "table", "dashboard-bucket", "identity-pool", "dashboard-role"}
    assert _dashboard_things(session, aws) == []
    assert stack_status(fresh_aws(session, "inventory")).complete

    on = provision(fresh_aws(session, "inventory"), dashboard=True, sleep=lambda _: None)
    assert on.dashboard
    assert [(s.resource, getattr(s, "method", "")) for s in on.plan.changes][0] == (
        "table", "untag_resource")
    status = stack_status(fresh_aws(session, "inventory"))
    assert status.complete and status.dashboard
    assert [s.resource for s in status.resources] == list(r.resource_ids(r.PUBLIC))


def _block_account(session: boto3.session.Session, **settings: bool) -> None:
    config = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
              "RestrictPublicBuckets": False, **settings}
    session.client("s3control").put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration=config)


def test_an_account_that_blocks_public_policies_stops_provision_before_anything_is_created(
        session: boto3.session.Session, aws: Aws) -> None:
    _block_account(session, BlockPublicPolicy=True)
    code, out, err = _run(aws, "provision", "--public-dashboard")
    assert (code, out) == (1, "")
    notice, err = err.split("\n", 1)
    assert notice == ("The dashboard is PUBLIC: anyone with its address can read the stock of "
                      "every store. `inventory provision --private-dashboard` makes it private.")
    assert err == (
        f"Error: account {ACCOUNT} blocks public bucket policies (S3 Block Public Access for "
        "the account: BlockPublicPolicy), so the dashboard page cannot be public; nothing was "
        "created\n"
        "Hint: either allow public bucket policies for the account (`aws s3control "
        f"put-public-access-block --account-id {ACCOUNT} --public-access-block-configuration "
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,"
        "RestrictPublicBuckets=false`; public ACLs stay as they are), or keep the dashboard "
        "private (staff sign in; it needs no public bucket): `inventory provision "
        "--private-dashboard`, or provision without the dashboard: `inventory provision "
        "--no-dashboard`\n")
    assert leftovers(session, aws.names) == []
    with pytest.raises(AccountBlocksPublicDashboard):
        provision(aws, dry_run=True, dashboard_access="public")

    # The other choices work on the same account: a private dashboard needs no public
    # bucket policy, even with every public access block on.
    _block_account(session, BlockPublicPolicy=True, RestrictPublicBuckets=True)
    code, _, _ = _run(aws, "provision")
    assert code == 0
    status = stack_status(fresh_aws(session, "inventory"))
    assert status.complete and status.dashboard_access == "private"
    code, _, _ = _run(fresh_aws(session, "inventory"), "provision", "--no-dashboard")
    assert code == 0
    assert stack_status(fresh_aws(session, "inventory")).complete


def test_account_settings_that_leave_an_existing_dashboard_alone(
        session: boto3.session.Session, aws: Aws) -> None:
    provision(aws, sleep=lambda _: None, dashboard_access="public")
    # BlockPublicPolicy only refuses NEW public policies: the page keeps working, and a run
    # that does not rewrite the policy is fine.
    _block_account(session, BlockPublicPolicy=True)
    assert provision(fresh_aws(session, "inventory")).plan.is_empty
    # RestrictPublicBuckets makes the existing policy void: the page is unreachable.
    _block_account(session, RestrictPublicBuckets=True)
    with pytest.raises(AccountBlocksPublicDashboard, match="RestrictPublicBuckets"):
        provision(fresh_aws(session, "inventory"))


def test_provision_warns_while_s3_applies_a_new_notification(session: boto3.session.Session,
                                                             aws: Aws) -> None:
    note = ("Note: S3 takes up to about 5 minutes to apply a new or changed bucket "
            "notification. A file uploaded before then may be stored but never loaded: "
            "`inventory failures` lists such files and `inventory retry` loads them.")
    code, out, _ = _run(aws, "provision")
    assert code == 0 and out.splitlines()[-1] == note
    code, out, _ = _run(fresh_aws(session, "inventory"), "provision")
    assert code == 0 and note not in out  # nothing changed

    session.client("s3").put_bucket_notification_configuration(
        Bucket=aws.names.uploads_bucket, NotificationConfiguration={})
    result = provision(fresh_aws(session, "inventory"))
    assert result.notification_settling
    assert [s.resource for s in result.plan.changes] == ["uploads-notification"]


@pytest.mark.parametrize(("endpoint", "code", "status", "expected"), [
    (None, "NoSuchPublicAccessBlockConfiguration", 404, None),
    (None, "AccessDenied", 403, None),
    ("http://127.0.0.1:4566", "InternalError", 500, None),
    (None, "InternalError", 500, "raises"),
])
def test_account_settings_that_cannot_be_read(endpoint: str | None, code: str, status: int,
                                              expected: str | None) -> None:
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    from inventory_cli.stack.account import account_public_access_block

    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x",
                                    region_name="us-east-1")
    aws = Aws(session, endpoint_url=endpoint)
    aws._account_id = ACCOUNT  # noqa: SLF001 - no STS call in a stubbed test
    client = aws.client("s3control")
    with Stubber(client) as stub:
        stub.add_client_error("get_public_access_block", code, "no", status)
        if expected == "raises":
            with pytest.raises(ClientError):
                account_public_access_block(aws)
        else:
            assert account_public_access_block(aws) is None


def _cognito_calls(recorder: CallRecorder) -> list[str]:
    return [call for call in recorder.calls if call.startswith("cognito-identity.")]


def test_a_stack_without_a_dashboard_makes_no_cognito_call(session: boto3.session.Session,
                                                           aws: Aws) -> None:
    recorder = CallRecorder(session)
    code, _, err = _run(fresh_aws(session, "inventory"), "provision", "--no-dashboard",
                        "--dry-run")
    assert code == 0, err
    code, _, err = _run(fresh_aws(session, "inventory"), "provision", "--no-dashboard")
    assert code == 0, err
    assert provision(fresh_aws(session, "inventory"), sleep=lambda _: None).plan.is_empty
    assert stack_status(fresh_aws(session, "inventory")).complete
    teardown(fresh_aws(session, "inventory"))
    assert recorder.calls and _cognito_calls(recorder) == []
    assert leftovers(session, aws.names) == []


def test_switching_a_dashboard_off_looks_for_its_pool_once(session: boto3.session.Session,
                                                           aws: Aws) -> None:
    provision(aws, sleep=lambda _: None, dashboard_access="public")
    recorder = CallRecorder(session)
    off = provision(fresh_aws(session, "inventory"), dashboard=False, sleep=lambda _: None)
    # The record (the table without the no-dashboard mark) says there was a dashboard.
    assert "cognito-identity.DeleteIdentityPool" in _cognito_calls(recorder)
    assert "identity-pool" in {s.resource for s in off.plan.changes}

    recorder.calls.clear()
    assert provision(fresh_aws(session, "inventory"), sleep=lambda _: None).plan.is_empty
    assert _cognito_calls(recorder) == []
