"""Kept failures, as the deployed announcer and the CLI both read them (standard library and
boto3 only: this is deployed code, and the CLI's ops/failures.py builds on it).

Two sources (docs/data-formats.md, "Kept failures and the alert log"):
- Lambda's own on-failure records in the failures bucket: an asynchronous invocation (the
  loader's S3 events) after its retries, or a stream batch after the mapping's retries. The
  record holds the whole event, so it can be replayed (`inventory retry`). Its id is the
  object key's last path segment.
- Stored `.csv` files with no load report some minutes after they were stored: S3 never
  invoked the loader (a new notification can take minutes to take effect on AWS; an event can
  be lost). Id `unloaded:<uploads key>`.

Every object of the bucket is read and judged by its content, not by its key. One that is not
a record this tool understands is listed as unreadable: it never stops a command.

`retry_line` is the one place the `inventory retry ...` command line of a failure is built:
`inventory failures` prints it and the announcer sends it to the operators.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from lambda_src.continuation import CONTINUATION_FIELD
from lambda_src.inventory_csv import REPORTS_PREFIX, is_inventory_key, report_key_for

DEFAULT_GRACE = timedelta(minutes=10)
UNLOADED_PREFIX = "unloaded:"
# A kept record is a few KB (a stream batch of 100 records: ~60 KB); anything far bigger is not
# one of Lambda's records and is not read whole.
MAX_RECORD_BYTES = 8 * 1024 * 1024

Kind = Literal["async", "stream", "unloaded", "unreadable"]


@dataclass(frozen=True)
class StoredFile:
    """An uploaded object, as an S3 event or the uploads bucket names it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    def label(self) -> str:
        return self.key + (f" (version {self.version_id})" if self.version_id else "")


@dataclass(frozen=True)
class KeptFailure:
    id: str
    kind: Kind
    when: datetime | None
    function: str
    error: str
    attempts: int | None = None
    # Where the record is kept (None for a file that never reached the loader).
    object_key: str | None = None
    files: tuple[StoredFile, ...] = ()
    # (store, item) of each stream record of a failed batch.
    items: tuple[tuple[str, str], ...] = ()
    # The parsed record, to replay it.
    record: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    # For a file never loaded: how long after it was stored it was found so.
    age: timedelta | None = field(default=None, compare=False)

    @property
    def what(self) -> str:
        """Which files, or which stores and items, in one line."""
        if self.files:
            return ", ".join(f.label() for f in self.files)
        if self.items:
            return ", ".join(f"{store}: {item}" for store, item in self.items)
        return "-"

    def retry(self, stack: str) -> str | None:
        """`inventory retry` of this failure; None for a record no retry can re-drive."""
        return None if self.kind == "unreadable" else retry_line(stack, [self.id])

    def as_json(self, stack: str | None = None) -> dict[str, Any]:
        """As `inventory failures --output json` shows it (with `stack`: its retry line)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "when": self.when.isoformat() if self.when else None,
            "function": self.function,
            "files": [{"bucket": f.bucket, "key": f.key, "version_id": f.version_id}
                      for f in self.files],
            "items": [{"store": s, "item": i} for s, i in self.items],
            "error": self.error,
            "attempts": self.attempts,
            "object_key": self.object_key,
            **({"retry": self.retry(stack)} if stack is not None else {}),
        }


# ---- reading Lambda's records ------------------------------------------------------------------

class _Unreadable(ValueError):
    pass


def parse_record(object_key: str, body: bytes, stored: datetime | None) -> KeptFailure:
    """One object of the failures bucket as a KeptFailure; never raises."""
    failure_id = failure_id_of(object_key)
    try:
        record = json.loads(body)
        if not isinstance(record, dict):
            raise _Unreadable("not a JSON object")
        if "requestPayload" in record:
            return _async_failure(failure_id, object_key, record, stored)
        if "payload" in record or "DDBStreamBatchInfo" in record:
            return _stream_failure(failure_id, object_key, record, stored)
        raise _Unreadable("neither an asynchronous invocation record (requestPayload) nor a "
                          "stream batch record (payload)")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = str(exc) if isinstance(exc, _Unreadable) else f"{type(exc).__name__}: {exc}"
        return KeptFailure(id=failure_id, kind="unreadable", when=stored, function="-",
                           error=f"cannot be parsed ({reason})", object_key=object_key)


def failure_id_of(object_key: str) -> str:
    return object_key.rstrip("/").rsplit("/", 1)[-1] or object_key


def _context(record: Mapping[str, Any]) -> tuple[str, int | None]:
    context = record.get("requestContext")
    if not isinstance(context, dict):
        raise _Unreadable("no requestContext")
    arn = str(context.get("functionArn") or "")
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    parts = arn.split(":")
    function = parts[6] if len(parts) > 6 and parts[5] == "function" else arn or "-"
    attempts = context.get("approximateInvokeCount")
    return function, int(attempts) if attempts is not None else None


def _when(record: Mapping[str, Any], stored: datetime | None) -> datetime | None:
    stamp = record.get("timestamp")
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return stored
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return stored


def _error(record: Mapping[str, Any]) -> str:
    """The function's error message if the record has one, else Lambda's condition."""
    response = record.get("responsePayload")
    if isinstance(response, str):
        try:
            response = json.loads(response)
        except ValueError:
            return response[:500]
    if isinstance(response, dict) and response.get("errorMessage"):
        kind = response.get("errorType")
        message = str(response["errorMessage"])
        return f"{kind}: {message}" if kind and str(kind) not in message else message
    context = record.get("requestContext") or {}
    condition = context.get("condition") if isinstance(context, dict) else None
    function_error = (record.get("responseContext") or {}).get("functionError")
    parts = [str(p) for p in (condition, function_error and f"function error {function_error}")
             if p]
    return ", ".join(parts) or "unknown error"


def _async_failure(failure_id: str, object_key: str, record: dict[str, Any],
                   stored: datetime | None) -> KeptFailure:
    function, attempts = _context(record)
    payload = record["requestPayload"]
    if not isinstance(payload, dict):
        raise _Unreadable("requestPayload is not an event object")
    files = tuple(f for f in (file_in_record(r) for r in payload.get("Records") or []) if f)
    error = _error(record)
    continued = continued_file(payload)
    if continued is not None:
        # A load that had handed over: the file it was loading comes first, then the files
        # of the event still waiting behind it.
        files = (continued, *(f for f in files if f != continued))
        hops = payload[CONTINUATION_FIELD].get("hops")
        if "LoadCannotFinish" not in error:  # that one names the file and the count itself
            error = (f"the load of {continued.key} stopped after {hops or 'some'} hand-over"
                     f"{'' if hops == 1 else 's'}: {error}")
    elif files and not any(is_inventory_key(f.key) for f in files):
        # The loader's own checkpoint or report writes notify it too (and are skipped); such an
        # event is kept only when Lambda stopped it as part of a loop, or the loader was broken.
        error += (" (an event the loader skips: none of its keys is an upload; `inventory "
                  "retry` clears it)")
    if loop_stopped(record):
        error += (" (Lambda's recursive loop detection stopped it: the loader's recursion "
                  "config must be Allow, which `inventory provision` sets"
                  + ("; `inventory retry` then goes on from where it stopped)" if continued
                     else ")"))
    return KeptFailure(id=failure_id, kind="async", when=_when(record, stored),
                       function=function, error=error, attempts=attempts,
                       object_key=object_key, files=files, record=record)


def continued_file(payload: Mapping[str, Any]) -> StoredFile | None:
    """The file a continuation event goes on loading (the loader's hand-over), or None."""
    pointer = payload.get(CONTINUATION_FIELD)
    if not isinstance(pointer, dict) or not pointer.get("bucket") or not pointer.get("key"):
        return None
    return StoredFile(bucket=str(pointer["bucket"]), key=str(pointer["key"]),
                      version_id=pointer.get("version_id") or None,
                      etag=pointer.get("etag") or None)


def loop_stopped(record: Mapping[str, Any]) -> bool:
    """Whether Lambda's recursive loop detection stopped this invocation (the record's
    condition, or the error it carries, names the recursive loop)."""
    context = record.get("requestContext") or {}
    response = record.get("responseContext") or {}
    payload = record.get("responsePayload")
    said = " ".join(str(part) for part in (
        context.get("condition") if isinstance(context, dict) else None,
        response.get("functionError") if isinstance(response, dict) else None,
        json.dumps(payload) if payload is not None else None) if part)
    return "recursive" in said.lower()


def file_in_record(record: Any) -> StoredFile | None:
    if not isinstance(record, dict) or not isinstance(record.get("s3"), dict):
        return None
    s3 = record["s3"]
    bucket = (s3.get("bucket") or {}).get("name")
    obj = s3.get("object") or {}
    if not bucket or "key" not in obj:
        return None
    version = obj.get("versionId") or None
    return StoredFile(bucket=bucket, key=unquote_plus(obj["key"]),
                      version_id=None if version == "null" else version,
                      etag=obj.get("eTag"), size=obj.get("size"))


def stream_records(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stream records of a kept batch (the invocation payload, a JSON string)."""
    payload = record.get("payload")
    if isinstance(payload, str):
        payload = json.loads(payload)
    if not isinstance(payload, dict) or not isinstance(payload.get("Records"), list):
        raise _Unreadable("payload holds no Records")
    return list(payload["Records"])


def _stream_failure(failure_id: str, object_key: str, record: dict[str, Any],
                    stored: datetime | None) -> KeptFailure:
    function, attempts = _context(record)
    items = []
    for entry in stream_records(record):
        keys = (entry.get("dynamodb") or {}).get("Keys") or {}
        store = (keys.get("Store") or {}).get("S")
        item = (keys.get("Item") or {}).get("S")
        if store is not None and item is not None:
            items.append((str(store), str(item)))
    return KeptFailure(id=failure_id, kind="stream", when=_when(record, stored),
                       function=function, error=_error(record), attempts=attempts,
                       object_key=object_key, items=tuple(items), record=record)


def error_code(exc: ClientError) -> str:
    """The error code of an AWS answer ("NoSuchBucket", "404", ...), or "" if it has none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def retry_line(stack: str, failure_ids: Sequence[str]) -> str:
    """The command that re-drives these failures of `stack`, quoted for a POSIX shell (an
    uploaded key may hold spaces or quotes). The stack is always named, so the line is right
    whichever stack the reader's shell defaults to."""
    return " ".join(["inventory", "--stack", shlex.quote(stack), "retry",
                     *(shlex.quote(i) for i in failure_ids)])


# ---- reading the failures bucket ---------------------------------------------------------------

class KeptRecords:
    """Reads the failures bucket; each object is fetched once per reader (for polling)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket
        self._parsed: dict[str, KeptFailure] = {}

    def listing(self) -> list[dict[str, Any]]:
        """The bucket's objects as ListObjectsV2 gives them (a missing bucket raises S3's
        NoSuchBucket); nothing is read."""
        return [obj for page in self._s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket) for obj in page.get("Contents", [])]

    def kept(self) -> list[KeptFailure]:
        """Every kept record, oldest first (a missing bucket raises S3's NoSuchBucket)."""
        listed = self.listing()
        current = {obj["Key"] for obj in listed}
        for gone in set(self._parsed) - current:
            del self._parsed[gone]
        for obj in listed:
            if obj["Key"] not in self._parsed:
                self._parsed[obj["Key"]] = self.read(obj)
        return sort_failures(self._parsed.values())

    def read(self, obj: Mapping[str, Any]) -> KeptFailure:
        """One listed object, fetched and parsed (never raises for its content)."""
        key = obj["Key"]
        stored = obj.get("LastModified")
        if int(obj.get("Size", 0)) > MAX_RECORD_BYTES:
            return KeptFailure(id=failure_id_of(key), kind="unreadable", when=stored,
                               function="-", object_key=key,
                               error=f"cannot be parsed (too large: {obj.get('Size')} bytes)")
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:  # removed meanwhile (a retry)
                body = b""
            else:
                raise
        return parse_record(key, body, stored)

def sort_failures(failures: Iterable[KeptFailure]) -> list[KeptFailure]:
    """Oldest first (a failure with no time first), then by id."""
    return sorted(failures, key=lambda f: (f.when or datetime.min.replace(tzinfo=UTC), f.id))


# ---- files never loaded --------------------------------------------------------------------

def names_version(stored: StoredFile, key: str, version: str | None, etag: str) -> bool:
    """Whether a file named by a kept event is this version of `key`. S3 events name the
    version on a versioned bucket (moto's do not), and always the ETag."""
    if stored.key != key:
        return False
    if stored.version_id is not None and version is not None:
        return stored.version_id == version
    return not stored.etag or stored.etag.strip('"') == etag


def find_unloaded(s3: Any, bucket: str, load_function: str, *, now: datetime,
                  grace: timedelta, kept: Sequence[KeptFailure] = ()) -> list[KeptFailure]:
    """Current `.csv` objects of `bucket` stored before `now - grace` that have no load report
    of their own version, no kept load failure and no checkpoint written within the grace (a
    load still going on) either (a missing bucket raises S3's NoSuchBucket)."""
    from lambda_src.load_checkpoint import CHECKPOINT_PREFIX

    reports: dict[str, datetime] = {}
    # Checkpoints written within the grace: loads still handing over (a long file's load
    # writes one at each hand-over, and its report only at the end).
    recent_checkpoints: list[str] = []
    candidates: list[Mapping[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            if obj["Key"].startswith(CHECKPOINT_PREFIX):
                if obj["LastModified"] > now - grace:
                    recent_checkpoints.append(obj["Key"])
            elif obj["Key"].startswith(REPORTS_PREFIX):
                reports[obj["Key"]] = obj["LastModified"]
            elif is_inventory_key(obj["Key"]) and obj["LastModified"] <= now - grace:
                candidates.append(obj)
    kept_files = [f for failure in kept for f in failure.files]
    found = []
    for obj in candidates:
        key = obj["Key"]
        report_key = report_key_for(key)
        written = reports.get(report_key)
        if written is not None and written >= obj["LastModified"]:
            continue  # a report written after this upload
        head = s3.head_object(Bucket=bucket, Key=key)
        version = head.get("VersionId")
        version = None if version in (None, "", "null") else version
        etag = str(head.get("ETag", "")).strip('"')
        if written is not None and _report_names(s3, bucket, report_key, version, etag):
            continue
        if any(names_version(f, key, version, etag) for f in kept_files):
            continue  # listed as the kept failure of its load
        if any(c.startswith(f"{CHECKPOINT_PREFIX}{key}.{version or etag}.")
               for c in recent_checkpoints):
            continue  # still loading
        stored: datetime = obj["LastModified"]
        minutes = max(0, int((now - stored).total_seconds() // 60))
        found.append(KeptFailure(
            id=f"{UNLOADED_PREFIX}{key}", kind="unloaded", when=stored,
            function=load_function,
            error=f"stored {minutes} min ago and never loaded (no load report): S3 did not "
                  "invoke the loader",
            files=(StoredFile(bucket, key, version, etag, int(obj.get("Size", 0))),),
            age=now - stored))
    return found


def _report_names(s3: Any, bucket: str, report_key: str, version: str | None,
                  etag: str) -> bool:
    """Whether the report at `report_key` is the report of this version of the file."""
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
        source = report["source"]
    except (ClientError, ValueError, KeyError, TypeError):
        return False
    if version is not None:
        return bool(source.get("version_id") == version)
    return str(source.get("etag") or "").strip('"') == etag
