"""IAM roles: one inline policy each; any other inline or attached policy is drift."""

from __future__ import annotations

import json

from inventory_cli.config import StackNames
from inventory_cli.stack.compare import same_policy
from inventory_cli.stack.instructions import APICall, Rendered, Step, json_document
from inventory_cli.stack.kinds.common import (
    Deleted,
    Kind,
    PlanContext,
    Planned,
    ours_to_delete,
    owned_or_fail,
    settle,
    tag_list,
)
from inventory_cli.stack.model import RoleSpec
from inventory_cli.stack.remote import RemoteState
from inventory_cli.stack.resources import INLINE_POLICY


def plan_role(spec: RoleSpec, remote: RemoteState, ctx: PlanContext) -> Planned:
    names, res = ctx.names, spec.id
    trust_policy = settle(spec.trust_policy, ctx.values)
    trust = json_document(trust_policy, f"trust policy of {spec.name}")
    policy = json.dumps(spec.policy, sort_keys=True)
    put_policy = APICall(res, "iam", "put_role_policy",
                         {"RoleName": spec.name, "PolicyName": INLINE_POLICY,
                          "PolicyDocument": policy},
                         f"set the permissions of role {spec.name}")
    role = remote.role(spec.name)
    if role is None:
        return [
            APICall(res, "iam", "create_role",
                    {"RoleName": spec.name, "AssumeRolePolicyDocument": trust,
                     "Description": f"inventory stack {names.stack}",
                     "Tags": tag_list(names.tags)},
                    f"create role {spec.name}", creates=True),
            put_policy,
        ]
    steps: list[Step] = []
    if not owned_or_fail(names, "role", spec.name, remote.role_tags(spec.name) or {}):
        steps.append(APICall(res, "iam", "tag_role",
                             {"RoleName": spec.name, "Tags": tag_list(names.tags)},
                             f"tag role {spec.name}"))
    if isinstance(trust, Rendered) or not same_policy(role["AssumeRolePolicyDocument"],
                                                      trust_policy):
        steps.append(APICall(res, "iam", "update_assume_role_policy",
                             {"RoleName": spec.name, "PolicyDocument": trust},
                             f"reset who may assume role {spec.name}"))
    inline = remote.role_inline_policies(spec.name)
    for extra in sorted(set(inline) - {INLINE_POLICY}):
        steps.append(APICall(res, "iam", "delete_role_policy",
                             {"RoleName": spec.name, "PolicyName": extra},
                             f"remove extra inline policy {extra} from role {spec.name}"))
    if INLINE_POLICY not in inline:
        steps.append(put_policy)
    elif not same_policy(remote.role_policy(spec.name, INLINE_POLICY), spec.policy):
        steps.append(APICall(res, "iam", "put_role_policy", put_policy.params,
                             f"reset the permissions of role {spec.name}"))
    for managed in remote.role_attached_policies(spec.name):
        steps.append(APICall(res, "iam", "detach_role_policy",
                             {"RoleName": spec.name, "PolicyArn": managed["PolicyArn"]},
                             f"detach {managed['PolicyName']} from role {spec.name}"))
    return steps


def delete_role(spec: RoleSpec, remote: RemoteState, names: StackNames) -> Deleted:
    role = spec.name
    tags = remote.role_tags(role)
    if tags is None:
        return []
    skip = ours_to_delete(names, "role", role, tags)
    if skip:
        return [skip]
    steps: Deleted = [
        APICall(spec.id, "iam", "delete_role_policy", {"RoleName": role, "PolicyName": policy},
                f"delete inline policy {policy} of role {role}")
        for policy in remote.role_inline_policies(role)
    ]
    steps += [
        APICall(spec.id, "iam", "detach_role_policy",
                {"RoleName": role, "PolicyArn": attached["PolicyArn"]},
                f"detach {attached['PolicyName']} from role {role}")
        for attached in remote.role_attached_policies(role)
    ]
    steps.append(APICall(spec.id, "iam", "delete_role", {"RoleName": role},
                         f"delete role {role}"))
    return steps


KINDS = {RoleSpec.kind: Kind(plan_role, delete_role)}
