"""Comparisons between desired and deployed settings that tolerate how AWS echoes them back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code


def canonical_policy(document: Any) -> Any:
    """A policy document in a form where equal meaning gives equal values.

    IAM returns documents URL-encoded or parsed depending on the API and client, and a one-item
    list is the same as the item itself; statement and action order carry no meaning.
    """
    if isinstance(document, str):
        text = unquote(document) if document.lstrip().startswith("%") else document
        document = json.loads(text)
    return _canonical(document)


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if len(items) == 1 and not isinstance(items[0], Mapping | list):
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def same_policy(a: Any, b: Any) -> bool:
    return bool(canonical_policy(a) == canonical_policy(b))


def tag_dict(tags: Iterable[Mapping[str, str]] | Mapping[str, str] | None) -> dict[str, str]:
    """Tags as a dict, from either AWS shape ([{"Key", "Value"}] or {key: value})."""
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return dict(tags)
    return {t["Key"]: t["Value"] for t in tags}


def is_not_found(exc: ClientError, *codes: str) -> bool:
    """True for the "does not exist" answers of the services we use (or the given codes)."""
    known = {"404", "NoSuchBucket", "NoSuchEntity", "NotFound", "ResourceNotFoundException",
             "NoSuchKey", *codes}
    return error_code(exc) in known
