"""`inventory staff`: the private dashboard's accounts, in the stack's Cognito user pool.

Only administrators create accounts (the pool allows no sign-up). Cognito e-mails the
invitation with a temporary password, which the first sign-in replaces (AdminCreateUser,
Amazon Cognito API reference). A member's stores are kept in custom attributes, one store
each (`custom:store1` ... `custom:store10`), which the identity pool turns into principal tags
that bind the member's reads to those stores; no store attribute = staff of every store.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from inventory_cli.aws import Aws, error_code
from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.errors import InventoryError, UsageError, printable
from inventory_cli.ops.query import stores_in_table
from inventory_cli.ops.stores import store_name
from inventory_cli.stack.resources import STORE_SLOTS, store_attribute

# A simple, strict shape: local@domain.tld, no spaces (Cognito checks the address too).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Session tag values (what a store becomes in the member's credentials) allow letters, digits,
# spaces and _ . : / = + - @, at most 256 characters (IAM User Guide, "Passing session tags in
# AWS STS", tag value requirements).
_TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{1,256}$")


class StaffError(InventoryError):
    """A staff command that cannot be done as asked."""


@dataclass(frozen=True)
class StaffMember:
    email: str
    # () = staff of every store.
    stores: tuple[str, ...]
    status: str  # Cognito's UserStatus: FORCE_CHANGE_PASSWORD until the first sign-in
    enabled: bool
    created: str

    @property
    def every_store(self) -> bool:
        return not self.stores

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "stores": list(self.stores), "every_store": self.every_store}


def user_pool_id(aws: Aws, names: StackNames) -> str:
    """The stack's staff user pool, or a clear error (no stack, a public stack, no pool)."""
    from inventory_cli.ops.stack_info import find_stack
    from inventory_cli.stack.deployed import deployed_dashboard, deployed_dashboard_access

    find_stack(aws)
    if deployed_dashboard(aws) is False:
        raise StaffError(f"stack {names.stack} has no dashboard, so no staff accounts",
                         hint="`inventory provision --dashboard` adds a private one")
    if deployed_dashboard_access(aws) != "private":
        raise StaffError(
            f"stack {names.stack} has a public dashboard: anyone with its address reads it, "
            "there are no staff accounts",
            hint="`inventory provision --private-dashboard` makes it private (staff sign in)")
    idp = aws.client("cognito-idp")
    paginator = idp.get_paginator("list_user_pools")
    for page in paginator.paginate(MaxResults=60):
        for pool in page.get("UserPools", []):
            if pool["Name"] != names.staff_user_pool:
                continue
            tags = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"].get(
                "UserPoolTags", {})
            if tags.get(STACK_TAG) == names.stack:
                return str(pool["Id"])
    raise StaffError(f"the stack's user pool {names.staff_user_pool} does not exist",
                     hint="`inventory provision` creates what is missing")


def valid_email(email: str) -> str:
    address = email.strip()
    if not _EMAIL.match(address):
        raise UsageError(f"{printable(address)} is not an e-mail address",
                         hint="staff sign in with their e-mail address: name@example.com")
    return address.lower()


def _checked_stores(aws: Aws, names: StackNames, stores: list[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(store_name(s) for s in stores))
    if len(wanted) > STORE_SLOTS:
        raise UsageError(f"a member can have at most {STORE_SLOTS} stores; {len(wanted)} given",
                         hint="staff of every store: give no --store")
    for store in wanted:
        if not _TAG_VALUE.match(store):
            raise UsageError(
                f"store {printable(store)} cannot be bound to a member: AWS session tags "
                "(how the member's credentials name their stores) allow only letters, digits, "
                "spaces and _ . : / = + - @, at most 256 characters",
                hint="give the member every store (no --store), or rename the store")
    known = set(stores_in_table(aws, names))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        listed = ", ".join(printable(s) for s in unknown)
        raise StaffError(f"unknown store(s): {listed}: the table has no row of it",
                         hint="store names as their files spell them; `inventory show` lists "
                              "the stores the table holds")
    return wanted


def _member(user: dict[str, Any]) -> StaffMember:
    attributes = {a["Name"]: a["Value"]
                  for a in user.get("Attributes") or user.get("UserAttributes") or []}
    stores = tuple(attributes[store_attribute(i)] for i in range(1, STORE_SLOTS + 1)
                   if attributes.get(store_attribute(i)))
    created: Any = user.get("UserCreateDate")
    when = (created.isoformat(timespec="seconds") if isinstance(created, datetime)
            else str(created or ""))
    return StaffMember(email=attributes.get("email") or str(user.get("Username")),
                       stores=stores, status=str(user.get("UserStatus", "")),
                       enabled=bool(user.get("Enabled", True)), created=when)


def add_staff(aws: Aws, names: StackNames, email: str, stores: list[str]) -> StaffMember:
    """Create the account; Cognito e-mails the invitation with a temporary password."""
    address = valid_email(email)
    pool = user_pool_id(aws, names)
    wanted = _checked_stores(aws, names, stores)
    attributes = [{"Name": "email", "Value": address},
                  {"Name": "email_verified", "Value": "true"},
                  *({"Name": store_attribute(i), "Value": store}
                    for i, store in enumerate(wanted, 1))]
    idp = aws.client("cognito-idp")
    try:
        answer = idp.admin_create_user(UserPoolId=pool, Username=address,
                                       UserAttributes=attributes,
                                       DesiredDeliveryMediums=["EMAIL"])
    except ClientError as exc:
        if error_code(exc) == "UsernameExistsException":
            raise StaffError(f"{address} already has an account",
                             hint=f"`inventory staff reset {address}` sends a new invitation; "
                                  "`inventory staff remove` deletes it") from None
        raise
    return _member(answer["User"])


def list_staff(aws: Aws, names: StackNames) -> list[StaffMember]:
    pool = user_pool_id(aws, names)
    idp = aws.client("cognito-idp")
    members = [_member(user) for page in idp.get_paginator("list_users").paginate(
        UserPoolId=pool) for user in page.get("Users", [])]
    return sorted(members, key=lambda m: m.email)


def _existing(aws: Aws, pool: str, address: str) -> dict[str, Any]:
    try:
        return dict(aws.client("cognito-idp").admin_get_user(UserPoolId=pool,
                                                             Username=address))
    except ClientError as exc:
        if error_code(exc) == "UserNotFoundException":
            raise StaffError(f"no staff account {address}",
                             hint="`inventory staff list` shows the accounts") from None
        raise


def remove_staff(aws: Aws, names: StackNames, email: str) -> None:
    """Delete the account: its refresh tokens stop working, and with them the page's session
    (the identity pool checks every id token with Cognito)."""
    address = valid_email(email)
    pool = user_pool_id(aws, names)
    _existing(aws, pool, address)
    aws.client("cognito-idp").admin_delete_user(UserPoolId=pool, Username=address)


def reset_staff(aws: Aws, names: StackNames, email: str) -> StaffMember:
    """A new temporary password, e-mailed as a new invitation; the member's sessions end.

    Cognito resends an invitation only to an account that has not set its password yet
    (AdminCreateUser with MessageAction RESEND), so an account that has is first given an
    unknown temporary password (AdminSetUserPassword, Permanent false), which puts it back in
    that state."""
    address = valid_email(email)
    pool = user_pool_id(aws, names)
    user = _existing(aws, pool, address)
    idp = aws.client("cognito-idp")
    idp.admin_user_global_sign_out(UserPoolId=pool, Username=address)
    if user.get("UserStatus") != "FORCE_CHANGE_PASSWORD":
        idp.admin_set_user_password(UserPoolId=pool, Username=address,
                                    Password=_throwaway_password(), Permanent=False)
    answer = idp.admin_create_user(UserPoolId=pool, Username=address, MessageAction="RESEND",
                                   DesiredDeliveryMediums=["EMAIL"])
    return _member(answer["User"])


def _throwaway_password() -> str:
    """Never shown to anyone: it only makes the account await a new invitation."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(24))
    return f"Aa1{core}"
