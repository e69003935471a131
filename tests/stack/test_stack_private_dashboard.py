"""The private dashboard (the default): staff user pool and app client, an identity pool with
no guests, principal tags, the staff role bound to the member's stores, a private bucket
behind CloudFront; switching modes, status while CloudFront deploys, and teardown's order."""

from __future__ import annotations

import json

import boto3
import pytest
from stack_fixtures import CallRecorder, fresh_aws, leftovers, provisioned
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app
from inventory_cli.stack import resources as r
from inventory_cli.stack.model import DesiredStack
from inventory_cli.stack.packaging import LambdaZip
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import plan_teardown, teardown

CDN_IDS = {"dashboard-oac", "dashboard-distribution"}


def _run(aws: Aws, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), obj=aws)
    return result.exit_code, result.stdout, result.stderr


def _identity_pool(session: boto3.session.Session) -> dict[str, object]:
    cognito = session.client("cognito-identity")
    [pool] = cognito.list_identity_pools(MaxResults=60)["IdentityPools"]
    return dict(cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"]))


def test_a_new_stack_is_private_and_wired_as_specified(session: boto3.session.Session,
                                                      aws: Aws) -> None:
    result = provisioned(aws)
    n = aws.names
    assert (result.dashboard_access, result.access_before) == ("private", None)
    idp, s3 = session.client("cognito-idp"), session.client("s3")
    [listed] = idp.list_user_pools(MaxResults=60)["UserPools"]
    pool = idp.describe_user_pool(UserPoolId=listed["Id"])["UserPool"]
    assert pool["Name"] == f"{n.stack}-staff"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "{####}" in pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]
    assert {f"custom:store{i}" for i in range(1, r.STORE_SLOTS + 1)} <= {
        a["Name"] for a in pool["SchemaAttributes"]}
    [client] = idp.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]
    client = idp.describe_user_pool_client(UserPoolId=pool["Id"],
                                           ClientId=client["ClientId"])["UserPoolClient"]
    assert "ClientSecret" not in client
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH",
                                                   "ALLOW_USER_SRP_AUTH"]
    # Members cannot write their own store attributes through the page's client.
    assert not any(a.startswith("custom:") for a in client["WriteAttributes"])

    identity = _identity_pool(session)
    provider = f"cognito-idp.us-east-1.amazonaws.com/{pool['Id']}"
    assert identity["AllowUnauthenticatedIdentities"] is False
    assert identity["CognitoIdentityProviders"] == [
        {"ProviderName": provider, "ClientId": client["ClientId"], "ServerSideTokenCheck": True}]
    cognito = session.client("cognito-identity")
    tags = cognito.get_principal_tag_attribute_map(
        IdentityPoolId=identity["IdentityPoolId"], IdentityProviderName=provider)
    assert tags["PrincipalTags"] == r.principal_tags() and tags["UseDefaults"] is False
    roles = cognito.get_identity_pool_roles(IdentityPoolId=identity["IdentityPoolId"])["Roles"]
    assert roles == {"authenticated": f"arn:aws:iam::{n.account_id}:role/{n.staff_role}"}
    trust = session.client("iam").get_role(RoleName=n.staff_role)["Role"][
        "AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    assert trust["Condition"]["ForAnyValue:StringLike"] == {
        "cognito-identity.amazonaws.com:amr": "authenticated"}
    with pytest.raises(session.client("iam").exceptions.NoSuchEntityException):
        session.client("iam").get_role(RoleName=n.dashboard_role)

    # The bucket: every public access block on, no statement for everyone; CloudFront reads it
    # through the distribution's OAC, and the distribution sends HTTP to HTTPS.
    assert all(s3.get_public_access_block(Bucket=n.dashboard_bucket)[
        "PublicAccessBlockConfiguration"].values())
    statements = json.loads(s3.get_bucket_policy(Bucket=n.dashboard_bucket)["Policy"])[
        "Statement"]
    assert [s for s in statements if s["Effect"] == "Allow" and s["Principal"] == "*"] == []
    cloudfront = session.client("cloudfront")
    [summary] = cloudfront.list_distributions()["DistributionList"]["Items"]
    [oac] = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": summary["ARN"]}}
    config = cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == oac["Id"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert result.dashboard_url == f"https://{summary['DomainName']}/index.html"
    # The store endpoint's CORS names the distribution's origin.
    cors = session.client("lambda").get_function_url_config(
        FunctionName=n.store_upload_function)["Cors"]
    assert cors["AllowOrigins"] == [f"https://{summary['DomainName']}"]

    page = json.loads(s3.get_object(Bucket=n.dashboard_bucket, Key="config.json")["Body"].read())
    assert (page["access"], page["userPoolId"], page["userPoolClientId"]) == (
        "private", pool["Id"], client["ClientId"])
    assert page["dashboardRoleArn"] is None

    recorder = CallRecorder(session)
    assert provision(fresh_aws(session, "inventory"), sleep=lambda _: None).plan.is_empty
    assert recorder.mutating == []
    status = stack_status(fresh_aws(session, "inventory"))
    assert status.complete and status.dashboard_access == "private"
    assert [s.resource for s in status.resources] == list(r.resource_ids(r.PRIVATE))


def test_public_is_kept_until_asked_and_provision_says_what_changes_first(
        session: boto3.session.Session, aws: Aws) -> None:
    code, out, err = _run(aws, "provision", "--public-dashboard")
    assert code == 0 and "PUBLIC: anyone with the address can read" in out
    assert err.startswith("The dashboard is PUBLIC: anyone with its address can read the "
                          "stock of every store.")
    code, out, err = _run(fresh_aws(session, "inventory"), "provision")
    assert code == 0 and out.splitlines()[-1] == "No changes: the stack is up to date."
    assert "kept as it was made (--public-dashboard)" in err
    code, out, _ = _run(fresh_aws(session, "inventory"), "status")
    assert code == 0
    assert ("Dashboard access: PUBLIC: anyone with the address can read the stock of every "
            "store") in " ".join(out.split())

    code, out, err = _run(fresh_aws(session, "inventory"), "provision", "--private-dashboard")
    assert code == 0, err
    # Said on stderr before the first step's progress line.
    assert err.startswith("Dashboard access: public -> private. Guests lose their read access")
    n = aws.names
    with pytest.raises(session.client("iam").exceptions.NoSuchEntityException):
        session.client("iam").get_role(RoleName=n.dashboard_role)
    assert _identity_pool(session)["AllowUnauthenticatedIdentities"] is False
    assert stack_status(fresh_aws(session, "inventory")).complete

    code, out, err = _run(fresh_aws(session, "inventory"), "provision", "--public-dashboard")
    assert code == 0, err
    assert err.startswith("Dashboard access: private -> public. The staff user pool and its "
                          "accounts")
    assert session.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] == []
    assert session.client("cloudfront").list_distributions()["DistributionList"].get(
        "Items", []) == []
    assert _identity_pool(session)["AllowUnauthenticatedIdentities"] is True
    assert stack_status(fresh_aws(session, "inventory")).complete


def test_both_access_flags_are_refused(aws: Aws) -> None:
    code, _, err = _run(aws, "provision", "--public-dashboard", "--private-dashboard")
    assert code != 0 and "contradict each other" in err


def test_status_shows_a_distribution_still_deploying(session: boto3.session.Session,
                                                     aws: Aws) -> None:
    from moto.moto_api import state_manager

    # moto's distributions stay InProgress for as many reads as this says.
    state_manager.set_transition(model_name="cloudfront::distribution",
                                 transition={"progression": "manual", "times": 1000})
    try:
        provisioned(aws)
        status = stack_status(fresh_aws(session, "inventory"))
    finally:
        state_manager.unset_transition(model_name="cloudfront::distribution")
    states = {s.resource: s.state for s in status.resources}
    assert states["dashboard-distribution"] == "deploying"
    assert status.complete  # nothing for anyone to do: CloudFront finishes it


def test_teardown_disables_waits_for_then_deletes_the_distribution_last(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    plan = plan_teardown(aws).plan
    tail = [(getattr(s, "method", None) or getattr(s, "waiter", None)) for s in plan.steps][-4:]
    assert tail == ["update_distribution", "distribution_deployed", "delete_distribution",
                    "delete_origin_access_control"]
    assert plan.steps[-4].params["DistributionConfig"]["Enabled"] is False
    teardown(aws, sleep=lambda _: None)
    assert leftovers(session, aws.names) == []
    assert plan_teardown(aws).plan.is_empty


def test_a_disabled_distribution_left_by_a_teardown_is_deleted_by_the_next(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    cloudfront = session.client("cloudfront")
    [summary] = cloudfront.list_distributions()["DistributionList"]["Items"]
    answer = cloudfront.get_distribution_config(Id=summary["Id"])
    cloudfront.update_distribution(Id=summary["Id"], IfMatch=answer["ETag"],
                                   DistributionConfig={**answer["DistributionConfig"],
                                                       "Enabled": False})
    methods = [getattr(s, "method", None) for s in plan_teardown(aws).plan.steps
               if getattr(s, "resource", "") == "dashboard-distribution"]
    assert methods == ["delete_distribution"]


def test_the_emulator_plans_no_cloudfront() -> None:
    names = r.StackNames(stack="shop", account_id="123456789012", region="us-east-1")
    local = r.stack_resources(DesiredStack(names, threshold=0, code=LambdaZip(b""), assets=(),
                                           endpoint="http://127.0.0.1:4599"))
    ids = {spec.id for spec in local}
    assert not ids & CDN_IDS and {"user-pool", "dashboard-staff-role"} <= ids
    assert CDN_IDS <= set(r.resource_ids(r.PRIVATE))
