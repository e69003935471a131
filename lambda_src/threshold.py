"""The stack's low-stock threshold, as both stream functions read it from their environment."""

from __future__ import annotations

from collections.abc import Mapping


def threshold_from_env(environ: Mapping[str, str]) -> int:
    """`LOW_STOCK_THRESHOLD` (default 0): a count at or below it is low."""
    raw = environ.get("LOW_STOCK_THRESHOLD", "").strip() or "0"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"LOW_STOCK_THRESHOLD must be a whole number >= 0, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"LOW_STOCK_THRESHOLD must be a whole number >= 0, not {raw!r}")
    return value
