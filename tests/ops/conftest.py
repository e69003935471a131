"""The stack the ops tests run against: the real one, built by `provision` on in-process moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_runner import Cli

from inventory_cli.aws import Aws
from inventory_cli.config import StackNames
from inventory_cli.provisioning import ProvisionResult

# The threshold `provisioned_stack` (tests/conftest.py) deploys.
THRESHOLD = 0


@pytest.fixture
def stack(provisioned_stack: ProvisionResult) -> StackNames:
    assert provisioned_stack.threshold == THRESHOLD
    return provisioned_stack.names


@pytest.fixture
def dynamodb_operations(aws: Aws) -> Iterator[list[str]]:
    """Names of the DynamoDB operations called from now on."""
    seen: list[str] = []
    client = aws.client("dynamodb")

    def record(model: object, **_: object) -> None:
        seen.append(getattr(model, "name", "?"))

    client.meta.events.register("before-call.dynamodb.*", record)
    yield seen
    client.meta.events.unregister("before-call.dynamodb.*", record)


@pytest.fixture
def cli(aws: Aws) -> Cli:
    """The installed command's entry point, run against this test's stack."""
    return Cli(aws)
