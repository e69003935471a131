"""DynamoDB: the inventory table (stream, point-in-time recovery, the no-dashboard mark) and the
auxiliary tables (on-demand, optional TTL)."""

from __future__ import annotations

from typing import Any

from inventory_cli.config import StackNames
from inventory_cli.stack.errors import ResourceConflict
from inventory_cli.stack.instructions import APICall, Ref, Wait
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    ours_to_delete,
    owned_or_fail,
    tag_list,
)
from inventory_cli.stack.model import InventoryTableSpec, TableSpec
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import (
    DASHBOARD_ACCESS_TAG,
    DASHBOARD_OFF,
    DASHBOARD_TAG,
    ON_DEMAND_WARM_WRITES,
    PRIVATE,
    WARM_WRITES_TAG,
)


def plan_inventory_table(spec: InventoryTableSpec, remote: RemoteState,
                         ctx: PlanContext) -> Planned:
    """Publishes `stream_arn`: the stream's ARN, or a Ref to the call that enables it."""
    names, res, name, definition = ctx.names, spec.id, spec.name, spec.definition
    stream_ref = Ref("stream_arn")
    enable_pitr = APICall(res, "dynamodb", "update_continuous_backups",
                          {"TableName": name, "PointInTimeRecoverySpecification": {
                              "PointInTimeRecoveryEnabled": True}},
                          f"turn on point-in-time recovery of table {name}")
    wait = Wait(res, "dynamodb", "table_exists", {"TableName": name},
                f"wait until table {name} is active")
    table = remote.table(name)
    warm = ctx.desired.warm_writes
    if table is None:
        ctx.values["stream_arn"] = stream_ref
        tags = dict(names.tags) if ctx.desired.dashboard else {
            **names.tags, DASHBOARD_TAG: DASHBOARD_OFF}
        if ctx.desired.private:
            tags[DASHBOARD_ACCESS_TAG] = PRIVATE
        params = {**definition}
        summary = f"create table {name} with a stream"
        if warm is not None and warm > ON_DEMAND_WARM_WRITES:
            tags[WARM_WRITES_TAG] = str(warm)
            params["WarmThroughput"] = {"WriteUnitsPerSecond": warm}
            summary += f", warm for {warm:,} writes/s"
        create = APICall(res, "dynamodb", "create_table", {**params, "Tags": tag_list(tags)},
                         summary, creates=True,
                         outputs=(("stream_arn", ("TableDescription", "LatestStreamArn")),))
        return [create, wait, enable_pitr]

    tags = remote.table_tags(table["TableArn"])
    updates: Planned = []
    if not owned_or_fail(names, "table", name, tags):
        updates.append(APICall(res, "dynamodb", "tag_resource",
                               {"ResourceArn": table["TableArn"], "Tags": tag_list(names.tags)},
                               f"tag table {name}"))
    updates += _dashboard_marker(spec, ctx, table["TableArn"], tags)
    updates += _warm_throughput(spec, ctx, table, tags)
    keys = sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"])
    if keys != sorted((k["AttributeName"], k["KeyType"]) for k in definition["KeySchema"]):
        raise ResourceConflict(
            f"table {name} has the key schema {keys}, not Store (hash) and Item (range)",
            hint="a table's keys cannot be changed: delete the table or use another --stack")
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if billing != "PAY_PER_REQUEST":
        updates += [APICall(res, "dynamodb", "update_table",
                            {"TableName": name, "BillingMode": "PAY_PER_REQUEST"},
                            f"switch table {name} to on-demand billing"), wait]
    stream: str | Ref = table.get("LatestStreamArn", "")
    current = table.get("StreamSpecification") or {}
    wanted_view = definition["StreamSpecification"]["StreamViewType"]
    if current.get("StreamEnabled") and current.get("StreamViewType") != wanted_view:
        # A stream's view type cannot be changed in place: turn it off, then on again.
        updates += [APICall(res, "dynamodb", "update_table",
                            {"TableName": name, "StreamSpecification": {"StreamEnabled": False}},
                            f"turn off the {current.get('StreamViewType')} stream of {name}"),
                    wait]
        current = {}
    if not current.get("StreamEnabled"):
        updates += [APICall(res, "dynamodb", "update_table",
                            {"TableName": name,
                             "StreamSpecification": definition["StreamSpecification"]},
                            f"turn on the {wanted_view} stream of table {name}",
                            outputs=(("stream_arn", ("TableDescription", "LatestStreamArn")),)),
                    wait]
        stream = stream_ref
    ctx.values["stream_arn"] = stream
    if remote.point_in_time_recovery(name) != "ENABLED":
        updates.append(enable_pitr)
    if updates and table.get("TableStatus") != "ACTIVE":
        updates.insert(0, wait)
    return updates


def _dashboard_marker(spec: InventoryTableSpec, ctx: PlanContext, arn: str,
                      tags: dict[str, str]) -> Planned:
    """Tag or untag the table so later runs know whether the stack has a dashboard."""
    marked = tags.get(DASHBOARD_TAG) == DASHBOARD_OFF
    if not ctx.desired.dashboard and not marked:
        return [APICall(spec.id, "dynamodb", "tag_resource",
                        {"ResourceArn": arn, "Tags": [{"Key": DASHBOARD_TAG,
                                                       "Value": DASHBOARD_OFF}]},
                        f"mark table {spec.name}: this stack has no dashboard")]
    steps: Planned = []
    if ctx.desired.dashboard and DASHBOARD_TAG in tags:
        steps.append(APICall(spec.id, "dynamodb", "untag_resource",
                             {"ResourceArn": arn, "TagKeys": [DASHBOARD_TAG]},
                             f"mark table {spec.name}: this stack has a dashboard"))
    return steps + _access_marker(spec, ctx, arn, tags)


def _access_marker(spec: InventoryTableSpec, ctx: PlanContext, arn: str,
                   tags: dict[str, str]) -> Planned:
    """Tag or untag the table so later runs keep the dashboard's access mode."""
    marked = tags.get(DASHBOARD_ACCESS_TAG) == PRIVATE
    if ctx.desired.private and not marked:
        return [APICall(spec.id, "dynamodb", "tag_resource",
                        {"ResourceArn": arn, "Tags": [{"Key": DASHBOARD_ACCESS_TAG,
                                                       "Value": PRIVATE}]},
                        f"mark table {spec.name}: this stack's dashboard is private")]
    if not ctx.desired.private and DASHBOARD_ACCESS_TAG in tags:
        return [APICall(spec.id, "dynamodb", "untag_resource",
                        {"ResourceArn": arn, "TagKeys": [DASHBOARD_ACCESS_TAG]},
                        f"mark table {spec.name}: this stack's dashboard is public")]
    return []


def _warm_throughput(spec: InventoryTableSpec, ctx: PlanContext, table: dict[str, Any],
                     tags: dict[str, str]) -> Planned:
    """Raise the table's warm write throughput to what was asked (now, or by an earlier run: the
    tag), and note it for status. DynamoDB raises it on its own as traffic grows and never
    lowers it, so only "below what was asked" is drift ("Understanding DynamoDB warm
    throughput"; UpdateTable, DynamoDB API Reference: WarmThroughput)."""
    asked = ctx.desired.warm_writes
    kept = tags.get(WARM_WRITES_TAG, "")
    target = asked if asked is not None else (int(kept) if kept.isdigit() else None)
    described = table.get("WarmThroughput") or {}
    current = int(described.get("WriteUnitsPerSecond", 0) or 0)
    reads = int(described.get("ReadUnitsPerSecond", 0) or 0)
    status = described.get("Status", "")
    if current:
        ctx.notes[spec.id] = (f"warm throughput {current:,} writes/s"
                              + (f", {reads:,} reads/s" if reads else "")
                              + (f" ({status.lower()})" if status and status != "ACTIVE" else ""))
    if target is None:
        return []
    steps: Planned = []
    if current < target:
        # The reads as they are (asking for them again changes nothing and costs nothing).
        warm = {"WriteUnitsPerSecond": target, **({"ReadUnitsPerSecond": reads} if reads else {})}
        steps.append(APICall(spec.id, "dynamodb", "update_table",
                             {"TableName": spec.name, "WarmThroughput": warm},
                             f"raise the warm throughput of table {spec.name} from "
                             f"{current:,} to {target:,} writes/s"))
    if asked is not None and kept != str(asked):
        steps.append(APICall(spec.id, "dynamodb", "tag_resource",
                             {"ResourceArn": table["TableArn"],
                              "Tags": [{"Key": WARM_WRITES_TAG, "Value": str(asked)}]},
                             f"remember {asked:,} warm writes/s on table {spec.name}"))
    return steps


def plan_table(spec: TableSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names, res, name = ctx.names, spec.id, spec.name
    ttl = None
    if spec.ttl_attribute:
        ttl = APICall(res, "dynamodb", "update_time_to_live",
                      {"TableName": name, "TimeToLiveSpecification": {
                          "Enabled": True, "AttributeName": spec.ttl_attribute}},
                      f"expire items of table {name} by {spec.ttl_attribute}")
    table = remote.table(name)
    if table is None:
        steps: Planned = [
            APICall(res, "dynamodb", "create_table",
                    {**spec.definition(), "Tags": tag_list(names.tags)},
                    f"create table {name}", creates=True),
            Wait(res, "dynamodb", "table_exists", {"TableName": name},
                 f"wait until table {name} is active")]
        return steps + ([ttl] if ttl else [])
    steps = []
    if not owned_or_fail(names, "table", name, remote.table_tags(table["TableArn"])):
        steps.append(APICall(res, "dynamodb", "tag_resource",
                             {"ResourceArn": table["TableArn"], "Tags": tag_list(names.tags)},
                             f"tag table {name}"))
    keys = [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]
    if sorted(keys) != sorted((k["AttributeName"], k["KeyType"])
                              for k in spec.definition()["KeySchema"]):
        raise ResourceConflict(
            f"table {name} has the key schema {keys}, not the one this version expects",
            hint="a table's keys cannot be changed: delete the table or use another --stack")
    if ttl is not None:
        current = remote.time_to_live(name)
        if not (current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
                and current.get("AttributeName") == spec.ttl_attribute):
            steps.append(ttl)
    return steps


def delete_table(spec: InventoryTableSpec | TableSpec, remote: RemoteState,
                 names: StackNames) -> Deleted:
    table: dict[str, Any] | None = remote.table(spec.name)
    if table is None:
        return []
    skip = ours_to_delete(names, "table", spec.name, remote.table_tags(table["TableArn"]))
    if skip:
        return [skip]
    if table.get("TableStatus") == "DELETING":
        return []
    return [APICall(spec.id, "dynamodb", "delete_table", {"TableName": spec.name},
                    f"delete table {spec.name}"
                    + (" and its stream" if table.get("LatestStreamArn") else ""))]


KINDS = {
    InventoryTableSpec.kind: Kind(plan_inventory_table, delete_table),
    TableSpec.kind: Kind(plan_table, delete_table),
}
