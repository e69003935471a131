"""Facts other commands read from a deployed stack (the stack itself is the only state)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from inventory_cli.aws import Aws
from inventory_cli.stack.compare import is_not_found

THRESHOLD_VARIABLE = "LOW_STOCK_THRESHOLD"


def checker_variables(aws: Aws) -> dict[str, str] | None:
    """The check function's environment variables, or None if there is no checker.

    The checker's environment is the one place the threshold is kept (see the team contract);
    the everyday commands also use the checker to recognise that a stack exists.
    """
    try:
        config = aws.client("lambda").get_function_configuration(
            FunctionName=aws.names.check_function)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return dict(config.get("Environment", {}).get("Variables", {}))


def deployed_threshold(aws: Aws) -> int | None:
    """The low-stock threshold the checker runs with, or None if there is no checker yet."""
    variables = checker_variables(aws)
    if variables is None:
        return None
    value = variables.get(THRESHOLD_VARIABLE, "0")
    try:
        return int(value)
    except ValueError:
        return 0  # a hand-edited, unparsable value: the checker's own default
