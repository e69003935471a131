"""The one place where inventory reaches into moto's internals.

moto (pinned in pyproject.toml) is the engine of the built-in emulator. What it lacks for this
pipeline is supplied here, by patching moto classes when `install()` is called:

- Cognito identity pool role mapping (`SetIdentityPoolRoles` / `GetIdentityPoolRoles`), which
  moto 5.2.5 does not implement (in-process: NotImplementedError; server: HTTP 500), and
  `GetId` for an unknown pool answering ResourceNotFoundException as AWS does (moto: HTTP 500).
- DynamoDB stream shards: `StreamShard.add` is not thread-safe (a threaded server could lose or
  duplicate records) and numbers records from the start again after each delivery; it is
  serialised here and numbers records uniquely and in order.
- Lambda execution: without Docker, moto runs no code. Once a runtime is attached
  (`attach(runtime=...)`, done by the emulator server), invocations go to
  `lambda_runtime.LambdaRuntime`: event-source calls (S3, SNS, streams) and `Event` invokes are
  queued and return at once, as on AWS; `RequestResponse` invokes wait for the result.
- SNS e-mail and SMS deliveries, which cannot leave the machine, go to the outbox once one is
  attached; SQS, Lambda and HTTP subscriptions are delivered by moto as before.
- DynamoDB conditional writes: moto checks a condition and writes without a lock, so two
  requests of a threaded server could both pass `attribute_not_exists`; item writes are
  serialised here, so a condition holds as on DynamoDB (the alert log's claims rely on it).
- Browser-style S3 POST uploads: moto stores whatever is posted; the POST policy's conditions
  (expiration, bucket, key, content-length-range, exact fields) are enforced here as S3 does
  (`_install_s3_post_policy`); its SigV4 signature is checked in `s3_post_signatures.py`.
- Function URLs: moto keeps their configuration; `function_url_target` finds the function a
  URL belongs to, for the emulator's own HTTP route (`function_urls.py`).
- Bucket policies: a Deny conditioned on keys moto never supplies (aws:SecureTransport) is
  skipped instead of denying everything (see `_install_conditional_bucket_policy_denies`).
- The SNS SMS sandbox (`GetSMSSandboxAccountStatus`, `ListSMSSandboxPhoneNumbers`,
  `Create`/`Verify`/`DeleteSMSSandboxPhoneNumber`), which moto lacks: every account starts in
  the sandbox, as a new AWS account does; the one-time code goes to the outbox as a text.
- Cognito guest credentials: `AllowClassicFlow` is kept on the pool (moto drops it), the
  enhanced flow's keys are recognisable, and with `INVENTORY_LOCAL_DENY_ENHANCED_FLOW=1` in the
  emulator's environment DynamoDB refuses them (a test switch for the dashboard's fallback to
  the basic flow, GetOpenIdToken + AssumeRoleWithWebIdentity).
- DynamoDB reads that cost what they return (paging, plain JSON answers): `dynamodb_reads.py`.
- DynamoDB items: moto keeps a reference to every `Item` it ever creates (each write, each
  copy) for its /moto-api data page; a long-running emulator grew to 24 GB and was killed
  computing the summaries of 500,000 items. Items are not tracked here.
- DynamoDB write throughput: off by default; `set_ddb_write_limit(n)` answers writes beyond n a
  second per table as DynamoDB does (UnprocessedItems, ProvisionedThroughputExceededException).

Without `attach`, moto behaves as it does upstream apart from the fixes (role mapping, a
thread-safe stream, conditional denies), so in-process tests that call `install()` are not
affected by the runtime.
Everything else of the emulator works on the plain data this module hands over
(`FunctionSpec`, stream records as dicts). `tests/local/test_moto_seam.py` fails loudly if an
upgrade of moto moves what we patch or rely on.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from inventory_cli.local import (
    dynamodb_reads,
    function_url_permissions,
    lambda_recursion,
    s3_event_versions,
    s3_post_signatures,
)

if TYPE_CHECKING:
    from inventory_cli.local.lambda_dispatch import AsyncConfig, StreamMapping
    from inventory_cli.local.lambda_runtime import LambdaRuntime
    from inventory_cli.local.lambda_worker import FunctionSpec
    from inventory_cli.local.outbox import Outbox

logger = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"

_installed = False
_install_lock = threading.Lock()
# One lock for every stream shard: additions are short (the delivery is only queued).
_stream_lock = threading.RLock()
_runtime: LambdaRuntime | None = None
_outbox: Outbox | None = None


def install() -> None:
    """Patch moto once per process."""
    global _installed  # noqa: PLW0603 - a process-wide, idempotent switch is the point
    with _install_lock:
        if _installed:
            return
        _install_cognito_identity_pool_roles()
        _install_stream_shard()
        # Transactions roll back item by item (snapshot, write, restore on failure); the lock
        # below must hold around all three, so it wraps this, not the other way round.
        _install_item_level_transaction_rollback()
        # Before anything else wraps DynamoDB writes: a wrapper that waits (a write limiter)
        # must wait outside the lock, not while holding it.
        _install_atomic_conditional_writes()
        _install_lambda_invoke()
        _install_sns_outbox()
        _install_conditional_bucket_policy_denies()
        _install_event_invoke_config_put()
        _install_sms_sandbox()
        _install_guest_credentials()
        _install_ddb_write_limit()
        _install_untracked_items()
        dynamodb_reads.install()  # issue 10: a read costs what it returns
        _install_s3_post_policy()
        lambda_recursion.install()
        function_url_permissions.install()
        s3_event_versions.install()
        s3_post_signatures.install()  # after _install_s3_post_policy: it runs first
        _installed = True


def attach(*, runtime: LambdaRuntime | None = None, outbox: Outbox | None = None) -> None:
    """Route Lambda invocations to `runtime` and e-mail/SMS deliveries to `outbox`."""
    global _runtime, _outbox  # noqa: PLW0603 - the server process has exactly one of each
    install()
    _runtime, _outbox = runtime, outbox


def detach() -> None:
    attach(runtime=None, outbox=None)


# -- the emulator server's WSGI application ----------------------------------------------------


def server_app() -> tuple[Callable[..., Any], type]:
    """moto's WSGI application (all services, dispatched by host and path) and its handler."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler


# -- Cognito identity pool roles ---------------------------------------------------------------


def _install_cognito_identity_pool_roles() -> None:
    from moto.cognitoidentity.exceptions import ResourceNotFoundError
    from moto.cognitoidentity.models import CognitoIdentityBackend
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    def _roles(backend: CognitoIdentityBackend) -> dict[str, dict[str, Any]]:
        store: dict[str, dict[str, Any]] | None = getattr(backend, "_inventory_pool_roles", None)
        if store is None:
            store = {}
            backend._inventory_pool_roles = store  # type: ignore[attr-defined]
        return store

    def set_identity_pool_roles(self: CognitoIdentityResponse) -> str:
        pool_id = self._get_param("IdentityPoolId")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        _roles(self.backend)[pool_id] = {
            "Roles": self._get_param("Roles") or {},
            "RoleMappings": self._get_param("RoleMappings") or {},
        }
        return ""

    def get_identity_pool_roles(self: CognitoIdentityResponse) -> str:
        pool_id = self._get_param("IdentityPoolId")
        if pool_id not in self.backend.identity_pools:
            raise ResourceNotFoundError(pool_id)
        stored = _roles(self.backend).get(pool_id, {"Roles": {}, "RoleMappings": {}})
        return json.dumps({"IdentityPoolId": pool_id, **stored})

    upstream_get_id = CognitoIdentityResponse.get_id

    def get_id(self: CognitoIdentityResponse) -> str:
        # moto looks the pool up with a bare dict index: an unknown pool is an HTTP 500 there,
        # where AWS answers 400 ResourceNotFoundException (what the dashboard shows its users).
        from moto.cognitoidentity.models import cognitoidentity_backends

        pool_id = str(self._get_param("IdentityPoolId") or "")
        try:
            backend = cognitoidentity_backends[self.current_account][pool_id.partition(":")[0]]
            known = pool_id in backend.identity_pools
        except (KeyError, ValueError):
            known = False
        if not known:
            raise ResourceNotFoundError(pool_id)
        return upstream_get_id(self)

    CognitoIdentityResponse.get_id = get_id  # type: ignore[method-assign]
    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles  # type: ignore[attr-defined]
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles  # type: ignore[attr-defined]


# -- Lambda functions --------------------------------------------------------------------------


def function_spec(fn: Any) -> FunctionSpec:
    """The plain description of a moto `LambdaFunction` that the runtime works with."""
    from inventory_cli.local.lambda_worker import FunctionSpec

    code_id = (getattr(fn, "code", None) or {}).get("UUID", "")
    return FunctionSpec(
        arn=fn.function_arn, name=fn.function_name, handler=fn.handler or "",
        runtime=fn.run_time or "", code_sha256=fn.code_sha_256 or "",
        code=getattr(fn, "code_bytes", b"") or b"",
        environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
        timeout_s=float(fn.timeout or 3), memory_mb=int(fn.memory_size or 128),
        version=str(fn.version), region=fn.region, account_id=fn.account_id,
        instance_id=f"{id(fn)}:{code_id}")


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return None


def _install_lambda_invoke() -> None:
    from moto.awslambda.models import LambdaFunction

    upstream_invoke = LambdaFunction.invoke

    def invoke(self: LambdaFunction, body: Any, request_headers: Any,
               response_headers: Any) -> str | bytes:
        runtime = _runtime
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


# -- DynamoDB streams --------------------------------------------------------------------------


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
                         stream_arn=esm.event_source_arn or "", shard_id=shard_id)


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


def _install_event_invoke_config_put() -> None:
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


def _install_stream_shard() -> None:
    from moto.awslambda.utils import get_backend
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    upstream_add = StreamShard.add

    def add(self: StreamShard, old: Any, new: Any) -> None:
        with _stream_lock:
            runtime = _runtime
            if runtime is None:
                upstream_add(self, old, new)
                return
            view_type = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
            event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
            # Upstream numbers from len(items), which restarts after every delivery.
            added: int = getattr(self, "_inventory_added", len(self.items))
            record = StreamRecord(self.table, view_type, event_name, old, new,
                                  self.starting_sequence_number + added)
            self._inventory_added = added + 1  # type: ignore[attr-defined]
            self.items.append(record)
            delivered = False
            for function_arn, esm in list(self.table.lambda_event_source_mappings.items()):
                region = function_arn.split(":")[3]
                backend = get_backend(self.account_id, region)
                # moto leaves a deleted mapping on the table; AWS would stop delivering.
                if not esm.enabled or backend.get_event_source_mapping(esm.uuid) is None:
                    continue
                try:
                    fn = backend.get_function(function_arn)
                except Exception:  # noqa: BLE001 - moto raises several kinds for "no function"
                    logger.warning("stream records for deleted function %s dropped",
                                   function_arn)
                    continue
                # LATEST: only what is written from now on; TRIM_HORIZON: the backlog too.
                pending = self.items if esm.starting_position == "TRIM_HORIZON" else [record]
                runtime.submit_stream_records(
                    function_spec(fn), stream_mapping(esm, shard_id=self.id),
                    [stream_event_record(i, region=region, source_arn=esm.event_source_arn)
                     for i in pending])
                delivered = True
            if delivered:
                self.items = []

    StreamShard.add = add  # type: ignore[method-assign]


# -- SNS deliveries that cannot leave the machine ----------------------------------------------


def _install_sns_outbox() -> None:
    from moto.sns.models import Subscription

    from inventory_cli.local.outbox import OUTBOX_PROTOCOLS

    upstream_publish = Subscription.publish

    def publish(  # noqa: PLR0917 - the signature of the method it replaces
            self: Subscription, message: str, message_id: str, subject: str | None = None,
            message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
            deduplication_id: str | None = None, message_structure: str | None = None,
    ) -> None:
        outbox = _outbox
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


# -- On-failure destinations of asynchronous invocations and stream mappings ----------------------

class MotoFailureDestinations:
    """Delivers Lambda's invocation records the way Lambda does: an object in an S3 bucket, a
    message to an SQS queue, or a message published to an SNS topic (with the function's
    execution role on AWS; moto enforces no IAM here)."""

    def deliver(self, destination_arn: str, record: dict[str, Any], *, s3_key: str,
                account_id: str, region: str) -> None:
        body = json.dumps(record)
        try:
            service, resource_region, resource_account, name = _arn_parts(destination_arn)
            account = resource_account or account_id
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


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource name) of an S3 bucket, SQS queue or SNS topic ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[2], parts[3], parts[4], parts[5]


# -- CloudWatch Logs for function output -------------------------------------------------------

class MotoLogSink:
    """Writes invocation logs into moto's CloudWatch Logs, creating group and stream as needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, spec: FunctionSpec, stream: str, events: Sequence[tuple[int, str]]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[spec.account_id][spec.region]
        with self._lock:
            backend.ensure_log_group(spec.log_group)
            backend.ensure_log_stream(spec.log_group, stream)
            backend.put_log_events(spec.log_group, stream,
                                   [{"timestamp": t, "message": m} for t, m in events])


def _install_conditional_bucket_policy_denies() -> None:
    """A Deny statement conditioned on keys moto never supplies does not apply (stack part).

    moto 5.2.5 checks a condition only against the values a caller passes in, and treats a key
    with no value as satisfied. S3 passes none, so the deny-non-TLS statement AWS recommends
    (`"Bool": {"aws:SecureTransport": "false"}`, on both buckets `inventory provision` creates)
    denied every object read and write. A Deny whose condition cannot be evaluated is skipped.
    """
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self: IAMPolicyStatement, action: str, resource: str = "*",
                            principal: str | None = None,
                            incoming_condition_values: dict[str, str] | None = None,
                            ) -> PermissionResult:
        result = original(self, action, resource, principal, incoming_condition_values)
        statement = self._statement
        if result == PermissionResult.DENIED and statement.get("Effect") == "Deny":
            keys = {key for block in (statement.get("Condition") or {}).values()
                    for key in block}
            if keys and not keys & set(incoming_condition_values or {}):
                return PermissionResult.NEUTRAL
        return result

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


# -- DynamoDB: a condition and its write are one step --------------------------------------------

_item_write_lock = threading.RLock()


def _install_atomic_conditional_writes() -> None:
    """Serialise moto's single-item writes (and transactions), so a ConditionExpression and the
    write it guards cannot interleave with another request's (DynamoDB guarantees that; moto's
    threaded server does not). Batch writes carry no conditions and are left alone."""
    from moto.dynamodb.models import DynamoDBBackend

    def serialised(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with _item_write_lock:
                return method(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))


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
    outbox = _outbox
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


def _install_sms_sandbox() -> None:
    from moto.sns.responses import SNSResponse

    SNSResponse.get_sms_sandbox_account_status = _get_sms_sandbox_account_status  # type: ignore[attr-defined]
    SNSResponse.list_sms_sandbox_phone_numbers = _list_sms_sandbox_phone_numbers  # type: ignore[attr-defined]
    SNSResponse.create_sms_sandbox_phone_number = _create_sms_sandbox_phone_number  # type: ignore[attr-defined]
    SNSResponse.verify_sms_sandbox_phone_number = _verify_sms_sandbox_phone_number  # type: ignore[attr-defined]
    SNSResponse.delete_sms_sandbox_phone_number = _delete_sms_sandbox_phone_number  # type: ignore[attr-defined]


# -- Cognito guest credentials: classic flow, and a switch that denies the enhanced flow ---------

# Keys GetCredentialsForIdentity issues start with this (20 characters in all, like AWS's), so
# DynamoDB can tell them from keys of AssumeRoleWithWebIdentity (moto's "ASIA" + random).
GUEST_KEY_PREFIX = "ASIAGUEST"
DENY_ENHANCED_FLOW_ENV = "INVENTORY_LOCAL_DENY_ENHANCED_FLOW"
_COGNITO = "cognito-identity.amazonaws.com"


def deny_enhanced_flow() -> bool:
    """Test switch: DynamoDB refuses keys issued by GetCredentialsForIdentity (the enhanced flow),
    as AWS's scope-down policy for guests might. Read per request from the environment."""

    return os.environ.get(DENY_ENHANCED_FLOW_ENV, "").strip() not in ("", "0")


def _open_id_token(pool_id: str, identity_id: str) -> str:
    """An unsigned token with the claims STS checks against a role's trust policy."""
    import base64

    claims = {"aud": pool_id, "sub": identity_id, "amr": ["unauthenticated"]}
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


def _token_claims(token: str) -> dict[str, Any]:
    import base64

    try:
        claims = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _trust_allows(policy: Any, claims: Mapping[str, Any]) -> bool:
    """Whether a role's trust policy lets this Cognito guest token assume it (the conditions
    `inventory provision` writes: aud = the pool, amr contains "unauthenticated")."""
    document = json.loads(policy) if isinstance(policy, str) else policy or {}
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        federated = (statement.get("Principal") or {}).get("Federated")
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if (statement.get("Effect") != "Allow" or _COGNITO not in (
                federated if isinstance(federated, list) else [federated])
                or "sts:AssumeRoleWithWebIdentity" not in actions):
            continue
        condition = statement.get("Condition") or {}
        aud = (condition.get("StringEquals") or {}).get(f"{_COGNITO}:aud")
        amr = (condition.get("ForAnyValue:StringLike") or {}).get(f"{_COGNITO}:amr")
        if aud is not None and claims.get("aud") not in (aud if isinstance(aud, list) else [aud]):
            continue
        if amr is not None and amr not in claims.get("amr", []):
            continue
        return True
    return False


def _install_guest_credentials() -> None:
    _install_classic_flow_setting()
    _install_guest_tokens()
    _install_enhanced_flow_denial()


def _install_classic_flow_setting() -> None:
    """moto drops AllowClassicFlow; keep it on the pool so provision's drift check works."""
    from moto.cognitoidentity.models import CognitoIdentityPool
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    upstream_to_json = CognitoIdentityPool.to_json

    def to_json(self: CognitoIdentityPool) -> str:
        data = json.loads(upstream_to_json(self))
        data["AllowClassicFlow"] = bool(getattr(self, "_inventory_allow_classic_flow", False))
        return json.dumps(data)

    def keeping_classic_flow(upstream: Callable[[Any], str]) -> Callable[[Any], str]:
        def call(self: CognitoIdentityResponse) -> str:
            answer = json.loads(upstream(self))
            pool = self.backend.identity_pools[answer["IdentityPoolId"]]
            pool._inventory_allow_classic_flow = bool(  # type: ignore[attr-defined]
                self._get_param("AllowClassicFlow") or False)
            return pool.to_json()
        return call

    CognitoIdentityPool.to_json = to_json  # type: ignore[method-assign]
    CognitoIdentityResponse.create_identity_pool = keeping_classic_flow(  # type: ignore[method-assign,assignment]
        CognitoIdentityResponse.create_identity_pool)
    CognitoIdentityResponse.update_identity_pool = keeping_classic_flow(  # type: ignore[method-assign,assignment]
        CognitoIdentityResponse.update_identity_pool)


def _pool_of_identity(account_id: str, identity_id: str) -> str | None:
    from moto.cognitoidentity.models import cognitoidentity_backends

    try:
        backend = cognitoidentity_backends[account_id][identity_id.partition(":")[0]]
    except (KeyError, ValueError):
        return None
    for pool_id, listing in backend.pools_identities.items():
        if any(i.get("IdentityId") == identity_id for i in listing.get("Identities", [])):
            return str(pool_id)
    return None


def _get_credentials_for_identity(self: Any) -> str:
    """moto's answer with keys of their own, recognisable as the enhanced flow's."""
    import secrets
    import string

    answer = json.loads(self.backend.get_credentials_for_identity(self._get_param("IdentityId")))
    alphabet = string.ascii_uppercase + string.digits
    answer["Credentials"]["AccessKeyId"] = GUEST_KEY_PREFIX + "".join(
        secrets.choice(alphabet) for _ in range(20 - len(GUEST_KEY_PREFIX)))
    answer["Credentials"]["SecretKey"] = secrets.token_urlsafe(30)
    return json.dumps(answer)


def _get_open_id_token(self: Any) -> str:
    """A token naming the identity's pool, which AssumeRoleWithWebIdentity checks."""
    identity_id = str(self._get_param("IdentityId") or "")
    pool_id = _pool_of_identity(self.current_account, identity_id)
    if pool_id is None:
        from moto.cognitoidentity.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(identity_id)
    return json.dumps({"IdentityId": identity_id, "Token": _open_id_token(pool_id, identity_id)})


def _install_guest_tokens() -> None:
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import get_partition

    upstream_assume = TokenResponse.assume_role_with_web_identity

    def assume_role_with_web_identity(self: TokenResponse) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        claims = _token_claims(str(self._get_param("WebIdentityToken") or ""))
        # Only Cognito tokens are checked; other web identities keep moto's behaviour.
        if claims.get("aud"):
            account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
            try:
                role = iam_backends[account][get_partition(self.region)].get_role_by_arn(
                    role_arn)
            except Exception:  # noqa: BLE001 - moto raises several kinds for "no role"
                role = None
            if role is None or not _trust_allows(role.assume_role_policy_document, claims):
                # AWS: 403 AccessDenied "Not authorized to perform sts:AssumeRoleWithWebIdentity"
                raise AccessDeniedError(f"cognito-identity:{claims.get('sub', '')}",
                                        "sts:AssumeRoleWithWebIdentity")
        return upstream_assume(self)

    CognitoIdentityResponse.get_credentials_for_identity = (  # type: ignore[method-assign]
        _get_credentials_for_identity)
    CognitoIdentityResponse.get_open_id_token = _get_open_id_token  # type: ignore[method-assign]
    TokenResponse.assume_role_with_web_identity = assume_role_with_web_identity  # type: ignore[method-assign]


def _install_enhanced_flow_denial() -> None:
    from moto.dynamodb.responses import DynamoHandler

    upstream_call_action = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        auth = str(self.headers.get("Authorization") or "")
        key = auth.partition("Credential=")[2].partition("/")[0]
        if key.startswith(GUEST_KEY_PREFIX) and deny_enhanced_flow():
            operation = self.get_endpoint_name(self.headers) or "?"
            body = {"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
                    "message": f"User: arn:aws:sts::{self.current_account}:assumed-role/"
                               f"guest/CognitoIdentityCredentials is not authorized to perform: "
                               f"dynamodb:{operation} because no session policy allows the "
                               f"dynamodb:{operation} action"}
            return 400, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body)
        return upstream_call_action(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    if deny_enhanced_flow():  # a test switch: say so in the emulator's log
        logger.warning("%s is set: DynamoDB refuses keys issued by GetCredentialsForIdentity",
                       DENY_ENHANCED_FLOW_ENV)


# -- DynamoDB write throughput, like a new on-demand table -------------------------------------

class WriteLimiter:
    """A token bucket per table: `rate` writes a second, at most one second's worth saved up.

    A new on-demand table takes about 4,000 writes a second before it scales; moto takes any
    number. With a limit set, the emulator answers like DynamoDB over its capacity: a
    BatchWriteItem gets what does not fit back as UnprocessedItems (or, when nothing fits,
    ProvisionedThroughputExceededException), a PutItem the exception.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the write limit must be positive")
        self.rate = rate
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, table: tuple[str, str, str], wanted: int) -> int:
        """How many of `wanted` writes to `table` may go through now."""
        with self._lock:
            now = self._clock()
            tokens, since = self._buckets.get(table, (self.rate, now))
            tokens = min(self.rate, tokens + (now - since) * self.rate)
            granted = min(wanted, int(tokens))
            self._buckets[table] = (tokens - granted, now)
            return granted


_write_limiter: WriteLimiter | None = None


def set_ddb_write_limit(rate: float | None) -> None:
    """Limit DynamoDB writes per table to `rate` a second (None: no limit, moto's default)."""
    global _write_limiter  # noqa: PLW0603 - one limit for the emulator process
    install()
    _write_limiter = WriteLimiter(rate) if rate else None


def _install_ddb_write_limit() -> None:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    class ThroughputExceeded(DynamodbException):
        def __init__(self) -> None:
            super().__init__(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                             message="The level of configured provisioned throughput for the "
                                     "table was exceeded. Consider increasing your "
                                     "provisioning level with the UpdateTable API.")

    upstream_batch_write_item = DynamoHandler.batch_write_item
    upstream_put_item = DynamoHandler.put_item

    def batch_write_item(self: DynamoHandler) -> Any:
        limiter = _write_limiter
        if limiter is None:
            return upstream_batch_write_item(self)
        accepted: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        for table, requests in self.body["RequestItems"].items():
            granted = limiter.take((self.current_account, self.region, table), len(requests))
            if granted:
                accepted[table] = requests[:granted]
            if granted < len(requests):
                unprocessed[table] = requests[granted:]
        if not accepted:
            raise ThroughputExceeded()
        self.body = {**self.body, "RequestItems": accepted}
        result = upstream_batch_write_item(self)
        body: dict[str, Any] = result.result  # type: ignore[assignment]
        body["UnprocessedItems"] = unprocessed
        return result

    def put_item(self: DynamoHandler) -> Any:
        limiter = _write_limiter
        table = str(self.body.get("TableName", ""))
        if limiter is not None and not limiter.take(
                (self.current_account, self.region, table), 1):
            raise ThroughputExceeded()
        return upstream_put_item(self)

    DynamoHandler.batch_write_item = batch_write_item  # type: ignore[method-assign]
    DynamoHandler.put_item = put_item  # type: ignore[method-assign]


# -- DynamoDB items that can be freed -----------------------------------------------------------

def _install_untracked_items() -> None:
    """moto's BaseModel.__new__ appends every instance to its class's `instances_tracked` list,
    which only moto's /moto-api/data.json reads: every Item written, replaced or copied stayed
    in memory for the emulator's life. Items alone are left out (S3 disposes its keys' files
    through its list, so the rest stays as it is)."""
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models.dynamo_type import Item

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return super(BaseModel, cls).__new__(cls)  # type: ignore[misc]

    Item.__new__ = staticmethod(untracked)  # type: ignore[assignment,method-assign]


# -- TransactWriteItems without copying whole tables (issue 10) ---------------------------------
#
# moto's transact_write_items deep-copies every table an action names, once per action, so it
# can roll back: a transaction of 70 actions on a table of 100,000 items copied 7 million items.
# Here the items the actions name are copied instead (that is all a transaction can change),
# moto's own whole-table copies are made to return the table itself (so its "rollback" puts the
# same table back), and a failed transaction restores the copied items.

_transaction_in_progress = threading.local()


def _transaction_keys(backend: Any, transact_items: Sequence[Mapping[str, Any]],
                      ) -> list[tuple[Any, Any, Any]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys = []
    for entry in transact_items:
        op = next(iter(entry.values()), None)
        if not isinstance(op, Mapping):
            continue
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        source = op.get("Key") or op.get("Item") or {}
        if table.hash_key_attr not in source:
            continue
        hash_key = DynamoType(source[table.hash_key_attr])
        range_key = (DynamoType(source[table.range_key_attr])
                     if table.range_key_attr and table.range_key_attr in source else None)
        keys.append((table, hash_key, range_key))
    return keys


def _stored_item(table: Any, hash_key: Any, range_key: Any) -> Any:
    partition = table.items.get(hash_key)
    if table.range_key_attr is None:
        return partition
    return partition.get(range_key) if partition is not None else None


def _restore_item(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    if item is None:
        partition = table.items.get(hash_key)
        if partition is not None:
            partition.pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def _install_item_level_transaction_rollback() -> None:
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    upstream = DynamoDBBackend.transact_write_items

    def table_deepcopy(self: Table, memo: dict[int, Any]) -> Any:
        if getattr(_transaction_in_progress, "active", False):
            return self
        # Any other deep copy (backups, restores) as copy.deepcopy would make it.
        reductor = self.__reduce_ex__(4)
        return copy._reconstruct(self, memo, *reductor)  # type: ignore[attr-defined]

    def transact_write_items(self: DynamoDBBackend,
                             transact_items: list[dict[str, Any]]) -> None:
        keys = _transaction_keys(self, transact_items)
        saved = [(table, h, r, copy.deepcopy(_stored_item(table, h, r)))
                 for table, h, r in keys]
        _transaction_in_progress.active = True
        try:
            upstream(self, transact_items)
        except Exception:
            for table, h, r, item in reversed(saved):
                _restore_item(table, h, r, item)
            raise
        finally:
            _transaction_in_progress.active = False

    Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# -- Function URLs (issue 11) ------------------------------------------------------------------


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


# -- S3 POST policies (issue 11) ---------------------------------------------------------------

class PostPolicyViolation(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def check_post_policy(policy_b64: str, fields: Mapping[str, str], *, bucket: str,
                      size: int, now: datetime) -> None:
    """Raise `PostPolicyViolation` where S3 would refuse a POST upload under this policy.

    Field names compare case-insensitively (as S3 does); `$key` etc. in conditions name form
    fields, `$bucket` the bucket of the URL.
    """
    import base64

    try:
        policy = json.loads(base64.b64decode(policy_b64))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy.get("conditions") or [])
    except (ValueError, KeyError, TypeError) as exc:
        raise PostPolicyViolation(400, "InvalidPolicyDocument",
                                  f"Invalid Policy: {exc}") from None
    if now >= expiration:
        raise PostPolicyViolation(403, "AccessDenied", "Invalid according to Policy: "
                                                       "Policy expired.")
    values = {k.lower(): v for k, v in fields.items()}
    values["bucket"] = bucket
    for condition in conditions:
        _check_post_condition(condition, values, size)


def _check_post_condition(condition: Any, values: Mapping[str, str], size: int) -> None:
    failed = PostPolicyViolation(403, "AccessDenied", "Invalid according to Policy: Policy "
                                 f"Condition failed: {json.dumps(condition)}")
    if isinstance(condition, dict):
        if any(values.get(name.lower()) != expected for name, expected in condition.items()):
            raise failed
        return
    operator = str(condition[0]).lower()
    if operator == "content-length-range":
        if size > int(condition[2]):
            raise PostPolicyViolation(400, "EntityTooLarge", "Your proposed upload exceeds "
                                      "the maximum allowed size")
        if size < int(condition[1]):
            raise PostPolicyViolation(400, "EntityTooSmall", "Your proposed upload is "
                                      "smaller than the minimum allowed size")
        return
    actual, expected = values.get(str(condition[1]).lstrip("$").lower()), str(condition[2])
    if (operator == "eq" and actual != expected) or (
            operator == "starts-with" and not str(actual or "").startswith(expected)):
        raise failed


def _install_s3_post_policy() -> None:
    from datetime import UTC

    from moto.s3.responses import S3Response

    upstream_post = S3Response._bucket_response_post

    def bucket_response_post(self: S3Response, request: Any, bucket_name: str) -> Any:
        policy = (self.querystring.get("policy") or self.querystring.get("Policy") or [None])[0]
        self.path = self._get_path(request)  # what is_delete_keys reads, set as upstream does
        if policy is not None and not self.is_delete_keys():
            body = self.body if isinstance(self.body, bytes) else str(self.body).encode()
            fields = {str(k): str(v[0]) for k, v in self.querystring.items()
                      if k.lower() != "file"}
            try:
                check_post_policy(str(policy), fields, bucket=bucket_name, size=len(body),
                                  now=datetime.now(UTC))
            except PostPolicyViolation as exc:
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                       f"{exc.code}</Code><Message>{_xml_text(exc.message)}</Message></Error>")
                return exc.status, {"Content-Type": "application/xml"}, xml
        return upstream_post(self, request, bucket_name)

    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
