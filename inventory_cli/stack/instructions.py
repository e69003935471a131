"""The instructions a plan is made of: frozen data, no AWS calls.

The planner emits them, the executor runs them, `--dry-run` only shows them. A value that is
only known once an earlier call has run (the id of an identity pool being created, the ARN of a
stream being enabled) is a `Ref`; a value computed from such values (a trust policy naming the
pool) is a `Rendered`. The executor resolves both just before the call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Ref:
    """The output of an earlier step, by variable name."""

    name: str

    def __str__(self) -> str:
        return "${" + self.name + "}"


@dataclass(frozen=True)
class Rendered:
    """A value computed at execution time from the variables (for example a JSON document)."""

    label: str
    render: Callable[[Mapping[str, Any]], Any] = field(compare=False)

    def __str__(self) -> str:
        return self.label


def json_document(document: Any, label: str) -> Any:
    """`document` as a JSON string, rendered at execution time if it contains a `Ref`."""
    if not _contains_ref(document):
        return json.dumps(document, sort_keys=True)
    return Rendered(label, lambda variables: json.dumps(resolve(document, variables),
                                                        sort_keys=True))


def _contains_ref(value: Any) -> bool:
    if isinstance(value, Ref | Rendered):
        return True
    if isinstance(value, Mapping):
        return any(_contains_ref(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains_ref(v) for v in value)
    return False


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """Replace every `Ref` and `Rendered` inside `value` by its value."""
    if isinstance(value, Ref):
        return variables[value.name]
    if isinstance(value, Rendered):
        return value.render(variables)
    if isinstance(value, Mapping):
        return {k: resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v, variables) for v in value)
    return value


@dataclass(frozen=True)
class APICall:
    """One boto3 call that changes something.

    `resource` is the id of the resource it belongs to (see `resources.RESOURCE_IDS`);
    `creates` marks the call that brings a missing resource into existence (status reports that
    resource as missing rather than drifted); `outputs` maps variable names to key paths in the
    response. Which errors of a call are transient is not the call's business: see
    `inventory_cli.stack.transient`.
    """

    resource: str
    service: str
    method: str
    params: Mapping[str, Any]
    summary: str
    creates: bool = False
    outputs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


@dataclass(frozen=True)
class Wait:
    """A boto3 waiter: a read that blocks until the resource is ready for the next call."""

    resource: str
    service: str
    waiter: str
    params: Mapping[str, Any]
    summary: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


@dataclass(frozen=True)
class EmptyBucket:
    """Delete every object version and delete marker of a bucket.

    Listed at execution time, not planned object by object, so that objects written between plan
    and apply are deleted too.
    """

    resource: str
    bucket: str
    summary: str


Step = APICall | Wait | EmptyBucket


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...] = ()
    # Resources the endpoint has no equivalent of (an emulator without Lambda's recursion
    # config): nothing is planned for them and status does not list them.
    inapplicable: tuple[str, ...] = ()
    # Resource id -> a fact status shows for it (the inventory table's warm throughput).
    notes: tuple[tuple[str, str], ...] = ()
    # Resources in place that AWS is still rolling out (a CloudFront distribution): status
    # shows them as deploying; nothing is planned for that.
    deploying: tuple[str, ...] = ()

    @property
    def changes(self) -> tuple[APICall | EmptyBucket, ...]:
        """The steps that change something (waits only read)."""
        return tuple(s for s in self.steps if not isinstance(s, Wait))

    @property
    def is_empty(self) -> bool:
        return not self.changes


def describe_step(step: Step) -> str:
    """One line for the plan display: `service.method  summary`."""
    if isinstance(step, APICall):
        return f"{step.service}.{step.method}  {step.summary}"
    if isinstance(step, Wait):
        return f"{step.service}.wait:{step.waiter}  {step.summary}"
    return f"s3.delete_objects*  {step.summary}"
