"""Reading DynamoDB stream images, shared by the functions the table's stream feeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RecordError(ValueError):
    """A stream record this function cannot read (logged and skipped; a retry cannot fix it)."""


def string_attribute(image: Mapping[str, Any], name: str) -> str:
    """The string attribute `name` of a stream image, or RecordError."""
    value = image.get(name)
    if not isinstance(value, Mapping) or not isinstance(value.get("S"), str):
        raise RecordError(f"{name} is not a string attribute: {value!r}")
    text: str = value["S"]
    return text
