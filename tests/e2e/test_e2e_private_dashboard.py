"""The private dashboard on the emulator process, with a member's own credentials straight
from boto3: Cognito sign-in (the operator's admin flow stands in for the page's SRP), the
identity pool's credentials with principal tags, and DynamoDB refusing what the staff role's
`dynamodb:LeadingKeys` condition does not allow. And a script with no account gets nothing.

Local emulator only: it reads the outbox for the temporary passwords.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.config
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from e2e_target import LOCAL_REGION, Target

NEW_PASSWORD = "A-member's-own-123"


def _page_config(target: Target) -> tuple[str, dict[str, Any]]:
    url = target.run("dashboard").stdout.strip()
    with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/config.json") as answer:  # noqa: S310
        return url, json.loads(answer.read())


def _unsigned(target: Target, service: str) -> Any:
    return boto3.session.Session(region_name=LOCAL_REGION).client(
        service, endpoint_url=target.endpoint,
        config=botocore.config.Config(signature_version=UNSIGNED))


def _sign_in(target: Target, config: dict[str, Any], email: str) -> str:
    """The member's id token after the first sign-in (temporary password, then its own)."""
    [invitation] = [m for m in target.outbox() if m["to"] == email]
    temporary = re.search(r"temporary password (\S+?);", invitation["message"])
    assert temporary, invitation
    idp = target.boto3_client("cognito-idp")
    first = idp.admin_initiate_auth(
        UserPoolId=config["userPoolId"], ClientId=config["userPoolClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": temporary.group(1)})
    assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    tokens = idp.admin_respond_to_auth_challenge(
        UserPoolId=config["userPoolId"], ClientId=config["userPoolClientId"],
        ChallengeName="NEW_PASSWORD_REQUIRED", Session=first["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": NEW_PASSWORD})
    return str(tokens["AuthenticationResult"]["IdToken"])


def _member_dynamodb(target: Target, config: dict[str, Any], id_token: str) -> Any:
    provider = f"cognito-idp.{LOCAL_REGION}.amazonaws.com/{config['userPoolId']}"
    identity = _unsigned(target, "cognito-identity")
    identity_id = identity.get_id(IdentityPoolId=config["identityPoolId"],
                                  Logins={provider: id_token})["IdentityId"]
    credentials = identity.get_credentials_for_identity(
        IdentityId=identity_id, Logins={provider: id_token})["Credentials"]
    return boto3.session.Session(
        region_name=LOCAL_REGION, aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"]).client(
        "dynamodb", endpoint_url=target.endpoint)


def _query(ddb: Any, table: str, key: str, value: str) -> list[Any]:
    return list(ddb.query(TableName=table, KeyConditionExpression="#k = :v",
                          ExpressionAttributeNames={"#k": key},
                          ExpressionAttributeValues={":v": {"S": value}})["Items"])


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    return str(refused.value.response["Error"]["Message"])


def test_a_member_reads_only_its_store_and_staff_of_every_store_read_all(e2e: Target) -> None:
    if not e2e.is_local:
        pytest.skip("reads the emulator's outbox for the temporary passwords")
    e2e.run("provision")
    table, summaries = e2e.table(), f"{e2e.stack}-summaries"
    ddb = e2e.boto3_client("dynamodb")
    for store, item in (("Berlin", "tea"), ("Berlin", "rice"), ("Lyon", "tea")):
        ddb.put_item(TableName=table, Item={"Store": {"S": store}, "Item": {"S": item},
                                            "Count": {"N": "5"}})
    e2e.run("staff", "add", "ana@example.com", "--store", "Berlin")
    e2e.run("staff", "add", "boss@example.com")
    url, config = _page_config(e2e)
    assert config["access"] == "private" and "/_inventory/cdn/" in url

    ana_token = _sign_in(e2e, config, "ana@example.com")
    ana = _member_dynamodb(e2e, config, ana_token)
    # The member's identity asked for as a guest's (no login): refused.
    provider = f"cognito-idp.{LOCAL_REGION}.amazonaws.com/{config['userPoolId']}"
    identity = _unsigned(e2e, "cognito-identity")
    ana_id = identity.get_id(IdentityPoolId=config["identityPoolId"],
                             Logins={provider: ana_token})["IdentityId"]
    with pytest.raises(ClientError) as refused:
        identity.get_credentials_for_identity(IdentityId=ana_id)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert len(_query(ana, table, "Store", "Berlin")) == 2
    message = _denied(lambda: _query(ana, table, "Store", "Lyon"))
    assert message.startswith("User: arn:aws:sts::") and "dynamodb:Query" in message
    _denied(lambda: ana.get_item(TableName=table, Key={"Store": {"S": "Lyon"},
                                                       "Item": {"S": "tea"}}))
    _denied(lambda: ana.scan(TableName=table))
    _denied(lambda: _query(ana, summaries, "Kind", "store"))

    boss = _member_dynamodb(e2e, config, _sign_in(e2e, config, "boss@example.com"))
    assert len(boss.scan(TableName=table)["Items"]) == 3
    assert len(_query(boss, table, "Store", "Lyon")) == 1
    _query(boss, summaries, "Kind", "store")  # allowed: staff of every store

    # A removed member's token no longer gets credentials (the pool checks it with Cognito).
    token = _sign_in_again(e2e, config, "ana@example.com")
    e2e.run("staff", "remove", "ana@example.com")
    with pytest.raises(ClientError) as refused:
        _member_dynamodb(e2e, config, token)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def _sign_in_again(target: Target, config: dict[str, Any], email: str) -> str:
    tokens = target.boto3_client("cognito-idp").admin_initiate_auth(
        UserPoolId=config["userPoolId"], ClientId=config["userPoolClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": NEW_PASSWORD})
    return str(tokens["AuthenticationResult"]["IdToken"])


def test_a_script_with_no_account_gets_nothing(e2e: Target) -> None:
    e2e.run("provision")
    url, config = _page_config(e2e)  # the emulator's stand-in for CloudFront serves the page
    identity = _unsigned(e2e, "cognito-identity")
    with pytest.raises(ClientError) as refused:
        identity.get_id(IdentityPoolId=config["identityPoolId"])
    assert refused.value.response["Error"] == {
        "Code": "NotAuthorizedException",
        "Message": "Unauthenticated access is not supported for this identity pool."}
    # No guest role to fall back on.
    roles = e2e.boto3_client("cognito-identity").get_identity_pool_roles(
        IdentityPoolId=config["identityPoolId"])["Roles"]
    assert "unauthenticated" not in roles
    # The bucket itself refuses anonymous reads, page and configuration alike.
    bucket = url.split("/_inventory/cdn/")[1].split("/")[0]
    for key in ("index.html", "config.json"):
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{e2e.endpoint}/{bucket}/{key}")  # noqa: S310
        assert denied.value.code == 403
    # No guest credentials either, for an identity id made up.
    with pytest.raises(ClientError) as refused:
        identity.get_credentials_for_identity(
            IdentityId=f"{LOCAL_REGION}:00000000-0000-4000-8000-000000000000")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
