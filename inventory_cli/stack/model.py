"""The stack as plain data: what is wanted (`DesiredStack`) and one spec per resource.

Every spec has `id` (stable: the `status` JSON key and the resource of every planned call),
`display` (the AWS name shown), `kind` (which planner in `stack.kinds` handles it) and
`dashboard` (True: part of the public dashboard, absent from a `--no-dashboard` stack). The one
ordered list of them is `resources.stack_resources`. Nothing here calls AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from inventory_cli.config import StackNames
from inventory_cli.stack.packaging import LambdaZip

# A dashboard file: (key, body, content type).
Asset = tuple[str, bytes, str]
RUNTIME = "python3.12"


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
    # Warm throughput of the inventory table in write units a second (`provision
    # --warm-writes`); None keeps what the table's tag says (nothing for a new stack).
    warm_writes: int | None = None
    # "private": staff sign in through a user pool, each reads its own stores; "public": guests
    # read everything (--public-dashboard). `provision.desired_stack` keeps a stack's mode.
    dashboard_access: str = "private"

    @property
    def private(self) -> bool:
        return self.dashboard_access == "private"


class _ShownByName:
    """A spec whose `display` is its AWS name."""

    name: str

    @property
    def display(self) -> str:
        return self.name


@dataclass(frozen=True)
class RoleSpec(_ShownByName):
    kind: ClassVar[str] = "role"
    id: str
    name: str
    # A trust policy may contain a Ref (the pool id of a pool not yet created).
    trust_policy: dict[str, Any]
    policy: dict[str, Any]
    dashboard: bool = False


@dataclass(frozen=True)
class BucketSpec(_ShownByName):
    kind: ClassVar[str] = "bucket"
    id: str
    name: str
    access_block: dict[str, bool]
    policy: dict[str, Any]
    versioned: bool
    dashboard: bool = False


@dataclass(frozen=True)
class InventoryTableSpec(_ShownByName):
    """The inventory table: its stream feeds the functions (`stream_arn`), point-in-time
    recovery is on, and a tag on it remembers a stack without a dashboard."""

    kind: ClassVar[str] = "inventory-table"
    id: str
    name: str
    definition: dict[str, Any]
    dashboard: bool = False


@dataclass(frozen=True)
class TableSpec(_ShownByName):
    """An auxiliary table of the stack (not the inventory table): on-demand, tagged, with an
    optional TTL attribute. Its keys cannot change once created."""

    kind: ClassVar[str] = "table"
    id: str
    name: str
    # (attribute, "S" | "N" | "B") for the hash key, then optionally the range key.
    keys: tuple[tuple[str, str], ...]
    ttl_attribute: str | None = None
    dashboard: bool = False

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


@dataclass(frozen=True)
class TopicSpec(_ShownByName):
    kind: ClassVar[str] = "topic"
    id: str
    name: str
    arn: str
    dashboard: bool = False


@dataclass(frozen=True)
class LogGroupSpec(_ShownByName):
    kind: ClassVar[str] = "log-group"
    id: str
    name: str
    retention_days: int
    dashboard: bool = False


@dataclass(frozen=True)
class FunctionSpec(_ShownByName):
    kind: ClassVar[str] = "function"
    id: str
    name: str
    role: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    description: str
    dashboard: bool = False

    def configuration(self, names: StackNames) -> dict[str, Any]:
        """Parameters as CreateFunction and UpdateFunctionConfiguration take them."""
        return {
            "Runtime": RUNTIME,
            "Role": f"arn:aws:iam::{names.account_id}:role/{self.role}",
            "Handler": self.handler,
            "Environment": {"Variables": dict(self.environment)},
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "Description": self.description,
        }


@dataclass(frozen=True)
class EventInvokeConfigSpec:
    """Retries and the on-failure destination of a function's asynchronous invocations."""

    kind: ClassVar[str] = "event-invoke-config"
    id: str
    function: str
    # PutFunctionEventInvokeConfig parameters (FunctionName included).
    config: dict[str, Any]
    summary: str
    display: str
    dashboard: bool = False


@dataclass(frozen=True)
class RecursionConfigSpec:
    """What Lambda does when it detects that the function is part of a recursive loop."""

    kind: ClassVar[str] = "recursion-config"
    id: str
    function: str
    # "Allow" or "Terminate" (PutFunctionRecursionConfig's RecursiveLoop).
    recursive_loop: str
    summary: str
    dashboard: bool = False

    @property
    def display(self) -> str:
        return f"{self.function} recursive loops: {self.recursive_loop}"


@dataclass(frozen=True)
class InvokePermissionSpec:
    """A statement of a function's resource policy letting a service invoke it from one source."""

    kind: ClassVar[str] = "invoke-permission"
    id: str
    function: str
    sid: str
    principal: str
    source_arn: str
    source_account: str
    summary: str
    dashboard: bool = False

    @property
    def display(self) -> str:
        return f"{self.function}/{self.sid}"


@dataclass(frozen=True)
class NotificationSpec:
    """A bucket's whole notification configuration."""

    kind: ClassVar[str] = "bucket-notification"
    id: str
    bucket: str
    configuration: dict[str, Any]
    summary: str
    display: str
    dashboard: bool = False


@dataclass(frozen=True)
class MappingSpec:
    """One event source mapping from the inventory table's stream to a function."""

    kind: ClassVar[str] = "stream-mapping"
    id: str
    function: str
    settings: dict[str, Any]
    table: str = ""
    starting_position: str = "TRIM_HORIZON"
    dashboard: bool = False

    @property
    def display(self) -> str:
        return f"{self.table} stream -> {self.function}"


@dataclass(frozen=True)
class FunctionUrlSpec:
    """A function's URL and the public permissions it needs (the caller is checked inside)."""

    kind: ClassVar[str] = "function-url"
    id: str
    function: str
    # CreateFunctionUrlConfig parameters besides the function name.
    config: dict[str, Any]
    # The Sids of the two public statements: InvokeFunctionUrl, and InvokeFunction through it.
    sid: str
    invoke_sid: str
    # The URL stores use on an emulator (its own route); None: the URL Lambda chose.
    local_url: str | None = None
    dashboard: bool = False

    @property
    def display(self) -> str:
        return f"{self.function} function URL"


@dataclass(frozen=True)
class BucketCorsSpec:
    kind: ClassVar[str] = "bucket-cors"
    id: str
    bucket: str
    configuration: dict[str, Any]
    summary: str
    dashboard: bool = False

    @property
    def display(self) -> str:
        return f"{self.bucket} CORS"


@dataclass(frozen=True)
class IdentityPoolSpec(_ShownByName):
    """A Cognito identity pool: unauthenticated visitors (public), or only the staff user
    pool's signed-in members (private: `user_pool` set)."""

    kind: ClassVar[str] = "identity-pool"
    id: str
    name: str
    dashboard: bool = True
    # Private: the staff user pool whose logins it accepts (the pool's and client's ids are
    # read or Refs in the plan context: `user_pool_id`, `user_pool_client_id`).
    user_pool: str | None = None


@dataclass(frozen=True)
class IdentityPoolRolesSpec:
    kind: ClassVar[str] = "identity-pool-roles"
    id: str
    pool: str
    role_name: str
    roles: dict[str, str]
    dashboard: bool = True

    @property
    def display(self) -> str:
        return f"{self.pool} {next(iter(self.roles), 'unauthenticated')} role"


@dataclass(frozen=True)
class DashboardFilesSpec:
    """The page's files and its config.json (which names values known only at plan time)."""

    kind: ClassVar[str] = "dashboard-files"
    id: str
    bucket: str
    dashboard_role_arn: str
    dashboard: bool = True

    @property
    def display(self) -> str:
        return f"{self.bucket}/*"


@dataclass(frozen=True)
class AlarmSpec(_ShownByName):
    """A CloudWatch metric alarm on one metric of the stack; its alarm and OK actions notify
    the operators' topic. `reason` says why the threshold is what it is (docs/stack.md)."""

    kind: ClassVar[str] = "alarm"
    id: str
    name: str
    namespace: str
    metric: str
    # (name, value) pairs, e.g. (("FunctionName", "inventory-check-stock"),).
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing_data: str
    description: str
    # Where ALARM and OK are announced (the operators' topic).
    actions: tuple[str, ...]
    dashboard: bool = False

    def parameters(self) -> dict[str, Any]:
        """PutMetricAlarm's parameters (without tags); also what a drift check compares."""
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "ActionsEnabled": True,
            "OKActions": list(self.actions),
            "AlarmActions": list(self.actions),
            "InsufficientDataActions": [],
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period_s,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": float(self.threshold),
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }


@dataclass(frozen=True)
class ScheduleRuleSpec(_ShownByName):
    """An EventBridge rule that invokes one function on a schedule (its permission to invoke
    is an `InvokePermissionSpec` of its own)."""

    kind: ClassVar[str] = "schedule-rule"
    id: str
    name: str
    # "rate(1 minute)" or "cron(...)" (EventBridge User Guide, "Schedule expressions for rules").
    schedule: str
    description: str
    target_id: str
    target_arn: str
    dashboard: bool = False
# ---- the private dashboard: staff user pool, principal tags, CloudFront ---------------------

@dataclass(frozen=True)
class UserPoolSpec(_ShownByName):
    """The staff's Cognito user pool: only administrators create users (`inventory staff
    add`), Cognito e-mails the invitation; a custom attribute per store slot."""

    kind: ClassVar[str] = "user-pool"
    id: str
    name: str
    # CreateUserPool parameters besides PoolName and UserPoolTags.
    settings: dict[str, Any]
    dashboard: bool = True


@dataclass(frozen=True)
class UserPoolClientSpec:
    """The page's app client: no secret (a browser keeps none), SRP and refresh only."""

    kind: ClassVar[str] = "user-pool-client"
    id: str
    pool: str
    name: str
    # CreateUserPoolClient parameters besides UserPoolId and ClientName.
    settings: dict[str, Any]
    dashboard: bool = True

    @property
    def display(self) -> str:
        return f"{self.pool} app client {self.name}"


@dataclass(frozen=True)
class PrincipalTagsSpec:
    """Which claims of the staff's id tokens become session tags of their credentials."""

    kind: ClassVar[str] = "principal-tags"
    id: str
    pool: str
    # Principal tag -> token claim.
    tags: dict[str, str]
    dashboard: bool = True

    @property
    def display(self) -> str:
        return f"{self.pool} principal tags"


@dataclass(frozen=True)
class OriginAccessControlSpec(_ShownByName):
    """CloudFront's signed access to the private dashboard bucket (AWS only)."""

    kind: ClassVar[str] = "origin-access-control"
    id: str
    name: str
    dashboard: bool = True
    emulator: bool = False


@dataclass(frozen=True)
class DistributionSpec:
    """The CloudFront distribution serving the dashboard bucket over HTTPS (AWS only).
    Publishes `distribution_id` and `dashboard_origin`."""

    kind: ClassVar[str] = "distribution"
    id: str
    bucket: str
    # Stable: CallerReference and Comment (CloudFront has no names and tags only by ARN).
    comment: str
    origin_domain: str
    dashboard: bool = True
    emulator: bool = False

    @property
    def display(self) -> str:
        return f"CloudFront distribution of {self.bucket}"


Spec = (RoleSpec | BucketSpec | InventoryTableSpec | TableSpec | TopicSpec | LogGroupSpec
        | FunctionSpec | EventInvokeConfigSpec | RecursionConfigSpec | InvokePermissionSpec
        | NotificationSpec | MappingSpec | FunctionUrlSpec | BucketCorsSpec | IdentityPoolSpec
        | IdentityPoolRolesSpec | DashboardFilesSpec | AlarmSpec | ScheduleRuleSpec
        | UserPoolSpec | UserPoolClientSpec
        | PrincipalTagsSpec | OriginAccessControlSpec | DistributionSpec)
