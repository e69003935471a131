"""Every policy document passes parliament and is as narrow as the issue says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from parliament import analyze_policy_string

from inventory_cli.config import StackNames
from inventory_cli.stack import resources as r

NAMES = StackNames(stack="shop", account_id="123456789012", region="eu-central-1")
POOL = "eu-central-1:11111111-2222-3333-4444-555555555555"
DOCUMENTS = r.all_policy_documents(NAMES, POOL)


def _findings(name: str, document: dict[str, Any]) -> list[str]:
    findings = analyze_policy_string(json.dumps(document),
                                     include_community_auditors=True).findings
    result = []
    for f in findings:
        # Trust policies have no Resource element by definition (IAM User Guide, "Role trust
        # policy"); parliament judges them as identity policies. Only that finding is filtered.
        if (name.endswith(" trust") and f.issue == "MALFORMED"
                and f.detail == "Statement contains neither Resource nor NotResource"):
            continue
        result.append(f"{f.issue}: {f.detail}")
    return result


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_parliament_has_no_findings(name: str) -> None:
    assert _findings(name, DOCUMENTS[name]) == []


def test_parliament_does_find_a_wide_policy() -> None:
    wide = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:dynamodb:::table/x"}]}
    assert _findings("control policy", wide) != []


def _allowed(name: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for st in DOCUMENTS[name]["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        assert st["Effect"] == "Allow"
        for action in actions:
            assert "*" not in action
            out.setdefault(action, set()).update(resources)
    return out


def test_roles_have_exactly_the_permissions_of_the_issue() -> None:
    uploads = f"arn:aws:s3:::{NAMES.uploads_bucket}"
    failures = f"arn:aws:s3:::{NAMES.failures_bucket}/*"
    # An S3 failure destination needs ListBucket on the bucket besides PutObject.
    failures_bucket = f"arn:aws:s3:::{NAMES.failures_bucket}"
    logs = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/"
    assert _allowed("load-role policy") == {
        "s3:GetObject": {f"{uploads}/*"},
        "s3:GetObjectVersion": {f"{uploads}/*"},
        "s3:PutObject": {f"{uploads}/reports/*", failures},
        # The failures bucket, and the uploads bucket only under reports/.loading/ (an s3:prefix
        # condition): a missing checkpoint is then 404, not 403.
        "s3:ListBucket": {failures_bucket, uploads},
        "dynamodb:BatchWriteItem": {NAMES.table_arn},
        # The key that sent a store's upload must still be active when it loads.
        "dynamodb:GetItem": {"arn:aws:dynamodb:eu-central-1:123456789012:table/shop-store-keys"},
        "lambda:InvokeFunction": {
            "arn:aws:lambda:eu-central-1:123456789012:function:shop-load-inventory"},
        "s3:DeleteObject": {f"{uploads}/reports/.loading/*"},
        "s3:DeleteObjectVersion": {f"{uploads}/reports/.loading/*"},
        "logs:CreateLogStream": {f"{logs}shop-load-inventory:*"},
        "logs:PutLogEvents": {f"{logs}shop-load-inventory:*"},
    }
    stream = f"{NAMES.table_arn}/stream/*"
    alert_log = "arn:aws:dynamodb:eu-central-1:123456789012:table/shop-alert-log"
    assert _allowed("check-role policy") == {
        "dynamodb:DescribeStream": {stream},
        "dynamodb:GetRecords": {stream},
        "dynamodb:GetShardIterator": {stream},
        "dynamodb:ListStreams": {"*"},  # AWS defines no resource type for ListStreams
        "sns:Publish": {NAMES.topic_arn},
        "dynamodb:GetItem": {alert_log},
        "dynamodb:PutItem": {alert_log},
        "dynamodb:UpdateItem": {alert_log},
        "s3:PutObject": {failures},
        "s3:ListBucket": {failures_bucket},
        "logs:CreateLogStream": {f"{logs}shop-check-stock:*"},
        "logs:PutLogEvents": {f"{logs}shop-check-stock:*"},
    }
    summaries = NAMES.table_arn_of(NAMES.summary_table)
    assert _allowed("summarize-role policy") == {
        "dynamodb:DescribeStream": {stream},
        "dynamodb:GetRecords": {stream},
        "dynamodb:GetShardIterator": {stream},
        "dynamodb:ListStreams": {"*"},
        "dynamodb:GetItem": {summaries},
        "dynamodb:BatchGetItem": {summaries},
        "dynamodb:PutItem": {summaries},
        "dynamodb:UpdateItem": {summaries},
        "dynamodb:BatchWriteItem": {summaries},
        "dynamodb:ConditionCheckItem": {summaries},
        "s3:PutObject": {failures},
        "s3:ListBucket": {failures_bucket},
        "logs:CreateLogStream": {f"{logs}shop-update-summaries:*"},
        "logs:PutLogEvents": {f"{logs}shop-update-summaries:*"},
    }
    # The dashboard reads the summaries too, never writes them.
    assert _allowed("dashboard-role policy") == {
        "dynamodb:Query": {NAMES.table_arn, summaries}, "dynamodb:Scan": {NAMES.table_arn},
        "dynamodb:GetItem": {summaries}}


def test_dashboard_trust_is_bound_to_the_pool_and_unauthenticated_identities() -> None:
    [statement] = DOCUMENTS["dashboard-role trust"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}}


def test_only_the_dashboard_bucket_is_public_and_all_require_tls() -> None:
    uploads = DOCUMENTS["uploads-bucket policy"]["Statement"]
    failures = DOCUMENTS["failures-bucket policy"]["Statement"]
    dashboard = DOCUMENTS["dashboard-bucket policy"]["Statement"]
    assert [s["Effect"] for s in uploads] == ["Deny"]
    assert [s["Effect"] for s in failures] == ["Deny"]
    assert [(s["Effect"], s["Action"]) for s in dashboard] == [("Deny", "s3:*"),
                                                               ("Allow", "s3:GetObject")]
    for deny in (uploads[0], failures[0], dashboard[0]):
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert r.PRIVATE_BUCKET_ACCESS_BLOCK == dict.fromkeys(r.PRIVATE_BUCKET_ACCESS_BLOCK, True)
