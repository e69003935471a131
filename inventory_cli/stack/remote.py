"""`RemoteState`: every read the planners need, in one place.

Each read answers the question a planner asks ("this role, or None", "the tags of this bucket"),
with AWS's "does not exist" answers turned into None (or an empty value where that is what
absence means), listings read through their paginators, and every answer cached for the run:
provision, status and teardown each make a new one, so nothing read is older than the plan
it serves. Planners never call AWS themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, cast

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.stack.compare import is_not_found, tag_dict

ClientFactory = Callable[[str], Any]
BucketAccess = Literal["exists", "forbidden"]
Doc = dict[str, Any]
_MISSING = object()


def _unsupported(exc: ClientError) -> bool:
    """An endpoint's answer to an API it lacks (moto: 404 "Not yet implemented"; others name
    the operation unknown)."""
    error = exc.response.get("Error", {})
    return (error_code(exc) in {"NotImplemented", "NotImplementedException",
                                "UnknownOperationException", "InvalidAction", "404", "501"}
            or "not yet implemented" in str(error.get("Message", "")).lower())


def all_pages(client: Any, method: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, through the paginator when the operation has one."""
    if client.can_paginate(method):
        return [item for page in client.get_paginator(method).paginate(**params)
                for item in page.get(key, [])]
    return list(getattr(client, method)(**params).get(key, []))


class RemoteState:
    def __init__(self, client: ClientFactory) -> None:
        self._client = client
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _read(self, key: tuple[Any, ...], read: Callable[[], Any], *not_found: str,
              absent: Any = None) -> Any:
        """`read()` once per run; `absent` if AWS answers that the thing does not exist."""
        cached = self._cache.get(key, _MISSING)
        if cached is not _MISSING:
            return cached
        try:
            value = read()
        except ClientError as exc:
            if not is_not_found(exc, *not_found):
                raise
            value = absent
        self._cache[key] = value
        return value

    # ---- IAM ------------------------------------------------------------------------------

    def role(self, name: str) -> dict[str, Any] | None:
        iam = self._client("iam")
        return cast("Doc | None",
                    self._read(("role", name), lambda: iam.get_role(RoleName=name)["Role"]))

    def role_tags(self, name: str) -> dict[str, str] | None:
        """The role's tags; None if there is no such role."""
        iam = self._client("iam")
        return cast("dict[str, str] | None", self._read(
            ("role-tags", name),
            lambda: tag_dict(iam.list_role_tags(RoleName=name)["Tags"])))

    def role_inline_policies(self, name: str) -> list[str]:
        iam = self._client("iam")
        return cast("list[str]", self._read(
            ("role-policies", name),
            lambda: all_pages(iam, "list_role_policies", "PolicyNames",
                              RoleName=name), absent=[]))

    def role_policy(self, name: str, policy: str) -> Any:
        iam = self._client("iam")
        return cast("Any", self._read(
            ("role-policy", name, policy),
            lambda: iam.get_role_policy(RoleName=name,
                                        PolicyName=policy)["PolicyDocument"]))

    def role_attached_policies(self, name: str) -> list[dict[str, Any]]:
        iam = self._client("iam")
        return cast("list[Doc]", self._read(
            ("role-attached", name),
            lambda: all_pages(iam, "list_attached_role_policies",
                              "AttachedPolicies", RoleName=name), absent=[]))

    # ---- S3 -------------------------------------------------------------------------------

    def bucket(self, name: str) -> BucketAccess | None:
        """"exists" (this account may use it), "forbidden" (S3 answers 403: the name is taken
        by another account), or None."""
        key = ("bucket", name)
        if key not in self._cache:
            try:
                self._client("s3").head_bucket(Bucket=name)
                self._cache[key] = "exists"
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
                    self._cache[key] = "forbidden"
                elif is_not_found(exc):
                    self._cache[key] = None
                else:
                    raise
        value: BucketAccess | None = self._cache[key]
        return value

    def bucket_tags(self, name: str) -> dict[str, str]:
        s3 = self._client("s3")
        return cast("dict[str, str]", self._read(
            ("bucket-tags", name),
            lambda: tag_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"]),
            "NoSuchTagSet", absent={}))

    def public_access_block(self, name: str) -> dict[str, Any] | None:
        s3 = self._client("s3")
        return cast("Doc | None", self._read(
            ("access-block", name),
            lambda: s3.get_public_access_block(
                Bucket=name)["PublicAccessBlockConfiguration"],
            "NoSuchPublicAccessBlockConfiguration"))

    def bucket_encryption_rules(self, name: str) -> list[dict[str, Any]]:
        s3 = self._client("s3")
        return cast("list[Doc]", self._read(
            ("encryption", name),
            lambda: s3.get_bucket_encryption(
                Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"],
            "ServerSideEncryptionConfigurationNotFoundError", absent=[]))

    def bucket_versioning(self, name: str) -> str | None:
        s3 = self._client("s3")
        return cast("str | None", self._read(
            ("versioning", name),
            lambda: s3.get_bucket_versioning(Bucket=name).get("Status")))

    def bucket_policy(self, name: str) -> str | None:
        s3 = self._client("s3")
        return cast("str | None", self._read(
            ("bucket-policy", name),
            lambda: s3.get_bucket_policy(Bucket=name)["Policy"],
            "NoSuchBucketPolicy"))

    def bucket_notification(self, name: str) -> dict[str, Any]:
        s3 = self._client("s3")

        def read() -> dict[str, Any]:
            answer = dict(s3.get_bucket_notification_configuration(Bucket=name))
            answer.pop("ResponseMetadata", None)
            return answer

        return cast("Doc", self._read(("notification", name), read))

    def bucket_cors(self, name: str) -> list[dict[str, Any]] | None:
        s3 = self._client("s3")
        return cast("list[Doc] | None", self._read(
            ("cors", name),
            lambda: s3.get_bucket_cors(Bucket=name).get("CORSRules", []),
            "NoSuchCORSConfiguration"))

    def object_etags(self, bucket: str) -> dict[str, str]:
        """Key -> ETag of every object (current versions)."""
        s3 = self._client("s3")

        def read() -> dict[str, str]:
            return {obj["Key"]: obj["ETag"]
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                    for obj in page.get("Contents", [])}

        return cast("dict[str, str]", self._read(("objects", bucket), read, absent={}))

    def object_head(self, bucket: str, key: str) -> dict[str, Any] | None:
        s3 = self._client("s3")
        return cast("Doc | None", self._read(
            ("head", bucket, key), lambda: s3.head_object(Bucket=bucket, Key=key)))

    def object_version_count(self, bucket: str) -> int:
        """Object versions and delete markers in `bucket`."""
        s3 = self._client("s3")
        return cast("int", self._read(("versions", bucket), lambda: sum(
            len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket)),
            absent=0))

    # ---- DynamoDB -------------------------------------------------------------------------

    def table(self, name: str) -> dict[str, Any] | None:
        ddb = self._client("dynamodb")
        return cast("Doc | None", self._read(
            ("table", name), lambda: ddb.describe_table(TableName=name)["Table"]))

    def table_tags(self, arn: str) -> dict[str, str]:
        ddb = self._client("dynamodb")
        return cast("dict[str, str]", self._read(
            ("table-tags", arn),
            lambda: tag_dict(all_pages(ddb, "list_tags_of_resource", "Tags",
                                       ResourceArn=arn)), absent={}))

    def point_in_time_recovery(self, name: str) -> str | None:
        ddb = self._client("dynamodb")

        def read() -> Any:
            backups = ddb.describe_continuous_backups(TableName=name)
            return backups["ContinuousBackupsDescription"].get(
                "PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")

        return cast("str | None", self._read(("pitr", name), read))

    def time_to_live(self, name: str) -> dict[str, Any]:
        ddb = self._client("dynamodb")
        return cast("Doc", self._read(("ttl", name), lambda: ddb.describe_time_to_live(
            TableName=name).get("TimeToLiveDescription", {}), absent={}))

    # ---- SNS ------------------------------------------------------------------------------

    def topic(self, arn: str) -> dict[str, Any] | None:
        sns = self._client("sns")
        return cast("Doc | None", self._read(
            ("topic", arn),
            lambda: sns.get_topic_attributes(TopicArn=arn)["Attributes"]))

    def topic_tags(self, arn: str) -> dict[str, str]:
        sns = self._client("sns")
        return cast("dict[str, str]", self._read(("topic-tags", arn), lambda: tag_dict(
            sns.list_tags_for_resource(ResourceArn=arn)["Tags"]), absent={}))

    def topic_subscriptions(self, arn: str) -> list[dict[str, Any]]:
        sns = self._client("sns")
        return cast("list[Doc]", self._read(("subscriptions", arn), lambda: all_pages(
            sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=arn), absent=[]))

    # ---- EventBridge ----------------------------------------------------------------------

    def rule(self, name: str) -> dict[str, Any] | None:
        """DescribeRule's answer (on the default event bus), or None."""
        events = self._client("events")
        return cast("Doc | None", self._read(("rule", name),
                                             lambda: events.describe_rule(Name=name)))

    def rule_tags(self, arn: str) -> dict[str, str]:
        events = self._client("events")
        return cast("dict[str, str]", self._read(("rule-tags", arn), lambda: tag_dict(
            events.list_tags_for_resource(ResourceARN=arn)["Tags"]), absent={}))

    def rule_targets(self, name: str) -> list[dict[str, Any]]:
        events = self._client("events")
        return cast("list[Doc]", self._read(("rule-targets", name), lambda: all_pages(
            events, "list_targets_by_rule", "Targets", Rule=name), absent=[]))

    # ---- CloudWatch Logs ------------------------------------------------------------------

    def log_group(self, name: str) -> dict[str, Any] | None:
        logs = self._client("logs")

        def read() -> dict[str, Any] | None:
            groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            return next((g for g in groups if g["logGroupName"] == name), None)

        return cast("Doc | None", self._read(("log-group", name), read))

    def log_group_tags(self, arn: str) -> dict[str, str]:
        logs = self._client("logs")
        return cast("dict[str, str]", self._read(
            ("log-group-tags", arn),
            lambda: logs.list_tags_for_resource(resourceArn=arn).get("tags", {}),
            absent={}))

    # ---- CloudWatch alarms ----------------------------------------------------------------

    def alarm(self, name: str) -> dict[str, Any] | None:
        """DescribeAlarms' metric alarm of that name (state included), or None."""
        cloudwatch = self._client("cloudwatch")

        def read() -> dict[str, Any] | None:
            found = cloudwatch.describe_alarms(AlarmNames=[name],
                                               AlarmTypes=["MetricAlarm"])["MetricAlarms"]
            return next((a for a in found if a["AlarmName"] == name), None)

        return cast("Doc | None", self._read(("alarm", name), read))

    def alarm_tags(self, arn: str) -> dict[str, str]:
        cloudwatch = self._client("cloudwatch")
        return cast("dict[str, str]", self._read(("alarm-tags", arn), lambda: tag_dict(
            cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]), absent={}))

    # ---- Lambda ---------------------------------------------------------------------------

    def function(self, name: str) -> dict[str, Any] | None:
        """GetFunction's answer (Configuration, Code, Tags), or None."""
        lam = self._client("lambda")
        return cast("Doc | None", self._read(
            ("function", name), lambda: lam.get_function(FunctionName=name)))

    def function_policy(self, name: str) -> dict[str, Any]:
        """The function's resource policy ({} if it has none)."""
        lam = self._client("lambda")
        return cast("Doc", self._read(("function-policy", name), lambda: json.loads(
            lam.get_policy(FunctionName=name)["Policy"]), absent={}))

    def function_url(self, name: str) -> dict[str, Any] | None:
        lam = self._client("lambda")
        return cast("Doc | None", self._read(
            ("function-url", name),
            lambda: lam.get_function_url_config(FunctionName=name)))

    def event_invoke_config(self, name: str) -> dict[str, Any] | None:
        lam = self._client("lambda")
        return cast("Doc | None", self._read(
            ("event-invoke", name),
            lambda: lam.get_function_event_invoke_config(FunctionName=name)))

    def recursion_config(self, function: str) -> str | None:
        """The function's RecursiveLoop setting; None if there is no such function;
        "unsupported" if the endpoint does not implement the call (an emulator without
        Lambda's recursive loop detection: AWS itself always does)."""
        key = ("recursion", function)
        if key not in self._cache:
            try:
                answer = self._client("lambda").get_function_recursion_config(
                    FunctionName=function)
                self._cache[key] = answer.get("RecursiveLoop")
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    self._cache[key] = None
                elif _unsupported(exc):
                    self._cache[key] = "unsupported"
                else:
                    raise
        value: str | None = self._cache[key]
        return value

    def mappings(self, function: str) -> list[dict[str, Any]]:
        """Every event source mapping of `function`."""
        lam = self._client("lambda")
        return cast("list[Doc]", self._read(("mappings", function), lambda: all_pages(
            lam, "list_event_source_mappings", "EventSourceMappings", FunctionName=function),
            absent=[]))

    # ---- Cognito --------------------------------------------------------------------------

    def identity_pools(self, name: str) -> list[dict[str, Any]]:
        """Every identity pool named `name`, described (tags included), by id. Pool names are
        not unique: the caller decides which one is its own."""
        cognito = self._client("cognito-identity")

        def read() -> list[dict[str, Any]]:
            listed = [p for p in all_pages(cognito, "list_identity_pools", "IdentityPools",
                                           MaxResults=60)
                      if p["IdentityPoolName"] == name]
            return [cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
                    for pool in sorted(listed, key=lambda p: p["IdentityPoolId"])]

        return cast("list[Doc]", self._read(("identity-pools", name), read))

    def identity_pool_roles(self, pool_id: str) -> dict[str, Any]:
        cognito = self._client("cognito-identity")
        return cast("Doc", self._read(
            ("pool-roles", pool_id),
            lambda: cognito.get_identity_pool_roles(IdentityPoolId=pool_id)))

    # ---- the private dashboard: user pool, principal tags, CloudFront ---------------------

    def user_pools(self, name: str) -> list[dict[str, Any]]:
        """Every user pool named `name`, described (UserPoolTags included), by id. Names are
        not unique: the caller decides which one is its own."""
        idp = self._client("cognito-idp")

        def read() -> list[dict[str, Any]]:
            listed = [p for p in all_pages(idp, "list_user_pools", "UserPools", MaxResults=60)
                      if p["Name"] == name]
            return [idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
                    for pool in sorted(listed, key=lambda p: p["Id"])]

        return cast("list[Doc]", self._read(("user-pools", name), read))

    def user_pool_clients(self, pool_id: str) -> list[dict[str, Any]]:
        """Every app client of the pool, described."""
        idp = self._client("cognito-idp")

        def read() -> list[dict[str, Any]]:
            listed = all_pages(idp, "list_user_pool_clients", "UserPoolClients",
                               UserPoolId=pool_id, MaxResults=60)
            return [idp.describe_user_pool_client(
                        UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
                    for c in sorted(listed, key=lambda c: c["ClientId"])]

        return cast("list[Doc]", self._read(("user-pool-clients", pool_id), read, absent=[]))

    def principal_tag_map(self, pool_id: str, provider: str) -> dict[str, Any] | None:
        cognito = self._client("cognito-identity")

        def read() -> dict[str, Any]:
            answer = dict(cognito.get_principal_tag_attribute_map(
                IdentityPoolId=pool_id, IdentityProviderName=provider))
            answer.pop("ResponseMetadata", None)
            return answer

        return cast("Doc | None", self._read(("principal-tags", pool_id, provider), read))

    def origin_access_control(self, name: str) -> dict[str, Any] | None:
        """The OAC named `name` (its summary, with the ETag of its configuration), or None."""
        cloudfront = self._client("cloudfront")

        def read() -> dict[str, Any] | None:
            pages = cloudfront.get_paginator("list_origin_access_controls").paginate()
            for page in pages:
                for item in page.get("OriginAccessControlList", {}).get("Items", []) or []:
                    if item.get("Name") == name:
                        answer = cloudfront.get_origin_access_control(Id=item["Id"])
                        return {**answer["OriginAccessControl"], "ETag": answer.get("ETag")}
            return None

        return cast("Doc | None", self._read(("oac", name), _or_none_if_unsupported(read)))

    def distribution(self, comment: str) -> dict[str, Any] | None:
        """The distribution whose Comment is `comment`: its summary (Id, ARN, DomainName,
        Status, Enabled), its DistributionConfig, ETag and tags; or None."""
        cloudfront = self._client("cloudfront")

        def read() -> dict[str, Any] | None:
            pages = cloudfront.get_paginator("list_distributions").paginate()
            for page in pages:
                for item in page.get("DistributionList", {}).get("Items", []) or []:
                    if item.get("Comment") != comment:
                        continue
                    config = cloudfront.get_distribution_config(Id=item["Id"])
                    tags = cloudfront.list_tags_for_resource(Resource=item["ARN"])
                    return {**item, "DistributionConfig": config["DistributionConfig"],
                            "ETag": config.get("ETag"),
                            "Tags": tag_dict(tags.get("Tags", {}).get("Items", []))}
            return None

        return cast("Doc | None", self._read(("distribution", comment),
                                             _or_none_if_unsupported(read)))


def _or_none_if_unsupported(read: Callable[[], Any]) -> Callable[[], Any]:
    """An endpoint without CloudFront (an emulator) has no distribution of ours."""
    def guarded() -> Any:
        try:
            return read()
        except ClientError as exc:
            if _unsupported(exc):
                return None
            raise
    return guarded
