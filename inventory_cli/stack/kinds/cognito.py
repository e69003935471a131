"""Cognito: the dashboard's identity pool (unauthenticated visitors) and its role mapping."""

from __future__ import annotations

from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.stack.instructions import APICall, Ref
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    no_delete,
    ours_to_delete,
)
from inventory_cli.stack.model import IdentityPoolRolesSpec, IdentityPoolSpec
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import DASHBOARD_OFF, DASHBOARD_TAG


def had_dashboard(remote: RemoteState, names: StackNames) -> bool:
    """What the stack's record says: its inventory table exists and is not marked as a stack
    without a dashboard. (The pool is made after the table and deleted before it, so a stack
    without its table has no pool of its own.)"""
    table = remote.table(names.table)
    if table is None:
        return False
    return remote.table_tags(table["TableArn"]).get(DASHBOARD_TAG) != DASHBOARD_OFF


def plan_identity_pool(spec: IdentityPoolSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    """Publishes `identity_pool_id`: the pool's id, or a Ref to the call that creates it."""
    names, name = ctx.names, spec.name
    # Pool names are not unique: only a pool tagged with this stack is ours.
    ours = [pool for pool in remote.identity_pools(name)
            if pool.get("IdentityPoolTags", {}).get(STACK_TAG) == names.stack]
    # AllowClassicFlow: the page falls back to the basic flow (GetOpenIdToken, then STS
    # AssumeRoleWithWebIdentity with the dashboard role) if the enhanced flow's credentials,
    # which AWS scopes down for guests, are denied the table reads.
    settings = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": True,
                "AllowClassicFlow": True, "IdentityPoolTags": dict(names.tags)}
    if not ours:
        ctx.values["identity_pool_id"] = Ref("identity_pool_id")
        return [APICall(spec.id, "cognito-identity", "create_identity_pool", settings,
                        f"create identity pool {name} (unauthenticated access)", creates=True,
                        outputs=(("identity_pool_id", ("IdentityPoolId",)),))]
    pool = ours[0]
    pool_id: str = pool["IdentityPoolId"]
    ctx.values["identity_pool_id"] = pool_id
    if not pool.get("AllowUnauthenticatedIdentities") or not pool.get("AllowClassicFlow"):
        return [APICall(spec.id, "cognito-identity", "update_identity_pool",
                        {"IdentityPoolId": pool_id, **settings},
                        f"allow unauthenticated identities and the basic (classic) flow "
                        f"in pool {name}")]
    return []


def delete_identity_pool(spec: IdentityPoolSpec, remote: RemoteState,
                         names: StackNames) -> Deleted:
    """Only for a stack whose own record says it has (had) a dashboard: a stack without one
    makes no Cognito call at all, so it works on endpoints without Cognito identity pools and
    for identities without cognito-identity:ListIdentityPools."""
    if not had_dashboard(remote, names):
        return []
    steps: Deleted = []
    for pool in remote.identity_pools(spec.name):
        pool_id = pool["IdentityPoolId"]
        label = f"{spec.name} ({pool_id})"
        skip = ours_to_delete(names, "identity pool", label, pool.get("IdentityPoolTags", {}))
        steps.append(skip or APICall(spec.id, "cognito-identity", "delete_identity_pool",
                                     {"IdentityPoolId": pool_id},
                                     f"delete identity pool {label}"))
    return steps


def plan_identity_pool_roles(spec: IdentityPoolRolesSpec, remote: RemoteState,
                             ctx: PlanContext) -> Planned:
    pool_id = ctx.values["identity_pool_id"]

    def set_roles(creates: bool) -> APICall:
        return APICall(spec.id, "cognito-identity", "set_identity_pool_roles",
                       {"IdentityPoolId": pool_id, "Roles": spec.roles},
                       f"give unauthenticated dashboard users role {spec.role_name}",
                       creates=creates)

    if isinstance(pool_id, Ref):
        return [set_roles(True)]
    current = remote.identity_pool_roles(pool_id)
    if current.get("Roles") == spec.roles and not current.get("RoleMappings"):
        return []
    return [set_roles(not current.get("Roles"))]


KINDS = {
    IdentityPoolSpec.kind: Kind(plan_identity_pool, delete_identity_pool),
    # The role mapping goes with its pool.
    IdentityPoolRolesSpec.kind: Kind(plan_identity_pool_roles, no_delete),
}
