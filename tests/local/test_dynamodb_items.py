"""The emulator builds an item in one pass; it must refuse exactly what moto's attribute-by-
attribute checks refuse, and keep what they keep."""

from __future__ import annotations

from typing import Any

import pytest
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

from inventory_cli.local import moto_seam


def _motos_own(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """What moto's LimitedSizeDict makes of the attributes, or None if it refuses them."""
    built = LimitedSizeDict()
    try:
        for key, value in attrs.items():
            built[key] = DynamoType(value)
    except ItemSizeTooLarge:
        return None
    return {k: v.to_json() for k, v in built.items()}


def _emulators(attrs: dict[str, Any]) -> dict[str, Any] | None:
    moto_seam.install()
    try:
        item = Item(DynamoType({"S": "k"}), None, attrs)
    except ItemSizeTooLarge:
        return None
    assert isinstance(item.attrs, LimitedSizeDict)  # later updates are still checked
    return {k: v.to_json() for k, v in item.attrs.items()}


@pytest.mark.parametrize("padding", [404_900, 404_950, 404_960, 404_970, 404_980, 405_000,
                                     410_000])
def test_items_near_the_size_limit_are_kept_or_refused_as_moto_does(padding: int) -> None:
    attrs = {"Store": {"S": "Köln"}, "Item": {"S": "tea"}, "Count": {"N": "17"},
             "Pad": {"S": "x" * padding}, "Low": {"M": {"Berlin": {"N": "0"}}},
             "Tags": {"SS": ["a", "b"]}}
    assert _emulators(attrs) == _motos_own(attrs)


def test_a_small_item_keeps_every_attribute_in_order() -> None:
    attrs = {"b": {"N": "1"}, "a": {"L": [{"S": "x"}, {"NULL": True}]}, "c": {"BOOL": False}}
    emulators = _emulators(attrs)
    assert emulators == _motos_own(attrs)
    assert list(emulators or {}) == ["b", "a", "c"]
