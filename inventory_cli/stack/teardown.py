"""`teardown`: delete every resource of one stack, planned (reads only) then applied.

Resources are found by their derived names and deleted only when tagged with this stack, so a
stack never deletes another's. Two exceptions, both unambiguous because their names embed this
stack's name: buckets (S3 cannot tag a bucket in CreateBucket, so an interrupted provision can
leave one untagged) and log groups (Lambda creates them untagged if they were deleted). Anything
found but not ours is reported as skipped. Idempotent: what is gone is simply not planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from inventory_cli.aws import Aws
from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.stack import resources as r
from inventory_cli.stack.compare import is_not_found, tag_dict
from inventory_cli.stack.errors import TeardownRefused
from inventory_cli.stack.executor import BeforeStep, Executor
from inventory_cli.stack.instructions import APICall, EmptyBucket, Plan, Step
from inventory_cli.stack.planner import all_pages, bucket_tags

Confirm = Callable[[Plan], bool]


@dataclass(frozen=True)
class TeardownPlan:
    plan: Plan
    # "<kind> <name>: <reason>" for resources found under our names but not ours to delete.
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class TeardownResult:
    names: StackNames
    plan: Plan
    skipped: tuple[str, ...]
    applied: bool


class TeardownPlanner:
    def __init__(self, client: Callable[[str], Any], names: StackNames) -> None:
        self._client = client
        self.names = names
        self._skipped: list[str] = []

    def plan(self) -> TeardownPlan:
        n = self.names
        steps: list[Step] = []
        # Stop the pipeline first: no new invocations while the rest goes away.
        for mapping_resource, resource, function in r.teardown_functions(n):
            steps += self._function(mapping_resource, resource, function)
        for bucket in r.buckets(n):
            steps += self._bucket(bucket.resource, bucket.name)
        steps += self._table("table", n.table)
        for table in r.aux_tables(n):
            steps += self._table(table.resource, table.name)
        steps += self._topic()
        steps += self._identity_pools()
        for resource, role in r.teardown_roles(n):
            steps += self._role(resource, role)
        for resource, group in r.log_groups(n):
            steps += self._log_group(resource, group)
        return TeardownPlan(Plan(tuple(steps)), tuple(self._skipped))

    def _ours(self, kind: str, name: str, tags: dict[str, str], *,
              untagged_is_ours: bool = False) -> bool:
        owner = tags.get(STACK_TAG)
        if owner == self.names.stack or (owner is None and untagged_is_ours):
            return True
        reason = f"tagged {STACK_TAG}={owner}" if owner else f"not tagged {STACK_TAG}"
        self._skipped.append(f"{kind} {name}: {reason}")
        return False

    def _function(self, mapping_resource: str, resource: str, name: str) -> list[Step]:
        lam = self._client("lambda")
        try:
            function = lam.get_function(FunctionName=name)
        except ClientError as exc:
            if is_not_found(exc):
                return []
            raise
        if not self._ours("function", name, tag_dict(function.get("Tags"))):
            return []
        steps: list[Step] = [
            APICall(mapping_resource, "lambda", "delete_event_source_mapping",
                    {"UUID": m["UUID"]}, f"delete the mapping from {m.get('EventSourceArn')}")
            for m in all_pages(lam, "list_event_source_mappings", "EventSourceMappings",
                                FunctionName=name)
            if m.get("State") != "Deleting"
        ]
        steps.append(APICall(resource, "lambda", "delete_function", {"FunctionName": name},
                             f"delete function {name}"))
        return steps

    def _bucket(self, resource: str, bucket: str) -> list[Step]:
        s3 = self._client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if is_not_found(exc) or exc.response.get("ResponseMetadata", {}).get(
                    "HTTPStatusCode") == 403:
                return []  # gone, or another account's bucket: nothing of ours
            raise
        if not self._ours("bucket", bucket, bucket_tags(s3, bucket), untagged_is_ours=True):
            return []
        versions = sum(len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
                       for page in s3.get_paginator("list_object_versions").paginate(
                           Bucket=bucket))
        return [EmptyBucket(resource, bucket,
                            f"delete all {versions} object version(s) and delete markers "
                            f"in {bucket}"),
                APICall(resource, "s3", "delete_bucket", {"Bucket": bucket},
                        f"delete bucket {bucket}")]

    def _table(self, resource: str, name: str) -> list[Step]:
        ddb = self._client("dynamodb")
        try:
            table = ddb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if is_not_found(exc):
                return []
            raise
        tags = tag_dict(all_pages(ddb, "list_tags_of_resource", "Tags",
                                   ResourceArn=table["TableArn"]))
        if not self._ours("table", name, tags) or table.get("TableStatus") == "DELETING":
            return []
        return [APICall(resource, "dynamodb", "delete_table", {"TableName": name},
                        f"delete table {name}"
                        + (" and its stream" if table.get("LatestStreamArn") else ""))]

    def _topic(self) -> list[Step]:
        sns = self._client("sns")
        arn = self.names.topic_arn
        try:
            sns.get_topic_attributes(TopicArn=arn)
        except ClientError as exc:
            if is_not_found(exc):
                return []
            raise
        tags = tag_dict(sns.list_tags_for_resource(ResourceArn=arn)["Tags"])
        if not self._ours("topic", self.names.topic, tags):
            return []
        # Pending subscriptions have no ARN yet ("PendingConfirmation"); deleting the topic
        # removes them.
        steps: list[Step] = [
            APICall("topic", "sns", "unsubscribe", {"SubscriptionArn": sub["SubscriptionArn"]},
                    f"unsubscribe {sub.get('Protocol')} {sub.get('Endpoint')}")
            for sub in all_pages(sns, "list_subscriptions_by_topic", "Subscriptions",
                                  TopicArn=arn)
            if sub["SubscriptionArn"].startswith("arn:")
        ]
        steps.append(APICall("topic", "sns", "delete_topic", {"TopicArn": arn},
                             f"delete topic {self.names.topic}"))
        return steps

    def _identity_pools(self) -> list[Step]:
        cognito = self._client("cognito-identity")
        steps: list[Step] = []
        for pool in all_pages(cognito, "list_identity_pools", "IdentityPools", MaxResults=60):
            if pool["IdentityPoolName"] != self.names.identity_pool:
                continue
            pool_id = pool["IdentityPoolId"]
            tags = cognito.describe_identity_pool(IdentityPoolId=pool_id).get(
                "IdentityPoolTags", {})
            if self._ours("identity pool", f"{self.names.identity_pool} ({pool_id})", tags):
                steps.append(APICall("identity-pool", "cognito-identity", "delete_identity_pool",
                                     {"IdentityPoolId": pool_id},
                                     f"delete identity pool {self.names.identity_pool} "
                                     f"({pool_id})"))
        return steps

    def _role(self, resource: str, role: str) -> list[Step]:
        iam = self._client("iam")
        try:
            tags = tag_dict(iam.list_role_tags(RoleName=role)["Tags"])
        except ClientError as exc:
            if is_not_found(exc):
                return []
            raise
        if not self._ours("role", role, tags):
            return []
        steps: list[Step] = [
            APICall(resource, "iam", "delete_role_policy",
                    {"RoleName": role, "PolicyName": policy},
                    f"delete inline policy {policy} of role {role}")
            for policy in all_pages(iam, "list_role_policies", "PolicyNames", RoleName=role)
        ]
        steps += [
            APICall(resource, "iam", "detach_role_policy",
                    {"RoleName": role, "PolicyArn": attached["PolicyArn"]},
                    f"detach {attached['PolicyName']} from role {role}")
            for attached in all_pages(iam, "list_attached_role_policies", "AttachedPolicies",
                                       RoleName=role)
        ]
        steps.append(APICall(resource, "iam", "delete_role", {"RoleName": role},
                             f"delete role {role}"))
        return steps

    def _log_group(self, resource: str, name: str) -> list[Step]:
        logs = self._client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == name), None)
        if group is None:
            return []
        arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
        tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        if not self._ours("log group", name, tags, untagged_is_ours=True):
            return []
        return [APICall(resource, "logs", "delete_log_group", {"logGroupName": name},
                        f"delete log group {name}")]


def plan_teardown(aws: Aws) -> TeardownPlan:
    return TeardownPlanner(aws.client, aws.names).plan()


def teardown(aws: Aws, *, confirm: Confirm | None = None, dry_run: bool = False,
             console: Console | None = None, sleep: Callable[[float], None] = time.sleep,
             before_step: BeforeStep | None = None) -> TeardownResult:
    """Delete the stack. `confirm` sees the plan and must return True for anything to happen
    (None: no confirmation, as with --yes)."""
    planned = plan_teardown(aws)
    plan = planned.plan
    if not dry_run and not plan.is_empty:
        if confirm is not None and not confirm(plan):
            raise TeardownRefused(f"teardown of stack {aws.stack} cancelled: nothing was deleted")
        Executor(aws.client, console=console or Console(quiet=True), sleep=sleep,
                 before_step=before_step).execute(plan)
    return TeardownResult(names=aws.names, plan=plan, skipped=planned.skipped,
                          applied=not dry_run)
