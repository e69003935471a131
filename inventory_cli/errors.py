"""Typed errors raised by the core. Only the CLI turns them into messages and exit codes.

This module must stay free of boto3 imports: the CLI imports it at start-up.
"""

from __future__ import annotations

# Names in messages are quoted as the deployed functions quote them (one rule, in lambda_src).
from lambda_src.names import quoted_name


def printable(name: str) -> str:
    """A name quoted for messages (lambda_src.names.quoted_name: two names never look alike)."""
    return quoted_name(name)


class InventoryError(Exception):
    """An expected failure: shown as one line `Error: ...` on stderr, exit code 1, no traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(InventoryError):
    """The user asked for something that cannot be valid (exit code 2, like a bad option)."""

    exit_code = 2


class ConfigError(UsageError):
    """Invalid settings: a bad stack name, region or endpoint."""


class NoCredentials(InventoryError):
    """No AWS credentials were found and local mode was not asked for."""


class StackNotFound(InventoryError):
    """No stack with this name exists in the target account and region."""


class StackIncomplete(InventoryError):
    """Part of the stack is missing or mis-wired; `inventory provision` repairs it."""


class InvalidInventoryFile(InventoryError):
    """A CSV file breaks the upload contract (the details are in `problems`)."""

    def __init__(self, message: str, *, problems: list[tuple[str, int | None, str]] | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or []


class EmulatorError(InventoryError):
    """The built-in local emulator could not be started, reached or stopped."""


class OperationTimedOut(InventoryError):
    """A bounded wait ran out (a load report that never came, a function never Active)."""


class KeptFailuresFound(InventoryError):
    """The stack keeps failed loads or alert batches (`inventory failures` lists them)."""


def visible(name: str) -> str:
    """The name as it is when nothing in it needs escaping, else `printable(name)`: for tables,
    where two names that look the same must not."""
    quoted = printable(name)
    return name if quoted == "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'" \
        else quoted
