"""`provision --warm-writes N`: the inventory table pre-warmed for N writes a second, remembered
on the table, drift-checked and shown in status; never a default, never lowered."""

from __future__ import annotations

import boto3
import pytest
from stack_fixtures import CallRecorder, fresh_aws, provisioned
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app
from inventory_cli.errors import UsageError
from inventory_cli.local import moto_seam
from inventory_cli.stack import resources as r
from inventory_cli.stack.provision import provision
from inventory_cli.stack.status import stack_status


def _warm(session: boto3.session.Session, aws: Aws) -> dict[str, object]:
    table = session.client("dynamodb").describe_table(TableName=aws.names.table)["Table"]
    return dict(table["WarmThroughput"])


def _tags(session: boto3.session.Session, aws: Aws) -> dict[str, str]:
    ddb = session.client("dynamodb")
    arn = ddb.describe_table(TableName=aws.names.table)["Table"]["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def test_not_a_default_a_new_table_keeps_what_on_demand_gives(session: boto3.session.Session,
                                                              aws: Aws) -> None:
    provisioned(aws)
    assert _warm(session, aws)["WriteUnitsPerSecond"] == r.ON_DEMAND_WARM_WRITES
    assert r.WARM_WRITES_TAG not in _tags(session, aws)
    [table] = [s for s in stack_status(aws).resources if s.resource == "table"]
    assert (table.state, table.detail) == (
        "ok", "warm throughput 4,000 writes/s, 12,000 reads/s")


def test_a_new_table_is_created_warm_and_remembers_it(session: boto3.session.Session,
                                                      aws: Aws) -> None:
    moto_seam.install()
    result = provision(aws, threshold=0, sleep=lambda _: None, warm_writes=40_000)
    [create] = [s for s in result.plan.changes if getattr(s, "method", "") == "create_table"
                and s.resource == "table"]
    assert create.params["WarmThroughput"] == {"WriteUnitsPerSecond": 40_000}
    assert _warm(session, aws)["WriteUnitsPerSecond"] == 40_000
    assert _tags(session, aws)[r.WARM_WRITES_TAG] == "40000"
    # Later runs without the option keep it and change nothing.
    recorder = CallRecorder(session)
    assert provision(fresh_aws(session, aws.stack), sleep=lambda _: None).plan.is_empty
    assert recorder.mutating == []


def test_an_existing_table_is_raised_drift_is_shown_and_repaired(
        session: boto3.session.Session, aws: Aws) -> None:
    provisioned(aws)
    raised = provision(fresh_aws(session, aws.stack), sleep=lambda _: None,
                       warm_writes=20_000)
    assert [(s.resource, getattr(s, "method", "")) for s in raised.plan.changes] == [
        ("table", "update_table"), ("table", "tag_resource")]
    assert _warm(session, aws)["WriteUnitsPerSecond"] == 20_000
    status = {s.resource: s for s in stack_status(fresh_aws(session, aws.stack)).resources}
    assert status["table"].detail == "warm throughput 20,000 writes/s, 12,000 reads/s"

    # Below what was asked (a table restored from a backup, say; AWS itself never lowers it).
    session.client("dynamodb").update_table(TableName=aws.names.table, WarmThroughput={
        "WriteUnitsPerSecond": 4_000, "ReadUnitsPerSecond": 12_000})
    status = {s.resource: s for s in stack_status(fresh_aws(session, aws.stack)).resources}
    assert status["table"].state == "drifted"
    assert "from 4,000 to 20,000 writes/s" in status["table"].detail
    again = provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    assert [(s.resource, getattr(s, "method", "")) for s in again.plan.changes] == [
        ("table", "update_table")]
    assert _warm(session, aws)["WriteUnitsPerSecond"] == 20_000

    # Asking for less than the table has: remembered, nothing lowered.
    less = provision(fresh_aws(session, aws.stack), sleep=lambda _: None, warm_writes=10_000)
    assert [getattr(s, "method", "") for s in less.plan.changes] == ["tag_resource"]
    assert _warm(session, aws)["WriteUnitsPerSecond"] == 20_000


def test_no_more_than_a_new_table_has_is_refused(aws: Aws) -> None:
    with pytest.raises(UsageError, match="already takes 4,000 writes/s"):
        provision(aws, sleep=lambda _: None, warm_writes=4_000)


def test_the_command_line_option(session: boto3.session.Session, aws: Aws) -> None:
    moto_seam.install()
    result = CliRunner().invoke(app, ["provision", "--warm-writes", "40000"], obj=aws)
    assert result.exit_code == 0, result.output
    assert _warm(session, aws)["WriteUnitsPerSecond"] == 40_000
    refused = CliRunner().invoke(app, ["provision", "--warm-writes", "0"], obj=aws)
    assert refused.exit_code == 2
