"""Find a stack's dashboard page: the URL, after checking that provision put it there."""

from __future__ import annotations

from typing import TYPE_CHECKING

import botocore.exceptions

from inventory_cli.aws import error_code
from inventory_cli.dashboard import INDEX_KEY
from inventory_cli.errors import InventoryError, StackIncomplete, StackNotFound

if TYPE_CHECKING:
    from inventory_cli.aws import Aws

_MISSING = {"404", "NoSuchBucket", "NotFound", "NoSuchKey"}
_DENIED = {"403", "AccessDenied", "Forbidden"}


def check_dashboard_page(aws: Aws) -> None:
    """The stack's page is in its bucket; typed errors when the bucket or the page is missing.
    (Where it is served from is the stack's to say: `stack.deployed.dashboard_url_of`.)"""
    bucket = aws.names.dashboard_bucket
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in _MISSING:
            raise StackNotFound(
                f"stack {aws.stack!r} has no dashboard in {aws.region}: "
                f"bucket {bucket} does not exist",
                hint="create the stack with `inventory provision` (or pick another --stack / "
                     "--region)",
            ) from None
        if code in _DENIED:
            # Bucket names are global: another account may own one with this name.
            raise InventoryError(f"access denied to the dashboard bucket {bucket}",
                                 hint="check your credentials and --profile") from None
        raise
    try:
        s3.head_object(Bucket=bucket, Key=INDEX_KEY)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in _MISSING:
            raise StackIncomplete(
                f"the dashboard bucket {bucket} has no {INDEX_KEY}",
                hint="`inventory provision` uploads the page again",
            ) from None
        raise
