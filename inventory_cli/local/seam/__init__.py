"""The one place where inventory reaches into moto's internals.

moto (pinned in pyproject.toml) is the engine of the built-in emulator. What it lacks for this
pipeline is supplied here, by patching moto classes when `install()` is called, one module per
service (each module's docstring lists what it changes and why):

- `awslambda`: invocations handed to the emulator's Lambda runtime once one is attached, event
  invoke configs as AWS keeps them, on-failure destinations, function URL lookup.
- `dynamodb`: thread-safe, uniquely numbered stream shards; conditional writes that hold under a
  threaded server; an optional write limit; items moto does not keep forever; transactions that
  copy items, not tables. Reads that cost what they return: `inventory_cli.local.dynamodb_reads`.
- `sns`: e-mail and SMS deliveries to the outbox; the SMS sandbox.
- `cognito`: identity pool role mapping, unknown pools, guest credentials (classic flow);
  staff logins, principal tags, guests refused by a private pool; invitations to the outbox.
- `cognito_srp`: user pool sign-in with SRP verified against the user's password (moto accepts
  any signature); RevokeToken.
- `cloudfront`: origins keep their Origin Access Control (in-process stack tests).
- `s3`: browser-style POST uploads checked against their policy; `s3_post_signatures`: and
  against their signature; `s3_event_versions`: event records carry `versionId`.
- `lambda_recursion`: recursive loop detection and Put/GetFunctionRecursionConfig;
  `function_url_permissions`: a URL answers only with both public permissions.
- `iam`: policy evaluation (bucket policies' conditional denies) and role enforcement: every
  request signed with a key STS or Cognito issued on the emulator is checked against its role
  (each service module says what its requests need); the operator's key passes unchecked.
- `logs`: the sink the runtime writes function logs through (with the function's role).
- `cloudwatch`: alarm states as PutMetricAlarm documents them; metric data, alarms and SNS
  publishing for the emulator's metrics and alarm evaluator, as plain data.
- `events`: scheduled EventBridge rules read for the emulator's scheduler, and their Lambda
  targets invoked as EventBridge does (only with the function's permission for the rule).
- `meter`: what AWS would bill for each request (DynamoDB units, S3 and SNS requests, Lambda
  from invocation records), served at `/_inventory/meter`.

Without `attach`, moto behaves as it does upstream apart from the fixes (role mapping, a
thread-safe stream, conditional denies), so in-process tests that call `install()` are not
affected by the runtime.
Everything else of the emulator works on the plain data this package hands over
(`RuntimeFunction`, stream records as dicts). `tests/local/test_moto_seam.py` fails loudly if an
upgrade of moto moves what we patch or rely on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from inventory_cli.local import dynamodb_reads
from inventory_cli.local.seam import (
    attached,
    awslambda,
    cloudfront,
    cloudwatch,
    cognito,
    cognito_srp,
    dynamodb,
    dynamodb_expressions,
    function_url_permissions,
    iam,
    lambda_recursion,
    logs,
    meter,
    request_dispatch,
    s3,
    s3_event_versions,
    s3_post_signatures,
    sns,
)

if TYPE_CHECKING:
    from inventory_cli.local.lambda_runtime import LambdaRuntime
    from inventory_cli.local.outbox import Outbox

MOTO_VERSION = "5.2.5"

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Patch moto once per process."""
    global _installed  # noqa: PLW0603 - a process-wide, idempotent switch is the point
    with _install_lock:
        if _installed:
            return
        # The meter's DynamoDB counts first: inside the lock below, so a write's size before
        # and after is read under the same lock as the write.
        meter.install_dynamodb()
        cognito.install_identity_pool_roles()
        dynamodb.install_stream_shard()
        # Transactions roll back item by item (snapshot, write, restore on failure); the lock
        # below must hold around all three, so it wraps this, not the other way round.
        dynamodb.install_item_level_transaction_rollback()
        # Before anything else wraps DynamoDB writes: a wrapper that waits (a write limiter)
        # must wait outside the lock, not while holding it.
        dynamodb.install_atomic_conditional_writes()
        dynamodb.install_request_scoped_stream_delivery()  # after the write lock
        dynamodb.install_plain_json_parameters()
        dynamodb_expressions.install()  # same answers, less work
        request_dispatch.install()  # same answers, less work
        awslambda.install_lambda_invoke()
        sns.install_sns_outbox()
        iam.install_conditional_bucket_policy_denies()
        awslambda.install_event_invoke_config_put()
        sns.install_sms_sandbox()
        cognito.install_guest_credentials()
        cognito_srp.install()  # a wrong password is refused, as on AWS
        dynamodb.install_ddb_write_limit()
        dynamodb.install_untracked_items()
        dynamodb.install_one_pass_items()
        dynamodb_reads.install()  # a read costs what it returns
        s3.install_s3_post_policy()
        lambda_recursion.install()
        function_url_permissions.install()
        s3_event_versions.install()
        s3_post_signatures.install()  # after install_s3_post_policy: it runs first
        cloudwatch.install_alarm_states()
        # Roles: who each issued key is, what each service's requests need, the check itself.
        iam.install_sts_sessions()
        iam.install_role_policy_notices()
        for service in (s3, dynamodb, awslambda, sns, logs):
            service.install_role_checks()
        iam.install_role_enforcement()
        cloudfront.install_origin_settings()
        cognito.install_invitations()
        meter.install()  # after the SNS outbox: e-mail and SMS deliveries are counted too
        _installed = True


def attach(*, runtime: LambdaRuntime | None = None, outbox: Outbox | None = None) -> None:
    """Route Lambda invocations to `runtime` and e-mail/SMS deliveries to `outbox`."""
    install()
    attached.runtime, attached.outbox = runtime, outbox


def detach() -> None:
    attach(runtime=None, outbox=None)


def server_app() -> tuple[Callable[..., Any], type]:
    """moto's WSGI application (all services, dispatched by host and path) and its handler."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler
