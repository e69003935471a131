"""`inventory verify-phone`: completes the SNS SMS sandbox verification `subscribe` offers
(see `inventory_cli.cli.phone`)."""

from __future__ import annotations

from typing import Annotated

import typer

from inventory_cli.cli.context import app_context
from inventory_cli.cli.phone import say


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
        say(app, f"This AWS account is not in the SNS SMS sandbox in {aws.region}: texts "
                  f"reach every number, so {number} needs no verification.")
        return
    if check.state == "verified":
        say(app, f"{number} is already verified in the SMS sandbox; alerts reach it.")
        return
    sms_sandbox.verify(aws, number, code)
    say(app, f"Verified {number}: texts from this account's SMS sandbox now reach it.")


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("verify-phone")(verify_phone)
