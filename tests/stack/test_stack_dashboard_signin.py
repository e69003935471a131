"""The dashboard's guest sign-in: the pool allows the basic (classic) flow, the role's trust stays
bound to this pool and to unauthenticated identities, and config.json names the role.

The page uses the enhanced flow and falls back to the basic one (GetOpenIdToken + STS
AssumeRoleWithWebIdentity with the role named in config.json) when reads are denied; both the
flag and the trust are what AWS checks for that fallback.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from stack_fixtures import fresh_aws, provisioned

from inventory_cli.aws import Aws
from inventory_cli.stack import resources as r
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status


def _pool(session: boto3.session.Session) -> dict[str, object]:
    cognito = session.client("cognito-identity")
    [pool] = cognito.list_identity_pools(MaxResults=60)["IdentityPools"]
    described: dict[str, object] = cognito.describe_identity_pool(
        IdentityPoolId=pool["IdentityPoolId"])
    return described


def test_the_pool_allows_the_classic_flow_and_config_names_the_role(
        session: boto3.session.Session, aws: Aws) -> None:
    result = provisioned(aws, dashboard_access="public")
    n = result.names
    pool = _pool(session)
    assert pool["AllowClassicFlow"] is True
    assert pool["AllowUnauthenticatedIdentities"] is True
    config = json.loads(session.client("s3").get_object(
        Bucket=n.dashboard_bucket, Key="config.json")["Body"].read())
    assert config["dashboardRoleArn"] == f"arn:aws:iam::{n.account_id}:role/{n.dashboard_role}"


def test_a_pool_without_the_classic_flow_is_drift_that_provision_repairs(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws, dashboard_access="public")
    cognito = session.client("cognito-identity")
    pool = _pool(session)
    cognito.update_identity_pool(IdentityPoolId=pool["IdentityPoolId"],
                                 IdentityPoolName=pool["IdentityPoolName"],
                                 AllowUnauthenticatedIdentities=True, AllowClassicFlow=False)
    states = {s.resource: (s.state, s.detail) for s in stack_status(fresh_aws(session, "inventory")
                                                                    ).resources}
    assert states["identity-pool"] == (
        "drifted", "allow unauthenticated identities and the basic (classic) flow in pool "
                   "inventory_dashboard")
    repaired = provision(fresh_aws(session, "inventory"), sleep=lambda _: None)
    assert [s.summary for s in repaired.plan.changes] == [
        "allow unauthenticated identities and the basic (classic) flow in pool "
        "inventory_dashboard"]
    assert _pool(session)["AllowClassicFlow"] is True
    assert provision(fresh_aws(session, "inventory"), sleep=lambda _: None).plan.is_empty


def test_the_role_trust_admits_guests_of_this_pool_only(session: boto3.session.Session,
                                                        aws: Aws) -> None:
    """The basic flow as the page runs it; tokens of another pool are refused by STS."""
    n = provisioned(aws, dashboard_access="public").names
    cognito, sts = session.client("cognito-identity"), session.client("sts")
    pool_id = str(_pool(session)["IdentityPoolId"])
    trust = session.client("iam").get_role(RoleName=n.dashboard_role)["Role"][
        "AssumeRolePolicyDocument"]
    assert trust == r.dashboard_trust_policy(pool_id)
    [statement] = trust["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}}
    role_arn = f"arn:aws:iam::{n.account_id}:role/{n.dashboard_role}"

    identity = cognito.get_id(IdentityPoolId=pool_id)["IdentityId"]
    token = cognito.get_open_id_token(IdentityId=identity)["Token"]
    assumed = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="guest",
                                                WebIdentityToken=token)
    assert assumed["Credentials"]["AccessKeyId"]

    other = cognito.create_identity_pool(IdentityPoolName="elsewhere",
                                         AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    stranger = cognito.get_open_id_token(
        IdentityId=cognito.get_id(IdentityPoolId=other)["IdentityId"])["Token"]
    with pytest.raises(ClientError) as refused:
        sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="guest",
                                          WebIdentityToken=stranger)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
