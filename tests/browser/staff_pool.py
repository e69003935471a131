"""A private dashboard's staff for the browser tests: its user pool, app client and members.

A stack that `provision` made private names its user pool and client in config.json (`access`,
`userPoolId`, `userPoolClientId`); those are used as they are. A stack provisioned public is
made private here the way the stack does it: a user pool `{stack}-staff` with e-mail sign-in and
the store attributes `custom:store1`... (one store each), an app client without a secret that
allows USER_SRP_AUTH and REFRESH_TOKEN_AUTH and prevents user existence errors, the identity
pool accepting that pool's logins with the dashboard role for signed-in members, and
config.json in the agreed shape. (Emulator checks of the login itself, the role's trust and
the store conditions are the stack's: this only wires a public stack up the same way.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dashboard_stack import REGION, DashboardStack
from srp_client import SrpClient

STORE_SLOTS = 10
TEMPORARY_PASSWORD = "Invited-Temp-1!"
PASSWORD = "Chosen-Pass-2024!"


@dataclass
class StaffPool:
    stack: DashboardStack
    pool_id: str
    client_id: str

    @classmethod
    def of(cls, stack: DashboardStack) -> StaffPool:
        config = stack.config()
        if config.get("access") == "private" and config.get("userPoolId"):
            return cls(stack, str(config["userPoolId"]), str(config["userPoolClientId"]))
        return cls._make_private(stack)

    @classmethod
    def _make_private(cls, stack: DashboardStack) -> StaffPool:
        idp = stack.client("cognito-idp")
        pool_id = idp.create_user_pool(
            PoolName=f"{stack.stack}-staff", UsernameAttributes=["email"],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            Schema=[{"Name": f"store{i}", "AttributeDataType": "String", "Mutable": True}
                    for i in range(1, STORE_SLOTS + 1)],
        )["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="dashboard", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
        identity = stack.client("cognito-identity")
        pool_id_identity = str(stack.config()["identityPoolId"])
        described = identity.describe_identity_pool(IdentityPoolId=pool_id_identity)
        identity.update_identity_pool(
            IdentityPoolId=pool_id_identity, IdentityPoolName=described["IdentityPoolName"],
            AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{
                "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool_id}",
                "ClientId": client_id, "ServerSideTokenCheck": False}])
        role = f"arn:aws:iam::{stack.names.account_id}:role/{stack.names.dashboard_role}"
        # The dashboard role, for signed-in members of this pool (with their session tags).
        stack.client("iam").update_assume_role_policy(
            RoleName=stack.names.dashboard_role, PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id_identity},
                        "ForAnyValue:StringLike": {
                            "cognito-identity.amazonaws.com:amr": "authenticated"}}}]}))
        identity.set_identity_pool_roles(IdentityPoolId=pool_id_identity,
                                         Roles={"authenticated": role})
        stack.rewrite_config(access="private", userPoolId=pool_id, userPoolClientId=client_id)
        return cls(stack, pool_id, client_id)

    @property
    def idp(self) -> Any:
        return self.stack.client("cognito-idp")

    def invite(self, email: str, *stores: str) -> str:
        """A member as an invitation leaves it: a temporary password to replace. No store:
        staff of every store."""
        attributes = [{"Name": "email", "Value": email},
                      {"Name": "email_verified", "Value": "true"}]
        attributes += [{"Name": f"custom:store{i}", "Value": store}
                       for i, store in enumerate(stores, start=1)]
        self.idp.admin_create_user(UserPoolId=self.pool_id, Username=email,
                                   TemporaryPassword=TEMPORARY_PASSWORD,
                                   UserAttributes=attributes, MessageAction="SUPPRESS")
        return TEMPORARY_PASSWORD

    def member(self, email: str, *stores: str) -> str:
        """A member who has chosen a password already."""
        self.invite(email, *stores)
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=email,
                                         Password=PASSWORD, Permanent=True)
        return PASSWORD

    def tokens(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """Sign in as the page does (SRP), from Python."""
        answer = SrpClient(self.pool_id, self.client_id).sign_in(self.idp, email, password)
        result: dict[str, Any] = answer["AuthenticationResult"]
        return result

    def member_client(self, email: str, service: str, password: str = PASSWORD) -> Any:
        """A client with the member's own credentials, got as the page gets them (SRP, then
        the identity pool with the id token): what a crafted request would carry."""
        import boto3

        config = self.stack.config()
        provider = f"cognito-idp.{config['region']}.amazonaws.com/{self.pool_id}"
        logins = {provider: self.tokens(email, password)["IdToken"]}
        identity = self.stack.client("cognito-identity")
        identity_id = identity.get_id(IdentityPoolId=config["identityPoolId"],
                                      Logins=logins)["IdentityId"]
        keys = identity.get_credentials_for_identity(IdentityId=identity_id,
                                                     Logins=logins)["Credentials"]
        return boto3.session.Session(
            region_name=config["region"], aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretKey"], aws_session_token=keys["SessionToken"],
        ).client(service, endpoint_url=self.stack.inventory.endpoint)

    def end_sessions(self, email: str) -> None:
        """Every refresh token of the member stops working (as `staff remove`/`reset` would)."""
        self.idp.admin_user_global_sign_out(UserPoolId=self.pool_id, Username=email)
