"""The store upload endpoint's resources: least privilege, drift reported then repaired."""

from __future__ import annotations

import json

import boto3
from stack_fixtures import provisioned

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.stack import resources as r
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status

NAMES = StackNames(stack="shop", account_id="123456789012", region="eu-central-1")


def test_the_endpoint_role_has_exactly_what_the_endpoint_needs() -> None:
    uploads = f"arn:aws:s3:::{NAMES.uploads_bucket}"
    logs = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/shop-store-upload:*"
    statements = {s["Sid"]: s for s in r.store_upload_role_policy(NAMES)["Statement"]}
    assert {sid: (s["Action"], s["Resource"], s.get("Condition"))
            for sid, s in statements.items()} == {
        "CheckStoreKeys": ("dynamodb:GetItem",
                           "arn:aws:dynamodb:eu-central-1:123456789012:table/shop-store-keys",
                           None),
        "PresignStoreUploads": ("s3:PutObject", f"{uploads}/stores/*", None),
        "ReadStoreReports": ("s3:GetObject", f"{uploads}/reports/stores/*", None),
        "ListStoreReports": ("s3:ListBucket", uploads,
                             {"StringLike": {"s3:prefix": "reports/stores/*"}}),
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], logs, None),
    }
    assert "store-upload-role policy" in r.all_policy_documents(NAMES, "pool")


def _states(aws: Aws) -> dict[str, tuple[str, str]]:
    return {s.resource: (s.state, s.detail) for s in stack_status(aws).resources
            if s.state != "ok"}


def test_endpoint_drift_is_reported_then_repaired(session: boto3.session.Session,
                                                  aws: Aws) -> None:
    provisioned(aws)
    n = aws.names
    lam, s3 = session.client("lambda"), session.client("s3")
    url = lam.get_function_url_config(FunctionName=n.store_upload_function)["FunctionUrl"]
    lam.update_function_url_config(FunctionName=n.store_upload_function, Cors={
        "AllowOrigins": ["*"], "AllowMethods": ["*"]})
    lam.remove_permission(FunctionName=n.store_upload_function, StatementId=r.FUNCTION_URL_SID)
    s3.delete_bucket_cors(Bucket=n.uploads_bucket)
    fn = n.store_upload_function
    assert _states(aws) == {
        "store-upload-url": ("drifted", f"reset the auth type and CORS of the URL of {fn}; "
                                        f"allow anyone to call the URL of {fn}"),
        "uploads-cors": ("missing", "not found"),
    }
    provision(aws, sleep=lambda _: None)
    assert _states(aws) == {}
    # Repaired in place: the URL the stores were given still works.
    assert lam.get_function_url_config(FunctionName=fn)["FunctionUrl"] == url

    lam.delete_function_url_config(FunctionName=fn)
    # A new URL will come: config.json is written again with it.
    assert _states(aws) == {
        "store-upload-url": ("missing", "not found"),
        "dashboard-files": ("drifted", f"upload config.json to {n.dashboard_bucket}")}
    provision(aws, sleep=lambda _: None)
    assert _states(aws) == {}
    new_url = lam.get_function_url_config(FunctionName=fn)["FunctionUrl"].rstrip("/")
    config = json.loads(s3.get_object(Bucket=n.dashboard_bucket, Key="config.json")["Body"].read())
    assert config["uploadUrl"] == new_url
