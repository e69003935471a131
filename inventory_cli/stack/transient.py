"""Which AWS errors are transient, for which call: the one table the executor consults.

Real AWS is eventually consistent in places an emulator never shows. Each entry names a call of
a plan (service, boto3 method), the error codes (and, where the code alone is too broad, message
fragments) that only mean "not yet", why, and how long that may last. The executor retries a
call only while its answer matches its rule, with capped exponential backoff, and gives up once
the rule's total wait is spent. Anything not in this table fails the step at once.

Sources (AWS documentation; none of this can be observed on moto):
- IAM roles: a new or changed role is not assumable by Lambda for several seconds; chalice
  retries "role cannot be assumed" for about 150 s, and so do we.
- DynamoDB `UpdateContinuousBackups`: `ContinuousBackupsUnavailableException` ("Backups are
  being enabled for the table ... Please retry later") for a while after a table becomes ACTIVE.
  Retried rather than polling `DescribeContinuousBackups`: the error is the authoritative
  answer (a describe saying ENABLED does not promise the update is accepted), and one
  mechanism (this table) keeps the plan free of special read loops.
- S3 `PutBucketNotificationConfiguration`: `InvalidArgument` "Unable to validate the following
  destination configurations" until the function's new resource policy (AddPermission) has
  propagated.
- S3 `PutBucketPolicy`: `AccessDenied` for a short while after the same bucket's public access
  block was relaxed. Only then: an AccessDenied on a bucket whose block this run did not touch
  is a real refusal (missing permissions, or the account's own Block Public Access).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Messages of Lambda's InvalidParameterValueException that mean "the role has not propagated".
ROLE_NOT_READY_MESSAGES = (
    "cannot be assumed by Lambda",
    "Please ensure the role can perform",
    "execution role does not have permissions",
)


def backoff_delays(total: float = 150.0, first: float = 1.0,
                   cap: float = 15.0) -> tuple[float, ...]:
    """Delays doubling from `first` up to `cap`, adding up to at most `total` seconds."""
    delays: list[float] = []
    delay = first
    while sum(delays) + delay <= total:
        delays.append(delay)
        delay = min(delay * 2, cap)
    return tuple(delays)


@dataclass(frozen=True)
class AfterCall:
    """A rule that holds only after this run applied `service.method` with the same value of
    the parameter `same` (for example the same Bucket)."""

    service: str
    method: str
    same: str


@dataclass(frozen=True)
class TransientRule:
    codes: frozenset[str]
    # What is being waited for, shown in the progress ("waiting 4 s: <why>").
    why: str
    # Message fragments, any of which must occur; empty: every message of these codes.
    messages: tuple[str, ...] = ()
    max_wait_s: float = 150.0
    first_delay_s: float = 1.0
    max_delay_s: float = 15.0
    only_after: AfterCall | None = None
    # What else it may be when it does not pass (the hint of the final error).
    if_it_persists: str = "if it fails again, the cause is not transient"

    @property
    def delays(self) -> tuple[float, ...]:
        return backoff_delays(self.max_wait_s, self.first_delay_s, self.max_delay_s)

    def matches(self, code: str, message: str) -> bool:
        return code in self.codes and (
            not self.messages or any(text in message for text in self.messages))


_ROLE_PROPAGATION = TransientRule(
    codes=frozenset({"InvalidParameterValueException"}),
    messages=ROLE_NOT_READY_MESSAGES,
    why="the function's IAM role is not assumable by Lambda yet (IAM propagation)",
)

TRANSIENT: Mapping[tuple[str, str], TransientRule] = {
    ("lambda", "create_function"): _ROLE_PROPAGATION,
    ("lambda", "update_function_configuration"): _ROLE_PROPAGATION,
    ("lambda", "create_event_source_mapping"): _ROLE_PROPAGATION,
    ("lambda", "update_event_source_mapping"): _ROLE_PROPAGATION,
    # Lambda checks that the role may write to an on-failure destination.
    ("lambda", "put_function_event_invoke_config"): TransientRule(
        codes=frozenset({"InvalidParameterValueException"}),
        messages=("execution role does not have permissions",),
        why="the loader's role may not write to the failures bucket yet (IAM propagation)",
    ),
    ("dynamodb", "update_continuous_backups"): TransientRule(
        codes=frozenset({"ContinuousBackupsUnavailableException"}),
        why="DynamoDB is still enabling backups of the new table",
        max_wait_s=300.0, first_delay_s=2.0, max_delay_s=20.0,
    ),
    ("s3", "put_bucket_notification_configuration"): TransientRule(
        codes=frozenset({"InvalidArgument"}),
        messages=("Unable to validate the following destination configurations",),
        why="S3 cannot see the function's new permission yet (Lambda policy propagation)",
        max_wait_s=120.0,
    ),
    ("s3", "put_bucket_policy"): TransientRule(
        codes=frozenset({"AccessDenied"}),
        why="S3 is still applying the bucket's new public access block",
        max_wait_s=60.0,
        only_after=AfterCall("s3", "put_public_access_block", same="Bucket"),
        if_it_persists="if it fails again, the account's S3 Block Public Access may forbid "
                       "public bucket policies: allow them for the account, or run "
                       "`inventory provision --no-dashboard`",
    ),
}


def rule_for(service: str, method: str) -> TransientRule | None:
    return TRANSIENT.get((service, method))
