"""Typed errors of provisioning and teardown (the CLI maps them like every InventoryError)."""

from __future__ import annotations

from inventory_cli.errors import InventoryError


class ResourceConflict(InventoryError):
    """A resource with one of this stack's names exists but is not this stack's to change."""


class StepFailed(InventoryError):
    """An API call of a plan failed; everything before it was applied."""


class TeardownRefused(InventoryError):
    """Teardown was not confirmed (no terminal and no --yes, or the wrong name was typed)."""
