"""Kept failures for the CLI: `inventory failures`, `retry`, `upload --wait` and `status`.

What a kept failure is, how a record of the failures bucket is read and how a file never loaded
is found lives in `lambda_src/kept_failures.py`, shared with the deployed announcer (which tells
the operators of each). This module adds the CLI's side: the stack's names, and a missing bucket
as an incomplete stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.ops.stack_info import missing_resource
from lambda_src.kept_failures import (
    DEFAULT_GRACE,
    MAX_RECORD_BYTES,
    UNLOADED_PREFIX,
    KeptFailure,
    KeptRecords,
    Kind,
    StoredFile,
    continued_file,
    failure_id_of,
    file_in_record,
    find_unloaded,
    loop_stopped,
    names_version,
    parse_record,
    retry_line,
    sort_failures,
    stream_records,
)

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames

__all__ = ["DEFAULT_GRACE", "MAX_RECORD_BYTES", "UNLOADED_PREFIX", "FailureReader", "KeptFailure",
           "Kind", "StoredFile", "continued_file", "count_kept", "failure_id_of",
           "file_in_record", "list_failures", "load_failures_for", "loop_stopped",
           "names_version", "parse_record", "retry_line", "stream_records", "unloaded_files"]


class FailureReader(KeptRecords):
    """Reads the stack's failures bucket; each object is fetched once per reader (polling)."""

    def __init__(self, aws: Aws, names: StackNames) -> None:
        super().__init__(aws.client("s3"), names.failures_bucket)

    def kept(self, *, missing_ok: bool = False) -> list[KeptFailure]:
        """Every kept record, oldest first. A missing bucket is an incomplete stack, unless
        `missing_ok` (then: nothing kept)."""
        try:
            return super().kept()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchBucket", "404"}:
                if missing_ok:
                    return []
                raise missing_resource("failures bucket", self.bucket) from None
            raise


def list_failures(aws: Aws, names: StackNames, *, now: datetime,
                  grace: timedelta = DEFAULT_GRACE) -> list[KeptFailure]:
    """Every kept failure and every file never loaded, oldest first."""
    kept = FailureReader(aws, names).kept()
    unloaded = unloaded_files(aws, names, now=now, grace=grace, kept=kept)
    return sort_failures([*kept, *unloaded])


def unloaded_files(aws: Aws, names: StackNames, *, now: datetime, grace: timedelta,
                   kept: Iterable[KeptFailure] = ()) -> list[KeptFailure]:
    """Current `.csv` uploads stored before `now - grace` with no load report of their own
    version and no kept load failure either."""
    try:
        return find_unloaded(aws.client("s3"), names.uploads_bucket, names.load_function,
                             now=now, grace=grace, kept=list(kept))
    except ClientError as exc:
        if error_code(exc) in {"NoSuchBucket", "404"}:
            raise missing_resource("uploads bucket", names.uploads_bucket) from None
        raise


def count_kept(aws: Aws, names: StackNames) -> int:
    """How many records the failures bucket holds: a listing only, nothing is read (and no
    unloaded-file check, which reads the uploads bucket). 0 while the bucket is missing."""
    try:
        return sum(page.get("KeyCount", len(page.get("Contents", [])))
                   for page in aws.client("s3").get_paginator("list_objects_v2").paginate(
                       Bucket=names.failures_bucket))
    except ClientError as exc:
        if error_code(exc) in {"NoSuchBucket", "404"}:
            return 0
        raise


def load_failures_for(failures: Iterable[KeptFailure],
                      files: Iterable[tuple[str, str | None, str]]) -> dict[str, KeptFailure]:
    """For `upload --wait`: the kept failure naming each (key, version_id, etag), by key."""
    wanted = list(files)
    found: dict[str, KeptFailure] = {}
    for failure in failures:
        for stored in failure.files:
            for key, version, etag in wanted:
                if names_version(stored, key, version, etag):
                    found.setdefault(key, failure)
    return found
