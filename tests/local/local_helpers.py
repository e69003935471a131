"""Helpers for the emulator tests (a module with its own name, so no other conftest is meant)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(predicate: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """The predicate's first truthy value, polled; a generous bound for a loaded machine."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met within the bounded wait")
