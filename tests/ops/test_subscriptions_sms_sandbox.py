"""subscribe / subscriptions / verify-phone in the SNS SMS sandbox, with AWS's answers.

The sandbox calls are answered as AWS documents them (sms_sandbox_answers.py); the topic and
its subscriptions are the real stack's on moto. Each test checks the exact output, the exit
code, and which sandbox calls were made (nothing is texted unless asked for).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cli_runner import Cli
from sms_sandbox_answers import SandboxAnswers, error, sandbox_answers

from inventory_cli.aws import Aws
from inventory_cli.cli import phone
from inventory_cli.config import StackNames

PHONE = "+4915112345678"
NOTICE = (f"SMS sandbox: this AWS account is in the SNS SMS sandbox in us-east-1, and {PHONE} "
          f"is not a verified number. In the sandbox SNS texts only verified numbers: alerts "
          f"to {PHONE} would look sent but never arrive.\n")
SUBSCRIBED = f"Subscribed {PHONE} (sms) to alerts for every store.\n"
HOW_TO_VERIFY = (f"To verify it, run `inventory subscribe {PHONE} --verify` (texts it a code), "
                 f"then `inventory verify-phone {PHONE} CODE`.\n")
TEXTED = (f"Texted a verification code to {PHONE}. When it arrives, run: inventory "
          f"verify-phone {PHONE} CODE\n")


@pytest.fixture
def sandbox(aws: Aws, stack: StackNames) -> Iterator[SandboxAnswers]:
    with sandbox_answers(aws, in_sandbox=True) as answers:
        yield answers


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phone, "CAN_ASK", lambda: True)


def test_in_the_sandbox_an_unverified_number_is_explained_and_nothing_is_texted_unasked(cli: Cli,
        aws: Aws, sandbox: SandboxAnswers) -> None:
    result = cli("subscribe", PHONE)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, SUBSCRIBED + NOTICE + HOW_TO_VERIFY, "")
    assert sandbox.operations() == ["GetSMSSandboxAccountStatus", "ListSMSSandboxPhoneNumbers"]


def test_verify_texts_a_code_and_verify_phone_completes_it(cli: Cli,
        aws: Aws, sandbox: SandboxAnswers) -> None:
    result = cli("subscribe", PHONE, "--verify")
    assert (result.exit_code, result.stdout) == (0, SUBSCRIBED + NOTICE + TEXTED)
    assert sandbox.calls[-1] == ("CreateSMSSandboxPhoneNumber", {"PhoneNumber": PHONE})
    assert sandbox.numbers == {PHONE: "Pending"}

    listing = cli("subscriptions", "-o", "table")
    assert listing.stdout == (
        "Topic    Endpoint         Protocol   Status                     Stores\n"
        "──────────────────────────────────────────────────────────────────────\n"
        "alerts   +4915112345678   sms        unverified (SMS sandbox)   all   \n"
        "unverified (SMS sandbox): this AWS account is in the SNS SMS sandbox, which texts only "
        "verified numbers; alerts to these never arrive. Verify one with `inventory subscribe "
        "NUMBER --verify`, then `inventory verify-phone NUMBER CODE`.\n")
    assert json.loads(cli("subscriptions", "-o", "json").stdout) == [
        {"endpoint": PHONE, "protocol": "sms", "status": "confirmed", "stores": None,
         "sms_sandbox": "pending", "topic": "alerts"}]

    verified = cli("verify-phone", PHONE, "123456")
    assert (verified.exit_code, verified.stdout) == (
        0, f"Verified {PHONE}: texts from this account's SMS sandbox now reach it.\n")
    assert sandbox.calls[-1] == ("VerifySMSSandboxPhoneNumber",
                                 {"PhoneNumber": PHONE, "OneTimePassword": "123456"})
    assert cli("subscriptions", "-o", "table").stdout == (
        "Topic    Endpoint         Protocol   Status      Stores\n"
        "───────────────────────────────────────────────────────\n"
        "alerts   +4915112345678   sms        confirmed   all   \n")
    assert json.loads(cli("subscriptions", "-o", "json").stdout)[0]["sms_sandbox"] \
        == "verified"
    again = cli("verify-phone", PHONE, "123456")
    assert again.stdout == f"{PHONE} is already verified in the SMS sandbox; alerts reach it.\n"


def test_a_verified_number_changes_nothing(cli: Cli, aws: Aws, sandbox: SandboxAnswers) -> None:
    sandbox.numbers[PHONE] = "Verified"
    result = cli("subscribe", PHONE, "--verify")
    assert (result.exit_code, result.stdout) == (0, SUBSCRIBED)
    assert "CreateSMSSandboxPhoneNumber" not in sandbox.operations()


def test_outside_the_sandbox_nothing_changes(cli: Cli, aws: Aws, sandbox: SandboxAnswers) -> None:
    sandbox.in_sandbox = False
    result = cli("subscribe", PHONE, "--verify")
    assert (result.exit_code, result.stdout, result.stderr) == (0, SUBSCRIBED, "")
    assert sandbox.operations() == ["GetSMSSandboxAccountStatus"]
    assert cli("subscriptions", "-o", "table").stdout == (
        "Topic    Endpoint         Protocol   Status      Stores\n"
        "───────────────────────────────────────────────────────\n"
        "alerts   +4915112345678   sms        confirmed   all   \n")
    out = cli("verify-phone", PHONE, "123456")
    assert (out.exit_code, out.stdout) == (
        0, "This AWS account is not in the SNS SMS sandbox in us-east-1: texts reach every "
           f"number, so {PHONE} needs no verification.\n")
    assert "VerifySMSSandboxPhoneNumber" not in sandbox.operations()


def test_on_a_terminal_it_asks(cli: Cli, aws: Aws, sandbox: SandboxAnswers, terminal: None) -> None:
    declined = cli("subscribe", PHONE, input="n\n")
    assert declined.exit_code == 0
    assert declined.stdout == (
        SUBSCRIBED + NOTICE + f"Text a verification code to {PHONE} now? [Y/n]: n\n"
        f"Not verified. Later: `inventory subscribe {PHONE} --verify`, then `inventory "
        f"verify-phone {PHONE} CODE`. To leave the sandbox for good, request production access "
        "for SMS in the SNS console.\n")
    assert "CreateSMSSandboxPhoneNumber" not in sandbox.operations()
    accepted = cli("subscribe", PHONE, input="\n")
    assert accepted.stdout.endswith(f"now? [Y/n]: \n{TEXTED}")
    assert sandbox.numbers == {PHONE: "Pending"}
    # --no-verify is for scripts: no question even on a terminal.
    scripted = cli("subscribe", PHONE, "--no-verify")
    assert "[Y/n]" not in scripted.stdout
    assert "has been sent a verification code but is not verified yet" in scripted.stdout


def test_a_us_number_is_told_about_origination_identities(cli: Cli, aws: Aws,
                                                          sandbox: SandboxAnswers) -> None:
    result = cli("subscribe", "+12025550123", "--no-verify")
    assert ("A US number (+1) also needs an origination identity (a toll-free number or 10DLC "
            "registration) in this account before any text reaches it.") in result.stdout


@pytest.mark.parametrize(("answer", "stderr"), [
    (error("VerificationException", "Invalid OTP", Status="Failed"),
     f"Error: SNS refused the code for {PHONE}: it is wrong or has expired (Invalid OTP; "
     f"Failed)\nHint: check the latest text to {PHONE}, or `inventory subscribe {PHONE} "
     "--verify` texts a new code\n"),
    (error("VerificationException", "The OTP has expired", Status="Expired"),
     f"Error: SNS refused the code for {PHONE}: it is wrong or has expired (The OTP has "
     f"expired; Expired)\nHint: check the latest text to {PHONE}, or `inventory subscribe "
     f"{PHONE} --verify` texts a new code\n"),
    (error("ResourceNotFound", "Phone number does not exist"),
     f"Error: {PHONE} is not waiting for a verification code in this account's SMS sandbox\n"
     f"Hint: `inventory subscribe {PHONE} --verify` texts a new code\n"),
])
def test_a_wrong_expired_or_unknown_code_is_exit_1_saying_what_to_do(cli: Cli,
        aws: Aws, sandbox: SandboxAnswers, answer: dict[str, object], stderr: str) -> None:
    sandbox.numbers[PHONE] = "Pending"
    sandbox.errors["VerifySMSSandboxPhoneNumber"] = answer  # type: ignore[assignment]
    result = cli("verify-phone", PHONE, "654321")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", stderr)
    assert sandbox.numbers == {PHONE: "Pending"}


@pytest.mark.parametrize(("args", "stderr"), [
    ((PHONE, "12 34"), "Error: '12 34' is not a verification code: SNS texts 5 to 8 digits\n"),
    ((PHONE, "1234"), "Error: '1234' is not a verification code: SNS texts 5 to 8 digits\n"),
    (("015112345678", "123456"), "Error: '015112345678' is not a phone number in E.164 form "
                                 "like +4915112345678\n"),
])
def test_bad_input_is_exit_2_before_any_call(cli: Cli, aws: Aws, sandbox: SandboxAnswers,
                                             args: tuple[str, str], stderr: str) -> None:
    result = cli("verify-phone", *args)
    assert (result.exit_code, result.stderr) == (2, stderr)
    assert sandbox.calls == []


def test_an_unreadable_sandbox_is_a_note_not_a_failure(cli: Cli, aws: Aws,
                                                       sandbox: SandboxAnswers) -> None:
    sandbox.errors["GetSMSSandboxAccountStatus"] = error(
        "AuthorizationError", "User is not authorized to perform: "
        "sns:GetSMSSandboxAccountStatus")
    result = cli("subscribe", PHONE)
    assert (result.exit_code, result.stdout) == (0, SUBSCRIBED)
    assert result.stderr == (
        "Note: could not check the SNS SMS sandbox (AuthorizationError: User is not authorized "
        "to perform: sns:GetSMSSandboxAccountStatus). If this account is in the sandbox, texts "
        "reach only verified numbers: see `inventory verify-phone --help`.\n")
    listing = cli("subscriptions", "-o", "json")
    assert listing.exit_code == 0
    assert json.loads(listing.stdout)[0]["sms_sandbox"] is None
    assert listing.stderr.startswith("Note: could not check the SMS sandbox (AuthorizationError")


def test_an_opted_out_number_cannot_be_texted_a_code(cli: Cli, aws: Aws,
                                                     sandbox: SandboxAnswers) -> None:
    sandbox.errors["CreateSMSSandboxPhoneNumber"] = error(
        "OptedOut", "Phone number is opted out")
    result = cli("subscribe", PHONE, "--verify")
    assert result.exit_code == 1
    assert result.stdout == SUBSCRIBED + NOTICE
    assert result.stderr == (
        f"Error: {PHONE} has opted out of texts from this AWS account, so SNS cannot send it a "
        "verification code\nHint: the phone's owner can opt in again by replying START, or see "
        "`aws sns opt-in-phone-number`\n")


def test_an_endpoint_without_the_sandbox_calls_is_asked_once(cli: Cli,
                                                             aws: Aws, stack: StackNames) -> None:
    """A plain moto server answers the unknown action with HTTP 500; the standard retry mode
    would try 8 times with back-off. The check tries once and carries on with a note."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: object) -> Iterator[bytes]:
            yield b"<html><title>500 Internal Server Error</title></html>"

    sent: list[str] = []

    def answer_500(request: object, **_: object) -> AWSResponse:
        sent.append("GetSMSSandboxAccountStatus")
        return AWSResponse("http://localhost", 500, {}, Raw())

    client = aws.single_attempt_client("sns")
    client.meta.events.register("before-send.sns.GetSMSSandboxAccountStatus", answer_500)
    result = cli("subscribe", PHONE)
    assert (result.exit_code, result.stdout) == (0, SUBSCRIBED)
    assert result.stderr.startswith("Note: could not check the SNS SMS sandbox (500: ")
    assert sent == ["GetSMSSandboxAccountStatus"]


def test_an_operators_phone_follows_the_same_sandbox_rules(cli: Cli, 
        aws: Aws, sandbox: SandboxAnswers) -> None:
    result = cli("subscribe", PHONE, "--ops", "--verify")
    assert (result.exit_code, result.stdout) == (
        0, f"Subscribed {PHONE} (sms) to the operators' messages.\n" + NOTICE + TEXTED)
    assert sandbox.calls[-1] == ("CreateSMSSandboxPhoneNumber", {"PhoneNumber": PHONE})
    listed = json.loads(cli("subscriptions", "-o", "json").stdout)
    assert [(s["topic"], s["endpoint"], s["sms_sandbox"]) for s in listed] == [
        ("ops", PHONE, "pending")]
    assert cli("verify-phone", PHONE, "123456").exit_code == 0
    listed = json.loads(cli("subscriptions", "-o", "json").stdout)
    assert [(s["topic"], s["sms_sandbox"]) for s in listed] == [("ops", "verified")]
