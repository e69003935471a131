"""Who gets the low-stock alerts, and who gets the operators' messages: SNS subscriptions of
the stack's two topics. The alerts topic (`{stack}-alerts`) is the staff's; the operators' topic
(`{stack}-ops`, `--ops`) carries the stack's health: kept failures, files never loaded, alarms.
Both take e-mail and SMS the same way (the SMS sandbox rules included, `ops/sms_sandbox.py`).

The checker publishes every alert with a `store` message attribute, so a subscription with the
filter policy `{"store": ["Berlin"]}` gets Berlin's alerts only.

What real SNS does and an emulator does not show:
- an e-mail subscription is "pending confirmation" until the recipient clicks the link AWS sends;
  while pending, `ListSubscriptionsByTopic` shows the ARN as the literal `PendingConfirmation`;
- a pending subscription cannot be deleted; SNS deletes unconfirmed subscriptions itself after
  48 hours (Amazon SNS Developer Guide, "Deleting an Amazon SNS subscription and topic");
- SMS subscriptions need no confirmation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.errors import InventoryError, UsageError
from inventory_cli.ops.stack_info import missing_resource

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames

PROTOCOLS = ("email", "sms")
PENDING_ARN = "PendingConfirmation"
PENDING_EXPIRY = "48 hours"
# Deliberately simple: SNS itself validates the address; this only tells e-mail from phone.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

Status = Literal["confirmed", "pending"]
Topic = Literal["alerts", "ops"]


@dataclass(frozen=True)
class Channel:
    """One of the stack's two topics, as the commands name it."""

    topic: Topic
    arn: str
    name: str
    # How an error names it: "alert topic" / "operators' topic".
    what: str


def channel(names: StackNames, *, ops: bool = False) -> Channel:
    if ops:
        return Channel("ops", names.ops_topic_arn, names.ops_topic, "operators' topic")
    return Channel("alerts", names.topic_arn, names.topic, "alert topic")


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    protocol: str
    status: Status
    # None: every store (no filter policy); unknown while pending, since there is no ARN to ask.
    stores: tuple[str, ...] | None
    arn: str | None
    # SMS only, and only while the account is in the SMS sandbox: "verified", "pending" (a code
    # was texted) or "unverified"; texts reach only "verified" numbers (see ops/sms_sandbox.py).
    sms_sandbox: str | None = None
    # Which topic: "alerts" (the staff's stock alerts) or "ops" (the operators').
    topic: Topic = "alerts"


@dataclass(frozen=True)
class SubscribeResult:
    subscription: Subscription
    change: Literal["created", "updated", "unchanged"]


def infer_protocol(endpoint: str, protocol: str | None = None) -> str:
    """`email` or `sms` for this endpoint, or UsageError saying why it cannot be subscribed."""
    looks_like = "email" if _EMAIL.match(endpoint) else "sms" if _E164.match(endpoint) else None
    if protocol is not None:
        protocol = protocol.lower()
        if protocol not in PROTOCOLS:
            raise UsageError(f"unsupported protocol {protocol!r}: use email or sms")
        if looks_like != protocol:
            expected = ("an e-mail address like name@example.com" if protocol == "email"
                        else "a phone number in E.164 form like +4915112345678")
            raise UsageError(f"{endpoint!r} is not {expected}")
        return protocol
    if looks_like is None:
        if re.fullmatch(r"[\d\s()./-]+", endpoint) or endpoint.startswith("+"):
            raise UsageError(f"{endpoint!r} is not a phone number in E.164 form: write it with "
                             "+, country code and number, without spaces (+4915112345678)")
        raise UsageError(f"{endpoint!r} is neither an e-mail address nor an E.164 phone number "
                         "(+4915112345678)")
    return looks_like


def filter_policy(stores: tuple[str, ...] | None) -> str:
    """The FilterPolicy for these stores; "" (no policy: every store) for None."""
    if not stores:
        return ""
    return json.dumps({"store": sorted(set(stores))}, separators=(",", ":"))


def list_subscriptions(aws: Aws, names: StackNames, *, ops: bool = False) -> list[Subscription]:
    """Every subscription of the stack's alerts topic (or, with `ops`, of the operators'
    topic), sorted by endpoint."""
    sns = aws.client("sns")
    topic = channel(names, ops=ops)
    found: list[Subscription] = []
    try:
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
                TopicArn=topic.arn):
            for entry in page.get("Subscriptions", []):
                found.append(_describe(sns, entry, topic.topic))
    except ClientError as exc:
        if error_code(exc) == "NotFound":
            raise missing_resource(topic.what, topic.arn) from None
        raise
    return sorted(found, key=lambda s: (s.endpoint.casefold(), s.protocol))


def _describe(sns: Any, entry: dict[str, Any], topic: Topic) -> Subscription:
    arn = entry.get("SubscriptionArn", "")
    if arn == PENDING_ARN or not arn.startswith("arn:"):
        return Subscription(entry["Endpoint"], entry["Protocol"], "pending", None, None,
                            topic=topic)
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    status: Status = "pending" if attributes.get("PendingConfirmation") == "true" else "confirmed"
    return Subscription(entry["Endpoint"], entry["Protocol"], status,
                        _stores_of(attributes.get("FilterPolicy")), arn, topic=topic)


def _stores_of(policy: str | None) -> tuple[str, ...] | None:
    if not policy:
        return None
    try:
        stores = json.loads(policy).get("store")
    except (ValueError, AttributeError):
        return None
    if isinstance(stores, list) and all(isinstance(s, str) for s in stores):
        return tuple(sorted(stores))
    return None  # a hand-written policy this tool does not model: shown as every store


def _same_endpoint(sub: Subscription, endpoint: str, protocol: str | None) -> bool:
    if protocol is not None and sub.protocol != protocol:
        return False
    if sub.protocol == "email":
        return sub.endpoint.casefold() == endpoint.casefold()
    return sub.endpoint == endpoint


def subscribe(aws: Aws, names: StackNames, endpoint: str, protocol: str,
              stores: tuple[str, ...] | None, *, ops: bool = False) -> SubscribeResult:
    """Subscribe once: an existing subscription of this endpoint is reused, its filter updated.
    With `ops`, to the operators' topic, which carries no store (no filter)."""
    if ops and stores:
        raise UsageError("--store chooses stock alerts; the operators' topic (--ops) carries "
                         "the stack's health, not a store's")
    sns = aws.client("sns")
    topic = channel(names, ops=ops)
    wanted = filter_policy(stores)
    existing = next((s for s in list_subscriptions(aws, names, ops=ops)
                     if _same_endpoint(s, endpoint, protocol)), None)
    if existing is not None and existing.arn is not None:
        if filter_policy(existing.stores) == wanted:
            return SubscribeResult(existing, "unchanged")
        _set_filter(sns, existing.arn, wanted)
        return SubscribeResult(_with_stores(existing, stores), "updated")
    # A pending one is subscribed again without attributes (SNS refuses different attributes
    # for an existing subscription) and its filter is set afterwards.
    attributes = {"FilterPolicy": wanted} if wanted and existing is None else {}
    # ReturnSubscriptionArn: without it a pending subscription's ARN is never revealed.
    try:
        arn = sns.subscribe(TopicArn=topic.arn, Protocol=protocol, Endpoint=endpoint,
                            Attributes=attributes, ReturnSubscriptionArn=True)["SubscriptionArn"]
    except ClientError as exc:
        if error_code(exc) == "NotFound":
            raise missing_resource(topic.what, topic.arn) from None
        if error_code(exc) == "InvalidParameter":
            raise InventoryError(f"SNS refused {endpoint!r}: "
                                 f"{exc.response['Error'].get('Message')}") from None
        raise
    if existing is not None:  # a pending one: subscribing again returned its ARN
        try:
            _set_filter(sns, arn, wanted)
        except ClientError as exc:
            raise InventoryError(
                f"{endpoint} is still pending confirmation and SNS did not accept a new store "
                f"filter for it: {exc.response['Error'].get('Message')}",
                hint="run this command again once the recipient has confirmed") from None
        return SubscribeResult(Subscription(endpoint, protocol, "pending", stores, arn,
                                            topic=topic.topic), "updated")
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    status: Status = "pending" if attrs.get("PendingConfirmation") == "true" else "confirmed"
    return SubscribeResult(Subscription(endpoint, protocol, status, _sorted(stores), arn,
                                        topic=topic.topic), "created")


def _set_filter(sns: Any, arn: str, policy: str) -> None:
    # An empty FilterPolicy removes the policy: every store's alerts are delivered again.
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy",
                                    AttributeValue=policy)


def _sorted(stores: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return tuple(sorted(set(stores))) if stores else None


def _with_stores(sub: Subscription, stores: tuple[str, ...] | None) -> Subscription:
    return Subscription(sub.endpoint, sub.protocol, sub.status, _sorted(stores), sub.arn,
                        topic=sub.topic)


def _other_topic_hint(aws: Aws, names: StackNames, endpoint: str, ops: bool) -> str | None:
    """Where the endpoint is subscribed instead, if it is subscribed to the other topic."""
    try:
        other = list_subscriptions(aws, names, ops=not ops)
    except InventoryError:  # the other topic is missing: nothing to point to
        return None
    if not any(_same_endpoint(s, endpoint, None) for s in other):
        return None
    return ("it is subscribed to the operators' topic: add --ops" if not ops
            else "it is subscribed to the stock alerts: leave out --ops")


class PendingSubscription(InventoryError):
    """AWS does not delete a subscription that is still pending confirmation."""


def unsubscribe(aws: Aws, names: StackNames, endpoint: str, *,
                ops: bool = False) -> list[Subscription]:
    """Delete every subscription of `endpoint` to the alerts topic (with `ops`: to the
    operators' topic); return what was deleted."""
    topic = channel(names, ops=ops)
    subscriptions = list_subscriptions(aws, names, ops=ops)
    matching = [s for s in subscriptions if _same_endpoint(s, endpoint, None)]
    if not matching:
        known = ", ".join(s.endpoint for s in subscriptions) or "none"
        raise InventoryError(f"{endpoint} is not subscribed to {topic.name}; "
                             f"subscribed: {known}", hint=_other_topic_hint(aws, names,
                                                                            endpoint, ops))
    deletable = [s for s in matching if s.arn is not None and s.status == "confirmed"]
    for sub in deletable:
        aws.client("sns").unsubscribe(SubscriptionArn=sub.arn)
    if len(deletable) < len(matching):
        raise PendingSubscription(
            f"{endpoint} has not confirmed its subscription yet, and AWS does not allow deleting "
            f"a pending subscription",
            hint=f"SNS deletes it by itself if it is not confirmed within {PENDING_EXPIRY}; if "
                 "the recipient confirms before that, run `inventory unsubscribe` again")
    return deletable
