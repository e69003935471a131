"""Settings and the names every resource of a stack is given.

Precedence: command-line option > environment variable > default. Resource names are derived
from the stack name (bucket names also from account and region, since bucket names are global),
so any machine can find an existing stack without a local state file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, field_validator

from inventory_cli.errors import ConfigError

DEFAULT_STACK = "inventory"
# The tag every resource of a stack carries; teardown and status never touch a resource without it.
STACK_TAG = "inventory:stack"
# Local mode has no real account; this is the account moto answers with.
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_REGION = "us-east-1"

# Bucket names allow at most 63 characters; "-dashboard-" + account (12) + "-" + region (<= 14)
# leaves 25 for the stack name. Lower case because bucket names must be.
_STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}[a-z0-9]$|^[a-z]$")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class Settings(BaseModel):
    """What the user asked for: which stack, where, through which credentials."""

    model_config = ConfigDict(frozen=True)

    stack: str = DEFAULT_STACK
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False
    debug: bool = False

    @field_validator("stack")
    @classmethod
    def _valid_stack_name(cls, value: str) -> str:
        if not _STACK_NAME.match(value):
            raise ValueError(
                f"invalid stack name {value!r}: use 1-25 lower-case letters, digits and hyphens, "
                "starting with a letter and not ending with a hyphen"
            )
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _valid_endpoint(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"invalid endpoint URL {value!r}: expected http(s)://host[:port]")
        return value.rstrip("/")

    @classmethod
    def resolve(
        cls,
        *,
        stack: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        local: bool | None = None,
        debug: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Merge command-line values (None = not given) over the environment and defaults."""
        env = os.environ if environ is None else environ
        try:
            return cls(
                stack=stack or env.get("INVENTORY_STACK") or DEFAULT_STACK,
                region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
                profile=profile or env.get("AWS_PROFILE") or None,
                endpoint_url=endpoint_url or env.get("AWS_ENDPOINT_URL") or None,
                local=local if local is not None else _truthy(env.get("INVENTORY_LOCAL")),
                debug=debug,
            )
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            errors = getattr(exc, "errors", None)
            message = errors()[0]["msg"] if callable(errors) else str(exc)
            raise ConfigError(message.removeprefix("Value error, ")) from None


class StackNames(BaseModel):
    """Deterministic names of every resource of one stack in one account and region."""

    model_config = ConfigDict(frozen=True)

    stack: str
    account_id: str
    region: str

    @property
    def uploads_bucket(self) -> str:
        return f"{self.stack}-uploads-{self.account_id}-{self.region}"

    @property
    def dashboard_bucket(self) -> str:
        return f"{self.stack}-dashboard-{self.account_id}-{self.region}"

    @property
    def table(self) -> str:
        return f"{self.stack}-inventory"

    @property
    def load_function(self) -> str:
        return f"{self.stack}-load-inventory"

    @property
    def check_function(self) -> str:
        return f"{self.stack}-check-stock"

    @property
    def load_role(self) -> str:
        return f"{self.stack}-load-inventory-role"

    @property
    def check_role(self) -> str:
        return f"{self.stack}-check-stock-role"

    @property
    def dashboard_role(self) -> str:
        return f"{self.stack}-dashboard-unauth-role"

    @property
    def topic(self) -> str:
        return f"{self.stack}-alerts"

    @property
    def identity_pool(self) -> str:
        # Identity pool names allow only [\w ]: no hyphens.
        return f"{self.stack.replace('-', '_')}_dashboard"

    @property
    def load_log_group(self) -> str:
        return f"/aws/lambda/{self.load_function}"

    @property
    def check_log_group(self) -> str:
        return f"/aws/lambda/{self.check_function}"

    # ---- failures, summaries, store uploads (docs/data-formats.md) --------------------------

    @property
    def failures_bucket(self) -> str:
        """On-failure destination of both functions: Lambda's own invocation records."""
        return f"{self.stack}-failures-{self.account_id}-{self.region}"

    @property
    def alert_table(self) -> str:
        """Idempotency records of alerts, which are also the history `inventory alerts` reads."""
        return f"{self.stack}-alert-log"

    @property
    def summary_table(self) -> str:
        return f"{self.stack}-summaries"

    @property
    def summarize_function(self) -> str:
        return f"{self.stack}-update-summaries"

    @property
    def summarize_role(self) -> str:
        return f"{self.stack}-update-summaries-role"

    @property
    def summarize_log_group(self) -> str:
        return f"/aws/lambda/{self.summarize_function}"

    @property
    def store_keys_table(self) -> str:
        return f"{self.stack}-store-keys"

    @property
    def store_upload_function(self) -> str:
        return f"{self.stack}-store-upload"

    @property
    def store_upload_role(self) -> str:
        return f"{self.stack}-store-upload-role"

    @property
    def store_upload_log_group(self) -> str:
        return f"/aws/lambda/{self.store_upload_function}"

    # ---- the operators' channel: their topic, and the function that announces failures ----

    @property
    def ops_topic(self) -> str:
        """The stack's health (kept failures, files never loaded, alarms); not the staff's."""
        return f"{self.stack}-ops"

    @property
    def ops_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account_id}:{self.ops_topic}"

    @property
    def announce_function(self) -> str:
        return f"{self.stack}-announce-failures"

    @property
    def announce_role(self) -> str:
        return f"{self.stack}-announce-failures-role"

    @property
    def announce_log_group(self) -> str:
        return f"/aws/lambda/{self.announce_function}"

    @property
    def announce_rule(self) -> str:
        """The EventBridge rule that runs the announcer on a schedule."""
        return f"{self.stack}-announce-schedule"

    @property
    def announce_rule_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account_id}:rule/{self.announce_rule}"

    @property
    def announcement_table(self) -> str:
        """What the announcer has announced (each kept failure and unloaded file once)."""
        return f"{self.stack}-announcements"

    @property
    def function_logs(self) -> dict[str, str]:
        """Each function of the stack by the name `inventory logs` takes for it."""
        return {"load": self.load_function, "check": self.check_function,
                "summaries": self.summarize_function,
                "store-upload": self.store_upload_function,
                "announce": self.announce_function}

    def table_arn_of(self, table: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{table}"

    @property
    def topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account_id}:{self.topic}"

    @property
    def table_arn(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{self.table}"

    @property
    def tags(self) -> dict[str, str]:
        return {STACK_TAG: self.stack}

    # ---- the private dashboard (docs/stack.md, "Dashboard access") --------------------------

    @property
    def staff_user_pool(self) -> str:
        return f"{self.stack}-staff"

    @property
    def staff_app_client(self) -> str:
        return f"{self.stack}-dashboard"

    @property
    def staff_role(self) -> str:
        return f"{self.stack}-dashboard-staff-role"

    @property
    def dashboard_oac(self) -> str:
        return f"{self.stack}-dashboard-oac"
