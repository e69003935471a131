"""Any AWS SDK error in any command ends in one line naming the call, AWS's code and message
(plus a hint where one helps), exit 1; `--debug` adds the traceback. The errors are injected
with botocore event hooks on the real provisioned stack (in-process moto)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ParamValidationError
from cli_runner import Cli

from inventory_cli.aws import Aws, translate_aws_error
from inventory_cli.config import StackNames


@pytest.fixture
def cli(aws: Aws) -> Cli:
    """Tables here are read at 100 columns."""
    return Cli(aws, columns=100)


def aws_answer(code: str, message: str, status: int = 400) -> Callable[..., Any]:
    """A before-call hook that makes the call get this error answer from "AWS"."""
    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return (AWSResponse("https://aws.example", status, {}, None),
                {"Error": {"Code": code, "Message": message},
                 "ResponseMetadata": {"HTTPStatusCode": status}})
    return answer


def raising(exc: Exception) -> Callable[..., Any]:
    def hook(**_: Any) -> None:
        raise exc
    return hook


def test_an_unexpected_aws_answer_is_one_line_naming_the_call(cli: Cli, aws: Aws,
                                                              stack: StackNames) -> None:
    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb.Scan",
        aws_answer("InternalServerError", "Internal server error\nplease retry", 500))
    result = cli("show")
    assert result.exit_code == 1
    assert result.stderr == ("Error: DynamoDB Scan failed: InternalServerError: Internal server "
                             "error; please retry\n")
    assert "Traceback" not in result.output


def test_access_denied_names_the_call_and_where_the_permissions_are_listed(cli: Cli,
        aws: Aws, stack: StackNames) -> None:
    aws.client("logs").meta.events.register(
        "before-call.cloudwatch-logs.FilterLogEvents",
        aws_answer("AccessDeniedException", "User: arn:aws:iam::123456789012:user/ops is not "
                   "authorized to perform: logs:FilterLogEvents", 403))
    result = cli("logs", "load")
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()
    assert first == ("Error: CloudWatch Logs FilterLogEvents failed: AccessDeniedException: "
                     "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: "
                     "logs:FilterLogEvents")
    assert hint.startswith("Hint: your identity lacks this permission") and "docs/stack.md" in hint


def test_an_unreachable_endpoint_is_one_line_with_a_hint(cli: Cli,
                                                         aws: Aws, stack: StackNames) -> None:
    aws.client("dynamodb").meta.events.register(
        "before-send.dynamodb.Scan",
        raising(EndpointConnectionError(endpoint_url="http://127.0.0.1:9")))
    result = cli("stores", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Error: DynamoDB Scan failed: EndpointConnectionError: Could not connect to the endpoint '
        'URL: "http://127.0.0.1:9"',
        "Hint: check your network and --endpoint-url / AWS_ENDPOINT_URL; for the built-in "
        "emulator, `inventory local start`"]


def test_an_invalid_parameter_is_one_line_and_debug_shows_the_traceback(cli: Cli,
        aws: Aws, stack: StackNames) -> None:
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.Query",
        raising(ParamValidationError(report="Invalid length for parameter Key, value: 0\n"
                                            "Invalid type for parameter Limit")))
    result = cli("alerts", "--store", "Berlin")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: DynamoDB Query failed: ParamValidationError: Parameter validation failed:; "
        "Invalid length for parameter Key, value: 0; Invalid type for parameter Limit")
    assert "Traceback" not in result.stderr
    debug = cli("--debug", "alerts", "--store", "Berlin")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-2].startswith("Error: DynamoDB Query failed")


def test_a_failure_inside_a_worker_thread_still_names_its_call(cli: Cli,
        aws: Aws, stack: StackNames, tmp_path: Any) -> None:
    """`upload` sends files from a thread pool: the call's name travels with the exception."""
    aws.client("s3").meta.events.register(
        "before-call.s3.HeadObject", aws_answer("SlowDown", "Please reduce your request rate.",
                                                503))
    (tmp_path / "a.csv").write_text("store,item,count\nBerlin,Echo,3\n")
    result = cli("upload", str(tmp_path / "a.csv"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: S3 HeadObject failed: SlowDown: Please reduce your request rate.",
        "Hint: AWS is throttling this account's calls; try again in a moment"]


def test_a_refused_upload_names_the_file_and_s3s_answer(cli: Cli, aws: Aws, stack: StackNames,
                                                       tmp_path: Any) -> None:
    """boto3's transfer wraps the failed PutObject in S3UploadFailedError: the line still names
    the call and S3's code."""
    aws.client("s3").meta.events.register(
        "before-call.s3.PutObject", aws_answer("AccessDenied", "Access Denied", 403))
    path = tmp_path / "a.csv"
    path.write_text("store,item,count\nBerlin,Echo,3\n")
    result = cli("upload", str(path))
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()
    assert first == (f"Error: upload of {path} failed: S3 PutObject failed: AccessDenied: "
                     "Access Denied")
    assert hint.startswith("Hint: your identity lacks this permission")


def test_errors_that_are_not_aws_errors_are_not_translated() -> None:
    assert translate_aws_error(ValueError("x")) is None
    assert translate_aws_error(KeyError("x")) is None


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidClientTokenId"])
def test_rejected_credentials_get_the_refresh_hint(cli: Cli, aws: Aws, stack: StackNames,
                                                   code: str) -> None:
    aws.client("sns").meta.events.register(
        "before-call.sns.ListSubscriptionsByTopic", aws_answer(code, "The token expired", 403))
    result = cli("subscriptions", "--output", "json")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: SNS ListSubscriptionsByTopic failed: {code}: The token expired",
        "Hint: refresh your credentials or pick another --profile"]
