"""Helpers for the emulator tests (a module with its own name, so no other conftest is meant)."""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inventory_cli.local.emulator import EmulatorInfo, start_private
from inventory_cli.local.server import WRITE_LIMIT_ENV


def until(predicate: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """The predicate's first truthy value, polled; a generous bound for a loaded machine."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met within the bounded wait")


@contextmanager
def write_limited_emulator(home: Path, write_limit: int) -> Iterator[EmulatorInfo]:
    """A private emulator whose DynamoDB tables take `write_limit` writes a second (set in its
    environment, as `inventory local start --ddb-write-limit` does), without the caller's AWS_
    variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ[WRITE_LIMIT_ENV] = str(write_limit)
    with start_private(home, environ=environ) as info:
        yield info


def build_zip(files: Mapping[str, str]) -> bytes:
    """A function zip holding `files` (name -> source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
