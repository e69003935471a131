"""The stack's CloudWatch alarms: planned like every resource, drift-checked (another client
changes a threshold), repaired by provision, shown with their state by `status`, torn down."""

from __future__ import annotations

import json

import boto3
from stack_fixtures import leftovers, provisioned
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app
from inventory_cli.provisioning import provision
from inventory_cli.stack import resources as r
from inventory_cli.stack.model import AlarmSpec
from inventory_cli.stack.status import stack_status
from inventory_cli.stack.teardown import teardown


def _alarm_specs(aws: Aws) -> list[AlarmSpec]:
    return list(r.alarms(aws.names))


def test_every_function_and_consumer_has_its_alarms_on_the_ops_topic(aws: Aws) -> None:
    specs = _alarm_specs(aws)
    n = aws.names
    by_metric: dict[str, set[str]] = {}
    for spec in specs:
        by_metric.setdefault(spec.metric, set()).update(v for _, v in spec.dimensions)
        assert spec.actions == (r.ops_topic(n).arn,)
    functions = {n.load_function, n.check_function, n.summarize_function,
                 n.store_upload_function, n.announce_function}
    assert by_metric == {"Errors": functions, "Throttles": functions,
                         "IteratorAge": {m.function for m in r.stream_mappings(n)},
                         "WriteThrottleEvents": {n.table}}
    assert r.ops_topic(n).name == f"{n.stack}-ops"


def test_provision_creates_the_alarms_as_specified(session: boto3.session.Session,
                                                   aws: Aws) -> None:
    provisioned(aws)
    cloudwatch = session.client("cloudwatch")
    for spec in _alarm_specs(aws):
        alarm = cloudwatch.describe_alarms(AlarmNames=[spec.name])["MetricAlarms"][0]
        wanted = spec.parameters()
        assert {k: alarm[k] for k in wanted} == wanted
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        assert {"Key": "inventory:stack", "Value": aws.stack} in tags


def test_a_threshold_changed_by_another_client_is_drift_and_provision_repairs_it(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    check_errors = next(s for s in _alarm_specs(aws) if s.id == "check-errors-alarm")
    changed = {**check_errors.parameters(), "Threshold": 50.0, "TreatMissingData": "breaching"}
    session.client("cloudwatch").put_metric_alarm(**changed)

    status = stack_status(aws)
    row = next(s for s in status.resources if s.resource == "check-errors-alarm")
    assert row.state == "drifted"
    assert "Threshold" in row.detail and "TreatMissingData" in row.detail
    assert not status.complete

    repaired = provision(aws, sleep=lambda _: None)
    assert repaired.changed_resources == ["check-errors-alarm"]
    assert stack_status(aws).complete
    alarm = session.client("cloudwatch").describe_alarms(
        AlarmNames=[check_errors.name])["MetricAlarms"][0]
    assert (alarm["Threshold"], alarm["TreatMissingData"]) == (1.0, "notBreaching")


def test_status_shows_each_alarms_state_as_rows_in_text_and_json(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    specs = _alarm_specs(aws)
    firing = specs[0]
    session.client("cloudwatch").set_alarm_state(
        AlarmName=firing.name, StateValue="ALARM", StateReason="Threshold Crossed: test")

    result = CliRunner().invoke(app, ["status", "--output", "json"], obj=aws)
    rows = {row["resource"]: row for row in json.loads(result.stdout)}
    assert {rows[s.id]["alarm_state"] for s in specs if s is not firing} <= {
        "OK", "INSUFFICIENT_DATA"}
    assert (rows[firing.id]["alarm_state"], rows[firing.id]["alarm_reason"]) == (
        "ALARM", "Threshold Crossed: test")
    assert "alarm_state" not in rows["check-function"]

    text = CliRunner().invoke(app, ["status"], obj=aws, env={"COLUMNS": "250"}).stdout
    section = text[text.index("Alarms (to the operators' topic)"):]
    lines = [line for line in section.splitlines() if firing.name in line]
    assert len(lines) == 1 and "ALARM" in lines[0] and "Threshold Crossed: test" in lines[0]
    assert all(any(s.name in line for line in section.splitlines()) for s in specs)


def test_teardown_deletes_the_alarms_and_keeps_another_stacks(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    cloudwatch = session.client("cloudwatch")
    # An alarm under one of our names but tagged by another stack is not ours to delete.
    foreign = next(s for s in _alarm_specs(aws) if s.id == "load-throttles-alarm")
    cloudwatch.tag_resource(
        ResourceARN=cloudwatch.describe_alarms(AlarmNames=[foreign.name])["MetricAlarms"][0][
            "AlarmArn"], Tags=[{"Key": "inventory:stack", "Value": "other"}])
    result = teardown(aws)
    assert any(foreign.name in reason for reason in result.skipped)
    assert [line for line in leftovers(session, aws.names) if line.startswith("alarm ")] == [
        f"alarm {foreign.name}"]


def test_a_topic_policy_statement_for_cloudwatch_covers_exactly_the_stacks_alarms(
        aws: Aws) -> None:
    from fnmatch import fnmatchcase

    n = aws.names
    statement = r.cloudwatch_publish_statement(n)
    assert (statement["Resource"], statement["Action"]) == (r.ops_topic(n).arn, "sns:Publish")
    pattern = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    arn = f"arn:aws:cloudwatch:{n.region}:{n.account_id}:alarm:"
    assert all(fnmatchcase(arn + spec.name, pattern) for spec in _alarm_specs(aws))
    assert not fnmatchcase(f"{arn}otherstack-check-stock-errors", pattern)
