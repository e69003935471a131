"""Phones and the SNS SMS sandbox: what `subscribe` and `verify-phone` say about it.

A new AWS account is in the SMS sandbox: SNS texts only verified numbers, and publishing still
succeeds for the others, so their alerts look sent but never arrive. `subscribe NUMBER` checks
and offers the verification (a code is texted); `verify-phone NUMBER CODE` completes it.
Shared by both commands' modules (`ops_cmds`, `phone_cmds`), which do not import each other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from inventory_cli.cli.context import AppContext

if TYPE_CHECKING:
    from inventory_cli.ops.sms_sandbox import SandboxCheck


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


# Whether the user can be asked; tests replace it.
CAN_ASK: Callable[[], bool] = _stdin_is_a_terminal


def say(app: AppContext, text: str) -> None:
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
    say(app, sandbox_notice(check, aws.region))
    if verify is None and CAN_ASK():
        verify = typer.confirm(f"Text a verification code to {number} now?", default=True)
    if verify:
        sms_sandbox.send_code(aws, number)
        say(app, f"Texted a verification code to {number}. When it arrives, run: "
                  f"inventory verify-phone {number} CODE")
    elif verify is None:
        say(app, f"To verify it, run `inventory subscribe {number} --verify` (texts it a "
                  f"code), then `inventory verify-phone {number} CODE`.")
    else:
        say(app, f"Not verified. Later: `inventory subscribe {number} --verify`, then "
                  f"`inventory verify-phone {number} CODE`. To leave the sandbox for good, "
                  "request production access for SMS in the SNS console.")
