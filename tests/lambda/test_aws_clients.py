"""The handlers' clients refuse a runtime SDK that lacks a parameter the code relies on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_src import aws_clients
from lambda_src.aws_clients import REQUIRED_PARAMETERS, SdkTooOld, check_sdk, client


@pytest.mark.usefixtures("moto_mock")
def test_the_sdk_the_tests_run_on_has_every_parameter_the_functions_need() -> None:
    for service in REQUIRED_PARAMETERS:
        made = client(service)
        for operation, (parameter, _) in REQUIRED_PARAMETERS[service].items():
            assert parameter in made.meta.service_model.operation_model(
                operation).input_shape.members


@pytest.mark.usefixtures("moto_mock")
def test_an_older_sdk_fails_at_the_first_client_with_one_clear_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # What a runtime with botocore before 1.35.2 looks like: PutObject without IfNoneMatch.
    monkeypatch.setitem(REQUIRED_PARAMETERS, "s3",
                        {"PutObject": ("IfNoneMatchFromTheFuture", "9.0.0")})
    with pytest.raises(SdkTooOld, match=r"has no IfNoneMatchFromTheFuture for s3 PutObject; "
                                         r"this function needs botocore >= 9\.0\.0"):
        client("s3")
    assert "s3" not in aws_clients._clients  # not kept: every invocation says so again
    [line] = capsys.readouterr().out.splitlines()
    logged = json.loads(line)
    assert {k: logged[k] for k in ("event", "service", "operation", "parameter", "needed")} == {
        "event": "sdk_too_old", "service": "s3", "operation": "PutObject",
        "parameter": "IfNoneMatchFromTheFuture", "needed": "botocore >= 9.0.0"}


def test_a_client_of_a_service_with_no_requirement_is_not_looked_at() -> None:
    class Untouchable:
        @property
        def meta(self) -> Any:
            raise AssertionError("looked at")

    check_sdk(Untouchable(), "sns")
