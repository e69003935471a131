"""Where a load that ran short of time stopped, kept in the uploads bucket for the next invocation.

A checkpoint is one S3 object under `reports/.loading/` (the loader may write under `reports/`;
the bucket notifies the loader only of keys ending in `.csv`/`.CSV`, and these end in
`.checkpoint`, so writing one never starts a load). Its body: 4 bytes of header length, a JSON
header (phase, read position, the report so far, unwritten items), then the binary index of the
phase (`KeyIndex` while scanning, `DuplicateLines` while writing). The event of the next
invocation names the checkpoint's exact version, so a retried continuation reads the same state.
Once the report is written, every checkpoint the load wrote is deleted.

Each step of a load has its own key (`...<step>.checkpoint`), created only if it does not exist
(`If-None-Match: *`). An invocation retried after it had already handed over (it timed out just
after, say) redoes its step and then finds the next checkpoint taken. It cannot know whether its
first run's invoke went through, so it hands over to that checkpoint once more, marked adopted;
an adopted run that finds its next step taken stops. Two runs of a step are harmless (the same
rows, written twice) and die out after a step or two; a chain that nobody continues would lose
rows. A continuation whose checkpoint is gone was already finished by its chain.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from lambda_src.inventory_csv import REPORTS_PREFIX, ReadPosition

CHECKPOINT_PREFIX = f"{REPORTS_PREFIX}.loading/"
CHECKPOINT_SUFFIX = ".checkpoint"
FORMAT = 1

Phase = Literal["scan", "write"]


def checkpoint_key(key: str, version: str, step: int) -> str:
    """The checkpoint a load of one object version (or ETag, on an unversioned bucket) wrote
    at its `step`th hand-over."""
    return f"{CHECKPOINT_PREFIX}{key}.{version}.{step}{CHECKPOINT_SUFFIX}"


class StepTaken(RuntimeError):
    """The checkpoint of this step exists already: another run of the step handed over."""


class CheckpointGone(RuntimeError):
    """The checkpoint a continuation names no longer exists: its load is finished."""


class CheckpointUnreadable(RuntimeError):
    """S3 refused the checkpoint and the loader cannot tell whether it exists: a permission is
    missing from the loader's role (the message names it). Not a finished load."""


@dataclass
class Checkpoint:
    """Everything a load needs to go on from `position` in its `phase`."""

    source: dict[str, Any]
    size: int
    phase: Phase
    position: ReadPosition
    report: dict[str, Any]
    index: bytes = b""
    # Items the writer had not got DynamoDB to accept when time ran out; written first next time.
    unwritten: list[dict[str, Any]] = field(default_factory=list)
    continuations: int = 0
    # Checkpoints written so far, [key, version id or None], deleted when the load is done.
    written: list[list[str | None]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        header = json.dumps({
            "format": FORMAT, "source": self.source, "size": self.size, "phase": self.phase,
            "position": self.position.as_dict(), "report": self.report,
            "unwritten": self.unwritten, "continuations": self.continuations,
            "written": self.written,
        }, ensure_ascii=False).encode("utf-8")
        return struct.pack(">I", len(header)) + header + self.index

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        (length,) = struct.unpack(">I", data[:4])
        header = json.loads(data[4:4 + length])
        if header.get("format") != FORMAT:
            raise ValueError(f"unknown checkpoint format {header.get('format')!r}")
        return cls(source=header["source"], size=int(header["size"]), phase=header["phase"],
                   position=ReadPosition.from_dict(header["position"]), report=header["report"],
                   index=data[4 + length:], unwritten=header["unwritten"],
                   continuations=int(header["continuations"]), written=header["written"])


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def save(checkpoint: Checkpoint, *, s3: Any, bucket: str, key: str) -> str | None:
    """Create the checkpoint; returns its version id (None on an unversioned bucket)."""
    try:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=checkpoint.to_bytes(),
                               ContentType="application/octet-stream", IfNoneMatch="*")
    except ClientError as exc:
        if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise StepTaken(f"s3://{bucket}/{key} exists already") from None
        raise
    version = answer.get("VersionId")
    return None if version in (None, "", "null") else str(version)


def load(*, s3: Any, bucket: str, key: str, version: str | None
         ) -> tuple[Checkpoint, str | None]:
    """The checkpoint and its version id (the newest when `version` is None)."""
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version:
        args["VersionId"] = version
    try:
        response = s3.get_object(**args)
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "NoSuchVersion", "404"):
            raise CheckpointGone(f"s3://{bucket}/{key} is gone") from None
        if _code(exc) in ("AccessDenied", "403"):
            # Without s3:ListBucket, S3 answers a missing key with 403 AccessDenied, not 404
            # (Amazon S3 API reference, GetObject, "Permissions": "If you don't have the
            # s3:ListBucket permission, Amazon S3 returns an HTTP status code 403"). Ask the
            # listing, which the role may read under the checkpoint prefix, which one it is.
            _raise_for_refusal(s3, bucket, key, exc)
        raise
    body = response["Body"]
    found = response.get("VersionId")
    try:
        return Checkpoint.from_bytes(body.read()), None if found in (None, "", "null") else found
    finally:
        body.close()


def _raise_for_refusal(s3: Any, bucket: str, key: str, refused: ClientError) -> None:
    """Raise CheckpointGone if the listing shows the key is not there; CheckpointUnreadable
    naming the missing permission otherwise."""
    where = f"s3://{bucket}/{key}"
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except ClientError as exc:
        if _code(exc) not in ("AccessDenied", "403"):
            raise
        raise CheckpointUnreadable(
            f"S3 refused the checkpoint {where} (AccessDenied), and the loader's role may not "
            f"list arn:aws:s3:::{bucket} under {CHECKPOINT_PREFIX} to tell a missing checkpoint "
            f"from a refused one: the role lacks s3:ListBucket on the uploads bucket (with "
            f"s3:prefix {CHECKPOINT_PREFIX}*); `inventory provision` restores it") from None
    if not any(entry.get("Key") == key for entry in listed.get("Contents") or []):
        raise CheckpointGone(f"{where} is gone") from None
    raise CheckpointUnreadable(
        f"S3 refused the checkpoint {where} although it exists ({_code(refused)}): the "
        f"loader's role lacks s3:GetObject or s3:GetObjectVersion on it; `inventory provision` "
        f"restores them") from None


def delete(*, s3: Any, bucket: str, written: list[list[str | None]]) -> None:
    """Delete every checkpoint written, by version (a versioned bucket would otherwise keep
    them, hidden behind delete markers)."""
    for key, version in written:
        if version:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
        else:
            s3.delete_object(Bucket=bucket, Key=key)
