"""SNS: the alert topic (its subscriptions are the operators', not the plan's)."""

from __future__ import annotations

from inventory_cli.config import StackNames
from inventory_cli.stack.instructions import APICall
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    ours_to_delete,
    owned_or_fail,
    tag_list,
)
from inventory_cli.stack.model import TopicSpec
from inventory_cli.stack.remote import RemoteState


def plan_topic(spec: TopicSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names = ctx.names
    if remote.topic(spec.arn) is None:
        return [APICall(spec.id, "sns", "create_topic",
                        {"Name": spec.name, "Tags": tag_list(names.tags)},
                        f"create topic {spec.name}", creates=True)]
    if owned_or_fail(names, "topic", spec.name, remote.topic_tags(spec.arn)):
        return []
    return [APICall(spec.id, "sns", "tag_resource",
                    {"ResourceArn": spec.arn, "Tags": tag_list(names.tags)},
                    f"tag topic {spec.name}")]


def delete_topic(spec: TopicSpec, remote: RemoteState, names: StackNames) -> Deleted:
    if remote.topic(spec.arn) is None:
        return []
    skip = ours_to_delete(names, "topic", spec.name, remote.topic_tags(spec.arn))
    if skip:
        return [skip]
    # Pending subscriptions have no ARN yet ("PendingConfirmation"); deleting the topic
    # removes them.
    steps: Deleted = [
        APICall(spec.id, "sns", "unsubscribe", {"SubscriptionArn": sub["SubscriptionArn"]},
                f"unsubscribe {sub.get('Protocol')} {sub.get('Endpoint')}")
        for sub in remote.topic_subscriptions(spec.arn)
        if sub["SubscriptionArn"].startswith("arn:")
    ]
    steps.append(APICall(spec.id, "sns", "delete_topic", {"TopicArn": spec.arn},
                         f"delete topic {spec.name}"))
    return steps


KINDS = {TopicSpec.kind: Kind(plan_topic, delete_topic)}
