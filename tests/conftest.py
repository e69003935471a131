"""Shared fixtures: fake credentials -> moto mock -> session -> the AWS adapter.

Order matters (see moto's getting-started guide): credentials and the mock exist before any
client is created, and AWS_ENDPOINT_URL is unset, since with it set moto does not intercept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from inventory_cli.aws import Aws
from inventory_cli.local import moto_seam
from inventory_cli.provisioning import ProvisionResult, provision

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
EVENTS = Path(__file__).resolve().parent / "events"
REGION = "us-east-1"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "INVENTORY_LOCAL", "INVENTORY_STACK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    # Without this, botocore sends DynamoDB Streams calls to an account-prefixed host that the
    # in-process mock does not match (NOTES-moto.md).
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    # Keep any emulator state of a test away from the developer's own.
    monkeypatch.setenv("INVENTORY_HOME", str(tmp_path / "inventory-home"))


@pytest.fixture
def moto_mock(aws_credentials: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def session(moto_mock: None) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def aws(session: boto3.session.Session) -> Aws:
    return Aws(session, stack="inventory")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("NO_COLOR", "1")


class RecordedInvocations:
    """Stands in for the emulator's Lambda runtime in in-process tests: records, runs nothing.

    In-process there is no HTTP endpoint a handler could call back, so no Lambda code runs here
    (the handlers are tested directly in tests/lambda and end to end on the emulator in
    tests/e2e). Without this, moto would try to reach Docker for every S3 notification.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.stream_records: list[tuple[str, int]] = []

    def submit_event(self, spec: Any, event_json: str, config: Any = None) -> None:
        self.events.append((spec.name, event_json))

    def submit_stream_records(self, spec: Any, mapping: Any, records: list[Any]) -> None:
        self.stream_records.append((spec.name, len(records)))

    def invoke(self, spec: Any, event_json: str) -> Any:
        raise AssertionError(f"no Lambda code runs in-process (direct invoke of {spec.name})")


@pytest.fixture
def lambda_invocations(moto_mock: None) -> Iterator[RecordedInvocations]:
    """Route moto's Lambda invocations to a recorder for the duration of a test."""
    recorder = RecordedInvocations()
    moto_seam.attach(runtime=recorder)  # type: ignore[arg-type]
    try:
        yield recorder
    finally:
        moto_seam.detach()


@pytest.fixture
def provisioned_stack(aws: Aws, lambda_invocations: RecordedInvocations) -> ProvisionResult:
    """The real stack, built by `provision` on in-process moto (threshold 0, no sleeping).

    The moto seam is installed first: moto lacks Cognito role mapping, and its bucket policies
    treat a missing `aws:SecureTransport` as satisfied (see inventory_cli/local/moto_seam.py);
    `lambda_invocations` installed it when it attached the recorder.
    """
    return provision(aws, threshold=0, sleep=lambda _: None)
