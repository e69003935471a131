"""The emulator enforces the stack's roles as AWS does (in-process, on the provisioned stack).

For each role, every call its function (or guest) makes is made with the role's own temporary
credentials: all pass with the role as provisioned, and removing any one statement from the
role from outside (PutRolePolicy by the operator) makes exactly the calls that needed it fail,
with AWS's refusal. The operator's own key is never checked. Also: S3's 403-for-a-missing-key
rule without s3:ListBucket, and the dashboard guest's enhanced flow scoped down by AWS's
session policy while the basic flow acts as the role.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.local.seam import iam as seam_iam
from inventory_cli.provisioning import provision
from inventory_cli.stack.provision import ProvisionResult

REGION = "us-east-1"
Clients = Callable[[str], Any]
Call = Callable[[Clients], Any]
# What each service answers a refusal with: (error code, HTTP status).
REFUSED = {"s3": ("AccessDenied", 403), "dynamodb": ("AccessDeniedException", 400),
           "dynamodbstreams": ("AccessDeniedException", 400),
           "sns": ("AuthorizationError", 403), "lambda": ("AccessDeniedException", 403),
           "logs": ("AccessDeniedException", 400)}


@dataclass(frozen=True)
class RoleCall:
    """One call the role's holder makes, the statement (Sid) it needs, and its service."""

    sid: str
    service: str
    name: str
    call: Call


def clients_for(credentials: dict[str, str]) -> Clients:
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials.get("SecretAccessKey") or credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"], region_name=REGION)
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service)
        return cache[service]

    return client


def assumed(session: boto3.session.Session, role: str, session_name: str) -> Clients:
    """Clients acting as `role`, the way Lambda's execution environment does (AssumeRole)."""
    account = session.client("sts").get_caller_identity()["Account"]
    credentials = session.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session_name,
    )["Credentials"]
    return clients_for(credentials)


def _stream_arn(session: boto3.session.Session, table: str) -> str:
    arn: str = session.client("dynamodb").describe_table(TableName=table)["Table"][
        "LatestStreamArn"]
    return arn


def _log_stream(group: str) -> Call:
    def call(c: Clients) -> None:
        stream = f"2026/12/03/[$LATEST]{uuid.uuid4().hex}"
        c("logs").create_log_stream(logGroupName=group, logStreamName=stream)
    return call


def _stream_calls(arn: str) -> list[RoleCall]:
    def iterator(c: Clients) -> str:
        shard = c("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"][
            "Shards"][0]["ShardId"]
        found: str = c("dynamodbstreams").get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return found

    return [
        RoleCall("ReadInventoryStream", "dynamodbstreams", "DescribeStream",
                 lambda c: c("dynamodbstreams").describe_stream(StreamArn=arn)),
        RoleCall("ReadInventoryStream", "dynamodbstreams", "GetShardIterator", iterator),
        RoleCall("ListStreams", "dynamodbstreams", "ListStreams",
                 lambda c: c("dynamodbstreams").list_streams()),
    ]


def _failure_calls(names: StackNames) -> list[RoleCall]:
    bucket = names.failures_bucket
    return [
        RoleCall("KeepFailedInvocations", "s3", "PutObject failures",
                 lambda c: c("s3").put_object(Bucket=bucket, Key=f"aws/lambda/{uuid.uuid4()}",
                                              Body=b"{}")),
        RoleCall("ListFailuresBucket", "s3", "ListObjectsV2 failures",
                 lambda c: c("s3").list_objects_v2(Bucket=bucket)),
    ]


def load_calls(names: StackNames, session: boto3.session.Session) -> list[RoleCall]:
    uploads, table = names.uploads_bucket, names.table
    version = session.client("s3").put_object(
        Bucket=uploads, Key="stores/berlin/in.csv", Body=b"store,item,count\n").get("VersionId")
    session.client("s3").put_object(Bucket=uploads, Key="reports/.loading/x", Body=b"{}")
    item = {"Store": {"S": "Berlin"}, "Item": {"S": "Echo"}, "Count": {"N": "1"}}
    return [
        RoleCall("ReadUploadedFiles", "s3", "GetObject",
                 lambda c: c("s3").get_object(Bucket=uploads, Key="stores/berlin/in.csv")),
        RoleCall("ReadUploadedFiles", "s3", "HeadObject",
                 lambda c: c("s3").head_object(Bucket=uploads, Key="stores/berlin/in.csv")),
        RoleCall("ReadUploadedFiles", "s3", "GetObject version",
                 lambda c: c("s3").get_object(Bucket=uploads, Key="stores/berlin/in.csv",
                                              VersionId=version)),
        RoleCall("WriteLoadReports", "s3", "PutObject report",
                 lambda c: c("s3").put_object(Bucket=uploads, Key="reports/in.json",
                                              Body=b"{}")),
        RoleCall("WriteInventory", "dynamodb", "BatchWriteItem",
                 lambda c: c("dynamodb").batch_write_item(
                     RequestItems={table: [{"PutRequest": {"Item": item}}]})),
        RoleCall("ContinueLongLoads", "lambda", "Invoke",
                 lambda c: c("lambda").invoke(FunctionName=names.load_function,
                                              InvocationType="Event", Payload=b"{}")),
        RoleCall("RemoveLoadCheckpoints", "s3", "DeleteObject",
                 lambda c: c("s3").delete_object(Bucket=uploads, Key="reports/.loading/x")),
        *_failure_calls(names),
        RoleCall("WriteOwnLogs", "logs", "CreateLogStream", _log_stream(names.load_log_group)),
    ]


def check_calls(names: StackNames, session: boto3.session.Session) -> list[RoleCall]:
    alerts = names.alert_table
    key = {"Store": {"S": "Berlin"}, "EventId": {"S": "1"}}  # one alert's claim
    return [
        *_stream_calls(_stream_arn(session, names.table)),
        RoleCall("PublishAlerts", "sns", "Publish",
                 lambda c: c("sns").publish(TopicArn=names.topic_arn, Message="Berlin is out")),
        RoleCall("KeepAlertLog", "dynamodb", "GetItem",
                 lambda c: c("dynamodb").get_item(TableName=alerts, Key=key)),
        RoleCall("KeepAlertLog", "dynamodb", "PutItem",
                 lambda c: c("dynamodb").put_item(TableName=alerts, Item=key)),
        RoleCall("KeepAlertLog", "dynamodb", "UpdateItem",
                 lambda c: c("dynamodb").update_item(
                     TableName=alerts, Key=key, UpdateExpression="SET Sent = :t",
                     ExpressionAttributeValues={":t": {"BOOL": True}})),
        *_failure_calls(names),
        RoleCall("WriteOwnLogs", "logs", "CreateLogStream", _log_stream(names.check_log_group)),
    ]


def summarize_calls(names: StackNames, session: boto3.session.Session) -> list[RoleCall]:
    summaries = names.summary_table
    key = {"Kind": {"S": "test"}, "Name": {"S": "x"}}
    return [
        *_stream_calls(_stream_arn(session, names.table)),
        RoleCall("KeepSummaries", "dynamodb", "GetItem",
                 lambda c: c("dynamodb").get_item(TableName=summaries, Key=key)),
        RoleCall("KeepSummaries", "dynamodb", "BatchGetItem",
                 lambda c: c("dynamodb").batch_get_item(
                     RequestItems={summaries: {"Keys": [key]}})),
        RoleCall("KeepSummaries", "dynamodb", "UpdateItem",
                 lambda c: c("dynamodb").update_item(
                     TableName=summaries, Key=key, UpdateExpression="SET N = :n",
                     ExpressionAttributeValues={":n": {"N": "1"}})),
        RoleCall("KeepSummaries", "dynamodb", "TransactWriteItems",
                 lambda c: c("dynamodb").transact_write_items(TransactItems=[
                     {"Put": {"TableName": summaries,
                              "Item": {"Kind": {"S": "test"}, "Name": {"S": "y"}}}},
                     {"ConditionCheck": {"TableName": summaries, "Key": key,
                                         "ConditionExpression": "attribute_exists(Kind)"}}])),
        *_failure_calls(names),
        RoleCall("WriteOwnLogs", "logs", "CreateLogStream",
                 _log_stream(names.summarize_log_group)),
    ]


def store_upload_calls(names: StackNames, session: boto3.session.Session) -> list[RoleCall]:
    uploads = names.uploads_bucket
    session.client("s3").put_object(Bucket=uploads, Key="reports/stores/berlin/in.json",
                                    Body=b"{}")
    return [
        RoleCall("CheckStoreKeys", "dynamodb", "GetItem",
                 lambda c: c("dynamodb").get_item(TableName=names.store_keys_table,
                                                  Key={"KeyId": {"S": "k"}})),
        RoleCall("PresignStoreUploads", "s3", "PutObject store file",
                 lambda c: c("s3").put_object(Bucket=uploads, Key="stores/berlin/in.csv",
                                              Body=b"store,item,count\n")),
        RoleCall("ReadStoreReports", "s3", "GetObject report",
                 lambda c: c("s3").get_object(Bucket=uploads,
                                              Key="reports/stores/berlin/in.json")),
        RoleCall("ListStoreReports", "s3", "ListObjectsV2 reports",
                 lambda c: c("s3").list_objects_v2(Bucket=uploads,
                                                   Prefix="reports/stores/berlin/")),
        RoleCall("WriteOwnLogs", "logs", "CreateLogStream",
                 _log_stream(names.store_upload_log_group)),
    ]


def dashboard_calls(names: StackNames, session: boto3.session.Session) -> list[RoleCall]:
    table, summaries = names.table, names.summary_table
    return [
        RoleCall("ReadInventory", "dynamodb", "Query inventory",
                 lambda c: c("dynamodb").query(
                     TableName=table, KeyConditionExpression="Store = :s",
                     ExpressionAttributeValues={":s": {"S": "Berlin"}})),
        RoleCall("ReadInventory", "dynamodb", "Scan inventory",
                 lambda c: c("dynamodb").scan(TableName=table)),
        RoleCall("ReadSummaries", "dynamodb", "Query summaries",
                 lambda c: c("dynamodb").query(
                     TableName=summaries, KeyConditionExpression="Kind = :k",
                     ExpressionAttributeValues={":k": {"S": "item"}})),
        RoleCall("ReadSummaries", "dynamodb", "GetItem summaries",
                 lambda c: c("dynamodb").get_item(
                     TableName=summaries, Key={"Kind": {"S": "meta"}, "Name": {"S": "x"}})),
    ]


def guest_credentials(session: boto3.session.Session, names: StackNames, *,
                      enhanced: bool) -> dict[str, str]:
    """A dashboard guest's keys: the enhanced flow (GetCredentialsForIdentity) or the basic one
    (GetOpenIdToken + AssumeRoleWithWebIdentity), both unsigned, as the page does them."""
    cognito = session.client("cognito-identity")
    pool = next(p["IdentityPoolId"] for p in cognito.list_identity_pools(MaxResults=60)[
        "IdentityPools"] if p["IdentityPoolName"] == names.identity_pool)
    identity = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
    if enhanced:
        found: dict[str, str] = cognito.get_credentials_for_identity(IdentityId=identity)[
            "Credentials"]
        return found
    token = cognito.get_open_id_token(IdentityId=identity)["Token"]
    role = cognito.get_identity_pool_roles(IdentityPoolId=pool)["Roles"]["unauthenticated"]
    basic: dict[str, str] = session.client("sts").assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="dashboard-guest", WebIdentityToken=token)["Credentials"]
    return basic


ROLES: dict[str, tuple[Callable[[StackNames], str], Callable[..., list[RoleCall]]]] = {
    "load": (lambda n: n.load_role, load_calls),
    "check": (lambda n: n.check_role, check_calls),
    "summarize": (lambda n: n.summarize_role, summarize_calls),
    "store-upload": (lambda n: n.store_upload_role, store_upload_calls),
    "dashboard-guest": (lambda n: n.dashboard_role, dashboard_calls),
}
# Every statement of every role, so a statement added to a role without a call here fails.
CASES = [("load", sid) for sid in ("ReadUploadedFiles", "WriteLoadReports", "WriteInventory",
                                   "KeepFailedInvocations", "ListFailuresBucket",
                                   "ContinueLongLoads", "RemoveLoadCheckpoints", "WriteOwnLogs")]
CASES += [("check", sid) for sid in ("ReadInventoryStream", "ListStreams", "PublishAlerts",
                                     "KeepAlertLog", "KeepFailedInvocations",
                                     "ListFailuresBucket", "WriteOwnLogs")]
CASES += [("summarize", sid) for sid in ("ReadInventoryStream", "ListStreams", "KeepSummaries",
                                         "KeepFailedInvocations", "ListFailuresBucket",
                                         "WriteOwnLogs")]
CASES += [("store-upload", sid) for sid in ("CheckStoreKeys", "PresignStoreUploads",
                                            "ReadStoreReports", "ListStoreReports",
                                            "WriteOwnLogs")]
CASES += [("dashboard-guest", sid) for sid in ("ReadInventory", "ReadSummaries")]


def _holder(session: boto3.session.Session, names: StackNames, role_key: str) -> Clients:
    if role_key == "dashboard-guest":
        return clients_for(guest_credentials(session, names, enhanced=False))
    return assumed(session, ROLES[role_key][0](names), f"{role_key}-function")


def _outcome(call: RoleCall, clients: Clients) -> tuple[str, int] | None:
    """None if the call passed, else (AWS error code, HTTP status)."""
    try:
        call.call(clients)
    except ClientError as exc:
        return (str(exc.response["Error"]["Code"]),
                int(exc.response["ResponseMetadata"]["HTTPStatusCode"]))
    return None


def _remove_statement(session: boto3.session.Session, role: str, sid: str) -> None:
    iam = session.client("iam")
    [policy] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    kept = [s for s in document["Statement"] if s.get("Sid") != sid]
    assert len(kept) == len(document["Statement"]) - 1, f"{role} has no statement {sid}"
    iam.put_role_policy(RoleName=role, PolicyName=policy,
                        PolicyDocument=json.dumps({**document, "Statement": kept}))


@pytest.fixture
def provisioned_stack(aws: Aws, lambda_invocations: object) -> ProvisionResult:
    """The stack with the public dashboard: its guests' role is checked here (the private
    dashboard's staff role: tests/e2e/test_e2e_private_dashboard.py, test_leading_keys.py)."""
    return provision(aws, threshold=0, sleep=lambda _: None, dashboard_access="public")


@pytest.fixture
def stack(provisioned_stack: ProvisionResult, monkeypatch: pytest.MonkeyPatch) -> StackNames:
    monkeypatch.delenv(seam_iam.ENFORCE_ENV, raising=False)  # the default: enforcing
    return provisioned_stack.names


@pytest.mark.parametrize(("role_key", "sid"), CASES, ids=[f"{r}-{s}" for r, s in CASES])
def test_removing_one_statement_fails_exactly_the_calls_that_needed_it(
        stack: StackNames, session: boto3.session.Session, role_key: str, sid: str) -> None:
    role_name, make_calls = ROLES[role_key][0](stack), ROLES[role_key][1]
    calls = make_calls(stack, session)
    assert {c.sid for c in calls} >= {s for r, s in CASES if r == role_key}
    holder = _holder(session, stack, role_key)
    assert {c.name: _outcome(c, holder) for c in calls} == dict.fromkeys(
        (c.name for c in calls), None), "the role as provisioned allows every call"

    _remove_statement(session, role_name, sid)  # from outside: the operator's client
    outcomes = {c.name: _outcome(c, holder) for c in calls}
    expected = {c.name: REFUSED[c.service] if c.sid == sid else None for c in calls}
    # A HEAD answer has no body: only its status tells the refusal.
    if outcomes.get("HeadObject") == ("403", 403):
        outcomes["HeadObject"] = REFUSED["s3"]
    assert outcomes == expected


def test_a_refusal_names_the_session_the_action_and_the_resource(
        stack: StackNames, session: boto3.session.Session) -> None:
    holder = assumed(session, stack.check_role, "check-function")
    with pytest.raises(ClientError) as refused:
        holder("dynamodb").put_item(TableName=stack.table,
                                    Item={"Store": {"S": "s"}, "Item": {"S": "i"}})
    assert refused.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{stack.account_id}:assumed-role/{stack.check_role}/check-function "
        f"is not authorized to perform: dynamodb:PutItem on resource: {stack.table_arn} "
        "because no identity-based policy allows the dynamodb:PutItem action")
    with pytest.raises(ClientError) as s3_refused:
        holder("s3").get_object(Bucket=stack.uploads_bucket, Key="stores/x.csv")
    assert s3_refused.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{stack.account_id}:assumed-role/{stack.check_role}/check-function "
        f'is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::'
        f'{stack.uploads_bucket}/stores/x.csv" because no identity-based policy allows the '
        "s3:GetObject action")


def test_an_explicit_deny_wins_over_the_roles_allow(
        stack: StackNames, session: boto3.session.Session) -> None:
    holder = assumed(session, stack.check_role, "check-function")
    holder("sns").publish(TopicArn=stack.topic_arn, Message="allowed")
    session.client("iam").put_role_policy(
        RoleName=stack.check_role, PolicyName="deny-publish", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "sns:*", "Resource": "*"}]}))
    with pytest.raises(ClientError) as refused:
        holder("sns").publish(TopicArn=stack.topic_arn, Message="denied")
    assert refused.value.response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy")


def test_the_operators_key_is_never_checked_and_the_switch_turns_checks_off(
        stack: StackNames, session: boto3.session.Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    item = {"Store": {"S": "s"}, "Item": {"S": "i"}}
    session.client("dynamodb").put_item(TableName=stack.table, Item=item)  # the operator
    holder = assumed(session, stack.dashboard_role, "someone")
    with pytest.raises(ClientError):
        holder("dynamodb").put_item(TableName=stack.table, Item=item)
    monkeypatch.setenv(seam_iam.ENFORCE_ENV, "0")
    holder("dynamodb").put_item(TableName=stack.table, Item=item)


def _missing_key_answer(clients: Clients, bucket: str, key: str) -> tuple[tuple[str, int], int]:
    with pytest.raises(ClientError) as got:
        clients("s3").get_object(Bucket=bucket, Key=key)
    with pytest.raises(ClientError) as head:
        clients("s3").head_object(Bucket=bucket, Key=key)
    return ((got.value.response["Error"]["Code"],
             got.value.response["ResponseMetadata"]["HTTPStatusCode"]),
            head.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(
        stack: StackNames, session: boto3.session.Session) -> None:
    uploads = stack.uploads_bucket
    checkpoint = "reports/.loading/gone.json"
    # The operator (any permission) and a role with s3:ListBucket on the bucket: 404.
    assert _missing_key_answer(session.client, uploads, checkpoint) == (
        ("NoSuchKey", 404), 404)
    loader = assumed(session, stack.load_role, "load-function")
    # The loader may read every object but not list the bucket: 403, as S3 answers it.
    assert _missing_key_answer(loader, uploads, checkpoint) == (("AccessDenied", 403), 403)
    # The store endpoint may list only under reports/stores/: a ListBucket conditioned on a
    # prefix does not count for a GET (the request has no prefix), so 403 there too.
    store = assumed(session, stack.store_upload_role, "store-upload-function")
    assert _missing_key_answer(store, uploads, "reports/stores/berlin/none.json") == (
        ("AccessDenied", 403), 403)
    session.client("iam").put_role_policy(
        RoleName=stack.load_role, PolicyName="list-uploads", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{uploads}"}]}))
    assert _missing_key_answer(loader, uploads, checkpoint) == (("NoSuchKey", 404), 404)


def test_enhanced_flow_guests_are_scoped_down_and_basic_flow_guests_act_as_the_role(
        stack: StackNames, session: boto3.session.Session) -> None:
    calls = dashboard_calls(stack, session)
    basic = clients_for(guest_credentials(session, stack, enhanced=False))
    assert [_outcome(c, basic) for c in calls] == [None] * len(calls)
    enhanced = clients_for(guest_credentials(session, stack, enhanced=True))
    assert [_outcome(c, enhanced) for c in calls] == [REFUSED["dynamodb"]] * len(calls)
    with pytest.raises(ClientError) as refused:
        enhanced("dynamodb").scan(TableName=stack.table)
    assert refused.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{stack.account_id}:assumed-role/{stack.dashboard_role}/"
        f"CognitoIdentityCredentials is not authorized to perform: dynamodb:Scan on resource: "
        f"{stack.table_arn} because no session policy allows the dynamodb:Scan action")


def test_the_policy_evaluator_follows_iams_condition_rules() -> None:
    decide = seam_iam._decide  # the evaluation itself, on documents alone
    listing = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                              "Resource": "arn:aws:s3:::b",
                              "Condition": {"StringLike": {"s3:prefix": "reports/*"}}}]}
    assert decide([listing], "s3:ListBucket", "arn:aws:s3:::b",
                  {"s3:prefix": ["reports/x"]}) == "allow"
    assert decide([listing], "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ["x"]}) is None
    assert decide([listing], "s3:ListBucket", "arn:aws:s3:::b", {}) is None  # key absent
    # Action names ignore case, resources do not; `?` is one character.
    loose = {"Statement": [{"Effect": "Allow", "Action": "S3:get*",
                            "Resource": "arn:aws:s3:::b/?"}]}
    assert decide([loose], "s3:GetObject", "arn:aws:s3:::b/k", {}) == "allow"
    assert decide([loose], "s3:GetObject", "arn:aws:s3:::B/k", {}) is None
    assert decide([loose], "s3:GetObject", "arn:aws:s3:::b/kk", {}) is None
    negated = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                              "Condition": {"StringNotEquals": {"aws:sourcevpc": "vpc-1"}}}]}
    assert decide([negated, loose], "s3:GetObject", "arn:aws:s3:::b/k", {}) == "deny"
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
    assert decide([not_action], "sns:Publish", "x", {}) == "allow"
    assert decide([not_action], "s3:GetObject", "x", {}) is None
