"""The desired state of a stack: `stack_resources`, the one ordered list of its resources, with
the settings and IAM documents of each.

Nothing here calls AWS. Plan order is list order (creation order: roles first, since IAM is
eventually consistent; then storage; each function followed by what hangs on it; the
dashboard last), status rows follow it, teardown runs it backwards. The tests check every
policy document with parliament.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from inventory_cli.config import StackNames
from inventory_cli.dashboard import dashboard_url
from inventory_cli.stack.instructions import Ref, resolve
from inventory_cli.stack.model import (
    AlarmSpec,
    BucketCorsSpec,
    BucketSpec,
    DashboardFilesSpec,
    DesiredStack,
    DistributionSpec,
    EventInvokeConfigSpec,
    FunctionSpec,
    FunctionUrlSpec,
    IdentityPoolRolesSpec,
    IdentityPoolSpec,
    InventoryTableSpec,
    InvokePermissionSpec,
    LogGroupSpec,
    MappingSpec,
    NotificationSpec,
    OriginAccessControlSpec,
    PrincipalTagsSpec,
    RecursionConfigSpec,
    RoleSpec,
    ScheduleRuleSpec,
    Spec,
    TableSpec,
    TopicSpec,
    UserPoolClientSpec,
    UserPoolSpec,
)
from inventory_cli.stack.packaging import LambdaZip
from lambda_src.environment import (
    ALERT_LOG_TABLE,
    ALERT_TOPIC_ARN,
    ANNOUNCE_INTERVAL_S,
    ANNOUNCEMENT_TABLE,
    FAILURES_BUCKET,
    FUNCTION_LOGS,
    INVENTORY_TABLE,
    LOAD_FUNCTION,
    LOW_STOCK_THRESHOLD,
    MAX_UPLOAD_BYTES,
    OPS_TOPIC_ARN,
    STACK_NAME,
    STORE_KEYS_TABLE,
    SUMMARY_TABLE,
    UNLOADED_GRACE_S,
    UPLOAD_EXPIRES_S,
    UPLOADS_BUCKET,
)
from lambda_src.inventory_csv import REPORTS_PREFIX
from lambda_src.load_checkpoint import CHECKPOINT_PREFIX
from lambda_src.store_scope import STORES_PREFIX

POLICY_VERSION = "2012-10-17"
LOAD_HANDLER = "lambda_src.load_inventory.lambda_handler"
CHECK_HANDLER = "lambda_src.check_stock.lambda_handler"
SUMMARIZE_HANDLER = "lambda_src.update_summaries.lambda_handler"
# One inline policy per role, under this name; any other inline or attached policy is drift.
INLINE_POLICY = "least-privilege"
# The Sid of the permission that lets S3 invoke the loader.
S3_INVOKE_SID = "s3-uploads-invoke"
NOTIFICATION_ID = "load-inventory-csv"
LOG_RETENTION_DAYS = 30

# Event source mapping from the table's stream to check_stock. Retries are bounded so one
# poisoned record cannot block its shard for the stream's 24 h retention; bisecting plus
# ReportBatchItemFailures narrows a failure down to the record that caused it.
MAPPING_SETTINGS: dict[str, Any] = {
    "BatchSize": 100,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 5,
    "MaximumRecordAgeInSeconds": 3600,
}
MAPPING_STARTING_POSITION = "TRIM_HORIZON"


# The summaries: same retries and bisecting as the checker, in batches of up to 10,000 records,
# the most a DynamoDB stream mapping takes (Lambda also stops a batch at the 6 MB invocation
# payload): a batch's changes are added to each store and item row once, so the larger the
# batch, the fewer row writes per record (docs/summaries.md: 0.4 row writes per record at
# 10,000 in the pipeline benchmark, 0.87 at 1,000). The batching window lets a batch fill for
# up to 2 s instead of going with what arrived since the last one: without it, summaries that
# keep up with a load take small batches and write each row again and again ("Lambda event
# source mappings", batching behavior); during a load thousands of records arrive a second, so
# 2 s fills most of a batch. The cost: totals up to 2 s later; alerts (the checker's mapping)
# are not held.
SUMMARY_MAPPING_SETTINGS: dict[str, Any] = {**MAPPING_SETTINGS, "BatchSize": 10_000,
                                            "MaximumBatchingWindowInSeconds": 2}


def stream_mappings(names: StackNames) -> tuple[MappingSpec, ...]:
    """Every consumer of the table's stream (DynamoDB allows two readers per shard)."""
    return (MappingSpec("stream-mapping", names.check_function, MAPPING_SETTINGS, names.table),
            MappingSpec("summary-mapping", names.summarize_function, SUMMARY_MAPPING_SETTINGS,
                        names.table))


# ---- kept failures --------------------------------------------------------------------------
# Both functions send what still fails after Lambda's retries to the failures bucket. An S3
# destination keeps the whole invocation record (the stream batch's records included), so a
# failure can be replayed later without re-reading the stream; SQS/SNS keep only metadata.
LOAD_MAX_RETRY_ATTEMPTS = 2


def failure_destination(names: StackNames) -> dict[str, Any]:
    """The `DestinationConfig` of the loader's event invoke config and of every stream mapping."""
    return {"OnFailure": {"Destination": bucket_arn(names.failures_bucket)}}


def mapping_settings(names: StackNames, spec: MappingSpec) -> dict[str, Any]:
    """A mapping's settings as planned: its own, plus the on-failure destination every mapping
    of the stack gets (so a new consumer cannot forget it)."""
    return {**spec.settings, "DestinationConfig": failure_destination(names)}


def load_event_invoke_config(names: StackNames) -> dict[str, Any]:
    """PutFunctionEventInvokeConfig parameters for the loader's asynchronous (S3) invocations."""
    return {"FunctionName": names.load_function,
            "MaximumRetryAttempts": LOAD_MAX_RETRY_ATTEMPTS,
            "DestinationConfig": failure_destination(names)}

def stack_resources(desired: DesiredStack) -> tuple[Spec, ...]:
    """Every resource of the stack, in creation order. The dashboard's are listed whether or
    not the stack has one (`spec.dashboard`): the planner removes them from a stack without."""
    n, threshold = desired.names, desired.threshold
    uploads, _dashboard_bucket, failures = buckets(n)
    check_mapping, summary_mapping = (replace(m, settings=mapping_settings(n, m))
                                      for m in stream_mappings(n))
    # A private dashboard on AWS is served by CloudFront: the stores' page calls the upload
    # endpoint from the distribution's origin, known once the distribution exists.
    cdn = desired.private and desired.dashboard and desired.endpoint is None
    origin: Any = (Ref(DASHBOARD_ORIGIN) if cdn
                   else dashboard_origin(n, desired.endpoint))
    return (
        *lambda_roles(n),
        uploads,
        failures,
        InventoryTableSpec("table", n.table, table_definition(n)),
        *aux_tables(n),
        TopicSpec("topic", n.topic, n.topic_arn),
        # The operators' channel: the stack's health, never the staff's stock alerts.
        ops_topic(n),
        *(LogGroupSpec(f"{prefix}-log-group", group, LOG_RETENTION_DAYS)
          for prefix, group in (("load", n.load_log_group), ("check", n.check_log_group),
                                ("summarize", n.summarize_log_group),
                                ("store-upload", n.store_upload_log_group),
                                ("announce", n.announce_log_group))),
        load_function(n),
        EventInvokeConfigSpec(
            "load-failure-destination", n.load_function, load_event_invoke_config(n),
            f"keep failed loads of {n.load_function} in {n.failures_bucket} after "
            f"{LOAD_MAX_RETRY_ATTEMPTS} retries",
            f"{n.load_function} on failure -> {n.failures_bucket}"),
        # The loader's continuations and its checkpoint and report writes into the bucket that
        # triggers it form a chain Lambda would stop after 16 invocations as a loop; a long
        # file needs more hand-overs (the loader bounds them itself).
        RecursionConfigSpec("load-recursion", n.load_function, "Allow",
                            f"let {n.load_function} continue long loads past Lambda's "
                            "recursive loop detection"),
        InvokePermissionSpec(
            "s3-invoke-permission", n.load_function, S3_INVOKE_SID, "s3.amazonaws.com",
            bucket_arn(n.uploads_bucket), n.account_id,
            f"allow bucket {n.uploads_bucket} to invoke {n.load_function}"),
        # After the permission: S3 checks that it may invoke the target.
        NotificationSpec(
            "uploads-notification", n.uploads_bucket, notification_configuration(n),
            f"notify {n.load_function} of new .csv files in {n.uploads_bucket}",
            f"{n.uploads_bucket}/{NOTIFICATION_ID}"),
        check_function(n, threshold),
        check_mapping,
        summarize_function(n, threshold),
        summary_mapping,
        # The operators' messages: each kept failure and each file never loaded, once.
        *announcer(n),
        *(cdn_resources(n) if cdn else ()),
        # The stores' upload endpoint, and the CORS the store page needs on S3.
        store_upload_function(n),
        FunctionUrlSpec("store-upload-url", n.store_upload_function,
                        store_upload_url_config(origin), FUNCTION_URL_SID,
                        FUNCTION_URL_INVOKE_SID,
                        local_function_url(desired.endpoint, n.store_upload_function)
                        if desired.endpoint else None),
        BucketCorsSpec("uploads-cors", n.uploads_bucket, uploads_cors(origin),
                       f"let the store page POST files to {n.uploads_bucket} from the "
                       "dashboard's origin"),
        *alarms(n),
        *(private_dashboard(n, cdn=cdn) if desired.private else public_dashboard(n)),
    )


def public_dashboard(n: StackNames) -> tuple[Spec, ...]:
    """Guests read every store's stock (`--public-dashboard`): the page as it always was."""
    return (
        IdentityPoolSpec("identity-pool", n.identity_pool),
        dashboard_role(n, Ref("identity_pool_id")),
        IdentityPoolRolesSpec("identity-pool-roles", n.identity_pool, n.dashboard_role,
                              {"unauthenticated": role_arn(n, n.dashboard_role)}),
        buckets(n)[1],
        DashboardFilesSpec("dashboard-files", n.dashboard_bucket,
                           role_arn(n, n.dashboard_role)),
    )


def stack_resources_of(names: StackNames) -> tuple[Spec, ...]:
    """The list as teardown and the resource ids see it: only the names matter, and every
    resource either dashboard mode may have made is listed (public first, then what only the
    private mode has), so teardown removes whichever exists."""
    public = stack_resources(DesiredStack(names, threshold=0, code=LambdaZip(b""), assets=(),
                                          dashboard_access=PUBLIC))
    private = stack_resources(DesiredStack(names, threshold=0, code=LambdaZip(b""), assets=(),
                                           dashboard_access=PRIVATE))
    ids = {spec.id for spec in public}
    extras = [spec for spec in private if spec.id not in ids]
    # CloudFront first, so teardown (the list backwards) gets to it last: disabling a
    # distribution takes minutes, and everything else is gone by then if it outlasts the wait.
    cdn = [spec for spec in extras if not getattr(spec, "emulator", True)]
    return (*cdn, *public, *(spec for spec in extras if spec not in cdn))


def resource_ids(access: str, names: StackNames | None = None) -> tuple[str, ...]:
    """The ids of a stack with a dashboard of that access mode on AWS, in list order."""
    names = names or StackNames(stack="ids", account_id="000000000000", region="us-east-1")
    return tuple(spec.id for spec in stack_resources(DesiredStack(
        names, threshold=0, code=LambdaZip(b""), assets=(), dashboard_access=access)))


def dashboard_origin(names: StackNames, endpoint: str | None) -> str:
    """The origin the dashboard (and the store page) is served from."""
    parts = urlsplit(dashboard_url(bucket=names.dashboard_bucket, region=names.region,
                                   endpoint=endpoint))
    return f"{parts.scheme}://{parts.netloc}"


def __getattr__(name: str) -> Any:
    """`RESOURCE_IDS` (every resource id, in list order) and `DASHBOARD_RESOURCE_IDS`, read
    from `stack_resources` each time so they cannot disagree with it."""
    if name in ("RESOURCE_IDS", "DASHBOARD_RESOURCE_IDS"):
        specs = stack_resources_of(StackNames(stack="ids", account_id="000000000000",
                                              region="us-east-1"))
        if name == "RESOURCE_IDS":
            return tuple(spec.id for spec in specs)
        return frozenset(spec.id for spec in specs if spec.dashboard)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# How a stack remembers it has no dashboard (there is no local state): this tag on the inventory
# table, read back by `deployed.deployed_dashboard` like the threshold is read from the checker.
DASHBOARD_TAG = "inventory:dashboard"
DASHBOARD_OFF = "off"
# Warm throughput asked for with `provision --warm-writes N`, kept as a tag on the inventory table
# so later runs (and status) know it. A new on-demand table starts with 4,000 write units a
# second ("Understanding DynamoDB warm throughput", DynamoDB Developer Guide); warm throughput can
# be raised, never lowered.
WARM_WRITES_TAG = "inventory:warm-writes"
ON_DEMAND_WARM_WRITES = 4_000
# How a stack remembers a private dashboard: this tag on the inventory table (absent: public,
# as every stack made before the private mode is).
DASHBOARD_ACCESS_TAG = "inventory:dashboard-access"
PRIVATE, PUBLIC = "private", "public"


def role_arn(names: StackNames, role: str) -> str:
    return f"arn:aws:iam::{names.account_id}:role/{role}"


def function_arn(names: StackNames, function: str) -> str:
    return f"arn:aws:lambda:{names.region}:{names.account_id}:function:{function}"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def log_group_arn(names: StackNames, log_group: str) -> str:
    return f"arn:aws:logs:{names.region}:{names.account_id}:log-group:{log_group}"


def stream_arn_pattern(names: StackNames) -> str:
    # The stream label is a timestamp chosen by DynamoDB when the stream is enabled; a wildcard
    # over this table's streams keeps the policy stable across stream re-creation.
    return f"{names.table_arn}/stream/*"


# ---- IAM documents -------------------------------------------------------------------------

def lambda_trust_policy() -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }],
    }


def _log_statement(names: StackNames, log_group: str) -> dict[str, Any]:
    # The log group itself is created by provision (with retention and tags), so the function
    # needs no logs:CreateLogGroup.
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn(names, log_group)}:*",
    }


def _keep_failures_statements(names: StackNames) -> list[dict[str, Any]]:
    """Lambda writes a destination record with the function's execution role, which needs
    s3:PutObject on the objects and s3:ListBucket on the bucket, for asynchronous invocations
    and stream mappings alike (Lambda developer guide: "Capturing records of Lambda
    asynchronous invocations", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html,
    and "Retaining discarded batches for a DynamoDB event source",
    https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)."""
    failures = bucket_arn(names.failures_bucket)
    return [{
        "Sid": "KeepFailedInvocations",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{failures}/*",
    }, {
        "Sid": "ListFailuresBucket",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": failures,
    }]


def load_role_policy(names: StackNames) -> dict[str, Any]:
    uploads = bucket_arn(names.uploads_bucket)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                # GetObjectVersion too: the loader reads exactly the version named in the S3
                # event, so a file overwritten meanwhile is not read in its newer form.
                "Sid": "ReadUploadedFiles",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"{uploads}/*",
            },
            {
                "Sid": "WriteLoadReports",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{uploads}/{REPORTS_PREFIX}*",
            },
            {
                "Sid": "WriteInventory",
                "Effect": "Allow",
                "Action": "dynamodb:BatchWriteItem",
                "Resource": names.table_arn,
            },
            {
                # A store's upload loads only while the key that sent it is still active.
                "Sid": "CheckStoreKeys",
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": names.table_arn_of(names.store_keys_table),
            },
            *_keep_failures_statements(names),
            {
                # A load that runs short of time hands the rest of the file to a new
                # asynchronous invocation of this same function, and no other.
                "Sid": "ContinueLongLoads",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": function_arn(names, names.load_function),
            },
            {
                # Without s3:ListBucket, S3 answers GetObject of a missing key with 403, not
                # 404 (Amazon S3 API reference, GetObject, "Permissions"); the loader tells a
                # finished chain (its checkpoint gone) from a refusal by listing the
                # checkpoint's key, and may list nothing else.
                "Sid": "FindLoadCheckpoints",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": uploads,
                "Condition": {"StringLike": {"s3:prefix": f"{CHECKPOINT_PREFIX}*"}},
            },
            {
                # Its checkpoints (written under reports/) are deleted, every version, once
                # the report is out.
                "Sid": "RemoveLoadCheckpoints",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": f"{uploads}/{CHECKPOINT_PREFIX}*",
            },
            _log_statement(names, names.load_log_group),
        ],
    }


def _stream_read_statements(names: StackNames) -> list[dict[str, Any]]:
    """What a function fed by the table's stream needs to be fed."""
    return [
        {
            "Sid": "ReadInventoryStream",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                       "dynamodb:GetShardIterator"],
            "Resource": stream_arn_pattern(names),
        },
        {
            # Lambda's stream poller calls ListStreams, an action AWS defines on no resource
            # type: "*" is the only resource it accepts.
            "Sid": "ListStreams",
            "Effect": "Allow",
            "Action": "dynamodb:ListStreams",
            "Resource": "*",
        },
    ]


def check_role_policy(names: StackNames) -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            *_stream_read_statements(names),
            {
                "Sid": "PublishAlerts",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": names.topic_arn,
            },
            {
                # The alert log: a conditional claim per alert, then its outcome.
                "Sid": "KeepAlertLog",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                "Resource": names.table_arn_of(names.alert_table),
            },
            *_keep_failures_statements(names),
            _log_statement(names, names.check_log_group),
        ],
    }


def summarize_role_policy(names: StackNames) -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            *_stream_read_statements(names),
            {
                # Cells are read in batches, written in batches (BatchWriteItem) and their
                # changes added to the summary rows in transactions; replays and rebuilds
                # write cells in transactions (lambda_src/update_summaries.py).
                "Sid": "KeepSummaries",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                           "dynamodb:UpdateItem", "dynamodb:BatchWriteItem",
                           "dynamodb:ConditionCheckItem"],
                "Resource": names.table_arn_of(names.summary_table),
            },
            *_keep_failures_statements(names),
            _log_statement(names, names.summarize_log_group),
        ],
    }


def dashboard_role_policy(names: StackNames) -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "ReadInventory",
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:Scan"],
            "Resource": names.table_arn,
        }, {
            "Sid": "ReadSummaries",
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:GetItem"],
            "Resource": names.table_arn_of(names.summary_table),
        }],
    }


def dashboard_trust_policy(identity_pool_id: Any) -> dict[str, Any]:
    """Only unauthenticated identities of this one pool may assume the dashboard role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
            },
        }],
    }


def _deny_insecure_transport(bucket: str) -> dict[str, Any]:
    arn = bucket_arn(bucket)
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def uploads_bucket_policy(names: StackNames) -> dict[str, Any]:
    return {"Version": POLICY_VERSION,
            "Statement": [_deny_insecure_transport(names.uploads_bucket)]}


def failures_bucket_policy(names: StackNames) -> dict[str, Any]:
    return {"Version": POLICY_VERSION,
            "Statement": [_deny_insecure_transport(names.failures_bucket)]}


def dashboard_bucket_policy(names: StackNames) -> dict[str, Any]:
    bucket = names.dashboard_bucket
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            _deny_insecure_transport(bucket),
            {
                # The page is public by design: it holds no data, only the code that signs in
                # through the identity pool. Reading objects is all anyone may do.
                "Sid": "PublicReadOfThePage",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn(bucket)}/*",
            },
        ],
    }


PRIVATE_BUCKET_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# The dashboard bucket must allow its public-read policy; public ACLs stay blocked.
DASHBOARD_BUCKET_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}
DEFAULT_ENCRYPTION = {
    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
}


def buckets(names: StackNames) -> tuple[BucketSpec, ...]:
    return (
        BucketSpec("uploads-bucket", names.uploads_bucket, PRIVATE_BUCKET_ACCESS_BLOCK,
                   uploads_bucket_policy(names), versioned=True),
        BucketSpec("dashboard-bucket", names.dashboard_bucket, DASHBOARD_BUCKET_ACCESS_BLOCK,
                   dashboard_bucket_policy(names), versioned=False, dashboard=True),
        # Kept failure records: written once, deleted by `inventory retry`; no versions needed.
        BucketSpec("failures-bucket", names.failures_bucket, PRIVATE_BUCKET_ACCESS_BLOCK,
                   failures_bucket_policy(names), versioned=False),
    )


def lambda_roles(names: StackNames) -> tuple[RoleSpec, ...]:
    return (
        RoleSpec("load-role", names.load_role, lambda_trust_policy(), load_role_policy(names)),
        RoleSpec("check-role", names.check_role, lambda_trust_policy(), check_role_policy(names)),
        RoleSpec("summarize-role", names.summarize_role, lambda_trust_policy(),
                 summarize_role_policy(names)),
        RoleSpec("store-upload-role", names.store_upload_role, lambda_trust_policy(),
                 store_upload_role_policy(names)),
        RoleSpec("announce-role", names.announce_role, lambda_trust_policy(),
                 announce_role_policy(names)),
    )


def dashboard_role(names: StackNames, identity_pool_id: Any) -> RoleSpec:
    return RoleSpec("dashboard-role", names.dashboard_role,
                    dashboard_trust_policy(identity_pool_id), dashboard_role_policy(names),
                    dashboard=True)


def load_function(names: StackNames) -> FunctionSpec:
    return FunctionSpec(
        "load-function", names.load_function, names.load_role, LOAD_HANDLER,
        {INVENTORY_TABLE: names.table, STORE_KEYS_TABLE: names.store_keys_table},
        timeout=60, memory=256,
        description=f"inventory stack {names.stack}: loads uploaded CSV files into the table",
    )


def check_function(names: StackNames, threshold: int) -> FunctionSpec:
    return FunctionSpec(
        "check-function", names.check_function, names.check_role, CHECK_HANDLER,
        {ALERT_TOPIC_ARN: names.topic_arn, LOW_STOCK_THRESHOLD: str(threshold),
         ALERT_LOG_TABLE: names.alert_table},
        timeout=30, memory=128,
        description=f"inventory stack {names.stack}: alerts when stock drops to the threshold",
    )


def summarize_function(names: StackNames, threshold: int) -> FunctionSpec:
    return FunctionSpec(
        "summarize-function", names.summarize_function, names.summarize_role, SUMMARIZE_HANDLER,
        {SUMMARY_TABLE: names.summary_table, LOW_STOCK_THRESHOLD: str(threshold)},
        # A batch of 10,000 records is about 550 DynamoDB calls (100 reads, 400 batch writes,
        # 40 transactions); it took 70-140 s on a busy emulator, peak about 100 MB.
        timeout=600, memory=256,
        description=f"inventory stack {names.stack}: keeps per-store and per-item summaries",
    )


# The loader is notified of EVERY object created in the uploads bucket, with no key filter.
# S3 refuses overlapping suffix rules in one configuration and its documentation does not say
# whether `.csv` and `.CSV` count as overlapping; one unfiltered rule cannot overlap, and it
# also delivers `.Csv`. The loader decides what it loads (`inventory_csv.is_inventory_key`:
# `.csv` in any letter case, never under `reports/`) and skips the rest before reading it, so a
# report it writes costs one short invocation that reads nothing and needs no permission.
# Kept for `inventory upload`, which checks file names against it.
NOTIFIED_SUFFIXES = (".csv", ".CSV")


def notification_configuration(names: StackNames) -> dict[str, Any]:
    return {
        "LambdaFunctionConfigurations": [{
            "Id": NOTIFICATION_ID,
            "LambdaFunctionArn": function_arn(names, names.load_function),
            "Events": ["s3:ObjectCreated:*"],
        }],
    }


# The inventory table's schema, shared with the tests and benchmarks that need a table like it.
TABLE_SCHEMA: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "Store", "KeyType": "HASH"},
                  {"AttributeName": "Item", "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": "Store", "AttributeType": "S"},
                             {"AttributeName": "Item", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


def table_definition(names: StackNames) -> dict[str, Any]:
    return {"TableName": names.table, **TABLE_SCHEMA}


def aux_tables(names: StackNames) -> tuple[TableSpec, ...]:
    """The stack's tables besides the inventory table, in creation order."""
    return (
        # One item per alert (store + the stream record's eventID): the checker's idempotency
        # record and the history `inventory alerts` reads; expired by DynamoDB after 90 days.
        TableSpec("alert-table", names.alert_table, (("Store", "S"), ("EventId", "S")),
                  ttl_attribute="ExpiresAt"),
        summary_table(names),
        store_keys_table(names),
        # What the announcer has told the operators (each thing once); expired after 90 days.
        TableSpec("announcement-table", names.announcement_table, (("Id", "S"),),
                  ttl_attribute="ExpiresAt"),
    )


def summary_table(names: StackNames) -> TableSpec:
    # Kind: store | item (the summaries), cell | meta (what keeps them exact; see
    # lambda_src/update_summaries.py).
    return TableSpec("summary-table", names.summary_table, (("Kind", "S"), ("Name", "S")))


def all_policy_documents(names: StackNames, identity_pool_id: str) -> dict[str, dict[str, Any]]:
    """Every IAM / resource policy document of a stack, by a descriptive name (for audits)."""
    documents: dict[str, dict[str, Any]] = {}
    for role in (*lambda_roles(names), dashboard_role(names, identity_pool_id),
                 staff_role(names, identity_pool_id)):
        documents[f"{role.id} trust"] = role.trust_policy
        documents[f"{role.id} policy"] = role.policy
    for bucket in buckets(names):
        documents[f"{bucket.id} policy"] = bucket.policy
    # The private dashboard's bucket, with a distribution's ARN where provision puts it.
    arn = f"arn:aws:cloudfront::{names.account_id}:distribution/EDFDVBD6EXAMPLE"
    documents["private dashboard-bucket policy"] = resolve(
        private_dashboard_bucket_policy(names, cdn=True), {"distribution_arn": arn})
    return documents


# ---- the stores' upload endpoint -----------------------------------------------------------

STORE_UPLOAD_HANDLER = "lambda_src.store_upload.lambda_handler"
# The largest file a store may send through its presigned POST (the policy's content-length-range).
STORE_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
# Lifetime of a presigned POST: long enough to send a large file, short enough to be useless later.
STORE_UPLOAD_EXPIRES_S = 300
# The Sid of the permission that lets anyone call the function URL (the key is checked inside).
FUNCTION_URL_SID = "function-url-public"
# The Sid of the permission that lets anyone invoke the function, only through its URL.
FUNCTION_URL_INVOKE_SID = "function-url-invoke"
# Where the local emulator serves function URLs: <endpoint>/_inventory/function-urls/<function>.
LOCAL_FUNCTION_URLS_PATH = "/_inventory/function-urls/"


def store_keys_table(names: StackNames) -> TableSpec:
    """One record per key: KeyId (hash), Store, Salt, Digest, State, Created (store_keys.py)."""
    return TableSpec("store-keys-table", names.store_keys_table, (("KeyId", "S"),))


def store_upload_role_policy(names: StackNames) -> dict[str, Any]:
    uploads = bucket_arn(names.uploads_bucket)
    store_reports = f"{REPORTS_PREFIX}{STORES_PREFIX}"
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "CheckStoreKeys",
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": names.table_arn_of(names.store_keys_table),
            },
            {
                # Presigned POSTs are signed with the role's credentials: S3 checks this
                # permission when the store sends its file. Only store prefixes.
                "Sid": "PresignStoreUploads",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{uploads}/{STORES_PREFIX}*",
            },
            {
                "Sid": "ReadStoreReports",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{uploads}/{store_reports}*",
            },
            {
                "Sid": "ListStoreReports",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": uploads,
                "Condition": {"StringLike": {"s3:prefix": f"{store_reports}*"}},
            },
            _log_statement(names, names.store_upload_log_group),
        ],
    }


def store_upload_function(names: StackNames) -> FunctionSpec:
    return FunctionSpec(
        "store-upload-function", names.store_upload_function, names.store_upload_role,
        STORE_UPLOAD_HANDLER,
        {UPLOADS_BUCKET: names.uploads_bucket, STORE_KEYS_TABLE: names.store_keys_table,
         MAX_UPLOAD_BYTES: str(STORE_UPLOAD_MAX_BYTES),
         UPLOAD_EXPIRES_S: str(STORE_UPLOAD_EXPIRES_S)},
        timeout=10, memory=128,
        description=f"inventory stack {names.stack}: the stores' upload endpoint",
    )


def store_upload_url_config(origin: str) -> dict[str, Any]:
    """CreateFunctionUrlConfig parameters (besides the function name). Lambda answers the CORS
    preflight itself; only the dashboard's origin may call from a browser."""
    return {
        "AuthType": "NONE",
        "Cors": {"AllowOrigins": [origin], "AllowMethods": ["GET", "POST"],
                 "AllowHeaders": ["authorization", "content-type"], "MaxAge": 3600},
    }


def uploads_cors(origin: str) -> dict[str, Any]:
    """The uploads bucket's CORS: the store page POSTs files straight to S3 from the dashboard's
    origin (the presigned policy, not CORS, is what limits what may be written)."""
    return {"CORSRules": [{"ID": "store-page-uploads", "AllowedOrigins": [origin],
                           "AllowedMethods": ["POST"], "AllowedHeaders": ["*"],
                           "MaxAgeSeconds": 3600}]}


def local_function_url(endpoint: str, function: str) -> str:
    return f"{endpoint.rstrip('/')}{LOCAL_FUNCTION_URLS_PATH}{function}"


# ---- the operators' channel and alarms -----------------------------------------------------
# The stack's health goes to a topic of its own, never to the staff's stock alerts. The alarms
# watch what users feel: a function failing (files not loaded, alerts not sent, stores' uploads
# refused), a function throttled, a stream consumer running behind the table, the table
# refusing writes. Each threshold's reason, with the AWS page it relies on: docs/stack.md.

def ops_topic(names: StackNames) -> TopicSpec:
    return TopicSpec("ops_topic", names.ops_topic, names.ops_topic_arn)


# Errors and Throttles: the Sum over 5 minutes, alarming at the first one. A retried load or
# a bisected stream batch fails several times within a few minutes; one 5-minute period holds
# such an incident, so operators get one ALARM and one OK mail for it, not one per minute.
FUNCTION_ALARM_PERIOD_S = 300
# A stream consumer's IteratorAge (ms): the newest record of a batch was written this long
# before Lambda read it. The mappings discard records after MaximumRecordAgeInSeconds (an
# hour); 10 minutes behind in 3 of 5 minutes leaves ~50 minutes to act before anything is
# discarded, and a single slow bisected batch (a minute of lag) does not alarm.
ITERATOR_AGE_LIMIT_MS = 10 * 60 * 1000
ITERATOR_AGE_PERIOD_S = 60
ITERATOR_AGE_DATAPOINTS = (3, 5)
# WriteThrottleEvents on the inventory table in 3 of 5 minutes: the loader retries throttled
# batch writes itself, so a throttled minute at the start of a big load only slows it; three
# minutes of it means loads (and then alerts) run late.
TABLE_THROTTLE_DATAPOINTS = (3, 5)


def _function_alarms(names: StackNames, key: str, function: str, what: str
                     ) -> tuple[AlarmSpec, ...]:
    actions = (ops_topic(names).arn,)
    dimensions = (("FunctionName", function),)
    return (
        AlarmSpec(
            f"{key}-errors-alarm", f"{function}-errors", "AWS/Lambda", "Errors", dimensions,
            "Sum", FUNCTION_ALARM_PERIOD_S, 1, 1, "GreaterThanOrEqualToThreshold", 1,
            # No invocation, no error: a quiet pipeline is a healthy one.
            "notBreaching",
            f"inventory stack {names.stack}: {function} failed at least once in 5 minutes; "
            f"{what}. `inventory failures` lists what was kept, `inventory retry` re-drives it.",
            actions),
        AlarmSpec(
            f"{key}-throttles-alarm", f"{function}-throttles", "AWS/Lambda", "Throttles",
            dimensions, "Sum", FUNCTION_ALARM_PERIOD_S, 1, 1, "GreaterThanOrEqualToThreshold",
            1, "notBreaching",
            f"inventory stack {names.stack}: Lambda refused to run {function} (account "
            "concurrency used up); its events wait and run late.", actions),
    )


def _iterator_age_alarm(names: StackNames, key: str, function: str, what: str) -> AlarmSpec:
    m, n = ITERATOR_AGE_DATAPOINTS
    return AlarmSpec(
        f"{key}-iterator-age-alarm", f"{function}-iterator-age", "AWS/Lambda", "IteratorAge",
        (("FunctionName", function),), "Maximum", ITERATOR_AGE_PERIOD_S, n, m,
        "GreaterThanOrEqualToThreshold", ITERATOR_AGE_LIMIT_MS,
        # No batch read, no age: a quiet table is not a late consumer.
        "notBreaching",
        f"inventory stack {names.stack}: {function} reads the table's stream 10 minutes or "
        f"more behind; {what}. Records older than an hour are kept as failures.",
        (ops_topic(names).arn,))


def alarms(names: StackNames) -> tuple[AlarmSpec, ...]:
    """Every alarm of the stack, its actions on the operators' topic."""
    m, n = TABLE_THROTTLE_DATAPOINTS
    return (
        *_function_alarms(names, "load", names.load_function,
                          "uploaded files were not loaded (or late)"),
        *_function_alarms(names, "check", names.check_function,
                          "low-stock alerts were not sent (or late)"),
        _iterator_age_alarm(names, "check", names.check_function,
                            "low-stock alerts reach the staff late"),
        *_function_alarms(names, "summarize", names.summarize_function,
                          "the dashboard's summaries are behind"),
        _iterator_age_alarm(names, "summarize", names.summarize_function,
                            "the dashboard's summaries are behind"),
        *_function_alarms(names, "store-upload", names.store_upload_function,
                          "stores could not upload their files"),
        *_function_alarms(names, "announce", names.announce_function,
                          "the operators may not have been told of a failure"),
        AlarmSpec(
            "table-write-throttles-alarm", f"{names.table}-write-throttles", "AWS/DynamoDB",
            "WriteThrottleEvents", (("TableName", names.table),), "Sum", 60, n, m,
            "GreaterThanOrEqualToThreshold", 1,
            # No throttled write, no datapoint: a quiet minute is a good one. The PutMetricAlarm
            # reference says AWS/DynamoDB alarms ignore missing data whatever is set (then the
            # alarm keeps its state between writes); AWS support has advised notBreaching for
            # DynamoDB alarms stuck in ALARM. notBreaching is right in both readings.
            "notBreaching",
            f"inventory stack {names.stack}: table {names.table} throttled writes in 3 of 5 "
            "minutes; loads run late.", (ops_topic(names).arn,)),
    )


def cloudwatch_publish_statement(names: StackNames) -> dict[str, Any]:
    """The statement a policy of the operators' topic must keep for the alarms to publish
    (the default policy of a new topic needs none): CloudWatch's service principal, only for
    this account's alarms of this stack (AWS re:Post, "Why didn't I receive an SNS
    notification for my CloudWatch alarm trigger?")."""
    return {
        "Sid": "CloudWatchAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": ops_topic(names).arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": names.account_id},
            "ArnLike": {"aws:SourceArn":
                        f"arn:aws:cloudwatch:{names.region}:{names.account_id}:alarm:"
                        f"{names.stack}-*"},
        },
    }


# ---- the operators' announcements ---------------------------------------------------------
# lambda_src/announce_failures.py: why a function (S3's own notification to SNS would send the
# raw event), and how it bounds its messages.

ANNOUNCE_HANDLER = "lambda_src.announce_failures.lambda_handler"
# EventBridge's finest rate is one minute (EventBridge User Guide, "Schedule expressions for
# rules": "rate(1 minute)"); a failure the S3-triggered run deferred is sent within it.
ANNOUNCE_SCHEDULE = "rate(1 minute)"
# A stored file with no load report is announced as never loaded after this long: a new
# bucket notification can take minutes to apply (S3 User Guide, "Amazon S3 Event
# Notifications"), and the CLI's `failures --grace` defaults to the same 10 minutes. With the
# one-minute schedule, a file is announced 10-11 minutes after it was stored.
ANNOUNCE_UNLOADED_GRACE_S = 600
# At most one operators' message per this many seconds from the announcer.
ANNOUNCE_INTERVAL = 60
# A scheduled run may wait up to one interval for the message slot, then publishes.
ANNOUNCE_TIMEOUT_S = 90
S3_FAILURES_INVOKE_SID = "s3-failures-invoke"
EVENTS_INVOKE_SID = "events-schedule-invoke"
FAILURES_NOTIFICATION_ID = "announce-kept-failures"
ANNOUNCE_TARGET_ID = "announce-failures"


def announce_function(names: StackNames) -> FunctionSpec:
    return FunctionSpec(
        "announce-function", names.announce_function, names.announce_role, ANNOUNCE_HANDLER,
        {OPS_TOPIC_ARN: names.ops_topic_arn, FAILURES_BUCKET: names.failures_bucket,
         UPLOADS_BUCKET: names.uploads_bucket, LOAD_FUNCTION: names.load_function,
         ANNOUNCEMENT_TABLE: names.announcement_table, STACK_NAME: names.stack,
         UNLOADED_GRACE_S: str(ANNOUNCE_UNLOADED_GRACE_S),
         ANNOUNCE_INTERVAL_S: str(ANNOUNCE_INTERVAL),
         FUNCTION_LOGS: json.dumps({function: log for log, function
                                    in names.function_logs.items()}, sort_keys=True)},
        timeout=ANNOUNCE_TIMEOUT_S, memory=128,
        description=f"inventory stack {names.stack}: tells the operators of kept failures and "
                    "files never loaded",
    )


def failures_notification(names: StackNames) -> dict[str, Any]:
    return {"LambdaFunctionConfigurations": [{
        "Id": FAILURES_NOTIFICATION_ID,
        "LambdaFunctionArn": function_arn(names, names.announce_function),
        "Events": ["s3:ObjectCreated:*"],
    }]}


def announcer(names: StackNames) -> tuple[Spec, ...]:
    """The announcer, what triggers it (each new kept record; a schedule) and its permissions."""
    failures = names.failures_bucket
    return (
        announce_function(names),
        InvokePermissionSpec(
            "failures-invoke-permission", names.announce_function, S3_FAILURES_INVOKE_SID,
            "s3.amazonaws.com", bucket_arn(failures), names.account_id,
            f"allow bucket {failures} to invoke {names.announce_function}"),
        # After the permission: S3 checks that it may invoke the target.
        NotificationSpec(
            "failures-notification", failures, failures_notification(names),
            f"notify {names.announce_function} of each failure kept in {failures}",
            f"{failures}/{FAILURES_NOTIFICATION_ID}"),
        InvokePermissionSpec(
            "announce-schedule-permission", names.announce_function, EVENTS_INVOKE_SID,
            "events.amazonaws.com", names.announce_rule_arn, names.account_id,
            f"allow rule {names.announce_rule} to invoke {names.announce_function}"),
        ScheduleRuleSpec(
            "announce-schedule", names.announce_rule, ANNOUNCE_SCHEDULE,
            f"inventory stack {names.stack}: look for failures and files never loaded",
            ANNOUNCE_TARGET_ID, function_arn(names, names.announce_function)),
    )


def announce_role_policy(names: StackNames) -> dict[str, Any]:
    failures = bucket_arn(names.failures_bucket)
    uploads = bucket_arn(names.uploads_bucket)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadKeptFailures",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{failures}/*",
            },
            {
                # Listing both buckets: the kept records, and the uploads with their reports
                # (a file never loaded is one without a report of its version). With
                # s3:ListBucket a missing object reads as 404, not 403 (S3 API Reference,
                # HeadObject, "Permissions").
                "Sid": "ListFailuresAndUploads",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [failures, uploads],
            },
            {
                # HeadObject of a file without a later report (its version and ETag), and
                # GetObject of its report (which version it loaded). HeadObject needs
                # s3:GetObject (S3 API Reference, HeadObject, "Permissions").
                "Sid": "ReadUploadVersionsAndReports",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{uploads}/*",
            },
            {
                "Sid": "KeepAnnouncements",
                "Effect": "Allow",
                "Action": ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem",
                           "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                "Resource": names.table_arn_of(names.announcement_table),
            },
            {
                "Sid": "TellOperators",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": names.ops_topic_arn,
            },
            _log_statement(names, names.announce_log_group),
        ],
    }
# ---- the private dashboard ------------------------------------------------------------------
# Staff sign in to a Cognito user pool; the identity pool accepts only its logins and hands
# them the staff role, whose reads are bound to the member's stores by principal tags (session
# tags from the id token's claims). See docs/stack.md, "Dashboard access", for the choice and
# its AWS sources.

# The Plan context's name for the dashboard's origin on AWS (the distribution's https address).
DASHBOARD_ORIGIN = "dashboard_origin"
INDEX_PAGE = "index.html"


def distribution_comment(names: StackNames) -> str:
    """How the stack finds its distribution (distributions have no names)."""
    return f"inventory stack {names.stack}: dashboard"
# A member's stores are kept in this many custom attributes, one store each: a session tag
# holds one string, and `dynamodb:LeadingKeys` is compared with each tag in turn.
STORE_SLOTS = 10
STORE_ATTRIBUTE = "store"  # custom:store1 ... custom:store10, tags store1 ... store10
# The id token claim that names the app client (`aud`): always there for a signed-in member,
# so the all-stores statement cannot apply to a session without principal tags at all.
CLIENT_TAG = "client"


def store_attribute(slot: int) -> str:
    """The user pool attribute of a store slot (1-based), as Admin*UserAttributes name it."""
    return f"custom:{STORE_ATTRIBUTE}{slot}"


def store_tag(slot: int) -> str:
    return f"{STORE_ATTRIBUTE}{slot}"


def principal_tags() -> dict[str, str]:
    """Principal tag -> id token claim (SetPrincipalTagAttributeMap's PrincipalTags)."""
    return {CLIENT_TAG: "aud",
            **{store_tag(i): store_attribute(i) for i in range(1, STORE_SLOTS + 1)}}


INVITATION_SUBJECT = "Your inventory dashboard account"


def user_pool_settings(names: StackNames) -> dict[str, Any]:
    """CreateUserPool parameters besides the name and tags. Only administrators create users
    (AdminCreateUserConfig.AllowAdminCreateUserOnly: no self sign-up); Cognito e-mails the
    invitation with a temporary password ({####}) that the first sign-in replaces."""
    return {
        "AdminCreateUserConfig": {
            "AllowAdminCreateUserOnly": True,
            "InviteMessageTemplate": {
                "EmailSubject": INVITATION_SUBJECT,
                "EmailMessage": (
                    f"You have an account for the inventory dashboard of stack {names.stack}."
                    " Sign in as {username} with the temporary password {####}; you will"
                    " choose your own password then."),
            },
        },
        "AutoVerifiedAttributes": ["email"],
        "Policies": {"PasswordPolicy": {
            "MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
            "RequireNumbers": True, "RequireSymbols": False,
            "TemporaryPasswordValidityDays": 7}},
        "AccountRecoverySetting": {"RecoveryMechanisms": [
            {"Name": "verified_email", "Priority": 1}]},
        "Schema": [{"Name": f"{STORE_ATTRIBUTE}{i}", "AttributeDataType": "String",
                    "Mutable": True, "StringAttributeConstraints": {
                        "MinLength": "1", "MaxLength": "256"}}
                   for i in range(1, STORE_SLOTS + 1)],
    }


def user_pool_client_settings() -> dict[str, Any]:
    """CreateUserPoolClient parameters besides the pool and name. No secret: a page cannot keep
    one. SRP: the password never leaves the browser. The client may write no custom attribute,
    so members cannot change their own stores (Cognito: attribute permissions per app client)."""
    return {
        "GenerateSecret": False,
        "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "PreventUserExistenceErrors": "ENABLED",
        "ReadAttributes": ["email", "email_verified",
                           *(store_attribute(i) for i in range(1, STORE_SLOTS + 1))],
        "WriteAttributes": ["name"],
    }


def staff_trust_policy(identity_pool_id: Any) -> dict[str, Any]:
    """Only authenticated identities of this one pool; sts:TagSession lets the identity pool
    pass the principal tags (Amazon Cognito Developer Guide, "Using attributes for access
    control")."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
        }],
    }


def staff_role_policy(names: StackNames) -> dict[str, Any]:
    """A member of some stores may Query (and GetItem) the inventory table only on those
    stores' partition keys; staff of every store (no store attribute) read everything.

    `ForAllValues:StringEquals` on `dynamodb:LeadingKeys`: every partition key the request
    touches must equal one of the member's store tags (DynamoDB Developer Guide, "Using IAM
    policy conditions for fine-grained access control"). A Scan has no leading keys, so the
    qualifier would hold for it: Scan is not in that statement. A tag slot the member does not
    use has no value and matches nothing (IAM User Guide, "Policy variables with no value").
    The summaries table is keyed by kind, not by store, so a store member reads none of it.
    """
    slots = range(1, STORE_SLOTS + 1)
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "ReadOwnStores",
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:GetItem"],
            "Resource": names.table_arn,
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [
                f"${{aws:PrincipalTag/{store_tag(i)}}}" for i in slots]}},
        }, {
            "Sid": "StaffOfEveryStoreReadAll",
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem"],
            "Resource": [names.table_arn, names.table_arn_of(names.summary_table)],
            "Condition": {"Null": {f"aws:PrincipalTag/{CLIENT_TAG}": "false",
                                   **{f"aws:PrincipalTag/{store_tag(i)}": "true"
                                      for i in slots}}},
        }],
    }


def staff_role(names: StackNames, identity_pool_id: Any) -> RoleSpec:
    return RoleSpec("dashboard-staff-role", names.staff_role,
                    staff_trust_policy(identity_pool_id), staff_role_policy(names),
                    dashboard=True)


def distribution_arn(names: StackNames, distribution_id: Any) -> Any:
    if isinstance(distribution_id, Ref):
        return Ref("distribution_arn")
    return f"arn:aws:cloudfront::{names.account_id}:distribution/{distribution_id}"


def private_dashboard_bucket_policy(names: StackNames, *, cdn: bool) -> dict[str, Any]:
    """No public statement: only CloudFront, through the distribution's Origin Access Control,
    may read the page (CloudFront Developer Guide, "Restricting access to an Amazon S3
    origin"). On an emulator there is no CloudFront: the emulator serves the files itself."""
    bucket = names.dashboard_bucket
    statements: list[dict[str, Any]] = [_deny_insecure_transport(bucket)]
    if cdn:
        statements.append({
            "Sid": "CloudFrontReadsThePage",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn(bucket)}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": Ref("distribution_arn")}},
        })
    return {"Version": POLICY_VERSION, "Statement": statements}


def cdn_resources(n: StackNames) -> tuple[Spec, ...]:
    """The distribution in front of the private bucket (AWS only: an emulator serves the files
    itself). Listed before the store endpoint, whose CORS names the distribution's origin."""
    return (
        OriginAccessControlSpec("dashboard-oac", n.dashboard_oac),
        DistributionSpec("dashboard-distribution", n.dashboard_bucket,
                         distribution_comment(n),
                         f"{n.dashboard_bucket}.s3.{n.region}.amazonaws.com"),
    )


def private_dashboard(n: StackNames, *, cdn: bool) -> tuple[Spec, ...]:
    """Staff sign in; each member reads its own stores (the default)."""
    return (
        UserPoolSpec("user-pool", n.staff_user_pool, user_pool_settings(n)),
        UserPoolClientSpec("user-pool-client", n.staff_user_pool, n.staff_app_client,
                           user_pool_client_settings()),
        IdentityPoolSpec("identity-pool", n.identity_pool, user_pool=n.staff_user_pool),
        PrincipalTagsSpec("identity-pool-principal-tags", n.identity_pool, principal_tags()),
        staff_role(n, Ref("identity_pool_id")),
        IdentityPoolRolesSpec("identity-pool-roles", n.identity_pool, n.staff_role,
                              {"authenticated": role_arn(n, n.staff_role)}),
        BucketSpec("dashboard-bucket", n.dashboard_bucket, PRIVATE_BUCKET_ACCESS_BLOCK,
                   private_dashboard_bucket_policy(n, cdn=cdn), versioned=False,
                   dashboard=True),
        DashboardFilesSpec("dashboard-files", n.dashboard_bucket, role_arn(n, n.staff_role)),
    )
