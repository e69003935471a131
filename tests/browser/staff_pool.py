"""A private dashboard's staff for the browser tests: its user pool, app client and members.

A stack that `provision` made private names its user pool and client in config.json (`access`,
`userPoolId`, `userPoolClientId`); members are made there as `inventory staff add` would
(store attributes `custom:store1`..., one store each) and sign in with SRP, as the page does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard_stack import DashboardStack
from srp_client import SrpClient

TEMPORARY_PASSWORD = "Invited-Temp-1!"
PASSWORD = "Chosen-Pass-2024!"


@dataclass
class StaffPool:
    stack: DashboardStack
    pool_id: str
    client_id: str

    @classmethod
    def of(cls, stack: DashboardStack) -> StaffPool:
        """The staff pool of a private stack, as provision made it (config.json names it)."""
        config = stack.config()
        assert config.get("access") == "private" and config.get("userPoolId"), (
            f"stack {stack.stack} is not private: provision it without --public-dashboard")
        return cls(stack, str(config["userPoolId"]), str(config["userPoolClientId"]))

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
