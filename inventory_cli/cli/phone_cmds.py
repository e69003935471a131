"""Phones and the SNS SMS sandbox: `inventory verify-phone`, and what `subscribe` says about it.

A new AWS account is in the SMS sandbox: SNS texts only verified numbers, and publishing still
succeeds for the others, so their alerts look sent but never arrive. `subscribe NUMBER` checks
and offers the verification (a code is texted); `verify-phone NUMBER CODE` completes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from inventory_cli.cli.context import AppContext, app_context

if TYPE_CHECKING:
    from inventory_cli.ops.sms_sandbox import SandboxCheck


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


# Whether the user can be asked; tests replace it.
CAN_ASK: Callable[[], bool] = _stdin_is_a_terminal

VerifyOption = Annotated[bool | None, typer.Option(
    "--verify/--no-verify", show_default=False,
    help="Phones only, when the account is in the SNS SMS sandbox: text the number a "
    "verification code (--verify) or not (--no-verify). Default: ask on a terminal, "
    "otherwise only say what to do.")]


def _say(app: AppContext, text: str) -> None:
    app.console.print(text, markup=False, soft_wrap=True)


def sandbox_notice(check: SandboxCheck, region: str) -> str:
    """What the sandbox means for this number, in words."""
    number = check.number
    state = ("has been sent a verification code but is not verified yet"
             if check.state == "pending" else "is not a verified number")
    text = (f"SMS sandbox: this AWS account is in the SNS SMS sandbox in {region}, and {number} "
            f"{state}. In the sandbox SNS texts only verified numbers: alerts to {number} "
            "would look sent but never arrive.")
    if number.startswith("+1"):
        text += (" A US number (+1) also needs an origination identity (a toll-free number "
                 "or 10DLC registration) in this account before any text reaches it.")
    return text


def after_phone_subscribe(app: AppContext, number: str, verify: bool | None) -> None:
    """Called by `subscribe` for a phone: check the sandbox, say what it means, offer to verify."""
    from inventory_cli.ops import sms_sandbox

    aws = app.aws()
    check = sms_sandbox.check_number(aws, number)
    if check.problem is not None:
        app.err.print(f"Note: could not check the SNS SMS sandbox ({check.problem}). If this "
                      "account is in the sandbox, texts reach only verified numbers: see "
                      "`inventory verify-phone --help`.", markup=False, soft_wrap=True)
        return
    if not check.blocks_texts:
        return
    _say(app, sandbox_notice(check, aws.region))
    if verify is None and CAN_ASK():
        verify = typer.confirm(f"Text a verification code to {number} now?", default=True)
    if verify:
        sms_sandbox.send_code(aws, number)
        _say(app, f"Texted a verification code to {number}. When it arrives, run: "
                  f"inventory verify-phone {number} CODE")
    elif verify is None:
        _say(app, f"To verify it, run `inventory subscribe {number} --verify` (texts it a "
                  f"code), then `inventory verify-phone {number} CODE`.")
    else:
        _say(app, f"Not verified. Later: `inventory subscribe {number} --verify`, then "
                  f"`inventory verify-phone {number} CODE`. To leave the sandbox for good, "
                  "request production access for SMS in the SNS console.")


def verify_phone(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(
        metavar="PHONE", help="The number in E.164 form (+4915112345678).")],
    code: Annotated[str, typer.Argument(
        metavar="CODE", help="The verification code SNS texted to it (5 to 8 digits).")],
) -> None:
    """Verify a phone number in the SNS SMS sandbox with the code it was texted.

    While an AWS account is in the SMS sandbox, SNS texts only verified numbers.
    `inventory subscribe PHONE --verify` texts the code; this command enters it.

    Example: inventory verify-phone +4915112345678 123456
    """
    from inventory_cli.ops import sms_sandbox
    from inventory_cli.ops.subscriptions import infer_protocol

    infer_protocol(number, "sms")
    sms_sandbox.valid_code(code)
    app = app_context(ctx)
    aws = app.aws()
    check = sms_sandbox.check_number(aws, number)
    if check.in_sandbox is False:
        _say(app, f"This AWS account is not in the SNS SMS sandbox in {aws.region}: texts "
                  f"reach every number, so {number} needs no verification.")
        return
    if check.state == "verified":
        _say(app, f"{number} is already verified in the SMS sandbox; alerts reach it.")
        return
    sms_sandbox.verify(aws, number, code)
    _say(app, f"Verified {number}: texts from this account's SMS sandbox now reach it.")


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("verify-phone")(verify_phone)
