"""The desired state of a stack as plain data: settings of every resource and its IAM documents.

Nothing here calls AWS. The planner compares this with what exists; the tests check every
policy document with parliament.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inventory_cli.config import StackNames
from lambda_src.inventory_csv import REPORTS_PREFIX
from lambda_src.load_checkpoint import CHECKPOINT_PREFIX
from lambda_src.store_scope import STORES_PREFIX

POLICY_VERSION = "2012-10-17"
RUNTIME = "python3.12"
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


@dataclass(frozen=True)
class MappingSpec:
    """One event source mapping from the inventory table's stream to a function."""

    resource: str
    function: str
    settings: dict[str, Any]


def stream_mappings(names: StackNames) -> tuple[MappingSpec, ...]:
    """Every consumer of the table's stream (DynamoDB allows two readers per shard)."""
    return (MappingSpec("stream-mapping", names.check_function, MAPPING_SETTINGS),
            # The summaries: same retries and bisecting as the checker (issue 10).
            MappingSpec("summary-mapping", names.summarize_function, MAPPING_SETTINGS))


# ---- kept failures (issue 9) ----------------------------------------------------------------
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

# The resources `status` reports, in this order (stable: the JSON output is documented).
RESOURCE_IDS: tuple[str, ...] = (
    "load-role",
    "check-role",
    "uploads-bucket",
    "failures-bucket",
    "table",
    "alert-table",
    "topic",
    "load-log-group",
    "check-log-group",
    "load-function",
    "load-failure-destination",
    "s3-invoke-permission",
    "uploads-notification",
    "check-function",
    "stream-mapping",
    "summary-table",
    "summarize-role",
    "summarize-log-group",
    "summarize-function",
    "summary-mapping",
    "identity-pool",
    "dashboard-role",
    "identity-pool-roles",
    "dashboard-bucket",
    "dashboard-files",
    # Issue 11: the stores' upload endpoint.
    "store-keys-table",
    "store-upload-role",
    "store-upload-log-group",
    "store-upload-function",
    "store-upload-url",
    "uploads-cors",
)


# The public dashboard's resources: absent from a stack provisioned with --no-dashboard.
DASHBOARD_RESOURCE_IDS: frozenset[str] = frozenset({
    "identity-pool", "dashboard-role", "identity-pool-roles", "dashboard-bucket",
    "dashboard-files"})
# How a stack remembers it has no dashboard (there is no local state): this tag on the inventory
# table, read back by `deployed.deployed_dashboard` like the threshold is read from the checker.
DASHBOARD_TAG = "inventory:dashboard"
DASHBOARD_OFF = "off"


def status_resource_ids(*, dashboard: bool) -> tuple[str, ...]:
    """The resources a stack should have, in status order."""
    return tuple(rid for rid in RESOURCE_IDS if dashboard or rid not in DASHBOARD_RESOURCE_IDS)


def resource_names(names: StackNames) -> dict[str, str]:
    """The AWS name shown for each resource id."""
    return {
        "load-role": names.load_role,
        "check-role": names.check_role,
        "uploads-bucket": names.uploads_bucket,
        "failures-bucket": names.failures_bucket,
        "table": names.table,
        "alert-table": names.alert_table,
        "topic": names.topic,
        "load-log-group": names.load_log_group,
        "check-log-group": names.check_log_group,
        "load-function": names.load_function,
        "load-failure-destination": f"{names.load_function} on failure -> "
                                    f"{names.failures_bucket}",
        "s3-invoke-permission": f"{names.load_function}/{S3_INVOKE_SID}",
        "uploads-notification": f"{names.uploads_bucket}/{NOTIFICATION_ID}",
        "check-function": names.check_function,
        "stream-mapping": f"{names.table} stream -> {names.check_function}",
        "summary-table": names.summary_table,
        "summarize-role": names.summarize_role,
        "summarize-log-group": names.summarize_log_group,
        "summarize-function": names.summarize_function,
        "summary-mapping": f"{names.table} stream -> {names.summarize_function}",
        "identity-pool": names.identity_pool,
        "dashboard-role": names.dashboard_role,
        "identity-pool-roles": f"{names.identity_pool} unauthenticated role",
        "dashboard-bucket": names.dashboard_bucket,
        "dashboard-files": f"{names.dashboard_bucket}/*",
        "store-keys-table": names.store_keys_table,
        "store-upload-role": names.store_upload_role,
        "store-upload-log-group": names.store_upload_log_group,
        "store-upload-function": names.store_upload_function,
        "store-upload-url": f"{names.store_upload_function} function URL",
        "uploads-cors": f"{names.uploads_bucket} CORS",
    }


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


def _keep_failures_statement(names: StackNames) -> dict[str, Any]:
    # Lambda writes a destination record with the function's execution role.
    return {
        "Sid": "KeepFailedInvocations",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn(names.failures_bucket)}/*",
    }


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
            _keep_failures_statement(names),
            {
                # A load that runs short of time hands the rest of the file to a new
                # asynchronous invocation of this same function, and no other.
                "Sid": "ContinueLongLoads",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": function_arn(names, names.load_function),
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
            _keep_failures_statement(names),
            _log_statement(names, names.check_log_group),
        ],
    }


def summarize_role_policy(names: StackNames) -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            *_stream_read_statements(names),
            {
                # Cells are read in batches, then written with the summary rows in one
                # transaction (lambda_src/update_summaries.py).
                "Sid": "KeepSummaries",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                           "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
                "Resource": names.table_arn_of(names.summary_table),
            },
            _keep_failures_statement(names),
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


@dataclass(frozen=True)
class BucketSpec:
    resource: str
    name: str
    access_block: dict[str, bool]
    policy: dict[str, Any]
    versioned: bool


@dataclass(frozen=True)
class RoleSpec:
    resource: str
    name: str
    # A trust policy may contain a Ref (the pool id of a pool not yet created).
    trust_policy: dict[str, Any]
    policy: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    resource: str
    name: str
    role: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    description: str

    def configuration(self, names: StackNames) -> dict[str, Any]:
        """Parameters as CreateFunction and UpdateFunctionConfiguration take them."""
        return {
            "Runtime": RUNTIME,
            "Role": role_arn(names, self.role),
            "Handler": self.handler,
            "Environment": {"Variables": dict(self.environment)},
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "Description": self.description,
        }


def buckets(names: StackNames) -> tuple[BucketSpec, ...]:
    return (
        BucketSpec("uploads-bucket", names.uploads_bucket, PRIVATE_BUCKET_ACCESS_BLOCK,
                   uploads_bucket_policy(names), versioned=True),
        BucketSpec("dashboard-bucket", names.dashboard_bucket, DASHBOARD_BUCKET_ACCESS_BLOCK,
                   dashboard_bucket_policy(names), versioned=False),
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
    )


def dashboard_role(names: StackNames, identity_pool_id: Any) -> RoleSpec:
    return RoleSpec("dashboard-role", names.dashboard_role,
                    dashboard_trust_policy(identity_pool_id), dashboard_role_policy(names))


def load_function(names: StackNames) -> FunctionSpec:
    return FunctionSpec(
        "load-function", names.load_function, names.load_role, LOAD_HANDLER,
        {"INVENTORY_TABLE": names.table, "STORE_KEYS_TABLE": names.store_keys_table},
        timeout=60, memory=256,
        description=f"inventory stack {names.stack}: loads uploaded CSV files into the table",
    )


def check_function(names: StackNames, threshold: int) -> FunctionSpec:
    return FunctionSpec(
        "check-function", names.check_function, names.check_role, CHECK_HANDLER,
        {"ALERT_TOPIC_ARN": names.topic_arn, "LOW_STOCK_THRESHOLD": str(threshold),
         "ALERT_LOG_TABLE": names.alert_table},
        timeout=30, memory=128,
        description=f"inventory stack {names.stack}: alerts when stock drops to the threshold",
    )


def summarize_function(names: StackNames, threshold: int) -> FunctionSpec:
    return FunctionSpec(
        "summarize-function", names.summarize_function, names.summarize_role, SUMMARIZE_HANDLER,
        {"SUMMARY_TABLE": names.summary_table, "LOW_STOCK_THRESHOLD": str(threshold)},
        timeout=60, memory=128,
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


@dataclass(frozen=True)
class TableSpec:
    """An auxiliary table of the stack (not the inventory table): on-demand, tagged, with an
    optional TTL attribute. Its keys cannot change once created."""

    resource: str
    name: str
    # (attribute, "S" | "N" | "B") for the hash key, then optionally the range key.
    keys: tuple[tuple[str, str], ...]
    ttl_attribute: str | None = None

    def definition(self) -> dict[str, Any]:
        kinds = ("HASH", "RANGE")
        return {
            "TableName": self.name,
            "KeySchema": [{"AttributeName": a, "KeyType": kinds[i]}
                          for i, (a, _) in enumerate(self.keys)],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t}
                                     for a, t in self.keys],
            "BillingMode": "PAY_PER_REQUEST",
        }


def aux_tables(names: StackNames) -> tuple[TableSpec, ...]:
    """The stack's tables besides the inventory table, in creation order."""
    return (
        # One item per alert (store + the stream record's eventID): the checker's idempotency
        # record and the history `inventory alerts` reads; expired by DynamoDB after 90 days.
        TableSpec("alert-table", names.alert_table, (("Store", "S"), ("EventId", "S")),
                  ttl_attribute="ExpiresAt"),
        summary_table(names),
        store_keys_table(names),
    )


def summary_table(names: StackNames) -> TableSpec:
    # Kind: store | item (the summaries), cell | meta (what keeps them exact; see
    # lambda_src/update_summaries.py).
    return TableSpec("summary-table", names.summary_table, (("Kind", "S"), ("Name", "S")))


def log_groups(names: StackNames) -> tuple[tuple[str, str], ...]:
    """(resource id, log group name) of every function's log group."""
    return (("load-log-group", names.load_log_group),
            ("check-log-group", names.check_log_group),
            ("summarize-log-group", names.summarize_log_group),
            ("store-upload-log-group", names.store_upload_log_group))


def teardown_functions(names: StackNames) -> tuple[tuple[str, str, str], ...]:
    """(mapping resource id, function resource id, function name), in deletion order: the
    stream's consumers first, so no new invocations start while the rest goes away."""
    # Deleting a function deletes its URL configuration and its permissions with it.
    return (("stream-mapping", "check-function", names.check_function),
            ("summary-mapping", "summarize-function", names.summarize_function),
            ("load-function", "load-function", names.load_function),
            ("store-upload-url", "store-upload-function", names.store_upload_function))


def teardown_roles(names: StackNames) -> tuple[tuple[str, str], ...]:
    return (*((role.resource, role.name) for role in lambda_roles(names)),
            ("dashboard-role", names.dashboard_role))


def all_policy_documents(names: StackNames, identity_pool_id: str) -> dict[str, dict[str, Any]]:
    """Every IAM / resource policy document of a stack, by a descriptive name (for audits)."""
    documents: dict[str, dict[str, Any]] = {}
    for role in (*lambda_roles(names), dashboard_role(names, identity_pool_id)):
        documents[f"{role.resource} trust"] = role.trust_policy
        documents[f"{role.resource} policy"] = role.policy
    for bucket in buckets(names):
        documents[f"{bucket.resource} policy"] = bucket.policy
    return documents


# ---- Issue 11: the stores' upload endpoint ---------------------------------------------------

STORE_UPLOAD_HANDLER = "lambda_src.store_upload.lambda_handler"
# The largest file a store may send through its presigned POST (the policy's content-length-range).
STORE_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
# Lifetime of a presigned POST: long enough to send a large file, short enough to be useless later.
STORE_UPLOAD_EXPIRES_S = 300
# The Sid of the permission that lets anyone call the function URL (the key is checked inside).
FUNCTION_URL_SID = "function-url-public"
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
        {"UPLOADS_BUCKET": names.uploads_bucket, "STORE_KEYS_TABLE": names.store_keys_table,
         "MAX_UPLOAD_BYTES": str(STORE_UPLOAD_MAX_BYTES),
         "UPLOAD_EXPIRES_S": str(STORE_UPLOAD_EXPIRES_S)},
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
