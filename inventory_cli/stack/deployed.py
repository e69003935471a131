"""Facts other commands read from a deployed stack (the stack itself is the only state)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from inventory_cli.aws import Aws
from inventory_cli.stack.compare import is_not_found

THRESHOLD_VARIABLE = "LOW_STOCK_THRESHOLD"


def deployed_threshold(aws: Aws) -> int | None:
    """The low-stock threshold the checker runs with, or None if there is no checker yet.

    The checker's environment is the one place the threshold is kept (see the team contract).
    """
    try:
        config = aws.client("lambda").get_function_configuration(
            FunctionName=aws.names.check_function)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    value = config.get("Environment", {}).get("Variables", {}).get(THRESHOLD_VARIABLE, "0")
    try:
        return int(value)
    except ValueError:
        return 0  # a hand-edited, unparsable value: the checker's own default
