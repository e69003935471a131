"""`--since` values like 30m, 24h, 7d. No boto3 here: a bad value is refused before any import."""

from __future__ import annotations

import re
from datetime import timedelta

from inventory_cli.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str) -> timedelta:
    """`30m`, `24h`, `7d` (also `90s`, `2w`) as a duration; UsageError otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"invalid duration {text!r}: use a positive number and a unit, "
                         "like 30m, 24h or 7d (units: s, m, h, d, w)")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
