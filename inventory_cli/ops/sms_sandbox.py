"""The SNS SMS sandbox: why texts to a phone may never arrive, and how to verify the number.

New AWS accounts are in the SMS sandbox (per region): SNS texts only destination numbers that
were verified with a one-time code, at most 10 of them. Publishing to the topic still succeeds
for every subscriber, so without a check alerts look sent but never reach an unverified phone.
Outside the sandbox nothing here applies. (Amazon SNS Developer Guide, "SMS sandbox".)

A number goes through: not listed -> `Pending` (CreateSMSSandboxPhoneNumber texted a code) ->
`Verified` (VerifySMSSandboxPhoneNumber with that code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from botocore.exceptions import BotoCoreError, ClientError

from inventory_cli.aws import error_code
from inventory_cli.errors import InventoryError, UsageError

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.ops.subscriptions import Subscription

# How the sandbox sees one number: verified, code sent but not entered, or never added.
NumberState = Literal["verified", "pending", "unverified"]
# The one-time password's form (VerifySMSSandboxPhoneNumber: 5 to 8 digits).
_CODE = re.compile(r"^\d{5,8}$")
_VERIFICATION_ERRORS = {"VerificationException", "Verification"}


@dataclass(frozen=True)
class SandboxCheck:
    """What the account's sandbox means for one number. `in_sandbox` None: could not tell."""

    number: str
    in_sandbox: bool | None
    state: NumberState | None = None
    # Why the check could not be made (no permission, an endpoint without these calls).
    problem: str | None = None

    @property
    def blocks_texts(self) -> bool:
        return bool(self.in_sandbox) and self.state != "verified"


class SandboxUnknown(Exception):
    """The sandbox status could not be read; the message says why (for a note, not an error)."""


def _describe(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code') or 'Error'}: {err.get('Message') or ''}".rstrip(": ")
    return str(exc)


def in_sandbox(aws: Aws) -> bool:
    """Whether this account is in the SMS sandbox in this region (SandboxUnknown if unreadable)."""
    try:
        sns = aws.single_attempt_client("sns")
        return bool(sns.get_sms_sandbox_account_status()["IsInSandbox"])
    except (ClientError, BotoCoreError) as exc:
        raise SandboxUnknown(_describe(exc)) from None


def sandbox_numbers(aws: Aws) -> dict[str, NumberState]:
    """The sandbox's destination numbers and their state (verified or pending)."""
    sns = aws.single_attempt_client("sns")
    found: dict[str, NumberState] = {}
    token: str | None = None
    try:
        while True:
            page = sns.list_sms_sandbox_phone_numbers(**({"NextToken": token} if token else {}))
            for entry in page.get("PhoneNumbers", []):
                status = str(entry.get("Status", "")).lower()
                found[entry["PhoneNumber"]] = "verified" if status == "verified" else "pending"
            token = page.get("NextToken")
            if not token:
                return found
    except (ClientError, BotoCoreError) as exc:
        raise SandboxUnknown(_describe(exc)) from None


def check_number(aws: Aws, number: str) -> SandboxCheck:
    """The sandbox status of the account and of `number`; problems become a note, not an error."""
    # Reads only, each tried once: an endpoint without these calls must not stall `subscribe`.
    try:
        if not in_sandbox(aws):
            return SandboxCheck(number, in_sandbox=False)
        state = sandbox_numbers(aws).get(number, "unverified")
    except SandboxUnknown as exc:
        return SandboxCheck(number, in_sandbox=None, problem=str(exc))
    return SandboxCheck(number, in_sandbox=True, state=state)


def mark_subscriptions(aws: Aws, subscriptions: list[Subscription]
                       ) -> tuple[list[Subscription], str | None]:
    """The subscriptions with each SMS number's sandbox state (None outside the sandbox), and a
    note if the sandbox could not be read. Makes no call when nobody subscribed a phone."""
    from dataclasses import replace

    if not any(s.protocol == "sms" for s in subscriptions):
        return subscriptions, None
    try:
        if not in_sandbox(aws):
            return subscriptions, None
        numbers = sandbox_numbers(aws)
    except SandboxUnknown as exc:
        return subscriptions, f"could not check the SMS sandbox ({exc})"
    return [replace(s, sms_sandbox=numbers.get(s.endpoint, "unverified"))
            if s.protocol == "sms" else s for s in subscriptions], None


def send_code(aws: Aws, number: str) -> None:
    """Add `number` to the sandbox (again) and have SNS text it a one-time code."""
    try:
        aws.client("sns").create_sms_sandbox_phone_number(PhoneNumber=number)
    except ClientError as exc:
        code, message = error_code(exc), exc.response["Error"].get("Message") or ""
        if code == "OptedOut":
            raise InventoryError(
                f"{number} has opted out of texts from this AWS account, so SNS cannot send it "
                "a verification code", hint="the phone's owner can opt in again by replying "
                "START, or see `aws sns opt-in-phone-number`") from None
        if code == "UserError":
            raise InventoryError(f"SNS did not add {number} to the SMS sandbox: {message}",
                                 hint="the sandbox holds at most 10 numbers; remove one in the "
                                      "SNS console (Text messaging (SMS)) first") from None
        if code in {"InvalidParameter", "Throttled"}:
            raise InventoryError(f"SNS did not send a code to {number}: {message}") from None
        raise


def valid_code(code: str) -> str:
    """The code as SNS takes it, or UsageError (checked before any call)."""
    code = code.strip()
    if not _CODE.match(code):
        raise UsageError(f"{code!r} is not a verification code: SNS texts 5 to 8 digits")
    return code


def verify(aws: Aws, number: str, code: str) -> None:
    """Verify `number` with the code it was texted; typed errors for a wrong or unknown one."""
    code = valid_code(code)
    try:
        aws.client("sns").verify_sms_sandbox_phone_number(PhoneNumber=number,
                                                          OneTimePassword=code)
    except ClientError as exc:
        raise _verify_error(exc, number) from None


def _verify_error(exc: ClientError, number: str) -> BaseException:
    code = error_code(exc)
    error: dict[str, Any] = exc.response.get("Error", {})
    resend = f"`inventory subscribe {number} --verify` texts a new code"
    if code in _VERIFICATION_ERRORS:
        detail = "; ".join(str(v) for v in (error.get("Message"), error.get("Status")) if v)
        return InventoryError(
            f"SNS refused the code for {number}: it is wrong or has expired ({detail})",
            hint=f"check the latest text to {number}, or {resend}")
    if code in {"ResourceNotFound", "ResourceNotFoundException"}:
        return InventoryError(f"{number} is not waiting for a verification code in this "
                              "account's SMS sandbox", hint=resend)
    if code == "InvalidParameter":
        return InventoryError(f"SNS refused to verify {number}: {error.get('Message')}")
    return cast(BaseException, exc)
