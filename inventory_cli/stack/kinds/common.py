"""What every kind's planner shares: the plan context, ownership by tag, tag lists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inventory_cli.config import STACK_TAG, StackNames
from inventory_cli.stack.errors import ResourceConflict
from inventory_cli.stack.instructions import Ref, Step
from inventory_cli.stack.model import DesiredStack
from inventory_cli.stack.remote import RemoteState


@dataclass
class PlanContext:
    """The desired stack, and the values earlier specs settled for later ones: a resource's
    id or ARN as read, or a `Ref` to the output of the call that creates it in this run
    (`stream_arn`, `identity_pool_id`, `store_upload_url`)."""

    desired: DesiredStack
    values: dict[str, Any] = field(default_factory=dict)
    # Ids of resources this endpoint has no equivalent of (`Plan.inapplicable`).
    inapplicable: list[str] = field(default_factory=list)
    # Resource id -> what status shows beside it even when nothing is to change (`Plan.notes`).
    notes: dict[str, str] = field(default_factory=dict)
    # Ids of resources AWS is still rolling out, as planned (`Plan.deploying`).
    deploying: list[str] = field(default_factory=list)
    # Unique per planning run (CloudFront's CallerReference of a new distribution).
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def names(self) -> StackNames:
        return self.desired.names


@dataclass(frozen=True)
class Skip:
    """A resource found under one of the stack's names that is not the stack's to delete."""

    reason: str


Planned = list[Step]
Deleted = list[Step | Skip]


@dataclass(frozen=True)
class Kind:
    """How one kind of resource is planned (`plan`) and removed (`delete`)."""

    plan: Callable[[Any, RemoteState, PlanContext], Planned]
    delete: Callable[[Any, RemoteState, StackNames], Deleted]


def no_delete(spec: Any, remote: RemoteState, names: StackNames) -> Deleted:
    """For what goes away with the resource it belongs to (a permission with its function,
    a notification or CORS rule with its bucket)."""
    return []


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def owned_or_fail(names: StackNames, what: str, name: str, tags: dict[str, str]) -> bool:
    """True if tagged with this stack, False if untagged; a resource of another stack stops
    the plan, since changing it would break that stack."""
    owner = tags.get(STACK_TAG)
    if owner is not None and owner != names.stack:
        raise ResourceConflict(
            f"{what} {name} is tagged {STACK_TAG}={owner}, not {names.stack}",
            hint="pick another --stack name, or remove the resource by hand")
    return owner == names.stack


def ours_to_delete(names: StackNames, what: str, name: str, tags: dict[str, str], *,
                   untagged_is_ours: bool = False) -> Skip | None:
    """None if teardown may delete it; else why not."""
    owner = tags.get(STACK_TAG)
    if owner == names.stack or (owner is None and untagged_is_ours):
        return None
    reason = f"tagged {STACK_TAG}={owner}" if owner else f"not tagged {STACK_TAG}"
    return Skip(f"{what} {name}: {reason}")


def settle(value: Any, values: dict[str, Any]) -> Any:
    """`value` with every `Ref` whose value is already known replaced by it."""
    if isinstance(value, Ref):
        return values.get(value.name, value)
    if isinstance(value, dict):
        return {k: settle(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [settle(v, values) for v in value]
    return value
