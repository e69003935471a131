"""Helpers for tests that need a provisioned stack on in-process moto (importable by any part).

    from stack_fixtures import provisioned        # tests/stack must be on sys.path
    result = provisioned(aws, threshold=2)        # aws: tests/conftest.py's fixture

`provisioned` installs the moto seam (Cognito role mapping, the bucket-policy fix) itself; call
it inside the mock. It returns `ProvisionResult` (`.names`, `.dashboard_url`, `.threshold`).
"""

from __future__ import annotations

from typing import Any

import boto3

from inventory_cli.aws import Aws
from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.local import moto_seam
from inventory_cli.provisioning import ProvisionResult, provision
from inventory_cli.stack import resources as r

READ_PREFIXES = ("Describe", "Get", "List", "Head")


def provisioned(aws: Aws, threshold: int = 0,
                dashboard_access: str | None = None) -> ProvisionResult:
    """Provision the stack of `aws` (no sleeping, no output) and return the result.
    `dashboard_access`: "public" for the guests' dashboard (None: the stack's, private when
    new)."""
    moto_seam.install()
    return provision(aws, threshold=threshold, sleep=lambda _: None,
                     dashboard_access=dashboard_access)


class CallRecorder:
    """Records every API call made by clients created from `session` after this is attached."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.calls: list[str] = []
        session.events.register("before-call", self._record)

    def _record(self, event_name: str, model: Any, **_: Any) -> None:
        service = event_name.split(".")[1]
        self.calls.append(f"{service}.{model.name}")

    @property
    def mutating(self) -> list[str]:
        return [c for c in self.calls if not c.split(".", 1)[1].startswith(READ_PREFIXES)]


def fresh_aws(session: boto3.session.Session, stack: str) -> Aws:
    """A new adapter (so new clients) on the same moto session."""
    return Aws(session, stack=stack)


def leftovers(session: boto3.session.Session, names: StackNames) -> list[str]:
    """Everything in any service that is tagged with the stack or carries one of its names."""
    stack = names.stack
    found: list[str] = []
    s3 = session.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"] in {spec.name for spec in r.buckets(names)}:
            found.append(f"bucket {bucket['Name']}")
    lam = session.client("lambda")
    for fn in lam.list_functions()["Functions"]:
        if lam.list_tags(Resource=fn["FunctionArn"])["Tags"].get(STACK_TAG) == stack:
            found.append(f"function {fn['FunctionName']}")
    for m in lam.list_event_source_mappings()["EventSourceMappings"]:
        if m["FunctionArn"].rsplit(":", 1)[-1].startswith(f"{stack}-"):
            found.append(f"mapping {m['UUID']}")
    ddb = session.client("dynamodb")
    for table in ddb.list_tables()["TableNames"]:
        if table.startswith(f"{stack}-"):
            found.append(f"table {table}")
    sns = session.client("sns")
    for topic in sns.list_topics()["Topics"]:
        tags = sns.list_tags_for_resource(ResourceArn=topic["TopicArn"])["Tags"]
        if {"Key": STACK_TAG, "Value": stack} in tags:
            found.append(f"topic {topic['TopicArn']}")
    for sub in sns.list_subscriptions()["Subscriptions"]:
        if sub["TopicArn"] in (names.topic_arn, names.ops_topic_arn):
            found.append(f"subscription {sub['SubscriptionArn']}")
    iam = session.client("iam")
    for role in iam.list_roles()["Roles"]:
        tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
        if {"Key": STACK_TAG, "Value": stack} in tags or role["RoleName"].startswith(
                f"{stack}-") and role["RoleName"].endswith("-role"):
            found.append(f"role {role['RoleName']}")
    cognito = session.client("cognito-identity")
    for pool in cognito.list_identity_pools(MaxResults=60)["IdentityPools"]:
        if pool["IdentityPoolName"] == names.identity_pool:
            found.append(f"identity pool {pool['IdentityPoolId']}")
    for rule in session.client("events").list_rules(NamePrefix=f"{stack}-")["Rules"]:
        found.append(f"rule {rule['Name']}")
    logs = session.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        if group["logGroupName"].startswith(f"/aws/lambda/{stack}-"):
            found.append(f"log group {group['logGroupName']}")
    cloudwatch = session.client("cloudwatch")
    for alarm in cloudwatch.describe_alarms()["MetricAlarms"]:
        if alarm["AlarmName"].startswith(f"{stack}-"):
            found.append(f"alarm {alarm['AlarmName']}")
    tagging = session.client("resourcegroupstaggingapi")
    for res in tagging.get_resources(TagFilters=[{"Key": STACK_TAG, "Values": [stack]}])[
            "ResourceTagMappingList"]:
        found.append(f"tagged {res['ResourceARN']}")
    return sorted(set(found))
