"""Lambda in moto: invocations handed to the emulator's runtime, the plain data it works with.

- Lambda execution: without Docker, moto runs no code. Once a runtime is attached
  (`attach(runtime=...)`, done by the emulator server), invocations go to
  `lambda_runtime.LambdaRuntime`: event-source calls (S3, SNS, streams) and `Event` invokes are
  queued and return at once, as on AWS; `RequestResponse` invokes wait for the result.
- Event invoke configs: a put replaces the function's config and an update changes only what it
  names, as on AWS.
- On-failure destinations: Lambda's invocation records delivered to S3, SQS or SNS, with the
  function's execution role as on AWS (an S3 destination needs s3:PutObject and s3:ListBucket,
  an SQS one sqs:SendMessage, an SNS one sns:Publish: Lambda Developer Guide, "Capturing records
  of Lambda asynchronous invocations" and "Retaining discarded batches for a DynamoDB event
  source"); a record the role may not write is lost, as on AWS.
- Execution roles: each function runs with temporary credentials of its role
  (`function_credentials`, handed to the runtime in `RuntimeFunction.credentials`), and its calls
  are checked against the role (`seam/iam.py`; what IAM sees of a Lambda request:
  `iam_wants`).
- Function URLs: moto keeps their configuration; `function_url_target` finds the function a
  URL belongs to, for the emulator's own HTTP route (`function_urls.py`).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from inventory_cli.local.seam import attached, iam

if TYPE_CHECKING:
    from inventory_cli.local.lambda_dispatch import AsyncConfig, StreamMapping
    from inventory_cli.local.lambda_worker import RuntimeFunction

logger = logging.getLogger(__name__)

# -- Lambda functions --------------------------------------------------------------------------


def function_spec(fn: Any) -> RuntimeFunction:
    """The plain description of a moto `LambdaFunction` that the runtime works with."""
    from inventory_cli.local.lambda_worker import RuntimeFunction

    code_id = (getattr(fn, "code", None) or {}).get("UUID", "")
    return RuntimeFunction(
        arn=fn.function_arn, name=fn.function_name, handler=fn.handler or "",
        runtime=fn.run_time or "", code_sha256=fn.code_sha_256 or "",
        code=getattr(fn, "code_bytes", b"") or b"",
        environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
        timeout_s=float(fn.timeout or 3), memory_mb=int(fn.memory_size or 128),
        version=str(fn.version), region=fn.region, account_id=fn.account_id,
        instance_id=f"{id(fn)}:{code_id}", credentials=function_credentials(fn))


def function_credentials(fn: Any) -> dict[str, str]:
    """The temporary credentials of the function's execution role (STS AssumeRole)."""
    return iam.function_credentials(account_id=fn.account_id, region=fn.region,
                                    role_arn=str(fn.role or ""), function_name=fn.function_name)


# What Lambda's stream poller does with the function's execution role (Lambda Developer Guide,
# "Process DynamoDB records with Lambda", execution role permissions).
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords",
                       "dynamodb:GetShardIterator")


def stream_read_refusal(credentials: Mapping[str, str], stream_arn: str) -> iam.Refusal | None:
    """Why the role of these credentials may not read the stream for a mapping, or None."""
    session = iam.session_of_credentials(credentials) if iam.enforcing() else None
    if session is None:
        return None
    wants = [iam.Want(action, stream_arn) for action in STREAM_READ_ACTIONS]
    return iam.first_refusal(session, [*wants, iam.Want("dynamodb:ListStreams", "*")])


def install_stream_mapping_check() -> None:
    """CreateEventSourceMapping for a DynamoDB stream checks that the function's role may read
    it, as Lambda does (InvalidParameterValueException, "Cannot access stream ...")."""
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend

    upstream = LambdaBackend.create_event_source_mapping

    @functools.wraps(upstream)
    def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> Any:
        source = str(spec.get("EventSourceArn") or "")
        if ":dynamodb:" in source and "/stream/" in source:
            try:
                fn = self.get_function(str(spec.get("FunctionName") or ""))
            except Exception:  # noqa: BLE001 - moto's own answer for a missing function
                return upstream(self, spec)
            if stream_read_refusal(function_credentials(fn), source) is not None:
                raise InvalidParameterValueException(
                    f"Cannot access stream {source}. Please ensure the role can perform the "
                    "GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on "
                    "your stream in IAM.")
        return upstream(self, spec)

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def function_session(function_arn: str) -> iam.Session | None:
    """The role session a function (by ARN, qualified or not) runs with; None if it is gone."""
    from moto.awslambda.models import lambda_backends

    parts = function_arn.split(":")
    if len(parts) < 7 or parts[5] != "function":
        return None
    try:
        fn = lambda_backends[parts[4]][parts[3]].get_function(parts[6])
    except Exception:  # noqa: BLE001 - moto raises several kinds for "no function"
        return None
    return iam.session_of_credentials(function_credentials(fn))


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return None


def install_lambda_invoke() -> None:
    from moto.awslambda.models import LambdaFunction

    upstream_invoke = LambdaFunction.invoke

    def invoke(self: LambdaFunction, body: Any, request_headers: Any,
               response_headers: Any) -> str | bytes:
        runtime = attached.runtime
        if runtime is None:
            return upstream_invoke(self, body, request_headers, response_headers)
        event_json = body.decode() if isinstance(body, bytes) else (body or "{}")
        # moto calls event sources (S3, SNS, log subscriptions) with empty headers: on AWS those
        # are asynchronous invocations.
        invocation_type = _header(request_headers, "x-amz-invocation-type") or (
            "RequestResponse" if request_headers else "Event")
        if invocation_type == "DryRun":
            return b""
        spec = function_spec(self)
        if invocation_type == "Event":
            runtime.submit_event(spec, event_json, async_config(self))
            # Truthy for moto's SQS source, which deletes the messages it handed over.
            return b"" if request_headers else b"{}"
        result = runtime.invoke(spec, event_json)
        if not result.ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-log-result"] = result.log_tail_base64
        response_headers["x-amz-executed-version"] = str(self.version)
        return result.payload.encode()

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]


# -- Stream records and mappings, event invoke configs ----------------------------------------


def stream_event_record(item: Any, *, region: str, source_arn: str) -> dict[str, Any]:
    """A moto StreamRecord as Lambda receives it (the shape of moto's `send_dynamodb_items`)."""
    record = item.to_json()
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        from moto.core.utils import unix_time

        dynamodb["ApproximateCreationDateTime"] = unix_time(created)
    return {
        "eventID": record["eventID"], "eventName": record["eventName"],
        "eventVersion": record["eventVersion"], "eventSource": record["eventSource"],
        "awsRegion": region, "dynamodb": dynamodb, "eventSourceARN": source_arn,
    }


def stream_mapping(esm: Any, shard_id: str = "") -> StreamMapping:
    from inventory_cli.local.lambda_dispatch import StreamMapping

    response_types = esm.function_response_types or []
    max_age = esm.max_record_age
    return StreamMapping(uuid=esm.uuid, batch_size=int(esm.batch_size),
                         max_retry_attempts=esm.max_retry_attempts,
                         report_batch_item_failures="ReportBatchItemFailures" in response_types,
                         bisect_batch_on_function_error=bool(esm.bisect_on_error),
                         max_record_age_s=None if max_age is None else int(max_age),
                         on_failure=_on_failure(esm.destination_config),
                         stream_arn=esm.event_source_arn or "", shard_id=shard_id,
                         # moto keeps MaximumBatchingWindowInSeconds as given (None if unset).
                         batching_window_s=float(esm.max_batch_window or 0))


def _on_failure(destination_config: Any) -> str | None:
    if not isinstance(destination_config, Mapping):
        return None
    on_failure = destination_config.get("OnFailure") or {}
    destination = on_failure.get("Destination") if isinstance(on_failure, Mapping) else None
    return str(destination) if destination else None


def async_config(fn: Any) -> AsyncConfig:
    """The function's event invoke config (moto keeps it, but nothing acts on it)."""
    from inventory_cli.local.lambda_dispatch import ASYNC_RETRIES, AsyncConfig

    configs = getattr(fn, "event_invoke_config", None) or []
    config: Mapping[str, Any] = configs[-1].config if configs else {}
    retries = config.get("MaximumRetryAttempts")
    max_age = config.get("MaximumEventAgeInSeconds")
    return AsyncConfig(max_retry_attempts=ASYNC_RETRIES if retries is None else int(retries),
                       max_event_age_s=None if max_age is None else float(max_age),
                       on_failure=_on_failure(config.get("DestinationConfig")))


def install_event_invoke_config_put() -> None:
    """PutFunctionEventInvokeConfig replaces the function's config, as on AWS (moto appends
    and keeps answering with the first one); UpdateFunctionEventInvokeConfig changes only the
    settings it names (moto treats it as a put)."""
    from moto.awslambda.models import EventInvokeConfig, LambdaBackend

    def put(self: LambdaBackend, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_function(function_name)
        event_config = EventInvokeConfig(fn.function_arn, fn.last_modified, config)
        fn.event_invoke_config = [event_config]
        return event_config.response()

    def update(self: LambdaBackend, function_name: str,
               config: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_function(function_name)
        current = fn.event_invoke_config[-1].config if fn.event_invoke_config else {}
        return put(self, function_name, {**current, **config})

    LambdaBackend.put_function_event_invoke_config = put  # type: ignore[method-assign]
    LambdaBackend.update_function_event_invoke_config = update  # type: ignore[method-assign]

# -- On-failure destinations of asynchronous invocations and stream mappings ----------------------

class MotoFailureDestinations:
    """Delivers Lambda's invocation records the way Lambda does: an object in an S3 bucket, a
    message to an SQS queue, or a message published to an SNS topic, with the function's
    execution role (the record's requestContext.functionArn names the function)."""

    def deliver(self, destination_arn: str, record: dict[str, Any], *, s3_key: str,
                account_id: str, region: str) -> None:
        body = json.dumps(record)
        try:
            service, resource_region, resource_account, name = _arn_parts(destination_arn)
            account = resource_account or account_id
            refusal = _destination_refusal(record, service, destination_arn, s3_key)
            if refusal is not None:
                logger.error("could not deliver an invocation record to %s: %s",
                             destination_arn, refusal.message)
                return
            if service == "s3":
                from moto.s3.models import s3_backends

                s3_backends[account]["aws"].put_object(name, s3_key, body.encode())
            elif service == "sqs":
                from moto.sqs.models import sqs_backends

                sqs_backends[account][resource_region or region].send_message(name, body)
            elif service == "sns":
                from moto.sns.models import sns_backends

                sns_backends[account][resource_region or region].publish(body, arn=destination_arn)
            else:
                raise ValueError(f"{service} destinations are not supported by the emulator")
        except Exception:  # noqa: BLE001 - AWS only counts DestinationDeliveryFailures
            logger.exception("could not deliver an invocation record to %s", destination_arn)


def _destination_refusal(record: Mapping[str, Any], service: str, destination_arn: str,
                         s3_key: str) -> iam.Refusal | None:
    context = record.get("requestContext")
    function_arn = context.get("functionArn") if isinstance(context, Mapping) else None
    if not function_arn or not iam.enforcing():
        return None
    session = function_session(str(function_arn))
    if session is None:
        return None
    wants = {"s3": [iam.Want("s3:PutObject", f"{destination_arn}/{s3_key}"),
                    iam.Want("s3:ListBucket", destination_arn)],
             "sqs": [iam.Want("sqs:SendMessage", destination_arn)],
             "sns": [iam.Want("sns:Publish", destination_arn)]}.get(service, [])
    return iam.first_refusal(session, wants)


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource name) of an S3 bucket, SQS queue or SNS topic ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[2], parts[3], parts[4], parts[5]

# -- Function URLs


def function_url_target(function: str) -> Any:
    """The function named `function` that has a URL configuration, in any account and region
    the emulator holds, as a `function_urls.UrlTarget`; None if there is none."""
    from moto.awslambda.models import lambda_backends

    from inventory_cli.local.function_urls import UrlTarget

    for account_id, regions in list(lambda_backends.items()):
        for _region, backend in list(regions.items()):
            try:
                fn = backend.get_function(function)
            except Exception:  # noqa: BLE001, S112 - moto raises several kinds for "no function"
                continue
            config = getattr(fn, "url_config", None)
            if config is None:
                continue
            return UrlTarget(spec=function_spec(fn), account_id=account_id,
                             auth_type=str(config.config.get("AuthType") or "NONE"))
    return None



# -- role enforcement ---------------------------------------------------------------------------

# IAM actions whose name differs from the API's (Service Authorization Reference, AWS Lambda).
_IAM_ACTIONS = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}


def iam_wants(response: Any, _resource: str) -> list[iam.Want]:
    """The permission a Lambda request needs: its action on the function the path names."""
    action = str(response._get_action() or "")
    iam_action = f"lambda:{_IAM_ACTIONS.get(action, action)}"
    path = str(getattr(response, "path", "") or "").partition("?")[0]
    name = unquote(path.partition("/functions/")[2].partition("/")[0]) if "/functions/" in path \
        else ""
    if not name:
        return [iam.Want(iam_action, "*")]
    if not name.startswith("arn:"):
        prefix = f"arn:aws:lambda:{response.region}:"
        name = prefix + name if ":function:" in name else \
            f"{prefix}{response.current_account}:function:{name}"
    return [iam.Want(iam_action, name)]


def install_role_checks() -> None:
    install_stream_mapping_check()
    # Lambda answers a refusal with HTTP 403 AccessDeniedException (Lambda API Reference,
    # "Common errors").
    iam.register_service("LambdaResponse", iam_wants,
                         iam.json_refusal("AccessDeniedException", 403))
