"""An interrupted provision is completed by the next run; hand-made drift is repaired."""

from __future__ import annotations

import json

import boto3
import pytest
from stack_fixtures import leftovers, provisioned

from inventory_cli.aws import Aws
from inventory_cli.stack.instructions import Step
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import plan_teardown, teardown


class Interrupted(Exception):
    pass


# Every step in turn, split in two halves so that `pytest -n 2` runs them side by side.
@pytest.mark.parametrize("half", [0, 1])
def test_failure_before_each_step_then_rerun_converges(session: boto3.session.Session,
                                                       aws: Aws, half: int) -> None:
    fresh_plan = provision(aws, dry_run=True).plan
    total = len(fresh_plan.steps)
    assert total > 30

    for k in range(half, total, 2):
        def fail_at_k(index: int, step: Step, k: int = k) -> None:
            if index == k:
                raise Interrupted(step.summary)

        with pytest.raises(Interrupted):
            provision(aws, before_step=fail_at_k, sleep=lambda _: None)
        rerun = provision(aws, sleep=lambda _: None)
        # Exactly the steps from k on are still to do (a Ref-dependent step may repeat).
        assert len(rerun.plan.steps) <= total - k + 2, (k, len(rerun.plan.steps))
        status = stack_status(aws)
        assert status.complete, (k, [(s.resource, s.state, s.detail)
                                     for s in status.resources if s.state != "ok"])
        teardown(aws)
        assert plan_teardown(aws).plan.is_empty, k
    assert leftovers(session, aws.names) == []


def test_half_built_stack_is_torn_down(session: boto3.session.Session, aws: Aws) -> None:
    def stop_after_uploads_bucket_created(index: int, step: Step) -> None:
        if getattr(step, "method", "") == "put_bucket_tagging":
            raise Interrupted(step.summary)

    with pytest.raises(Interrupted):
        provision(aws, before_step=stop_after_uploads_bucket_created)
    # The bucket exists but is untagged (S3 cannot tag in CreateBucket): still ours to delete.
    assert leftovers(session, aws.names) != []
    result = teardown(aws)
    assert result.skipped == ()
    assert leftovers(session, aws.names) == []


def _states(aws: Aws) -> dict[str, tuple[str, str]]:
    return {s.resource: (s.state, s.detail) for s in stack_status(aws).resources
            if s.state != "ok"}


def test_drift_is_reported_then_repaired(session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws, dashboard_access="public")
    n = aws.names
    s3, lam, iam = session.client("s3"), session.client("lambda"), session.client("iam")
    # notification removed
    s3.put_bucket_notification_configuration(Bucket=n.uploads_bucket,
                                             NotificationConfiguration={})
    # mapping deleted
    [mapping] = lam.list_event_source_mappings(FunctionName=n.check_function)[
        "EventSourceMappings"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    # role policy widened, in place and by an extra inline and a managed policy
    policy = json.loads(json.dumps(iam.get_role_policy(
        RoleName=n.load_role, PolicyName="least-privilege")["PolicyDocument"]))
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    iam.put_role_policy(RoleName=n.load_role, PolicyName="least-privilege",
                        PolicyDocument=json.dumps(policy))
    iam.put_role_policy(RoleName=n.check_role, PolicyName="debug", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
    iam.create_policy(PolicyName="admin", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName=n.dashboard_role,
                           PolicyArn=f"arn:aws:iam::{n.account_id}:policy/admin")
    # public access opened on the uploads bucket, a dashboard file edited
    s3.delete_public_access_block(Bucket=n.uploads_bucket)
    s3.put_object(Bucket=n.dashboard_bucket, Key="index.html", Body=b"defaced",
                  ContentType="text/html; charset=utf-8", CacheControl="no-cache")

    assert _states(aws) == {
        "load-role": ("drifted", f"reset the permissions of role {n.load_role}"),
        "check-role": ("drifted", f"remove extra inline policy debug from role {n.check_role}"),
        "dashboard-role": ("drifted", f"detach admin from role {n.dashboard_role}"),
        "uploads-bucket": ("drifted",
                           f"set the public access block of bucket {n.uploads_bucket}"),
        "uploads-notification": ("missing", "not found"),
        "stream-mapping": ("missing", "not found"),
        "dashboard-files": ("drifted", f"upload index.html to {n.dashboard_bucket} "
                                       f"({len(_asset('index.html'))} bytes)"),
    }
    provision(aws)
    assert _states(aws) == {}
    assert iam.list_role_policies(RoleName=n.check_role)["PolicyNames"] == ["least-privilege"]
    assert iam.list_attached_role_policies(RoleName=n.dashboard_role)["AttachedPolicies"] == []


def test_disabled_mapping_and_hand_edited_environment_are_repaired(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws, threshold=1)
    n = aws.names
    lam = session.client("lambda")
    [mapping] = lam.list_event_source_mappings(FunctionName=n.check_function)[
        "EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False, BatchSize=7)
    lam.update_function_configuration(FunctionName=n.load_function,
                                      Environment={"Variables": {"INVENTORY_TABLE": "other"}})
    assert _states(aws) == {
        "load-function": ("drifted", f"update Environment of function {n.load_function}"),
        "stream-mapping": ("drifted",
                           f"reset BatchSize, State of the mapping to {n.check_function}"),
    }
    provision(aws)
    assert _states(aws) == {}
    [mapping] = lam.list_event_source_mappings(FunctionName=n.check_function)[
        "EventSourceMappings"]
    assert (mapping["State"], mapping["BatchSize"]) == ("Enabled", 100)


def test_a_resource_of_another_stack_is_never_adopted(session: boto3.session.Session,
                                                       aws: Aws) -> None:
    from inventory_cli.stack.errors import ResourceConflict

    session.client("sns").create_topic(Name=aws.names.topic,
                                       Tags=[{"Key": "inventory:stack", "Value": "someone"}])
    with pytest.raises(ResourceConflict, match="tagged inventory:stack=someone"):
        provision(aws, dry_run=True)
    result = teardown(aws)
    assert result.skipped == (f"topic {aws.names.topic}: tagged inventory:stack=someone",)
    assert session.client("sns").list_topics()["Topics"]


def _asset(key: str) -> bytes:
    from inventory_cli.dashboard import iter_assets

    return next(body for k, body, _ in iter_assets() if k == key)
