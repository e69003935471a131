"""Finding an existing stack and the settings the everyday commands need from it.

No local state file: a stack is found by its deterministic names (`aws.names`). The check
function is the anchor, because it also carries the one setting operators care about, the
low-stock threshold (`LOW_STOCK_THRESHOLD` in its environment, as provisioned).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inventory_cli.config import StackNames
from inventory_cli.errors import StackIncomplete, StackNotFound
from lambda_src.environment import threshold_from_env

if TYPE_CHECKING:
    from inventory_cli.aws import Aws

PROVISION_HINT = ("create it with `inventory provision` (or choose another one with --stack / "
                  "--region)")
REPAIR_HINT = "`inventory provision` creates what is missing"


@dataclass(frozen=True)
class StackInfo:
    names: StackNames
    threshold: int


def find_stack(aws: Aws) -> StackInfo:
    """The stack `aws.stack` in `aws.region`, or StackNotFound naming what was looked up."""
    from inventory_cli.stack.deployed import checker_variables

    names = aws.names
    variables = checker_variables(aws)
    if variables is None:
        raise StackNotFound(
            f"no stack {names.stack!r} in region {names.region} "
            f"(function {names.check_function} not found)",
            hint=PROVISION_HINT,
        )
    return StackInfo(names=names, threshold=parse_threshold(variables, names.check_function))


def parse_threshold(variables: Mapping[str, str], function: str) -> int:
    """The threshold of the checker's environment, read by the checker's own parser (absent or
    blank: 0, as the checker takes it)."""
    try:
        return threshold_from_env(variables)
    except ValueError as exc:
        raise StackIncomplete(
            f"function {function}: {exc}",
            hint="`inventory provision` writes the function's configuration again",
        ) from None


def missing_resource(what: str, name: str) -> StackIncomplete:
    """The error for a stack whose anchor exists but one of its parts does not."""
    return StackIncomplete(f"the stack's {what} {name} does not exist", hint=REPAIR_HINT)
