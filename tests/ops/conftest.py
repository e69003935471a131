"""The stack the ops tests run against: the real one, built by `provision` on in-process moto."""

from __future__ import annotations

import pytest

from inventory_cli.config import StackNames
from inventory_cli.stack.provision import ProvisionResult

# The threshold `provisioned_stack` (tests/conftest.py) deploys.
THRESHOLD = 0


@pytest.fixture
def stack(provisioned_stack: ProvisionResult) -> StackNames:
    assert provisioned_stack.threshold == THRESHOLD
    return provisioned_stack.names
