"""The deployed functions' environment: every variable a function reads, by name, and its parser.

The stack's resource list builds each function's environment from these names, and the CLI
reads the deployed threshold through `threshold_from_env`, so the name and the rule of every
setting live in this one place. Standard library only (deployed code).
"""

from __future__ import annotations

from collections.abc import Mapping

# load_inventory
INVENTORY_TABLE = "INVENTORY_TABLE"
# check_stock
ALERT_TOPIC_ARN = "ALERT_TOPIC_ARN"
ALERT_LOG_TABLE = "ALERT_LOG_TABLE"
# check_stock and update_summaries (the same value in both: they must agree on "low")
LOW_STOCK_THRESHOLD = "LOW_STOCK_THRESHOLD"
# update_summaries
SUMMARY_TABLE = "SUMMARY_TABLE"
# store_upload
UPLOADS_BUCKET = "UPLOADS_BUCKET"
STORE_KEYS_TABLE = "STORE_KEYS_TABLE"
MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"
UPLOAD_EXPIRES_S = "UPLOAD_EXPIRES_S"
# announce_failures (the operators' messages)
OPS_TOPIC_ARN = "OPS_TOPIC_ARN"
FAILURES_BUCKET = "FAILURES_BUCKET"
LOAD_FUNCTION = "LOAD_FUNCTION"
ANNOUNCEMENT_TABLE = "ANNOUNCEMENT_TABLE"
STACK_NAME = "STACK_NAME"
# A stored file with no load report counts as never loaded once it is this old (seconds).
UNLOADED_GRACE_S = "UNLOADED_GRACE_S"
# At most one operators' message per this many seconds (seconds).
ANNOUNCE_INTERVAL_S = "ANNOUNCE_INTERVAL_S"
# JSON object: each function of the stack -> the name `inventory logs` takes for it.
FUNCTION_LOGS = "FUNCTION_LOGS"

# The variables each function's handler reads (Lambda's own, such as AWS_REGION, aside).
FUNCTION_VARIABLES: dict[str, tuple[str, ...]] = {
    "lambda_src.load_inventory": (INVENTORY_TABLE, STORE_KEYS_TABLE),
    "lambda_src.check_stock": (ALERT_TOPIC_ARN, LOW_STOCK_THRESHOLD, ALERT_LOG_TABLE),
    "lambda_src.update_summaries": (SUMMARY_TABLE, LOW_STOCK_THRESHOLD),
    "lambda_src.store_upload": (UPLOADS_BUCKET, STORE_KEYS_TABLE, MAX_UPLOAD_BYTES,
                                UPLOAD_EXPIRES_S),
    "lambda_src.announce_failures": (OPS_TOPIC_ARN, FAILURES_BUCKET, UPLOADS_BUCKET,
                                     LOAD_FUNCTION, ANNOUNCEMENT_TABLE, STACK_NAME,
                                     UNLOADED_GRACE_S, ANNOUNCE_INTERVAL_S, FUNCTION_LOGS),
}


def threshold_from_env(environ: Mapping[str, str]) -> int:
    """`LOW_STOCK_THRESHOLD` (default 0): a count at or below it is low."""
    raw = environ.get(LOW_STOCK_THRESHOLD, "").strip() or "0"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{LOW_STOCK_THRESHOLD} must be a whole number >= 0, "
                         f"not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{LOW_STOCK_THRESHOLD} must be a whole number >= 0, not {raw!r}")
    return value


def alert_log_table(environ: Mapping[str, str]) -> str | None:
    """`ALERT_LOG_TABLE`, or None when unset or blank (a stack provisioned before the alert log:
    the checker then sends at least once)."""
    return environ.get(ALERT_LOG_TABLE, "").strip() or None


def seconds_from_env(environ: Mapping[str, str], name: str, default: float) -> float:
    """A duration in seconds (a number > 0); `default` when unset or blank."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds > 0, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a number of seconds > 0, not {raw!r}")
    return value


def function_logs_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`FUNCTION_LOGS`: each function's name -> its `inventory logs` name ({} when unset)."""
    import json

    raw = environ.get(FUNCTION_LOGS, "").strip()
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ValueError(f"{FUNCTION_LOGS} must be a JSON object, not {raw[:80]!r}") from None
    if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise ValueError(f"{FUNCTION_LOGS} must map function names to log names")
    return dict(parsed)
