"""provision -> status -> provision (no mutating call) -> teardown -> nothing left; side by side."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest
from stack_fixtures import CallRecorder, fresh_aws, leftovers, provisioned

from inventory_cli.aws import Aws
from inventory_cli.dashboard import iter_assets
from inventory_cli.provisioning import provision
from inventory_cli.stack import resources as r
from inventory_cli.stack.packaging import build_zip
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import plan_teardown, teardown


def test_lifecycle_converges_then_leaves_nothing(session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    status = stack_status(aws)
    assert [(s.resource, s.state) for s in status.resources] == [
        (rid, "ok") for rid in r.resource_ids(r.PRIVATE)]

    recorder = CallRecorder(session)
    again = provision(fresh_aws(session, "inventory"), sleep=lambda _: None)
    assert again.plan.is_empty
    assert recorder.calls, "the hook saw the planner's reads"
    assert recorder.mutating == []

    teardown(aws)
    assert leftovers(session, aws.names) == []
    assert plan_teardown(aws).plan.is_empty  # idempotent: a second teardown has nothing to do


def test_dry_run_plans_everything_and_changes_nothing(session: boto3.session.Session,
                                                      aws: Aws) -> None:
    recorder = CallRecorder(session)
    result = provision(aws, dry_run=True)
    assert recorder.mutating == []
    assert leftovers(session, aws.names) == []
    first = result.plan.steps[0]
    assert (first.resource, getattr(first, "method", None)) == ("load-role", "create_role")
    assert {s.resource for s in result.plan.changes} == set(r.resource_ids(r.PRIVATE))


def test_provisioned_resources_are_wired_as_specified(session: boto3.session.Session,
                                                      aws: Aws) -> None:
    provisioned(aws, threshold=4, dashboard_access="public")
    n = aws.names
    s3, lam, ddb = session.client("s3"), session.client("lambda"), session.client("dynamodb")

    # uploads bucket: private, encrypted, versioned, TLS only
    assert s3.get_public_access_block(Bucket=n.uploads_bucket)[
        "PublicAccessBlockConfiguration"] == r.PRIVATE_BUCKET_ACCESS_BLOCK
    assert s3.get_bucket_versioning(Bucket=n.uploads_bucket)["Status"] == "Enabled"
    assert s3.get_bucket_encryption(Bucket=n.uploads_bucket)["ServerSideEncryptionConfiguration"][
        "Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=n.uploads_bucket)["Policy"])
    assert [st["Effect"] for st in policy["Statement"]] == ["Deny"]
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    # table
    table = ddb.describe_table(TableName=n.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamEnabled": True,
                                            "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ddb.describe_continuous_backups(TableName=n.table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"

    # functions: code, runtime, handler, env, role
    code = build_zip()
    load = lam.get_function_configuration(FunctionName=n.load_function)
    check = lam.get_function_configuration(FunctionName=n.check_function)
    assert (load["Runtime"], load["Handler"], load["CodeSha256"]) == (
        "python3.12", "lambda_src.load_inventory.lambda_handler", code.code_sha256)
    assert load["Environment"]["Variables"] == {"INVENTORY_TABLE": n.table,
                                                "STORE_KEYS_TABLE": n.store_keys_table}
    assert load["Role"] == f"arn:aws:iam::{n.account_id}:role/{n.load_role}"
    assert check["Handler"] == "lambda_src.check_stock.lambda_handler"
    assert check["Environment"]["Variables"] == {"ALERT_TOPIC_ARN": n.topic_arn,
                                                 "LOW_STOCK_THRESHOLD": "4",
                                                 "ALERT_LOG_TABLE": n.alert_table}

    # S3 may invoke the loader (scoped to bucket and account); .csv creations notify it
    statement = json.loads(lam.get_policy(FunctionName=n.load_function)["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:s3:::{n.uploads_bucket}"},
        "StringEquals": {"AWS:SourceAccount": n.account_id}}
    notification = s3.get_bucket_notification_configuration(Bucket=n.uploads_bucket)
    # One rule, no key filter: nothing to overlap; the loader picks what it loads.
    [config] = notification["LambdaFunctionConfigurations"]
    assert config["LambdaFunctionArn"].endswith(f":function:{n.load_function}")
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert "Filter" not in config

    # stream -> checker
    [mapping] = lam.list_event_source_mappings(FunctionName=n.check_function)[
        "EventSourceMappings"]
    assert mapping["EventSourceArn"] == table["LatestStreamArn"]
    assert mapping["State"] == "Enabled"
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert {k: mapping[k] for k in r.MAPPING_SETTINGS} == r.MAPPING_SETTINGS
    failures_arn = f"arn:aws:s3:::{n.failures_bucket}"
    assert mapping["DestinationConfig"]["OnFailure"] == {"Destination": failures_arn}

    # failed loads: two retries, then the whole invocation record to the failures bucket
    invoke_config = lam.get_function_event_invoke_config(FunctionName=n.load_function)
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["DestinationConfig"]["OnFailure"] == {"Destination": failures_arn}

    # failures bucket: private, encrypted, TLS only, tagged, not versioned
    assert s3.get_public_access_block(Bucket=n.failures_bucket)[
        "PublicAccessBlockConfiguration"] == r.PRIVATE_BUCKET_ACCESS_BLOCK
    assert s3.get_bucket_encryption(Bucket=n.failures_bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    failures_policy = json.loads(s3.get_bucket_policy(Bucket=n.failures_bucket)["Policy"])
    assert [(st["Effect"], st["Condition"]) for st in failures_policy["Statement"]] == [
        ("Deny", {"Bool": {"aws:SecureTransport": "false"}})]
    assert "Status" not in s3.get_bucket_versioning(Bucket=n.failures_bucket)
    assert {"Key": "inventory:stack", "Value": "inventory"} in s3.get_bucket_tagging(
        Bucket=n.failures_bucket)["TagSet"]

    # alert log: Store + EventId, expired by ExpiresAt
    alert_table = ddb.describe_table(TableName=n.alert_table)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in alert_table["KeySchema"]] == [
        ("Store", "HASH"), ("EventId", "RANGE")]
    ttl = ddb.describe_time_to_live(TableName=n.alert_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ExpiresAt")

    # identity pool -> unauthenticated role, trust bound to this pool
    cognito, iam = session.client("cognito-identity"), session.client("iam")
    [pool] = cognito.list_identity_pools(MaxResults=60)["IdentityPools"]
    roles = cognito.get_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"])["Roles"]
    assert roles == {"unauthenticated": f"arn:aws:iam::{n.account_id}:role/{n.dashboard_role}"}
    trust = iam.get_role(RoleName=n.dashboard_role)["Role"]["AssumeRolePolicyDocument"]
    condition = trust["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {
        "cognito-identity.amazonaws.com:aud": pool["IdentityPoolId"]}
    assert condition["ForAnyValue:StringLike"] == {
        "cognito-identity.amazonaws.com:amr": "unauthenticated"}

    # dashboard bucket: every asset (same bytes) plus the page configuration
    for key, body, content_type in iter_assets():
        head = s3.head_object(Bucket=n.dashboard_bucket, Key=key)
        assert head["ETag"].strip('"') == hashlib.md5(body).hexdigest()
        assert head["ContentType"] == content_type
    config_json = json.loads(s3.get_object(Bucket=n.dashboard_bucket, Key="config.json")[
        "Body"].read())
    assert config_json == {"region": "us-east-1", "identityPoolId": pool["IdentityPoolId"],
                           "table": n.table, "lowStockThreshold": 4, "endpoint": None,
                           "stack": "inventory",
                           "dashboardRoleArn": f"arn:aws:iam::{n.account_id}:role/"
                                               f"{n.dashboard_role}",
                           "summaryTable": n.summary_table,
                           "uploadUrl": lam.get_function_url_config(
                               FunctionName=n.store_upload_function)["FunctionUrl"].rstrip("/"),
                           "access": "public", "userPoolId": None, "userPoolClientId": None}
    assert s3.get_public_access_block(Bucket=n.dashboard_bucket)[
        "PublicAccessBlockConfiguration"] == r.DASHBOARD_BUCKET_ACCESS_BLOCK

    # the stores' upload endpoint: a public URL (key checked inside), CORS for the dashboard only
    origin = f"https://{n.dashboard_bucket}.s3.us-east-1.amazonaws.com"
    url = lam.get_function_url_config(FunctionName=n.store_upload_function)
    assert url["AuthType"] == "NONE" and url["Cors"]["AllowOrigins"] == [origin]
    public, = [s for s in json.loads(lam.get_policy(
        FunctionName=n.store_upload_function)["Policy"])["Statement"]
        if s["Sid"] == r.FUNCTION_URL_SID]
    assert public["Action"] == "lambda:InvokeFunctionUrl" and public["Principal"] == "*"
    upload_fn = lam.get_function_configuration(FunctionName=n.store_upload_function)
    assert upload_fn["Handler"] == "lambda_src.store_upload.lambda_handler"
    assert upload_fn["Environment"]["Variables"]["STORE_KEYS_TABLE"] == n.store_keys_table
    assert s3.get_bucket_cors(Bucket=n.uploads_bucket)["CORSRules"][0]["AllowedOrigins"] == [
        origin]
    assert ddb.describe_table(TableName=n.store_keys_table)["Table"]["KeySchema"] == [
        {"AttributeName": "KeyId", "KeyType": "HASH"}]


def test_threshold_is_kept_unless_given(session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws, threshold=7)
    kept = provision(fresh_aws(session, "inventory"))
    assert kept.plan.is_empty and kept.threshold == 7

    changed = provision(fresh_aws(session, "inventory"), threshold=2)
    assert [(s.resource, getattr(s, "method", "")) for s in changed.plan.changes] == [
        ("check-function", "update_function_configuration"),
        ("summarize-function", "update_function_configuration"),
        ("dashboard-files", "put_object")]
    env = session.client("lambda").get_function_configuration(
        FunctionName=aws.names.check_function)["Environment"]["Variables"]
    assert env["LOW_STOCK_THRESHOLD"] == "2"
    # The low sets depend on the threshold: provision computed them again, and only then.
    assert kept.summaries_rebuilt is None
    assert changed.summaries_rebuilt is not None and changed.summaries_rebuilt.threshold == 2


def test_two_stacks_side_by_side(session: boto3.session.Session) -> None:
    shop, lab = Aws(session, stack="shop"), Aws(session, stack="lab")
    provisioned(shop)
    provisioned(lab, threshold=3)
    assert stack_status(shop).complete and stack_status(lab).complete

    result = teardown(lab)
    assert result.skipped == ()
    assert leftovers(session, lab.names) == []
    assert stack_status(shop).complete
    assert len(leftovers(session, shop.names)) > 10


@pytest.mark.parametrize("region", ["eu-west-1"])
def test_other_regions_get_a_location_constraint(aws_credentials: None, region: str) -> None:
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(region_name=region)
        aws = Aws(session, stack="eu")
        provisioned(aws)
        location = session.client("s3").get_bucket_location(Bucket=aws.names.uploads_bucket)
        assert location["LocationConstraint"] == region
        assert stack_status(aws).complete
