"""`inventory retry`: re-drive kept failures with the event that failed, and forget each that now
succeeds.

- A failed asynchronous invocation (the loader's S3 event) is invoked again with the kept
  `requestPayload`.
- A failed stream batch is invoked again with the kept records (the record's `payload`), not
  re-read from the stream: the stream keeps records 24 hours, a kept failure keeps them until
  it is re-driven. The checker publishes each alert at most once (its alert log), so replaying a
  batch whose alerts were partly sent sends only the missing ones.
- A file that never reached the loader is loaded with an S3 event for its stored version.

Invocations are synchronous (RequestResponse), so the outcome is known before the record is
deleted: a crash between the two leaves the record, and the next retry re-drives it again,
which is harmless (loading is idempotent, alerts are exactly-once).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.errors import InventoryError, UsageError
from inventory_cli.ops.failures import (
    DEFAULT_GRACE,
    UNLOADED_PREFIX,
    FailureReader,
    KeptFailure,
    StoredFile,
    continued_file,
    file_in_record,
    stream_records,
    unloaded_files,
)
from lambda_src.continuation import CONTINUATION_FIELD
from lambda_src.update_summaries import REPLAY_FIELD

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.config import StackNames

Result = Literal["done", "failed", "superseded", "already loaded"]


class UnknownFailure(InventoryError):
    """An id that names no kept failure."""


@dataclass(frozen=True)
class RetryOutcome:
    failure: KeptFailure
    result: Result
    detail: str

    @property
    def failed(self) -> bool:
        return self.result == "failed"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.failure.id, "kind": self.failure.kind,
                "function": self.failure.function, "what": self.failure.what,
                "result": self.result, "detail": self.detail}


def select_failures(aws: Aws, names: StackNames, ids: Sequence[str], *, retry_all: bool,
                    now: datetime, grace: timedelta = DEFAULT_GRACE) -> list[KeptFailure]:
    """The failures to re-drive; every id is checked before anything is re-driven.

    An explicit `unloaded:<key>` is taken whatever its age (`upload --wait` names it as soon as
    it gives up); `--all` takes files only once they are older than `grace`.
    """
    if not ids and not retry_all:
        raise UsageError("name the failures to retry (ids from `inventory failures`), or --all")
    if ids and retry_all:
        raise UsageError("give ids or --all, not both")
    kept = FailureReader(aws, names).kept()
    if retry_all:
        return [*kept, *unloaded_files(aws, names, now=now, grace=grace, kept=kept)]
    by_id = {failure.id: failure for failure in kept}
    wanted_unloaded = [i for i in ids if i.startswith(UNLOADED_PREFIX)]
    if wanted_unloaded:
        for failure in unloaded_files(aws, names, now=now, grace=timedelta(0), kept=kept):
            by_id.setdefault(failure.id, failure)
    selected: list[KeptFailure] = []
    unknown: list[str] = []
    for failure_id in dict.fromkeys(ids):
        if failure_id in by_id:
            selected.append(by_id[failure_id])
        elif failure_id.startswith(UNLOADED_PREFIX) and _stored(
                aws, names, failure_id.removeprefix(UNLOADED_PREFIX)):
            selected.append(KeptFailure(id=failure_id, kind="unloaded", when=None,
                                        function=names.load_function, error="",
                                        files=()))
        else:
            unknown.append(failure_id)
    if unknown:
        raise UnknownFailure(
            f"no kept failure with id {', '.join(repr(u) for u in unknown)} (nothing was "
            "re-driven)",
            hint="`inventory failures` lists the ids; a failure that was re-driven successfully "
                 "is no longer kept")
    return selected


def _stored(aws: Aws, names: StackNames, key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=names.uploads_bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def retry(aws: Aws, names: StackNames, failures: Sequence[KeptFailure]) -> list[RetryOutcome]:
    """Re-drive each failure in turn; delete each kept record whose re-drive succeeded."""
    return [_retry_one(aws, names, failure) for failure in failures]


def _retry_one(aws: Aws, names: StackNames, failure: KeptFailure) -> RetryOutcome:
    if failure.kind == "unreadable" or failure.record is None and failure.kind != "unloaded":
        return RetryOutcome(failure, "failed",
                            f"not re-driven: the kept record {failure.error}; inspect "
                            f"s3://{names.failures_bucket}/{failure.object_key} and delete it "
                            "by hand")
    if failure.kind == "unloaded" and not failure.files:  # named, but its report is there
        return RetryOutcome(failure, "already loaded", "its load report names the stored version")
    try:
        if failure.kind == "unloaded":
            outcome = _invoked(failure, _invoke(aws, names.load_function,
                                                s3_event(names, failure.files)))
        elif failure.kind == "async":
            outcome = _retry_async(aws, names, failure)
        else:
            assert failure.record is not None
            # Marked as a replay: the summaries function then writes only with conditions,
            # beside the stream's own invocations (update_summaries.REPLAY_FIELD).
            outcome = _invoked(failure, _invoke(aws, failure.function,
                                                {"Records": stream_records(failure.record),
                                                 REPLAY_FIELD: True}))
    except ClientError as exc:
        return RetryOutcome(failure, "failed", f"could not invoke {failure.function}: "
                                               f"{error_code(exc)}: {exc}")
    except ValueError as exc:
        return RetryOutcome(failure, "failed", f"not re-driven: {exc}")
    return _forget(aws, names, outcome)


def _retry_async(aws: Aws, names: StackNames, failure: KeptFailure) -> RetryOutcome:
    assert failure.record is not None
    event = dict(failure.record["requestPayload"])
    superseded = _superseded(aws, failure.files)
    if failure.files and len(superseded) == len(failure.files):
        # Loading an older version now would overwrite the rows of the newer upload.
        return RetryOutcome(
            failure, "superseded",
            "; ".join(f"{f.key} was replaced by version {v} uploaded later (that upload has "
                      f"its own event)" for f, v in superseded))
    skipped = {(f.key, f.version_id) for f, _ in superseded}
    if skipped:
        event["Records"] = [r for r in event.get("Records") or []
                            if _record_file(r) not in skipped]
    pointer = event.get(CONTINUATION_FIELD)
    if isinstance(pointer, dict):
        continued = continued_file(event)
        if continued is not None and (continued.key, continued.version_id) in skipped:
            del event[CONTINUATION_FIELD]  # a newer upload of that file has its own load
        else:
            # A chain stopped by its length or by Lambda's loop detection goes on from its
            # last checkpoint with a new allowance of hand-overs.
            event[CONTINUATION_FIELD] = {**pointer, "hops": 0}
    return _invoked(failure, _invoke(aws, failure.function, event))


def _record_file(record: Any) -> tuple[str, str | None] | None:
    stored = file_in_record(record)
    return (stored.key, stored.version_id) if stored else None


def _superseded(aws: Aws, files: Sequence[StoredFile]) -> list[tuple[StoredFile, str]]:
    """Files of a kept event whose key now holds a newer version than the one kept."""
    s3 = aws.client("s3")
    found = []
    for stored in files:
        if stored.version_id is None:
            continue
        try:
            current = s3.head_object(Bucket=stored.bucket, Key=stored.key).get("VersionId")
        except ClientError:
            continue  # deleted, or not ours to read: let the loader say so
        if current and current not in ("null", stored.version_id):
            found.append((stored, str(current)))
    return found


def s3_event(names: StackNames, files: Sequence[StoredFile]) -> dict[str, Any]:
    """The S3 event S3 would have sent for these stored objects (keys encoded as S3 does)."""
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": names.region,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": f.bucket, "arn": f"arn:aws:s3:::{f.bucket}"},
            "object": {"key": quote_plus(f.key, safe=""), "size": f.size or 0,
                       "eTag": f.etag or "",
                       **({"versionId": f.version_id} if f.version_id else {})},
        },
    } for f in files]}


@dataclass(frozen=True)
class _Invocation:
    function: str
    error: str | None


def _invoke(aws: Aws, function: str, event: dict[str, Any]) -> _Invocation:
    response = aws.client("lambda").invoke(FunctionName=function,
                                           InvocationType="RequestResponse",
                                           Payload=json.dumps(event).encode("utf-8"))
    body = response["Payload"].read()
    try:
        result = json.loads(body) if body else None
    except ValueError:
        result = None
    if response.get("FunctionError"):
        message = result.get("errorMessage") if isinstance(result, dict) else None
        kind = result.get("errorType") if isinstance(result, dict) else None
        text = f"{kind}: {message}" if kind and message else message or body.decode(
            "utf-8", "replace")[:500]
        return _Invocation(function, text or response["FunctionError"])
    if isinstance(result, dict) and result.get("batchItemFailures"):
        failed = len(result["batchItemFailures"])
        from inventory_cli.ops.logs import log_name_of

        # The re-driven function's own log (the checker's or the summaries').
        log = log_name_of(aws.names, function)
        where = f"inventory logs {log}" if log else "inventory logs"
        return _Invocation(function, f"{failed} record(s) of the batch failed again "
                                     f"(see `{where}`)")
    return _Invocation(function, None)


def _invoked(failure: KeptFailure, invocation: _Invocation) -> RetryOutcome:
    if invocation.error is not None:
        return RetryOutcome(failure, "failed", invocation.error)
    return RetryOutcome(failure, "done", f"{invocation.function} succeeded")


def _forget(aws: Aws, names: StackNames, outcome: RetryOutcome) -> RetryOutcome:
    """Delete the kept record of a failure that needs no more re-driving."""
    if outcome.failed or outcome.failure.object_key is None:
        return outcome
    aws.client("s3").delete_object(Bucket=names.failures_bucket,
                                   Key=outcome.failure.object_key)
    return outcome
