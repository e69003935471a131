"""The on-failure destinations: status sees them drift, provision repairs exactly them."""

from __future__ import annotations

import boto3
from stack_fixtures import CallRecorder, fresh_aws, provisioned

from inventory_cli.aws import Aws
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status


def _states(aws: Aws) -> dict[str, tuple[str, str]]:
    return {s.resource: (s.state, s.detail) for s in stack_status(aws).resources
            if s.state != "ok"}


def _changes(aws: Aws, session: boto3.session.Session) -> list[tuple[str, str]]:
    result = provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    return [(s.resource, getattr(s, "method", "")) for s in result.plan.changes]


def test_a_deleted_loader_destination_is_missing_then_recreated(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    lam = session.client("lambda")
    lam.delete_function_event_invoke_config(FunctionName=aws.names.load_function)
    assert _states(aws) == {"load-failure-destination": ("missing", "not found")}

    assert _changes(aws, session) == [
        ("load-failure-destination", "put_function_event_invoke_config")]
    config = lam.get_function_event_invoke_config(FunctionName=aws.names.load_function)
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == (
        f"arn:aws:s3:::{aws.names.failures_bucket}")
    assert stack_status(aws).complete


def test_a_changed_loader_destination_is_drifted_then_reset(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    lam = session.client("lambda")
    function = aws.names.load_function
    lam.delete_function_event_invoke_config(FunctionName=function)
    lam.put_function_event_invoke_config(
        FunctionName=function, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::somebody-elses-bucket"}})
    [(resource, (state, detail))] = _states(aws).items()
    assert (resource, state) == ("load-failure-destination", "drifted")
    assert "MaximumRetryAttempts, DestinationConfig" in detail

    assert _changes(aws, session) == [
        ("load-failure-destination", "delete_function_event_invoke_config"),
        ("load-failure-destination", "put_function_event_invoke_config")]
    config = lam.get_function_event_invoke_config(FunctionName=function)
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        aws.names.failures_bucket)

    recorder = CallRecorder(session)
    assert _changes(aws, session) == []
    assert recorder.mutating == []


def test_a_mapping_without_the_failures_bucket_is_reset(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    lam = session.client("lambda")
    [mapping] = lam.list_event_source_mappings(FunctionName=aws.names.check_function)[
        "EventSourceMappings"]
    lam.update_event_source_mapping(
        UUID=mapping["UUID"],
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}})
    [(resource, (state, detail))] = _states(aws).items()
    assert (resource, state) == ("stream-mapping", "drifted")
    assert "reset DestinationConfig of the mapping" in detail

    assert _changes(aws, session) == [("stream-mapping", "update_event_source_mapping")]
    [mapping] = lam.list_event_source_mappings(FunctionName=aws.names.check_function)[
        "EventSourceMappings"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == (
        f"arn:aws:s3:::{aws.names.failures_bucket}")
    assert stack_status(aws).complete
