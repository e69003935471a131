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
- Browser-style S3 POST uploads: moto stores whatever is posted; the POST policy's conditions
  (expiration, bucket, key, content-length-range, exact fields) are enforced here as S3 does
  (`_install_s3_post_policy`). Its signature is not checked (moto checks no signatures).
- Function URLs: moto keeps their configuration; `function_url_target` finds the function a
  URL belongs to, for the emulator's own HTTP route (`function_urls.py`).
- Bucket policies: a Deny conditioned on keys moto never supplies (aws:SecureTransport) is
  skipped instead of denying everything (see `_install_conditional_bucket_policy_denies`).

Without `attach`, moto behaves as it does upstream apart from the fixes (role mapping, a
thread-safe stream, conditional denies), so in-process tests that call `install()` are not
affected by the runtime.
Everything else of the emulator works on the plain data this module hands over
(`FunctionSpec`, stream records as dicts). `tests/local/test_moto_seam.py` fails loudly if an
upgrade of moto moves what we patch or rely on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inventory_cli.local.lambda_dispatch import StreamMapping
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
        _install_lambda_invoke()
        _install_sns_outbox()
        _install_conditional_bucket_policy_denies()
        _install_s3_post_policy()
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
            runtime.submit_event(spec, event_json)
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


def stream_mapping(esm: Any) -> StreamMapping:
    from inventory_cli.local.lambda_dispatch import StreamMapping

    response_types = esm.function_response_types or []
    return StreamMapping(uuid=esm.uuid, batch_size=int(esm.batch_size),
                         max_retry_attempts=esm.max_retry_attempts,
                         report_batch_item_failures="ReportBatchItemFailures" in response_types)


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
                    function_spec(fn), stream_mapping(esm),
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
