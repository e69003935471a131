"""S3: buckets (private or the dashboard's public page), their notification and CORS, and the
dashboard's files."""

from __future__ import annotations

import hashlib
from typing import Any

from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.dashboard import CONFIG_KEY, INDEX_KEY, config_json
from inventory_cli.stack.compare import same_policy
from inventory_cli.stack.errors import ResourceConflict
from inventory_cli.stack.instructions import APICall, EmptyBucket, Ref, Rendered, json_document
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    no_delete,
    ours_to_delete,
    owned_or_fail,
    settle,
)
from inventory_cli.stack.model import (
    BucketCorsSpec,
    BucketSpec,
    DashboardFilesSpec,
    NotificationSpec,
)
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import DEFAULT_ENCRYPTION

CACHE_CONTROL = "no-cache"  # the page and its configuration change with each provision


def bucket_exists(remote: RemoteState, name: str) -> bool:
    return remote.bucket(name) == "exists"


def plan_bucket(spec: BucketSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names, res, bucket = ctx.names, spec.id, spec.name
    access = remote.bucket(bucket)
    if access == "forbidden":
        raise ResourceConflict(f"bucket {bucket} exists but this account cannot use it",
                               hint="bucket names are global; someone else owns this one")
    if access is None:
        create: dict[str, Any] = {"Bucket": bucket}
        if names.region != "us-east-1":  # us-east-1 rejects an explicit constraint
            create["CreateBucketConfiguration"] = {"LocationConstraint": names.region}
        return [APICall(res, "s3", "create_bucket", create, f"create bucket {bucket}",
                        creates=True),
                *_bucket_settings(spec, names, tags={}, access_block=None, encrypted=False,
                                  versioned=False, policy=None, values=ctx.values)]
    tags = remote.bucket_tags(bucket)
    owned_or_fail(names, "bucket", bucket, tags)
    # Any default encryption will do: a bucket switched to KMS by its operators is stronger
    # than what we would set, not drift.
    encrypted = any(rule.get("ApplyServerSideEncryptionByDefault")
                    for rule in remote.bucket_encryption_rules(bucket))
    return _bucket_settings(spec, names, tags=tags,
                            access_block=remote.public_access_block(bucket),
                            encrypted=encrypted,
                            versioned=remote.bucket_versioning(bucket) == "Enabled",
                            policy=remote.bucket_policy(bucket), values=ctx.values)


def _bucket_settings(spec: BucketSpec, names: StackNames, *, tags: dict[str, str],
                     access_block: dict[str, Any] | None, encrypted: bool, versioned: bool,
                     policy: str | None, values: dict[str, Any]) -> Planned:
    res, bucket = spec.id, spec.name
    steps: Planned = []
    if tags.get(STACK_TAG) != names.stack:
        # PutBucketTagging replaces the whole set: keep tags others added.
        merged = {**tags, **names.tags}
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
                              "ServerSideEncryptionConfiguration": DEFAULT_ENCRYPTION},
                             f"turn on default encryption of bucket {bucket}"))
    if spec.versioned and not versioned:
        steps.append(APICall(res, "s3", "put_bucket_versioning",
                             {"Bucket": bucket, "VersioningConfiguration": {"Status": "Enabled"}},
                             f"turn on versioning of bucket {bucket}"))
    wanted = settle(spec.policy, values)
    document = json_document(wanted, f"policy of bucket {bucket}")
    if policy is None or isinstance(document, Rendered) or not same_policy(policy, wanted):
        steps.append(APICall(res, "s3", "put_bucket_policy",
                             {"Bucket": bucket, "Policy": document},
                             f"set the policy of bucket {bucket}"))
    return steps


def delete_bucket(spec: BucketSpec, remote: RemoteState, names: StackNames) -> Deleted:
    bucket = spec.name
    if remote.bucket(bucket) != "exists":
        return []  # gone, or another account's bucket: nothing of ours
    # Untagged is ours: S3 cannot tag a bucket in CreateBucket, so an interrupted provision
    # can leave one untagged, and the name embeds this stack's.
    skip = ours_to_delete(names, "bucket", bucket, remote.bucket_tags(bucket),
                          untagged_is_ours=True)
    if skip:
        return [skip]
    versions = remote.object_version_count(bucket)
    return [EmptyBucket(spec.id, bucket, f"delete all {versions} object version(s) and delete "
                                         f"markers in {bucket}"),
            APICall(spec.id, "s3", "delete_bucket", {"Bucket": bucket}, f"delete bucket {bucket}")]


def plan_notification(spec: NotificationSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    def put(creates: bool) -> APICall:
        return APICall(spec.id, "s3", "put_bucket_notification_configuration",
                       {"Bucket": spec.bucket, "NotificationConfiguration": spec.configuration},
                       spec.summary, creates=creates)

    if not bucket_exists(remote, spec.bucket):
        return [put(True)]
    current = remote.bucket_notification(spec.bucket)
    if _notification_key(current) == _notification_key(spec.configuration):
        return []
    return [put(not current.get("LambdaFunctionConfigurations"))]


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


def plan_cors(spec: BucketCorsSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    exists = bucket_exists(remote, spec.bucket)
    # The dashboard's origin may be a distribution's, not yet created (a Rendered).
    configuration = settle(spec.configuration, ctx.values)
    put = APICall(spec.id, "s3", "put_bucket_cors",
                  {"Bucket": spec.bucket, "CORSConfiguration": configuration},
                  spec.summary, creates=not exists)
    if not exists:
        return [put]
    rules = remote.bucket_cors(spec.bucket)
    if rules is None:
        return [APICall(put.resource, put.service, put.method, put.params, put.summary,
                        creates=True)]
    if _cors_rules_key(rules) != _cors_rules_key(configuration["CORSRules"]):
        return [put]
    return []


def _cors_rules_key(rules: list[dict[str, Any]]) -> Any:
    return sorted((sorted(rule.get("AllowedOrigins", [])), sorted(rule.get("AllowedMethods", [])),
                   sorted(rule.get("AllowedHeaders", [])), rule.get("MaxAgeSeconds"))
                  for rule in rules)


def plan_dashboard_files(spec: DashboardFilesSpec, remote: RemoteState,
                         ctx: PlanContext) -> Planned:
    bucket = spec.bucket
    desired: list[tuple[str, bytes | Rendered, str]] = list(ctx.desired.assets)
    desired.append((CONFIG_KEY, _config_json(spec, ctx), "application/json"))
    existing = remote.object_etags(bucket) if bucket_exists(remote, bucket) else {}
    steps: Planned = []
    for key, body, content_type in desired:
        put = APICall(spec.id, "s3", "put_object",
                      {"Bucket": bucket, "Key": key, "Body": body, "ContentType": content_type,
                       "CacheControl": CACHE_CONTROL},
                      f"upload {key} to {bucket}"
                      + ("" if isinstance(body, Rendered) else f" ({len(body)} bytes)"),
                      creates=key == INDEX_KEY and key not in existing)
        if key not in existing or isinstance(body, Rendered):
            steps.append(put)
            continue
        head = remote.object_head(bucket, key) or {}
        # A single-part upload's ETag is the MD5 of its bytes (also under SSE-S3).
        same = (head.get("ETag", "").strip('"')
                == hashlib.md5(body, usedforsecurity=False).hexdigest()
                and head.get("ContentType") == content_type
                and head.get("CacheControl") == CACHE_CONTROL)
        if not same:
            steps.append(put)
    stale = sorted(set(existing) - {key for key, _, _ in desired})
    for start in range(0, len(stale), 1000):  # DeleteObjects takes at most 1000 keys
        batch = stale[start:start + 1000]
        steps.append(APICall(spec.id, "s3", "delete_objects",
                             {"Bucket": bucket, "Delete": {
                                 "Objects": [{"Key": k} for k in batch], "Quiet": True}},
                             f"delete {len(batch)} file(s) no longer shipped from {bucket}"))
    return steps


def _config_json(spec: DashboardFilesSpec, ctx: PlanContext) -> bytes | Rendered:
    names, desired = ctx.names, ctx.desired
    pool_id = ctx.values["identity_pool_id"]
    upload_url = ctx.values.get("store_upload_url")
    # A private dashboard names the staff user pool and app client; no guest role to fall
    # back to, and the summaries are read by staff of every store only (the page learns
    # which when a read is refused).
    private = desired.private
    user_pool = ctx.values.get("user_pool_id") if private else None
    client = ctx.values.get("user_pool_client_id") if private else None

    def render(v: Any) -> bytes:
        def value(x: Any) -> Any:
            return v[x.name] if isinstance(x, Ref) else x

        url = value(upload_url)
        return config_json(region=names.region, identity_pool_id=value(pool_id),
                           table=names.table, threshold=desired.threshold,
                           endpoint=desired.endpoint, stack=names.stack,
                           dashboard_role_arn=None if private else spec.dashboard_role_arn,
                           summary_table=names.summary_table,
                           upload_url=url.rstrip("/") if isinstance(upload_url, Ref) and url
                           else url,
                           access="private" if private else "public",
                           user_pool_id=value(user_pool), user_pool_client_id=value(client))

    if any(isinstance(x, Ref) for x in (pool_id, upload_url, user_pool, client)):
        return Rendered(f"config.json for pool {pool_id}", render)
    return render({})


KINDS = {
    BucketSpec.kind: Kind(plan_bucket, delete_bucket),
    NotificationSpec.kind: Kind(plan_notification, no_delete),
    BucketCorsSpec.kind: Kind(plan_cors, no_delete),
    # The files go with their bucket (emptied first).
    DashboardFilesSpec.kind: Kind(plan_dashboard_files, no_delete),
}
