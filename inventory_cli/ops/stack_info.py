"""Finding an existing stack and the settings the everyday commands need from it.

No local state file: a stack is found by its deterministic names (`aws.names`). The check
function is the anchor, because it also carries the one setting operators care about, the
low-stock threshold (`LOW_STOCK_THRESHOLD` in its environment, as provisioned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inventory_cli.config import StackNames
from inventory_cli.errors import StackIncomplete, StackNotFound

if TYPE_CHECKING:
    from inventory_cli.aws import Aws

PROVISION_HINT = ("create it with `inventory provision` (or choose another one with --stack / "
                  "--region)")
REPAIR_HINT = "`inventory provision` creates what is missing"
# The checker's own default when the variable is absent (TEAM-CONTRACTS.md).
DEFAULT_THRESHOLD = 0


@dataclass(frozen=True)
class StackInfo:
    names: StackNames
    threshold: int


def find_stack(aws: Aws) -> StackInfo:
    """The stack `aws.stack` in `aws.region`, or StackNotFound naming what was looked up."""
    from inventory_cli.stack.deployed import THRESHOLD_VARIABLE, checker_variables

    names = aws.names
    variables = checker_variables(aws)
    if variables is None:
        raise StackNotFound(
            f"no stack {names.stack!r} in region {names.region} "
            f"(function {names.check_function} not found)",
            hint=PROVISION_HINT,
        )
    return StackInfo(names=names, threshold=parse_threshold(variables.get(THRESHOLD_VARIABLE),
                                                            names.check_function))


def parse_threshold(raw: str | None, function: str) -> int:
    if raw is None or raw.strip() == "":
        return DEFAULT_THRESHOLD
    try:
        return int(raw)
    except ValueError:
        raise StackIncomplete(
            f"function {function} has LOW_STOCK_THRESHOLD={raw!r}, which is not a whole number",
            hint="`inventory provision` writes the function's configuration again",
        ) from None


def missing_resource(what: str, name: str) -> StackIncomplete:
    """The error for a stack whose anchor exists but one of its parts does not."""
    return StackIncomplete(f"the stack's {what} {name} does not exist", hint=REPAIR_HINT)
