"""SNS in moto: deliveries that cannot leave the machine, and the SMS sandbox.

- E-mail and SMS deliveries go to the outbox once one is attached; SQS, Lambda and HTTP
  subscriptions are delivered by moto as before.
- The SMS sandbox (`GetSMSSandboxAccountStatus`, `ListSMSSandboxPhoneNumbers`,
  `Create`/`Verify`/`DeleteSMSSandboxPhoneNumber`), which moto lacks: every account starts in
  the sandbox, as a new AWS account does; the one-time code goes to the outbox as a text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory_cli.local.seam import attached, iam

# -- SNS deliveries that cannot leave the machine ----------------------------------------------


def install_sns_outbox() -> None:
    from moto.sns.models import Subscription

    from inventory_cli.local.outbox import OUTBOX_PROTOCOLS

    upstream_publish = Subscription.publish

    def publish(  # noqa: PLR0917 - the signature of the method it replaces
            self: Subscription, message: str, message_id: str, subject: str | None = None,
            message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
            deduplication_id: str | None = None, message_structure: str | None = None,
    ) -> None:
        outbox = attached.outbox
        if outbox is None or self.protocol not in OUTBOX_PROTOCOLS:
            upstream_publish(self, message, message_id, subject=subject,
                             message_attributes=message_attributes, group_id=group_id,
                             deduplication_id=deduplication_id,
                             message_structure=message_structure)
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        outbox.append(topic_arn=self.topic_arn, protocol=self.protocol, to=self.endpoint,
                      subject=None if self.protocol == "sms" else subject, message=message,
                      attributes=_plain_attributes(message_attributes),
                      message_id=message_id)

    Subscription.publish = publish  # type: ignore[method-assign]


def _plain_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: (value.get("Value") if isinstance(value, Mapping) else value)
            for name, value in (attributes or {}).items()}

# -- the SNS SMS sandbox -----------------------------------------------------------------------

# Limits AWS documents for the sandbox (Amazon SNS Developer Guide, "SMS sandbox").
SMS_SANDBOX_MAX_NUMBERS = 10
_SANDBOX_PHONE = r"^(\+[0-9]{8,}|[0-9]{0,9})$"
_SANDBOX_CODE = r"^[0-9]{5,8}$"


def _sms_sandbox(backend: Any) -> dict[str, Any]:
    """The sandbox state of one SNS backend (account and region): in the sandbox until moved."""
    state: dict[str, Any] | None = getattr(backend, "_inventory_sms_sandbox", None)
    if state is None:
        state = {"in_sandbox": True, "numbers": {}}
        backend._inventory_sms_sandbox = state
    return state


def set_sms_sandbox(account_id: str, region: str, *, in_sandbox: bool) -> None:
    """Put an account's region in or out of the SMS sandbox (AWS Support does this on AWS)."""
    from moto.sns.models import sns_backends

    _sms_sandbox(sns_backends[account_id][region])["in_sandbox"] = in_sandbox


def _sandbox_phone(response: Any) -> str:
    import re

    from moto.sns.exceptions import SNSInvalidParameter

    number = str(response._get_param("PhoneNumber") or "")
    if not re.fullmatch(_SANDBOX_PHONE, number):
        raise SNSInvalidParameter(
            "Invalid parameter: PhoneNumber Reason: input incorrectly formatted")
    return number


def _sns_error(code: str, message: str, **fields: str) -> Exception:
    from moto.sns.exceptions import SNSException

    error = SNSException(code, message)
    for name, value in fields.items():  # extra members of the error shape (Status, ...)
        setattr(error, name, value)
    return error


def _get_sms_sandbox_account_status(self: Any) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({"IsInSandbox": _sms_sandbox(self.backend)["in_sandbox"]})


def _list_sms_sandbox_phone_numbers(self: Any) -> Any:
    from moto.core.responses import ActionResult

    numbers = _sms_sandbox(self.backend)["numbers"]
    return ActionResult({"PhoneNumbers": [{"PhoneNumber": number, "Status": entry["status"]}
                                          for number, entry in sorted(numbers.items())]})


def _create_sms_sandbox_phone_number(self: Any) -> Any:
    import secrets

    from moto.core.responses import EmptyResult

    number = _sandbox_phone(self)
    numbers = _sms_sandbox(self.backend)["numbers"]
    entry = numbers.get(number)
    if entry is not None and entry["status"] == "Verified":
        raise _sns_error("UserError", f"Phone number {number} is already verified")
    if entry is None and len(numbers) >= SMS_SANDBOX_MAX_NUMBERS:
        raise _sns_error("UserError", "You have reached the limit of destination phone numbers "
                                      "in the SMS sandbox")
    code = f"{secrets.randbelow(10**6):06d}"
    numbers[number] = {"status": "Pending", "code": code}
    outbox = attached.outbox
    if outbox is not None:  # the text the phone would get
        outbox.append(topic_arn="", protocol="sms", to=number, subject=None,
                      message=f"Your Amazon SNS verification code is: {code}",
                      attributes={"purpose": "sms-sandbox-verification"})
    return EmptyResult()


def _verify_sms_sandbox_phone_number(self: Any) -> Any:
    import re

    from moto.core.responses import EmptyResult

    number = _sandbox_phone(self)
    code = str(self._get_param("OneTimePassword") or "")
    entry = _sms_sandbox(self.backend)["numbers"].get(number)
    if entry is None:
        raise _sns_error("ResourceNotFound", f"Phone number {number} is not in the SMS sandbox")
    if entry["status"] != "Verified":
        if not re.fullmatch(_SANDBOX_CODE, code) or code != entry["code"]:
            raise _sns_error("VerificationException", "Invalid OTP", Status="Failed")
        entry["status"] = "Verified"
    return EmptyResult()


def _delete_sms_sandbox_phone_number(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    number = _sandbox_phone(self)
    if _sms_sandbox(self.backend)["numbers"].pop(number, None) is None:
        raise _sns_error("ResourceNotFound", f"Phone number {number} is not in the SMS sandbox")
    return EmptyResult()


def install_sms_sandbox() -> None:
    from moto.sns.responses import SNSResponse

    SNSResponse.get_sms_sandbox_account_status = _get_sms_sandbox_account_status  # type: ignore[attr-defined]
    SNSResponse.list_sms_sandbox_phone_numbers = _list_sms_sandbox_phone_numbers  # type: ignore[attr-defined]
    SNSResponse.create_sms_sandbox_phone_number = _create_sms_sandbox_phone_number  # type: ignore[attr-defined]
    SNSResponse.verify_sms_sandbox_phone_number = _verify_sms_sandbox_phone_number  # type: ignore[attr-defined]
    SNSResponse.delete_sms_sandbox_phone_number = _delete_sms_sandbox_phone_number  # type: ignore[attr-defined]


# -- role enforcement ---------------------------------------------------------------------------

def iam_wants(response: Any, _resource: str) -> list[iam.Want]:
    """The permission an SNS request needs: its action on the topic it names (a Publish to a
    phone number names none: "*")."""
    action = str(response._get_action() or "")
    topic = response._get_param("TopicArn") or response._get_param("TargetArn") or "*"
    return [iam.Want(f"sns:{action}", str(topic))]


def install_role_checks() -> None:
    # SNS answers a refusal with HTTP 403 AuthorizationError (SNS API Reference, Publish).
    iam.register_service("SNSResponse", iam_wants, iam.query_refusal("AuthorizationError", 403))
