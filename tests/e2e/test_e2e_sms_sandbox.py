"""End-to-end: a phone in the SNS SMS sandbox, verified through the installed command.

On our emulator every account starts in the SMS sandbox, as a new AWS account does, and the
verification code arrives in the outbox as a text: subscribe the phone -> the code in
`inventory local outbox` -> `inventory verify-phone` -> `subscriptions` shows it verified.
On other targets no phone is subscribed (it would text a real number); only what needs no
AWS call is checked there.
"""

from __future__ import annotations

import json
import re

import pytest
from e2e_target import Target

pytestmark = pytest.mark.e2e

PHONE = "+4915112345678"


def test_a_phone_is_verified_with_the_code_it_was_texted(e2e: Target) -> None:
    bad = e2e.run("verify-phone", PHONE, "12", expect=2)
    assert bad.stderr == "Error: '12' is not a verification code: SNS texts 5 to 8 digits\n"
    if not e2e.is_local:
        return

    e2e.run("provision")
    subscribed = e2e.run("subscribe", PHONE, "--store", "Berlin", "--verify")
    assert subscribed.stdout.splitlines() == [
        f"Subscribed {PHONE} (sms) to alerts for Berlin.",
        f"SMS sandbox: this AWS account is in the SNS SMS sandbox in us-east-1, and {PHONE} is "
        f"not a verified number. In the sandbox SNS texts only verified numbers: alerts to "
        f"{PHONE} would look sent but never arrive.",
        f"Texted a verification code to {PHONE}. When it arrives, run: inventory verify-phone "
        f"{PHONE} CODE",
    ]

    [text] = e2e.outbox()
    assert (text["protocol"], text["to"]) == ("sms", PHONE)
    code = re.fullmatch(r"Your Amazon SNS verification code is: (\d{6})", text["message"])
    assert code is not None, text
    shown = e2e.run("local", "outbox", stack=False).stdout
    assert f"To: {PHONE} (sms)" in shown and code.group(1) in shown

    listing = e2e.json("subscriptions", "--output", "json")
    assert [(s["endpoint"], s["status"], s["sms_sandbox"]) for s in listing] == [
        (PHONE, "confirmed", "pending")]
    table = e2e.run("subscriptions", "--output", "table").stdout
    assert re.search(
        rf"^alerts\s+{re.escape(PHONE)}\s+sms\s+unverified \(SMS sandbox\)\s+Berlin\s*$",
        table, re.MULTILINE), table

    wrong = "000000" if code.group(1) != "000000" else "111111"
    refused = e2e.run("verify-phone", PHONE, wrong, expect=1)
    assert refused.stderr.startswith(
        f"Error: SNS refused the code for {PHONE}: it is wrong or has expired")
    assert "Traceback" not in refused.stderr

    verified = e2e.run("verify-phone", PHONE, code.group(1))
    assert verified.stdout == (
        f"Verified {PHONE}: texts from this account's SMS sandbox now reach it.\n")
    listing = e2e.json("subscriptions", "--output", "json")
    assert [(s["endpoint"], s["status"], s["sms_sandbox"]) for s in listing] == [
        (PHONE, "confirmed", "verified")]
    table = e2e.run("subscriptions", "--output", "table").stdout
    assert re.search(rf"^alerts\s+{re.escape(PHONE)}\s+sms\s+confirmed\s+Berlin\s*$", table,
                     re.MULTILINE), table
    # Subscribing again now says nothing about the sandbox, and texts no new code.
    again = e2e.run("subscribe", PHONE, "--store", "Berlin")
    assert again.stdout == (f"{PHONE} (sms) is already subscribed to alerts for Berlin; "
                            "nothing changed.\n")
    assert len(e2e.outbox()) == 1
    assert json.loads(e2e.run("local", "outbox", "--output", "json", stack=False).stdout)[0][
        "attributes"] == {"purpose": "sms-sandbox-verification"}
