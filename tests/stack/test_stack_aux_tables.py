"""The generic support for auxiliary tables (alert log, summaries, store keys): planned, created
with their TTL, checked, repaired, and deleted by teardown."""

from __future__ import annotations

import boto3
import pytest
from stack_fixtures import CallRecorder, fresh_aws, leftovers, provisioned

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.stack import resources as r
from inventory_cli.stack.provision import provision
from inventory_cli.stack.teardown import teardown


@pytest.fixture()
def extra_table(monkeypatch: pytest.MonkeyPatch) -> None:
    def aux_tables(names: StackNames) -> tuple[r.TableSpec, ...]:
        return (r.TableSpec("extra-table", f"{names.stack}-extra",
                            (("Pk", "S"), ("Sk", "N")), ttl_attribute="ExpiresAt"),)

    monkeypatch.setattr(r, "aux_tables", aux_tables)


@pytest.mark.usefixtures("extra_table")
def test_aux_table_is_created_converges_and_is_torn_down(session: boto3.session.Session,
                                                         aws: Aws) -> None:
    provisioned(aws)
    ddb = session.client("dynamodb")
    name = f"{aws.stack}-extra"
    table = ddb.describe_table(TableName=name)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("Pk", "HASH"), ("Sk", "RANGE")]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ExpiresAt")

    recorder = CallRecorder(session)
    assert provision(fresh_aws(session, aws.stack), sleep=lambda _: None).plan.is_empty
    assert recorder.mutating == []

    # Drift: TTL turned off from outside is turned on again, and only that.
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": False, "AttributeName": "ExpiresAt"})
    again = provision(fresh_aws(session, aws.stack), sleep=lambda _: None)
    assert [(s.resource, getattr(s, "method", "")) for s in again.plan.changes] == [
        ("extra-table", "update_time_to_live")]

    teardown(aws)
    assert leftovers(session, aws.names) == []
