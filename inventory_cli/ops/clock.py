"""The one clock the commands read ("now" in UTC), so tests move time in one place."""
from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
