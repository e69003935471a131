"""The functions' log: one JSON object per line on stdout.

Lambda sends a function's stdout to CloudWatch Logs, one log event per line printed (Lambda
developer guide, "Working with Lambda function logs"), and `inventory logs` parses each line as
JSON. Handlers take a line sink (`log`, default `write_line`) so tests can collect the lines;
the lines themselves are built only by `event_line`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Where a handler's lines go: stdout in Lambda, a list in tests.
Log = Callable[[str], None]


def event_line(event: str, **fields: Any) -> str:
    """`{"event": <event>, ...fields}` as one line (non-ASCII kept readable)."""
    return json.dumps({"event": event, **fields}, ensure_ascii=False)


def write_line(line: str) -> None:
    # Flushed at once: a line still buffered when the invocation freezes shows up late or never.
    print(line, flush=True)


def log_event(event: str, **fields: Any) -> None:
    """Write one event line to stdout."""
    write_line(event_line(event, **fields))
