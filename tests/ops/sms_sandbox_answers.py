"""AWS's answers to the SNS SMS sandbox calls, played through botocore's before-call hook.

Each answer is what the SNS API reference documents (shapes of GetSMSSandboxAccountStatus,
ListSMSSandboxPhoneNumbers, Create/VerifySMSSandboxPhoneNumber and their errors), so the
commands are tested against AWS's behaviour, not against the emulator's imitation of it. Every
other SNS call still goes to moto.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from inventory_cli.aws import Aws

OPERATIONS = ("GetSMSSandboxAccountStatus", "ListSMSSandboxPhoneNumbers",
              "CreateSMSSandboxPhoneNumber", "VerifySMSSandboxPhoneNumber")
_STATUS = {"AuthorizationError": 403, "ResourceNotFound": 404, "Throttled": 429}


def error(code: str, message: str, **extra: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message, "Type": "Sender", **extra},
            "ResponseMetadata": {"HTTPStatusCode": _STATUS.get(code, 400)}}


@dataclass
class SandboxAnswers:
    """The account's sandbox as AWS would answer about it; `calls` records what was asked."""

    in_sandbox: bool = True
    numbers: dict[str, str] = field(default_factory=dict)  # number -> "Pending" | "Verified"
    code: str = "123456"
    # Operation -> an error answer (see `error`) given instead of the normal one.
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def install(self, aws: Aws) -> None:
        # Both clients: the checks are made with one that does not retry.
        for client in (aws.client("sns"), aws.single_attempt_client("sns")):
            for operation in OPERATIONS:
                client.meta.events.register(f"before-call.sns.{operation}", self._answer)

    def uninstall(self, aws: Aws) -> None:
        for client in (aws.client("sns"), aws.single_attempt_client("sns")):
            for operation in OPERATIONS:
                client.meta.events.unregister(f"before-call.sns.{operation}", self._answer)

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        name = model.name
        body = params.get("body", {})
        self.calls.append((name, {k: v for k, v in body.items()
                                  if k not in ("Action", "Version")}))
        if name in self.errors:
            answer = self.errors[name]
            return SimpleNamespace(status_code=answer["ResponseMetadata"]["HTTPStatusCode"]), answer
        ok: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if name == "GetSMSSandboxAccountStatus":
            ok["IsInSandbox"] = self.in_sandbox
        elif name == "ListSMSSandboxPhoneNumbers":
            ok["PhoneNumbers"] = [{"PhoneNumber": n, "Status": s}
                                  for n, s in sorted(self.numbers.items())]
        elif name == "CreateSMSSandboxPhoneNumber":
            self.numbers[body["PhoneNumber"]] = "Pending"
        elif name == "VerifySMSSandboxPhoneNumber":
            number = body["PhoneNumber"]
            if number not in self.numbers:
                answer = error("ResourceNotFound", "Phone number does not exist")
                return SimpleNamespace(status_code=404), answer
            if body["OneTimePassword"] != self.code:
                answer = error("VerificationException", "Invalid OTP", Status="Failed")
                return SimpleNamespace(status_code=400), answer
            self.numbers[number] = "Verified"
        return SimpleNamespace(status_code=200), ok


@contextlib.contextmanager
def sandbox_answers(aws: Aws, *, in_sandbox: bool) -> Iterator[SandboxAnswers]:
    """SNS answering for an account in (or out of) the SMS sandbox while the block runs."""
    answers = SandboxAnswers(in_sandbox=in_sandbox)
    answers.install(aws)
    try:
        yield answers
    finally:
        answers.uninstall(aws)
