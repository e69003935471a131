"""The planner: compares the desired stack with what exists and emits the calls that close the gap.

It only reads (get/describe/list/head). The plan is ordered so that every call finds what it
needs: roles first (IAM is eventually consistent, so they get the most time to propagate), then
storage, the functions with their permission, notification and mapping, and the dashboard.
Values unknown until an earlier call has run (a new identity pool's id, a new stream's ARN) are
`Ref`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.dashboard import CONFIG_KEY, INDEX_KEY, config_json, dashboard_url
from inventory_cli.stack import resources as r
from inventory_cli.stack.compare import canonical_policy, is_not_found, same_policy, tag_dict
from inventory_cli.stack.errors import ResourceConflict
from inventory_cli.stack.instructions import (
    APICall,
    Plan,
    Ref,
    Rendered,
    Step,
    Wait,
    json_document,
)
from inventory_cli.stack.packaging import LambdaZip

ClientFactory = Callable[[str], Any]
Asset = tuple[str, bytes, str]

CACHE_CONTROL = "no-cache"  # the page and its configuration change with each provision
_ENABLED_MAPPING_STATES = {"Enabled", "Enabling", "Creating", "Updating"}
_IGNORED_MAPPING_STATES = {"Deleting"}


@dataclass(frozen=True)
class DesiredStack:
    """Everything that decides what the stack should look like."""

    names: StackNames
    threshold: int
    code: LambdaZip
    assets: tuple[Asset, ...]
    # Written into the dashboard's config.json; set only for an emulator.
    endpoint: str | None = None
    # False: no identity pool, dashboard role or bucket (--no-dashboard; endpoints without
    # Cognito identity pools, accounts that block public bucket policies).
    dashboard: bool = True


class StackPlanner:
    def __init__(self, client: ClientFactory, desired: DesiredStack) -> None:
        self._client = client
        self.desired = desired
        self.names = desired.names
        self._tags = self.names.tags

    # ---- orchestration ------------------------------------------------------------------

    def plan(self) -> Plan:
        steps: list[Step] = []
        for role in r.lambda_roles(self.names):
            steps += self._role(role)
        bucket_specs = {spec.resource: spec for spec in r.buckets(self.names)}
        uploads_steps, uploads_exists = self._bucket(bucket_specs["uploads-bucket"])
        steps += uploads_steps
        steps += self._bucket(bucket_specs["failures-bucket"])[0]
        table_steps, stream_arn = self._table()
        steps += table_steps
        for table in r.aux_tables(self.names):
            steps += self._aux_table(table)
        steps += self._topic()
        for resource, group in r.log_groups(self.names):
            steps += self._log_group(resource, group)

        load_steps, load_exists = self._function(r.load_function(self.names))
        steps += load_steps
        steps += self._load_failure_destination(load_exists)
        steps += self._s3_invoke_permission(load_exists)
        # The notification comes after the permission: S3 checks that it may invoke the target.
        steps += self._notification(uploads_exists)

        check_steps, check_exists = self._function(r.check_function(self.names,
                                                                   self.desired.threshold))
        steps += check_steps
        check_mapping, = (m for m in r.stream_mappings(self.names)
                          if m.function == self.names.check_function)
        steps += self._stream_mapping(check_mapping, check_exists, stream_arn)

        summarize_steps, summarize_exists = self._function(
            r.summarize_function(self.names, self.desired.threshold))
        steps += summarize_steps
        summary_mapping, = (m for m in r.stream_mappings(self.names)
                            if m.function == self.names.summarize_function)
        steps += self._stream_mapping(summary_mapping, summarize_exists, stream_arn)

        # Issue 11: the stores' upload endpoint, and the CORS the store page needs on S3.
        upload_steps, upload_exists = self._function(r.store_upload_function(self.names))
        steps += upload_steps
        url_steps, upload_url = self._store_upload_url(upload_exists)
        steps += url_steps
        steps += self._uploads_cors(uploads_exists)

        if self.desired.dashboard:
            steps += self._dashboard(bucket_specs["dashboard-bucket"], upload_url)
        else:
            steps += self._dashboard_leftovers()
        return Plan(tuple(steps))

    def _dashboard(self, bucket: r.BucketSpec, upload_url: str | Ref | None) -> list[Step]:
        pool_steps, pool_id = self._identity_pool()
        steps = pool_steps
        steps += self._role(r.dashboard_role(self.names, pool_id))
        steps += self._identity_pool_roles(pool_id)
        dashboard_steps, dashboard_exists = self._bucket(bucket)
        steps += dashboard_steps
        steps += self._dashboard_files(dashboard_exists, pool_id, upload_url)
        return steps

    def _dashboard_leftovers(self) -> list[Step]:
        """Deletes a dashboard left from before the stack was switched to --no-dashboard: an
        identity pool that hands out read access to the table should not outlive its page."""
        from inventory_cli.stack.teardown import TeardownPlanner  # teardown imports this module

        return TeardownPlanner(self._client, self.names).dashboard_steps()

    def _owned_or_fail(self, resource: str, name: str, tags: dict[str, str]) -> bool:
        """True if tagged with this stack, False if untagged; a resource of another stack stops
        the plan, since changing it would break that stack."""
        owner = tags.get(STACK_TAG)
        if owner is not None and owner != self.names.stack:
            raise ResourceConflict(
                f"{resource} {name} is tagged {STACK_TAG}={owner}, not {self.names.stack}",
                hint="pick another --stack name, or remove the resource by hand")
        return owner == self.names.stack

    # ---- IAM ------------------------------------------------------------------------------

    def _role(self, spec: r.RoleSpec) -> list[Step]:
        iam = self._client("iam")
        res = spec.resource
        trust = json_document(spec.trust_policy, f"trust policy of {spec.name}")
        policy = json.dumps(spec.policy, sort_keys=True)
        put_policy = APICall(res, "iam", "put_role_policy",
                             {"RoleName": spec.name, "PolicyName": r.INLINE_POLICY,
                              "PolicyDocument": policy},
                             f"set the permissions of role {spec.name}")
        try:
            role = iam.get_role(RoleName=spec.name)["Role"]
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            return [
                APICall(res, "iam", "create_role",
                        {"RoleName": spec.name, "AssumeRolePolicyDocument": trust,
                         "Description": f"inventory stack {self.names.stack}",
                         "Tags": [{"Key": k, "Value": v} for k, v in self._tags.items()]},
                        f"create role {spec.name}", creates=True),
                put_policy,
            ]
        steps: list[Step] = []
        tags = tag_dict(iam.list_role_tags(RoleName=spec.name)["Tags"])
        if not self._owned_or_fail("role", spec.name, tags):
            steps.append(APICall(res, "iam", "tag_role",
                                 {"RoleName": spec.name,
                                  "Tags": [{"Key": k, "Value": v} for k, v in self._tags.items()]},
                                 f"tag role {spec.name}"))
        if isinstance(trust, Rendered) or not same_policy(role["AssumeRolePolicyDocument"],
                                                          spec.trust_policy):
            steps.append(APICall(res, "iam", "update_assume_role_policy",
                                 {"RoleName": spec.name, "PolicyDocument": trust},
                                 f"reset who may assume role {spec.name}"))
        inline = all_pages(iam, "list_role_policies", "PolicyNames", RoleName=spec.name)
        for extra in sorted(set(inline) - {r.INLINE_POLICY}):
            steps.append(APICall(res, "iam", "delete_role_policy",
                                 {"RoleName": spec.name, "PolicyName": extra},
                                 f"remove extra inline policy {extra} from role {spec.name}"))
        if r.INLINE_POLICY not in inline:
            steps.append(put_policy)
        else:
            current = iam.get_role_policy(RoleName=spec.name,
                                          PolicyName=r.INLINE_POLICY)["PolicyDocument"]
            if not same_policy(current, spec.policy):
                steps.append(APICall(res, "iam", "put_role_policy", put_policy.params,
                                     f"reset the permissions of role {spec.name}"))
        attached = all_pages(iam, "list_attached_role_policies", "AttachedPolicies",
                              RoleName=spec.name)
        for managed in attached:
            steps.append(APICall(res, "iam", "detach_role_policy",
                                 {"RoleName": spec.name, "PolicyArn": managed["PolicyArn"]},
                                 f"detach {managed['PolicyName']} from role {spec.name}"))
        return steps

    # ---- S3 -------------------------------------------------------------------------------

    def _bucket(self, spec: r.BucketSpec) -> tuple[list[Step], bool]:
        s3 = self._client("s3")
        res, bucket = spec.resource, spec.name
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
                raise ResourceConflict(
                    f"bucket {bucket} exists but this account cannot use it",
                    hint="bucket names are global; someone else owns this one") from None
            if not is_not_found(exc):
                raise
            create: dict[str, Any] = {"Bucket": bucket}
            if self.names.region != "us-east-1":  # us-east-1 rejects an explicit constraint
                create["CreateBucketConfiguration"] = {"LocationConstraint": self.names.region}
            steps: list[Step] = [APICall(res, "s3", "create_bucket", create,
                                         f"create bucket {bucket}", creates=True)]
            steps += self._bucket_settings(spec, tags=None, access_block=None, encrypted=False,
                                           versioned=False, policy=None)
            return steps, False

        tags = bucket_tags(s3, bucket)
        self._owned_or_fail("bucket", bucket, tags)
        try:
            access_block = s3.get_public_access_block(
                Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if not is_not_found(exc, "NoSuchPublicAccessBlockConfiguration"):
                raise
            access_block = None
        try:
            rules = s3.get_bucket_encryption(
                Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            # Any default encryption will do: a bucket switched to KMS by its operators is
            # stronger than what we would set, not drift.
            encrypted = any(rule.get("ApplyServerSideEncryptionByDefault") for rule in rules)
        except ClientError as exc:
            if not is_not_found(exc, "ServerSideEncryptionConfigurationNotFoundError"):
                raise
            encrypted = False
        versioned = s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
        try:
            policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        except ClientError as exc:
            if not is_not_found(exc, "NoSuchBucketPolicy"):
                raise
            policy = None
        return self._bucket_settings(spec, tags=tags, access_block=access_block,
                                     encrypted=encrypted, versioned=versioned,
                                     policy=policy), True

    def _bucket_settings(self, spec: r.BucketSpec, *, tags: dict[str, str] | None,
                         access_block: dict[str, Any] | None, encrypted: bool, versioned: bool,
                         policy: str | None) -> list[Step]:
        res, bucket = spec.resource, spec.name
        steps: list[Step] = []
        tags = tags or {}
        if tags.get(STACK_TAG) != self.names.stack:
            # PutBucketTagging replaces the whole set: keep tags others added.
            merged = {**tags, **self._tags}
            steps.append(APICall(res, "s3", "put_bucket_tagging",
                                 {"Bucket": bucket, "Tagging": {"TagSet": [
                                     {"Key": k, "Value": v} for k, v in sorted(merged.items())]}},
                                 f"tag bucket {bucket}"))
        # The access block comes before the policy: a public-read policy is refused while
        # BlockPublicPolicy is on.
        if access_block != spec.access_block:
            steps.append(APICall(res, "s3", "put_public_access_block",
                                 {"Bucket": bucket,
                                  "PublicAccessBlockConfiguration": dict(spec.access_block)},
                                 f"set the public access block of bucket {bucket}"))
        if not encrypted:
            steps.append(APICall(res, "s3", "put_bucket_encryption",
                                 {"Bucket": bucket,
                                  "ServerSideEncryptionConfiguration": r.DEFAULT_ENCRYPTION},
                                 f"turn on default encryption of bucket {bucket}"))
        if spec.versioned and not versioned:
            steps.append(APICall(res, "s3", "put_bucket_versioning",
                                 {"Bucket": bucket,
                                  "VersioningConfiguration": {"Status": "Enabled"}},
                                 f"turn on versioning of bucket {bucket}"))
        if policy is None or not same_policy(policy, spec.policy):
            steps.append(APICall(res, "s3", "put_bucket_policy",
                                 {"Bucket": bucket,
                                  "Policy": json.dumps(spec.policy, sort_keys=True)},
                                 f"set the policy of bucket {bucket}"))
        return steps

    def _notification(self, bucket_exists: bool) -> list[Step]:
        bucket = self.names.uploads_bucket
        desired = r.notification_configuration(self.names)

        def put(creates: bool) -> APICall:
            return APICall("uploads-notification", "s3", "put_bucket_notification_configuration",
                           {"Bucket": bucket, "NotificationConfiguration": desired},
                           f"notify {self.names.load_function} of new .csv files in {bucket}",
                           creates=creates)

        if not bucket_exists:
            return [put(True)]
        current = self._client("s3").get_bucket_notification_configuration(Bucket=bucket)
        current.pop("ResponseMetadata", None)
        if _notification_key(current) == _notification_key(desired):
            return []
        return [put(not current.get("LambdaFunctionConfigurations"))]

    def _dashboard_files(self, bucket_exists: bool, pool_id: str | Ref,
                         upload_url: str | Ref | None = None) -> list[Step]:
        s3 = self._client("s3")
        bucket = self.names.dashboard_bucket
        desired: list[tuple[str, bytes | Rendered, str]] = list(self.desired.assets)
        desired.append((CONFIG_KEY, self._config_json(pool_id, upload_url), "application/json"))
        existing: dict[str, str] = {}
        if bucket_exists:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    existing[obj["Key"]] = obj["ETag"]
        steps: list[Step] = []
        for key, body, content_type in desired:
            put = APICall("dashboard-files", "s3", "put_object",
                          {"Bucket": bucket, "Key": key, "Body": body,
                           "ContentType": content_type, "CacheControl": CACHE_CONTROL},
                          f"upload {key} to {bucket}"
                          + ("" if isinstance(body, Rendered) else f" ({len(body)} bytes)"),
                          creates=key == INDEX_KEY and key not in existing)
            if key not in existing or isinstance(body, Rendered):
                steps.append(put)
                continue
            head = s3.head_object(Bucket=bucket, Key=key)
            # A single-part upload's ETag is the MD5 of its bytes (also under SSE-S3).
            same = (head["ETag"].strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest()
                    and head.get("ContentType") == content_type
                    and head.get("CacheControl") == CACHE_CONTROL)
            if not same:
                steps.append(put)
        stale = sorted(set(existing) - {key for key, _, _ in desired})
        for start in range(0, len(stale), 1000):  # DeleteObjects takes at most 1000 keys
            batch = stale[start:start + 1000]
            steps.append(APICall("dashboard-files", "s3", "delete_objects",
                                 {"Bucket": bucket, "Delete": {
                                     "Objects": [{"Key": k} for k in batch], "Quiet": True}},
                                 f"delete {len(batch)} file(s) no longer shipped from {bucket}"))
        return steps

    def _config_json(self, pool_id: str | Ref,
                     upload_url: str | Ref | None = None) -> bytes | Rendered:
        def render(pool: str, url: str | None) -> bytes:
            return config_json(region=self.names.region, identity_pool_id=pool,
                               table=self.names.table, threshold=self.desired.threshold,
                               endpoint=self.desired.endpoint, stack=self.names.stack,
                               dashboard_role_arn=r.role_arn(self.names,
                                                             self.names.dashboard_role),
                               summary_table=self.names.summary_table,
                               upload_url=url)

        if isinstance(pool_id, Ref) or isinstance(upload_url, Ref):
            def late(v: Any) -> bytes:
                url = v[upload_url.name] if isinstance(upload_url, Ref) else upload_url
                return render(v[pool_id.name] if isinstance(pool_id, Ref) else pool_id,
                              url.rstrip("/") if url else url)

            return Rendered(f"config.json for pool {pool_id}", late)
        return render(pool_id, upload_url)

    # ---- DynamoDB, SNS, CloudWatch Logs ----------------------------------------------------

    def _table(self) -> tuple[list[Step], str | Ref]:
        ddb = self._client("dynamodb")
        name = self.names.table
        definition = r.table_definition(self.names)
        stream_ref = Ref("stream_arn")
        enable_pitr = APICall("table", "dynamodb", "update_continuous_backups",
                              {"TableName": name, "PointInTimeRecoverySpecification": {
                                  "PointInTimeRecoveryEnabled": True}},
                              f"turn on point-in-time recovery of table {name}")
        wait = Wait("table", "dynamodb", "table_exists", {"TableName": name},
                    f"wait until table {name} is active")
        try:
            table = ddb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            create = APICall("table", "dynamodb", "create_table",
                             {**definition,
                              "Tags": [{"Key": k, "Value": v}
                                       for k, v in self._table_tags().items()]},
                             f"create table {name} with a stream", creates=True,
                             outputs=(("stream_arn", ("TableDescription", "LatestStreamArn")),))
            return [create, wait, enable_pitr], stream_ref

        tags = tag_dict(all_pages(ddb, "list_tags_of_resource", "Tags",
                                   ResourceArn=table["TableArn"]))
        updates: list[Step] = []
        if not self._owned_or_fail("table", name, tags):
            updates.append(APICall("table", "dynamodb", "tag_resource",
                                   {"ResourceArn": table["TableArn"],
                                    "Tags": [{"Key": k, "Value": v}
                                             for k, v in self._tags.items()]},
                                   f"tag table {name}"))
        updates += self._dashboard_marker(table["TableArn"], tags)
        keys = sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"])
        if keys != sorted((k["AttributeName"], k["KeyType"]) for k in definition["KeySchema"]):
            raise ResourceConflict(
                f"table {name} has the key schema {keys}, not Store (hash) and Item (range)",
                hint="a table's keys cannot be changed: delete the table or use another --stack")
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        if billing != "PAY_PER_REQUEST":
            updates += [APICall("table", "dynamodb", "update_table",
                                {"TableName": name, "BillingMode": "PAY_PER_REQUEST"},
                                f"switch table {name} to on-demand billing"), wait]
        stream: str | Ref = table.get("LatestStreamArn", "")
        spec = table.get("StreamSpecification") or {}
        wanted_view = definition["StreamSpecification"]["StreamViewType"]
        if spec.get("StreamEnabled") and spec.get("StreamViewType") != wanted_view:
            # A stream's view type cannot be changed in place: turn it off, then on again.
            updates += [APICall("table", "dynamodb", "update_table",
                                {"TableName": name,
                                 "StreamSpecification": {"StreamEnabled": False}},
                                f"turn off the {spec.get('StreamViewType')} stream of {name}"),
                        wait]
            spec = {}
        if not spec.get("StreamEnabled"):
            updates += [APICall("table", "dynamodb", "update_table",
                                {"TableName": name,
                                 "StreamSpecification": definition["StreamSpecification"]},
                                f"turn on the {wanted_view} stream of table {name}",
                                outputs=(("stream_arn",
                                          ("TableDescription", "LatestStreamArn")),)),
                        wait]
            stream = stream_ref
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        if pitr != "ENABLED":
            updates.append(enable_pitr)
        if updates and table.get("TableStatus") != "ACTIVE":
            updates.insert(0, wait)
        return updates, stream

    def _table_tags(self) -> dict[str, str]:
        if self.desired.dashboard:
            return dict(self._tags)
        return {**self._tags, r.DASHBOARD_TAG: r.DASHBOARD_OFF}

    def _dashboard_marker(self, arn: str, tags: dict[str, str]) -> list[Step]:
        """Tag or untag the table so later runs know whether the stack has a dashboard."""
        name = self.names.table
        marked = tags.get(r.DASHBOARD_TAG) == r.DASHBOARD_OFF
        if not self.desired.dashboard and not marked:
            return [APICall("table", "dynamodb", "tag_resource",
                            {"ResourceArn": arn, "Tags": [{"Key": r.DASHBOARD_TAG,
                                                           "Value": r.DASHBOARD_OFF}]},
                            f"mark table {name}: this stack has no dashboard")]
        if self.desired.dashboard and r.DASHBOARD_TAG in tags:
            return [APICall("table", "dynamodb", "untag_resource",
                            {"ResourceArn": arn, "TagKeys": [r.DASHBOARD_TAG]},
                            f"mark table {name}: this stack has a dashboard")]
        return []

    def _aux_table(self, spec: r.TableSpec) -> list[Step]:
        ddb = self._client("dynamodb")
        res, name = spec.resource, spec.name
        ttl = None
        if spec.ttl_attribute:
            ttl = APICall(res, "dynamodb", "update_time_to_live",
                          {"TableName": name, "TimeToLiveSpecification": {
                              "Enabled": True, "AttributeName": spec.ttl_attribute}},
                          f"expire items of table {name} by {spec.ttl_attribute}")
        try:
            table = ddb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            steps: list[Step] = [
                APICall(res, "dynamodb", "create_table",
                        {**spec.definition(),
                         "Tags": [{"Key": k, "Value": v} for k, v in self._tags.items()]},
                        f"create table {name}", creates=True),
                Wait(res, "dynamodb", "table_exists", {"TableName": name},
                     f"wait until table {name} is active")]
            return steps + ([ttl] if ttl else [])
        tags = tag_dict(all_pages(ddb, "list_tags_of_resource", "Tags",
                                   ResourceArn=table["TableArn"]))
        steps = []
        if not self._owned_or_fail("table", name, tags):
            steps.append(APICall(res, "dynamodb", "tag_resource",
                                 {"ResourceArn": table["TableArn"],
                                  "Tags": [{"Key": k, "Value": v}
                                           for k, v in self._tags.items()]},
                                 f"tag table {name}"))
        keys = [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]
        if sorted(keys) != sorted((k["AttributeName"], k["KeyType"])
                                  for k in spec.definition()["KeySchema"]):
            raise ResourceConflict(
                f"table {name} has the key schema {keys}, not the one this version expects",
                hint="a table's keys cannot be changed: delete the table or use another --stack")
        if ttl is not None:
            current = ddb.describe_time_to_live(TableName=name).get(
                "TimeToLiveDescription", {})
            if not (current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
                    and current.get("AttributeName") == spec.ttl_attribute):
                steps.append(ttl)
        return steps

    def _topic(self) -> list[Step]:
        sns = self._client("sns")
        arn = self.names.topic_arn
        try:
            sns.get_topic_attributes(TopicArn=arn)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            return [APICall("topic", "sns", "create_topic",
                            {"Name": self.names.topic,
                             "Tags": [{"Key": k, "Value": v} for k, v in self._tags.items()]},
                            f"create topic {self.names.topic}", creates=True)]
        tags = tag_dict(sns.list_tags_for_resource(ResourceArn=arn)["Tags"])
        if self._owned_or_fail("topic", self.names.topic, tags):
            return []
        return [APICall("topic", "sns", "tag_resource",
                        {"ResourceArn": arn,
                         "Tags": [{"Key": k, "Value": v} for k, v in self._tags.items()]},
                        f"tag topic {self.names.topic}")]

    def _log_group(self, resource: str, name: str) -> list[Step]:
        logs = self._client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == name), None)
        retention = APICall(resource, "logs", "put_retention_policy",
                            {"logGroupName": name, "retentionInDays": r.LOG_RETENTION_DAYS},
                            f"keep the logs of {name} for {r.LOG_RETENTION_DAYS} days")
        if group is None:
            return [APICall(resource, "logs", "create_log_group",
                            {"logGroupName": name, "tags": dict(self._tags)},
                            f"create log group {name}", creates=True), retention]
        steps: list[Step] = []
        arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
        tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        if not self._owned_or_fail("log group", name, tags):
            steps.append(APICall(resource, "logs", "tag_resource",
                                 {"resourceArn": arn, "tags": dict(self._tags)},
                                 f"tag log group {name}"))
        if group.get("retentionInDays") != r.LOG_RETENTION_DAYS:
            steps.append(retention)
        return steps

    # ---- Lambda ---------------------------------------------------------------------------

    def _function(self, spec: r.FunctionSpec) -> tuple[list[Step], bool]:
        lam = self._client("lambda")
        res, name = spec.resource, spec.name
        configuration = spec.configuration(self.names)
        active = Wait(res, "lambda", "function_active_v2", {"FunctionName": name},
                      f"wait until function {name} is active")
        updated = Wait(res, "lambda", "function_updated_v2", {"FunctionName": name},
                       f"wait until the update of function {name} is done")
        try:
            current = lam.get_function(FunctionName=name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            create = APICall(res, "lambda", "create_function",
                             {"FunctionName": name, "Code": {"ZipFile": self.desired.code.data},
                              "Tags": dict(self._tags), **configuration},
                             f"create function {name} ({len(self.desired.code.data)} byte zip)",
                             creates=True)
            return [create, active], False

        config = current["Configuration"]
        steps: list[Step] = []
        if config.get("CodeSha256") != self.desired.code.code_sha256:
            steps += [APICall(res, "lambda", "update_function_code",
                              {"FunctionName": name, "ZipFile": self.desired.code.data},
                              f"update the code of function {name}"), updated]
        changed = [key for key, value in configuration.items()
                   if _function_setting(config, key) != value]
        if changed:
            steps += [APICall(res, "lambda", "update_function_configuration",
                              {"FunctionName": name, **configuration},
                              f"update {', '.join(changed)} of function {name}"), updated]
        if steps:
            # Lambda refuses updates while the function is still being created or updated.
            if config.get("State") != "Active":
                steps.insert(0, active)
            elif config.get("LastUpdateStatus") == "InProgress":
                steps.insert(0, updated)
        tags = tag_dict(current.get("Tags"))
        if not self._owned_or_fail("function", name, tags):
            steps.append(APICall(res, "lambda", "tag_resource",
                                 {"Resource": config["FunctionArn"], "Tags": dict(self._tags)},
                                 f"tag function {name}"))
        return steps, True

    def _s3_invoke_permission(self, function_exists: bool) -> list[Step]:
        function = self.names.load_function
        source_arn = r.bucket_arn(self.names.uploads_bucket)

        def add(creates: bool) -> APICall:
            return APICall("s3-invoke-permission", "lambda", "add_permission",
                           {"FunctionName": function, "StatementId": r.S3_INVOKE_SID,
                            "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com",
                            "SourceArn": source_arn, "SourceAccount": self.names.account_id},
                           f"allow bucket {self.names.uploads_bucket} to invoke {function}",
                           creates=creates)

        if not function_exists:
            return [add(True)]
        try:
            policy = json.loads(self._client("lambda").get_policy(FunctionName=function)["Policy"])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            return [add(True)]
        statement = next((s for s in policy.get("Statement", [])
                          if s.get("Sid") == r.S3_INVOKE_SID), None)
        if statement is None:
            return [add(True)]
        if _is_s3_invoke_statement(statement, source_arn, self.names.account_id):
            return []
        return [APICall("s3-invoke-permission", "lambda", "remove_permission",
                        {"FunctionName": function, "StatementId": r.S3_INVOKE_SID},
                        f"remove the mis-scoped S3 permission of {function}"),
                add(False)]

    def _load_failure_destination(self, function_exists: bool) -> list[Step]:
        """The loader's event invoke config: retries of S3's asynchronous invocations, then the
        failure record to the failures bucket."""
        desired = r.load_event_invoke_config(self.names)
        function = self.names.load_function
        put = APICall("load-failure-destination", "lambda", "put_function_event_invoke_config",
                      desired, f"keep failed loads of {function} in "
                      f"{self.names.failures_bucket} after {r.LOAD_MAX_RETRY_ATTEMPTS} retries",
                      creates=True)
        if not function_exists:
            return [put]
        try:
            current = self._client("lambda").get_function_event_invoke_config(
                FunctionName=function)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            return [put]
        differs = [key for key in ("MaximumRetryAttempts", "DestinationConfig")
                   if _destination_setting(current, key) != _destination_setting(desired, key)]
        if not differs:
            return []
        # Delete, then put: PutFunctionEventInvokeConfig replaces the whole configuration on
        # AWS, but moto 5.2.5 appends a second one and keeps answering with the first, so a
        # plain put would leave the emulator drifted for ever. The gap between the two calls
        # costs nothing: a failed event looks up its destination only once its retries are over.
        return [APICall("load-failure-destination", "lambda",
                        "delete_function_event_invoke_config", {"FunctionName": function},
                        f"remove the drifted {', '.join(differs)} of {function}'s "
                        "asynchronous invocations"),
                APICall(put.resource, put.service, put.method, put.params, put.summary)]

    def _stream_mapping(self, spec: r.MappingSpec, function_exists: bool,
                        stream_arn: str | Ref) -> list[Step]:
        function = spec.function
        res = spec.resource
        settings = r.mapping_settings(self.names, spec)
        create = APICall(res, "lambda", "create_event_source_mapping",
                         {"EventSourceArn": stream_arn, "FunctionName": function,
                          "StartingPosition": r.MAPPING_STARTING_POSITION, "Enabled": True,
                          **settings},
                         f"feed the stream of table {self.names.table} to {function}",
                         creates=True)
        if not function_exists:
            return [create]
        # Listed by function only (not by stream too): that also finds mappings left from an
        # earlier incarnation of the table, whose stream no longer exists.
        mappings = [m for m in all_pages(self._client("lambda"), "list_event_source_mappings",
                                          "EventSourceMappings", FunctionName=function)
                    if m.get("State") not in _IGNORED_MAPPING_STATES]
        ours = [m for m in mappings if m.get("EventSourceArn") == stream_arn]
        keep = ours[0] if ours else None
        steps: list[Step] = []
        for stale in mappings:
            if stale is keep:
                continue
            steps.append(APICall(res, "lambda", "delete_event_source_mapping",
                                 {"UUID": stale["UUID"]},
                                 f"delete the mapping {stale['UUID']} from "
                                 f"{stale.get('EventSourceArn')} to {function}"))
        if keep is None:
            return [*steps, create]
        # Compare only what the service echoes back: moto 5.2.5 returns every one of these
        # (measured), but an emulator that drops a field must not make each run "update" it.
        differs = [key for key in settings
                   if key in keep
                   and _destination_setting(keep, key) != _destination_setting(settings, key)]
        if keep.get("StartingPosition", r.MAPPING_STARTING_POSITION) \
                != r.MAPPING_STARTING_POSITION:
            # The starting position cannot be updated: replace the mapping.
            steps.append(APICall(res, "lambda", "delete_event_source_mapping",
                                 {"UUID": keep["UUID"]},
                                 f"delete the mapping {keep['UUID']} (wrong starting position)"))
            return [*steps, APICall(create.resource, create.service, create.method,
                                    create.params, create.summary)]
        if keep.get("State") not in _ENABLED_MAPPING_STATES:
            differs.append("State")
        if differs:
            steps.append(APICall(res, "lambda", "update_event_source_mapping",
                                 {"UUID": keep["UUID"], "FunctionName": function,
                                  "Enabled": True, **settings},
                                 f"reset {', '.join(differs)} of the mapping to {function}"))
        return steps

    # ---- Issue 11: the function URL of the store upload endpoint -------------------------------

    def _dashboard_origin(self) -> str:
        """The origin the dashboard (and the store page) is served from."""
        url = dashboard_url(bucket=self.names.dashboard_bucket, region=self.names.region,
                            endpoint=self.desired.endpoint)
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def _store_upload_url(self, function_exists: bool) -> tuple[list[Step], str | Ref]:
        """The function URL (AuthType NONE, CORS for the dashboard) and the public permission.

        Returns the URL stores use: the emulator's own route locally, else the URL Lambda chose
        (known only once created: a Ref)."""
        function = self.names.store_upload_function
        desired = r.store_upload_url_config(self._dashboard_origin())
        local = (r.local_function_url(self.desired.endpoint, function)
                 if self.desired.endpoint else None)
        url_ref = Ref("store_upload_url")

        def create() -> APICall:
            return APICall("store-upload-url", "lambda", "create_function_url_config",
                           {"FunctionName": function, **desired},
                           f"give function {function} a public URL (the key is checked "
                           f"inside)", creates=True,
                           outputs=(("store_upload_url", ("FunctionUrl",)),))

        def permit(creates: bool) -> APICall:
            return APICall("store-upload-url", "lambda", "add_permission",
                           {"FunctionName": function, "StatementId": r.FUNCTION_URL_SID,
                            "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                            "FunctionUrlAuthType": "NONE"},
                           f"allow anyone to call the URL of {function}", creates=creates)

        if not function_exists:
            return [create(), permit(True)], local or url_ref
        lam = self._client("lambda")
        steps: list[Step] = []
        try:
            current = lam.get_function_url_config(FunctionName=function)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            steps.append(create())
            url: str | Ref = url_ref
        else:
            url = str(current["FunctionUrl"]).rstrip("/")
            if current.get("AuthType") != desired["AuthType"] \
                    or _cors_key(current.get("Cors")) != _cors_key(desired["Cors"]):
                steps.append(APICall("store-upload-url", "lambda", "update_function_url_config",
                                     {"FunctionName": function, **desired},
                                     f"reset the auth type and CORS of the URL of {function}"))
        try:
            policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            policy = {}
        statement = next((s for s in policy.get("Statement", [])
                          if s.get("Sid") == r.FUNCTION_URL_SID), None)
        if statement is None:
            steps.append(permit(not steps))
        elif not _is_public_url_statement(statement):
            steps += [APICall("store-upload-url", "lambda", "remove_permission",
                              {"FunctionName": function, "StatementId": r.FUNCTION_URL_SID},
                              f"remove the mis-scoped URL permission of {function}"),
                      permit(False)]
        return steps, local or url

    def _uploads_cors(self, bucket_exists: bool) -> list[Step]:
        bucket = self.names.uploads_bucket
        desired = r.uploads_cors(self._dashboard_origin())
        put = APICall("uploads-cors", "s3", "put_bucket_cors",
                      {"Bucket": bucket, "CORSConfiguration": desired},
                      f"let the store page POST files to {bucket} from the dashboard's origin",
                      creates=not bucket_exists)
        if not bucket_exists:
            return [put]
        try:
            rules = self._client("s3").get_bucket_cors(Bucket=bucket).get("CORSRules", [])
        except ClientError as exc:
            if not is_not_found(exc, "NoSuchCORSConfiguration"):
                raise
            return [APICall(put.resource, put.service, put.method, put.params, put.summary,
                            creates=True)]
        if _cors_rules_key(rules) != _cors_rules_key(desired["CORSRules"]):
            return [put]
        return []

    # ---- Cognito --------------------------------------------------------------------------

    def _identity_pool(self) -> tuple[list[Step], str | Ref]:
        cognito = self._client("cognito-identity")
        name = self.names.identity_pool
        pools = [p for p in all_pages(cognito, "list_identity_pools", "IdentityPools",
                                       MaxResults=60)
                 if p["IdentityPoolName"] == name]
        # Pool names are not unique: only a pool tagged with this stack is ours.
        ours = []
        for pool in sorted(pools, key=lambda p: p["IdentityPoolId"]):
            described = cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
            if described.get("IdentityPoolTags", {}).get(STACK_TAG) == self.names.stack:
                ours.append(described)
        # AllowClassicFlow: the page falls back to the basic flow (GetOpenIdToken, then STS
        # AssumeRoleWithWebIdentity with the dashboard role) if the enhanced flow's credentials,
        # which AWS scopes down for guests, are denied the table reads.
        settings = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": True,
                    "AllowClassicFlow": True, "IdentityPoolTags": dict(self._tags)}
        if not ours:
            return [APICall("identity-pool", "cognito-identity", "create_identity_pool",
                            settings, f"create identity pool {name} (unauthenticated access)",
                            creates=True, outputs=(("identity_pool_id", ("IdentityPoolId",)),))
                    ], Ref("identity_pool_id")
        pool = ours[0]
        pool_id: str = pool["IdentityPoolId"]
        if not pool.get("AllowUnauthenticatedIdentities") or not pool.get("AllowClassicFlow"):
            return [APICall("identity-pool", "cognito-identity", "update_identity_pool",
                            {"IdentityPoolId": pool_id, **settings},
                            f"allow unauthenticated identities and the basic (classic) flow "
                            f"in pool {name}")], pool_id
        return [], pool_id

    def _identity_pool_roles(self, pool_id: str | Ref) -> list[Step]:
        role = r.role_arn(self.names, self.names.dashboard_role)
        desired = {"unauthenticated": role}

        def set_roles(creates: bool) -> APICall:
            return APICall("identity-pool-roles", "cognito-identity", "set_identity_pool_roles",
                           {"IdentityPoolId": pool_id, "Roles": desired},
                           f"give unauthenticated dashboard users role {self.names.dashboard_role}",
                           creates=creates)

        if isinstance(pool_id, Ref):
            return [set_roles(True)]
        current = self._client("cognito-identity").get_identity_pool_roles(IdentityPoolId=pool_id)
        if current.get("Roles") == desired and not current.get("RoleMappings"):
            return []
        return [set_roles(not current.get("Roles"))]



def all_pages(client: Any, method: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, through the paginator when the operation has one."""
    if client.can_paginate(method):
        return [item for page in client.get_paginator(method).paginate(**params)
                for item in page.get(key, [])]
    return list(getattr(client, method)(**params).get(key, []))


def bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        return tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    except ClientError as exc:
        if is_not_found(exc, "NoSuchTagSet"):
            return {}
        raise


def _function_setting(config: dict[str, Any], key: str) -> Any:
    if key == "Environment":
        return {"Variables": config.get("Environment", {}).get("Variables", {})}
    if key == "Description":
        return config.get("Description", "")
    return config.get(key)


def _on_failure(config: Any) -> str | None:
    """The on-failure destination of a DestinationConfig; AWS echoes an empty OnSuccess too."""
    if not isinstance(config, dict):
        return None
    destination = (config.get("OnFailure") or {}).get("Destination")
    return str(destination) if destination else None


def _destination_setting(config: dict[str, Any], key: str) -> Any:
    """A setting of an event invoke config or a mapping, DestinationConfig by its OnFailure."""
    if key == "DestinationConfig":
        return _on_failure(config.get(key))
    return config.get(key)


def _is_s3_invoke_statement(statement: dict[str, Any], source_arn: str, account: str) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    conditions: dict[str, str] = {}
    for block in statement.get("Condition", {}).values():
        conditions.update({k.lower(): v for k, v in block.items()})
    return (statement.get("Effect") == "Allow"
            and service == "s3.amazonaws.com"
            and canonical_policy([statement.get("Action")]) == "lambda:InvokeFunction"
            and conditions.get("aws:sourcearn") == source_arn
            and conditions.get("aws:sourceaccount") == account)


def _cors_key(cors: dict[str, Any] | None) -> Any:
    """A function URL's CORS in a comparable form (header names and methods ignore case)."""
    cors = cors or {}
    return (sorted(cors.get("AllowOrigins") or []),
            sorted(m.upper() for m in cors.get("AllowMethods") or []),
            sorted(h.lower() for h in cors.get("AllowHeaders") or []),
            cors.get("MaxAge"))


def _cors_rules_key(rules: list[dict[str, Any]]) -> Any:
    return sorted((sorted(rule.get("AllowedOrigins", [])), sorted(rule.get("AllowedMethods", [])),
                   sorted(rule.get("AllowedHeaders", [])), rule.get("MaxAgeSeconds"))
                  for rule in rules)


def _is_public_url_statement(statement: dict[str, Any]) -> bool:
    """Anyone may invoke the URL, and only through a URL with AuthType NONE."""
    principal = statement.get("Principal")
    anyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")
    conditions: dict[str, str] = {}
    for block in (statement.get("Condition") or {}).values():
        conditions.update({k.lower(): v for k, v in block.items()})
    # moto keeps the parameter as sent instead of turning it into a condition.
    auth_type = conditions.get("lambda:functionurlauthtype", statement.get("FunctionUrlAuthType"))
    return (statement.get("Effect") == "Allow" and anyone and auth_type == "NONE"
            and canonical_policy([statement.get("Action")]) == "lambda:InvokeFunctionUrl")


def _notification_key(config: dict[str, Any]) -> Any:
    """The parts of a notification configuration that matter, in a comparable form.

    Filter rule names compare case-insensitively: moto only accepts "suffix", AWS answers
    "Suffix" whatever was sent.
    """
    def rules(c: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted((rule["Name"].lower(), rule["Value"])
                      for rule in c.get("Filter", {}).get("Key", {}).get("FilterRules", []))

    lambdas = sorted((c.get("Id"), c["LambdaFunctionArn"], tuple(sorted(c["Events"])),
                      tuple(rules(c)))
                     for c in config.get("LambdaFunctionConfigurations", []))
    others = [config.get(k) for k in ("QueueConfigurations", "TopicConfigurations",
                                      "EventBridgeConfiguration") if config.get(k) is not None]
    return lambdas, others
