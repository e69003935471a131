"""`inventory staff add|list|remove|reset` on the stack `provision` builds (in-process moto):
what Cognito keeps, the invitation (the outbox stands in for Cognito's e-mail), and the
refusals (unknown store, unknown member, a public stack)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app
from inventory_cli.config import StackNames
from inventory_cli.local.outbox import Outbox, read_outbox
from inventory_cli.local.seam import attached
from inventory_cli.provisioning import ProvisionResult, provision


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setattr(attached, "outbox", Outbox(path))
    return path


@pytest.fixture
def stores(session: boto3.session.Session, stack: StackNames) -> None:
    ddb = session.client("dynamodb")
    for store in ("Berlin", "Lyon", "São Paulo"):
        ddb.put_item(TableName=stack.table, Item={"Store": {"S": store}, "Item": {"S": "tea"},
                                                  "Count": {"N": "3"}})


def _run(aws: Aws, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), obj=aws)
    return result.exit_code, result.stdout, result.stderr


def _user(session: boto3.session.Session, email: str) -> dict[str, str]:
    idp = session.client("cognito-idp")
    [pool] = idp.list_user_pools(MaxResults=60)["UserPools"]
    user = idp.admin_get_user(UserPoolId=pool["Id"], Username=email)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]} | {
        "status": user["UserStatus"]}


def _passwords(outbox: Path, to: str) -> list[str]:
    return [re.search(r"temporary password (\S+?);", m.message).group(1)  # type: ignore[union-attr]
            for m in read_outbox(outbox) if m.to == to]


def test_add_invites_with_a_temporary_password_and_binds_the_stores(
        session: boto3.session.Session, aws: Aws, provisioned_stack: ProvisionResult,
        stores: None, outbox: Path) -> None:
    code, out, err = _run(aws, "staff", "add", "Ana@Example.com", "--store", "Berlin",
                          "--store", "São Paulo")
    assert code == 0, err
    assert out.startswith("Invited ana@example.com to read store(s) 'Berlin', 'São Paulo'")
    user = _user(session, "ana@example.com")
    assert (user["custom:store1"], user["custom:store2"]) == ("Berlin", "São Paulo")
    assert "custom:store3" not in user and user["status"] == "FORCE_CHANGE_PASSWORD"
    [message] = read_outbox(outbox)
    assert message.to == "ana@example.com"
    assert message.subject == "Your inventory dashboard account"
    assert "Sign in as ana@example.com" in message.message
    assert len(_passwords(outbox, "ana@example.com")[0]) >= 12

    code, out, _ = _run(aws, "staff", "add", "boss@example.com")
    assert code == 0 and "to read every store" in out
    code, out, _ = _run(aws, "staff", "list", "--output", "json")
    listed = json.loads(out)
    assert [(m["email"], m["stores"], m["every_store"], m["status"]) for m in listed] == [
        ("ana@example.com", ["Berlin", "São Paulo"], False, "FORCE_CHANGE_PASSWORD"),
        ("boss@example.com", [], True, "FORCE_CHANGE_PASSWORD")]
    code, out, _ = _run(aws, "staff", "list", "--output", "table")
    assert "every store" in out and "Berlin, São Paulo" in out and "invited" in out


def test_reset_sends_a_new_password_and_keeps_the_stores(
        session: boto3.session.Session, aws: Aws, provisioned_stack: ProvisionResult,
        stores: None, outbox: Path) -> None:
    assert _run(aws, "staff", "add", "ana@example.com", "--store", "Lyon")[0] == 0
    # As after the first sign-in: a password of the member's own.
    idp = session.client("cognito-idp")
    [pool] = idp.list_user_pools(MaxResults=60)["UserPools"]
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="ana@example.com",
                                Password="Own-password-123", Permanent=True)
    code, out, err = _run(aws, "staff", "reset", "ana@example.com")
    assert code == 0, err
    first, second = _passwords(outbox, "ana@example.com")
    assert first != second
    user = _user(session, "ana@example.com")
    assert (user["status"], user["custom:store1"]) == ("FORCE_CHANGE_PASSWORD", "Lyon")

    code, out, _ = _run(aws, "staff", "remove", "ana@example.com")
    assert code == 0 and "can no longer sign in" in out
    assert _run(aws, "staff", "list", "--output", "json")[1].strip() == "[]"


@pytest.mark.parametrize(("args", "message"), [
    (("staff", "add", "x@example.com", "--store", "Paris"),
     "Error: unknown store(s): 'Paris': the table has no row of it"),
    (("staff", "add", "not-an-address"), "Error: 'not-an-address' is not an e-mail address"),
    (("staff", "add", "x@example.com", "--store", "O'Hare"), "cannot be bound to a member"),
    (("staff", "remove", "nobody@example.com"), "Error: no staff account nobody@example.com"),
    (("staff", "reset", "nobody@example.com"), "Error: no staff account nobody@example.com"),
])
@pytest.mark.usefixtures("provisioned_stack", "stores", "outbox")
def test_clear_refusals(aws: Aws, args: tuple[str, ...], message: str) -> None:
    code, _, err = _run(aws, *args)
    assert code != 0 and message in err, err


def test_a_member_added_twice_is_refused(aws: Aws, provisioned_stack: ProvisionResult,
                                         stores: None, outbox: Path) -> None:
    assert _run(aws, "staff", "add", "ana@example.com")[0] == 0
    code, _, err = _run(aws, "staff", "add", "ana@example.com")
    assert code != 0 and "ana@example.com already has an account" in err


def test_a_public_stack_has_no_staff(session: boto3.session.Session, aws: Aws,
                                     provisioned_stack: ProvisionResult) -> None:
    provision(Aws(session, stack="inventory"), sleep=lambda _: None, dashboard_access="public")
    code, _, err = _run(Aws(session, stack="inventory"), "staff", "list")
    assert code != 0
    assert err.startswith("Error: stack inventory has a public dashboard: anyone with its "
                          "address reads it, there are no staff accounts\nHint: `inventory "
                          "provision --private-dashboard`")
