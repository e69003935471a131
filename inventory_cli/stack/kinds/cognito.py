"""Cognito: the dashboard's identity pool and its role mapping; for a private dashboard also
the staff user pool, its app client and the identity pool's principal tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.stack.errors import ResourceConflict
from inventory_cli.stack.instructions import APICall, Ref, Rendered
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    no_delete,
    ours_to_delete,
)
from inventory_cli.stack.model import (
    IdentityPoolRolesSpec,
    IdentityPoolSpec,
    PrincipalTagsSpec,
    UserPoolClientSpec,
    UserPoolSpec,
)
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
    if spec.user_pool is not None:
        return _plan_private_identity_pool(spec, ours, ctx)
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
    if (not pool.get("AllowUnauthenticatedIdentities") or not pool.get("AllowClassicFlow")
            or pool.get("CognitoIdentityProviders")):
        # UpdateIdentityPool resets what it is not given; the staff user pool of a private
        # dashboard made public is named empty so that no endpoint keeps it.
        return [APICall(spec.id, "cognito-identity", "update_identity_pool",
                        {"IdentityPoolId": pool_id, **settings, "CognitoIdentityProviders": []},
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

    who = ("signed-in staff" if "authenticated" in spec.roles
           else "unauthenticated dashboard users")

    def set_roles(creates: bool) -> APICall:
        return APICall(spec.id, "cognito-identity", "set_identity_pool_roles",
                       {"IdentityPoolId": pool_id, "Roles": spec.roles},
                       f"give {who} role {spec.role_name}", creates=creates)

    if isinstance(pool_id, Ref):
        return [set_roles(True)]
    current = remote.identity_pool_roles(pool_id)
    if current.get("Roles") == spec.roles and not current.get("RoleMappings"):
        return []
    return [set_roles(not current.get("Roles"))]


# ---- the private dashboard ------------------------------------------------------------------

def provider_name(region: str, user_pool_id: Any) -> Any:
    """The identity provider name of a user pool, as identity pools name it (a Rendered while
    the pool is being created)."""
    if isinstance(user_pool_id, Ref):
        return Rendered(f"cognito-idp.{region}.amazonaws.com/{user_pool_id}",
                        lambda v: f"cognito-idp.{region}.amazonaws.com/{v[user_pool_id.name]}")
    return f"cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def _plan_private_identity_pool(spec: IdentityPoolSpec, ours: list[dict[str, Any]],
                                ctx: PlanContext) -> Planned:
    """Only the staff user pool's signed-in members: no guests, no basic flow (the enhanced
    flow is what passes principal tags), the id token checked with Cognito on every exchange
    (ServerSideTokenCheck: a signed-out or removed member's token stops working)."""
    names, name = ctx.names, spec.name
    pool_user = ctx.values["user_pool_id"]
    client = ctx.values["user_pool_client_id"]
    provider = {"ProviderName": provider_name(names.region, pool_user), "ClientId": client,
                "ServerSideTokenCheck": True}
    settings = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": False,
                "AllowClassicFlow": False, "CognitoIdentityProviders": [provider],
                "IdentityPoolTags": dict(names.tags)}
    if not ours:
        ctx.values["identity_pool_id"] = Ref("identity_pool_id")
        return [APICall(spec.id, "cognito-identity", "create_identity_pool", settings,
                        f"create identity pool {name} (staff of user pool {spec.user_pool} "
                        "only)", creates=True,
                        outputs=(("identity_pool_id", ("IdentityPoolId",)),))]
    pool = ours[0]
    pool_id: str = pool["IdentityPoolId"]
    ctx.values["identity_pool_id"] = pool_id
    current = [{k: p.get(k) for k in ("ProviderName", "ClientId", "ServerSideTokenCheck")}
               for p in pool.get("CognitoIdentityProviders") or []]
    if (pool.get("AllowUnauthenticatedIdentities") or pool.get("AllowClassicFlow")
            or current != [provider]):
        return [APICall(spec.id, "cognito-identity", "update_identity_pool",
                        {"IdentityPoolId": pool_id, **settings},
                        f"accept only staff of user pool {spec.user_pool} in pool {name} "
                        "(no guests)")]
    return []


def _own_user_pool(remote: RemoteState, names: StackNames, name: str) -> dict[str, Any] | None:
    ours = [pool for pool in remote.user_pools(name)
            if pool.get("UserPoolTags", {}).get(STACK_TAG) == names.stack]
    return ours[0] if ours else None


def plan_user_pool(spec: UserPoolSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    """Publishes `user_pool_id`. Custom attributes can be added but never removed; the
    settings UpdateUserPool takes are set again when they differ."""
    names, name = ctx.names, spec.name
    pool = _own_user_pool(remote, names, name)
    if pool is None:
        ctx.values["user_pool_id"] = Ref("user_pool_id")
        return [APICall(spec.id, "cognito-idp", "create_user_pool",
                        {"PoolName": name, "UserPoolTags": dict(names.tags), **spec.settings},
                        f"create user pool {name} (staff accounts, made by administrators)",
                        creates=True, outputs=(("user_pool_id", ("UserPool", "Id")),))]
    pool_id = pool["Id"]
    ctx.values["user_pool_id"] = pool_id
    steps: Planned = []
    have = {a.get("Name") for a in pool.get("SchemaAttributes", [])}
    missing = [a for a in spec.settings["Schema"] if f"custom:{a['Name']}" not in have]
    if missing:
        steps.append(APICall(spec.id, "cognito-idp", "add_custom_attributes",
                             {"UserPoolId": pool_id, "CustomAttributes": missing},
                             f"add {len(missing)} store attribute(s) to user pool {name}"))
    wanted = {k: v for k, v in spec.settings.items() if k != "Schema"}
    if not _same_settings(pool, wanted):
        steps.append(APICall(spec.id, "cognito-idp", "update_user_pool",
                             {"UserPoolId": pool_id, "UserPoolTags": dict(names.tags), **wanted},
                             f"reset who may create users and the invitation of user pool "
                             f"{name}"))
    return steps


def _same_settings(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Every wanted setting is there with the wanted value (AWS adds settings of its own)."""
    def covers(have: Any, want: Any) -> bool:
        if isinstance(want, Mapping):
            return isinstance(have, Mapping) and all(covers(have.get(k), v)
                                                     for k, v in want.items())
        if isinstance(want, list):
            return isinstance(have, list) and len(have) == len(want) and all(
                covers(h, w) for h, w in zip(have, want, strict=True))
        return bool(have == want)

    return all(covers(current.get(k), v) for k, v in wanted.items())


def delete_user_pool(spec: UserPoolSpec, remote: RemoteState, names: StackNames) -> Deleted:
    """With every staff account in it. Only for a stack with a dashboard (see
    `delete_identity_pool`)."""
    if not had_dashboard(remote, names):
        return []
    steps: Deleted = []
    for pool in remote.user_pools(spec.name):
        label = f"{spec.name} ({pool['Id']})"
        skip = ours_to_delete(names, "user pool", label, pool.get("UserPoolTags", {}))
        steps.append(skip or APICall(spec.id, "cognito-idp", "delete_user_pool",
                                     {"UserPoolId": pool["Id"]},
                                     f"delete user pool {label} and its staff accounts"))
    return steps


def plan_user_pool_client(spec: UserPoolClientSpec, remote: RemoteState,
                          ctx: PlanContext) -> Planned:
    """Publishes `user_pool_client_id`."""
    pool_id = ctx.values["user_pool_id"]
    create = APICall(spec.id, "cognito-idp", "create_user_pool_client",
                     {"UserPoolId": pool_id, "ClientName": spec.name, **spec.settings},
                     f"create app client {spec.name} (no secret; SRP sign-in and refresh)",
                     creates=True,
                     outputs=(("user_pool_client_id", ("UserPoolClient", "ClientId")),))
    if isinstance(pool_id, Ref):
        ctx.values["user_pool_client_id"] = Ref("user_pool_client_id")
        return [create]
    clients = [c for c in remote.user_pool_clients(pool_id) if c.get("ClientName") == spec.name]
    if not clients:
        ctx.values["user_pool_client_id"] = Ref("user_pool_client_id")
        return [create]
    client = clients[0]
    if client.get("ClientSecret"):
        raise ResourceConflict(
            f"app client {spec.name} of user pool {spec.pool} has a client secret, which a "
            "page cannot keep", hint="delete that app client; provision makes it again")
    ctx.values["user_pool_client_id"] = client["ClientId"]
    settings = {k: v for k, v in spec.settings.items() if k != "GenerateSecret"}
    same = all(sorted(client.get(k) or []) == sorted(v) if isinstance(v, list)
               else client.get(k) == v for k, v in settings.items())
    if same:
        return []
    return [APICall(spec.id, "cognito-idp", "update_user_pool_client",
                    {"UserPoolId": pool_id, "ClientId": client["ClientId"],
                     "ClientName": spec.name, **settings},
                    f"reset the sign-in flows and attribute permissions of app client "
                    f"{spec.name}")]


def plan_principal_tags(spec: PrincipalTagsSpec, remote: RemoteState,
                        ctx: PlanContext) -> Planned:
    pool_id = ctx.values["identity_pool_id"]
    provider = provider_name(ctx.names.region, ctx.values["user_pool_id"])
    put = APICall(spec.id, "cognito-identity", "set_principal_tag_attribute_map",
                  {"IdentityPoolId": pool_id, "IdentityProviderName": provider,
                   "UseDefaults": False, "PrincipalTags": dict(spec.tags)},
                  f"map the staff's client and store attributes to principal tags in pool "
                  f"{spec.pool}", creates=True)
    if isinstance(pool_id, Ref) or isinstance(provider, Rendered):
        return [put]
    current = remote.principal_tag_map(pool_id, provider) or {}
    if current.get("PrincipalTags") == spec.tags and not current.get("UseDefaults"):
        return []
    return [APICall(put.resource, put.service, put.method, put.params,
                    put.summary.replace("map", "reset the map of", 1),
                    creates=not current.get("PrincipalTags"))]


KINDS = {
    IdentityPoolSpec.kind: Kind(plan_identity_pool, delete_identity_pool),
    # The role mapping goes with its pool.
    IdentityPoolRolesSpec.kind: Kind(plan_identity_pool_roles, no_delete),
    UserPoolSpec.kind: Kind(plan_user_pool, delete_user_pool),
    # The app client goes with its user pool, the principal tags with the identity pool.
    UserPoolClientSpec.kind: Kind(plan_user_pool_client, no_delete),
    PrincipalTagsSpec.kind: Kind(plan_principal_tags, no_delete),
}
