"""The announcer's schedule (an EventBridge rule, a kind of its own) and its triggers: created,
drift repaired, another stack's rule left alone, torn down with its targets."""

from __future__ import annotations

import boto3
import pytest
from stack_fixtures import CallRecorder, fresh_aws, leftovers, provisioned

from inventory_cli.aws import Aws
from inventory_cli.config import STACK_TAG
from inventory_cli.stack.errors import ResourceConflict
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import teardown


def test_the_rule_and_both_triggers_are_made_and_drift_is_repaired(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    names = aws.names
    events = session.client("events")
    rule = events.describe_rule(Name=names.announce_rule)
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 minute)", "ENABLED")
    assert events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"] == [
        {"Key": STACK_TAG, "Value": names.stack}]
    [target] = events.list_targets_by_rule(Rule=names.announce_rule)["Targets"]
    assert target == {"Id": "announce-failures", "Arn": (
        f"arn:aws:lambda:{names.region}:{names.account_id}:function:{names.announce_function}")}
    notification = session.client("s3").get_bucket_notification_configuration(
        Bucket=names.failures_bucket)["LambdaFunctionConfigurations"]
    assert [(c["LambdaFunctionArn"].rsplit(":", 1)[-1], c["Events"]) for c in notification] == [
        (names.announce_function, ["s3:ObjectCreated:*"])]
    recorder = CallRecorder(session)
    assert provision(fresh_aws(session, aws.stack), sleep=lambda _: None).plan.is_empty
    assert recorder.mutating == []

    # Someone disables the rule, adds a target of their own and removes ours.
    events.disable_rule(Name=names.announce_rule)
    events.put_targets(Rule=names.announce_rule, Targets=[{"Id": "stray", "Arn": target["Arn"]}])
    events.remove_targets(Rule=names.announce_rule, Ids=["announce-failures"])
    rows = {r.resource: r for r in stack_status(fresh_aws(session, aws.stack)).resources}
    assert rows["announce-schedule"].state == "drifted"
    again = provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    assert [(s.resource, getattr(s, "method", "")) for s in again.plan.changes] == [
        ("announce-schedule", "put_rule"), ("announce-schedule", "remove_targets"),
        ("announce-schedule", "put_targets")]
    assert events.describe_rule(Name=names.announce_rule)["State"] == "ENABLED"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=names.announce_rule)[
        "Targets"]] == ["announce-failures"]

    teardown(aws)
    assert leftovers(session, names) == []


def test_a_rule_of_another_stack_under_the_name_stops_the_plan(
        session: boto3.session.Session, aws: Aws) -> None:
    session.client("events").put_rule(Name=aws.names.announce_rule,
                                      ScheduleExpression="rate(5 minutes)",
                                      Tags=[{"Key": STACK_TAG, "Value": "someone-else"}])
    with pytest.raises(ResourceConflict, match=f"rule {aws.names.announce_rule} is tagged "
                                               f"{STACK_TAG}=someone-else"):
        provision(aws, sleep=lambda _: None)
