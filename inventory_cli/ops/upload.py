"""Checking inventory files locally, sending them to the uploads bucket, waiting for load reports.

A file is checked with the very module the loader runs (`lambda_src.inventory_csv`), so what
the CLI accepts is exactly what the loader accepts. Nothing is sent unless every file passes
(or `skip_invalid` says to send files with bad rows anyway); a file that cannot be read or parsed
at all is never sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from inventory_cli.aws import error_code
from inventory_cli.errors import InvalidInventoryFile, InventoryError, UsageError, printable
from inventory_cli.ops.stack_info import missing_resource

if TYPE_CHECKING:
    from inventory_cli.aws import Aws
    from inventory_cli.ops.failures import FailureReader, KeptFailure

# S3's own multipart threshold is 8 MiB; store files are small, so most go in one PUT, and a
# big consolidated export still gets parallel parts and retries per part.
TRANSFER_CONFIG = TransferConfig(multipart_threshold=8 * 1024 * 1024,
                                 multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
MAX_PARALLEL_FILES = 4
# Written on every object we send, so we can tell our version from one a colleague sent at the
# same moment (upload_file does not return the version id or ETag it created).
UPLOAD_ID_METADATA = "inventory-upload-id"
DEFAULT_WAIT_TIMEOUT = 120.0
POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class Problem:
    """One reason a file (line None) or one of its rows cannot be loaded."""

    file: str
    line: int | None
    reason: str


@dataclass(frozen=True)
class Duplicate:
    file: str
    line: int
    store: str
    item: str
    previous_line: int


@dataclass(frozen=True)
class CheckedFile:
    path: Path
    key: str
    size: int
    rows: int
    rejected: tuple[Problem, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    # With a store's key: valid rows of other stores, which the loader rejects (warnings).
    other_store: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class UploadedFile:
    path: Path
    key: str
    size: int
    version_id: str | None
    etag: str


@dataclass(frozen=True)
class LoadOutcome:
    """What the loader reported for one upload; `report` is None when it did not come in time,
    `failure` is the kept failure of its load (the loader failed after Lambda's retries)."""

    upload: UploadedFile
    report: dict[str, Any] | None = None
    failure: KeptFailure | None = None

    @property
    def timed_out(self) -> bool:
        return self.report is None and self.failure is None

    @property
    def status(self) -> str:
        if self.report is None:
            return "failed" if self.failure is not None else "timed out"
        return str(self.report.get("status", "?"))

    @property
    def rows_read(self) -> int | None:
        return None if self.report is None else int(self.report.get("rows_read", 0))

    @property
    def loaded(self) -> int | None:
        return None if self.report is None else int(self.report.get("loaded", 0))

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return [] if self.report is None else list(self.report.get("rejected", []))

    @property
    def failed(self) -> bool:
        return self.report is None or bool(self.rejected) or self.status == "rejected"


class UploadProgress(Protocol):
    """Told about bytes sent; the CLI draws a progress bar with it. Called from worker threads."""

    def started(self, key: str, size: int) -> None: ...

    def advanced(self, key: str, sent: int) -> None: ...

    def finished(self, key: str) -> None: ...


@dataclass
class _ContractResult:
    rows: int
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str, str, int]] = field(default_factory=list)
    empty_reason: str | None = None
    other_store: list[tuple[int, str]] = field(default_factory=list)


def _check_with_contract(path: Path, store: str | None = None) -> _ContractResult:
    """The one adapter to the CSV contract, `lambda_src.inventory_csv.check_file`.

    With `store` (an upload with that store's key), rows of other stores are judged by the very
    rule the loader applies to a file under the store's prefix (`store_scope`), and kept apart
    from the contract's own rejections.

    Raises `inventory_csv.InvalidFile` (`.line`, `.reason`) for a file that cannot be loaded at
    all, OSError for one that cannot be read.
    """
    from lambda_src import inventory_csv
    from lambda_src.store_scope import row_rule_for_key, store_prefix

    scope_reasons: set[str] = set()
    store_rule = None
    if store is not None:
        loader_rule = row_rule_for_key(store_prefix(store) + path.name)
        assert loader_rule is not None  # a key under the store's prefix always has one

        def store_rule(found: str) -> str | None:
            reason = loader_rule(found)
            if reason is not None:
                scope_reasons.add(reason)
            return reason

    result = inventory_csv.check_file(path, store_rule=store_rule)
    rejected = [(r.line, r.reason) for r in result.rejected]
    return _ContractResult(
        rows=result.rows_read,
        rejected=[r for r in rejected if r[1] not in scope_reasons],
        duplicates=[(d.line, d.store, d.item, d.previous_line) for d in result.duplicates],
        empty_reason=result.empty_reason,
        other_store=[r for r in rejected if r[1] in scope_reasons],
    )


def _whole_file_error() -> type[Exception]:
    from lambda_src.inventory_csv import InvalidFile

    return InvalidFile


def report_key(key: str) -> str:
    from lambda_src.inventory_csv import report_key_for

    return report_key_for(key)


def check_files(paths: Sequence[Path], *, skip_invalid: bool = False,
                store: str | None = None) -> list[CheckedFile]:
    """Check every file before anything is sent; raise InvalidInventoryFile listing all problems.

    Object keys are base names, so two paths with the same base name would overwrite each other
    in one call: that is refused as a usage error. With `store` (an upload with that store's
    key), rows of other stores are warnings, as on the store's page, and a file with no row of
    `store` at all is refused (nothing of it would load) unless `skip_invalid`.
    """
    _refuse_clashing_keys(paths)
    checked: list[CheckedFile] = []
    problems: list[Problem] = []  # in the order of the files given
    unreadable = False
    for path in paths:
        try:
            file = check_file(path, store=store)
        except InvalidInventoryFile as exc:
            unreadable = True
            problems.extend(Problem(name, line, reason) for name, line, reason in exc.problems)
            continue
        checked.append(file)
        problems.extend(file.rejected)
        if store is not None and file.other_store and \
                len(file.rejected) + len(file.other_store) == file.rows:
            problems.append(Problem(
                str(path), None, f"none of its {file.rows} rows is a row of store "
                f"{printable(store)} (the key's store), so nothing would load"))
            problems.extend(file.other_store)
    if unreadable or (problems and not skip_invalid):
        files = len({p.file for p in problems})
        hint = None
        if not unreadable:
            hint = "fix the rows, or send the files anyway with --skip-invalid " \
                   "(the loader then skips those rows)"
        raise InvalidInventoryFile(
            f"{files} file{'s' if files != 1 else ''} refused, nothing was sent",
            problems=[(p.file, p.line, p.reason) for p in problems], hint=hint)
    return checked


def check_file(path: Path, *, store: str | None = None) -> CheckedFile:
    from lambda_src.inventory_csv import is_inventory_key

    name = str(path)
    if not is_inventory_key(path.name):
        # The loader's own rule (the object key is the file's name): anything else never loads.
        reason = "the file name must end in .csv (any letter case): the stack loads only those"
        raise InvalidInventoryFile(f"{name}: {reason}", problems=[(name, None, reason)])
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IsADirectoryError(0, "a directory, not a file")
        result = _check_with_contract(path, store)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidInventoryFile(f"cannot read {name}: {reason}",
                                   problems=[(name, None, f"cannot read: {reason}")]) from None
    except _whole_file_error() as exc:
        line = getattr(exc, "line", None)
        reason = str(getattr(exc, "reason", None) or exc)
        raise InvalidInventoryFile(f"{name}: {reason}", problems=[(name, line, reason)]) from None
    if result.empty_reason is not None:
        # Nothing to load: sending it would only produce an "empty" load report.
        raise InvalidInventoryFile(f"{name}: {result.empty_reason}",
                                   problems=[(name, None, result.empty_reason)])
    return CheckedFile(
        path=path, key=path.name, size=size, rows=result.rows,
        rejected=tuple(Problem(name, line, reason) for line, reason in result.rejected),
        duplicates=tuple(Duplicate(name, line, row_store, item, previous)
                         for line, row_store, item, previous in result.duplicates),
        other_store=tuple(Problem(name, line, reason) for line, reason in result.other_store),
    )


def _refuse_clashing_keys(paths: Sequence[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in paths:
        other = seen.setdefault(path.name, path)
        if other != path:
            raise UsageError(
                f"{other} and {path} would both be uploaded as {path.name!r} (the object key is "
                "the file's name), and the second would replace the first",
                hint="upload them in separate calls, or rename one")


def upload_files(aws: Aws, bucket: str, files: Iterable[CheckedFile], *,
                 progress: UploadProgress | None = None,
                 max_parallel: int = MAX_PARALLEL_FILES,
                 transfer_config: TransferConfig = TRANSFER_CONFIG) -> list[UploadedFile]:
    """Send the files concurrently; return what S3 stored for each (version id, ETag), in order."""
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchBucket"}:
            raise missing_resource("uploads bucket", bucket) from None
        raise

    def send(file: CheckedFile) -> UploadedFile:
        token = uuid.uuid4().hex
        if progress is not None:
            progress.started(file.key, file.size)
        try:
            s3.upload_file(
                str(file.path), bucket, file.key,
                ExtraArgs={"Metadata": {UPLOAD_ID_METADATA: token}, "ContentType": "text/csv"},
                Config=transfer_config,
                Callback=(lambda sent: progress.advanced(file.key, sent)) if progress else None,
            )
        except (ClientError, S3UploadFailedError) as exc:
            from inventory_cli.aws import translate_aws_error

            error = translate_aws_error(exc)
            raise InventoryError(f"upload of {file.path} failed: "
                                 f"{error.message if error else exc}",
                                 hint=error.hint if error else None) from exc
        finally:
            if progress is not None:
                progress.finished(file.key)
        version_id, etag = _stored_version(s3, bucket, file.key, token)
        return UploadedFile(file.path, file.key, file.size, version_id, etag)

    with ThreadPoolExecutor(max_workers=max(1, max_parallel),
                            thread_name_prefix="upload") as pool:
        futures = [pool.submit(send, file) for file in files]
        # .result() in submission order re-raises the first failure after all have run.
        return [future.result() for future in futures]


def _stored_version(s3: Any, bucket: str, key: str, token: str) -> tuple[str | None, str]:
    """Version id and ETag of the object we sent (identified by our metadata token)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    if head.get("Metadata", {}).get(UPLOAD_ID_METADATA) == token:
        return _version(head.get("VersionId")), _etag(head["ETag"])
    # Someone overwrote it in the meantime; with versioning, ours is still among the versions.
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=50)
    for version in listing.get("Versions", []):
        if version["Key"] != key:
            continue
        old = s3.head_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
        if old.get("Metadata", {}).get(UPLOAD_ID_METADATA) == token:
            return _version(version["VersionId"]), _etag(old["ETag"])
    raise InventoryError(f"s3://{bucket}/{key} was replaced by another upload while it was being "
                         "sent; the load report cannot be matched to this upload")


def _version(value: str | None) -> str | None:
    # An unversioned bucket reports no version, a suspended one the literal "null".
    return None if value in (None, "", "null") else value


def _etag(value: str) -> str:
    return value.strip('"')


def wait_for_reports(aws: Aws, bucket: str, uploads: Sequence[UploadedFile], *,
                     timeout: float = DEFAULT_WAIT_TIMEOUT, poll_interval: float = POLL_INTERVAL,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic,
                     failures: FailureReader | None = None) -> list[LoadOutcome]:
    """Poll `reports/<key>.json` until each report names the version we uploaded, or time out.

    A report for an older version of the same key (yesterday's load) does not count. With
    `failures`, a load kept as failed (after Lambda's retries) ends the wait for that file at
    once: no report will come for it.
    """
    from inventory_cli.ops.failures import load_failures_for

    s3 = aws.client("s3")
    deadline = clock() + timeout
    reports: dict[int, dict[str, Any]] = {}
    failed: dict[int, KeptFailure] = {}
    while True:
        for index, upload in enumerate(uploads):
            if index not in reports:
                report = _read_report(s3, bucket, upload)
                if report is not None:
                    reports[index] = report
                    failed.pop(index, None)
        pending = [i for i in range(len(uploads)) if i not in reports and i not in failed]
        if pending and failures is not None:
            found = load_failures_for(failures.kept(missing_ok=True),
                                      ((uploads[i].key, uploads[i].version_id, uploads[i].etag)
                                       for i in pending))
            failed.update({i: found[uploads[i].key] for i in pending if uploads[i].key in found})
        remaining = deadline - clock()
        if len(reports) + len(failed) == len(uploads) or remaining <= 0:
            break
        sleep(min(poll_interval, remaining))
    return [LoadOutcome(upload, reports.get(i), failed.get(i))
            for i, upload in enumerate(uploads)]


def _read_report(s3: Any, bucket: str, upload: UploadedFile) -> dict[str, Any] | None:
    key = report_key(upload.key)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in {"NoSuchKey", "404"}:
            return None
        raise
    try:
        report = json.loads(body)
        source = report["source"]
    except (ValueError, KeyError, TypeError):
        raise InventoryError(f"the load report s3://{bucket}/{key} is not valid JSON with a "
                             "'source' object; is the loader of this stack up to date?",
                             hint="`inventory provision` deploys the current loader") from None
    if not isinstance(report, dict) or not report_matches(source, upload):
        return None
    return report


def report_matches(source: dict[str, Any], upload: UploadedFile) -> bool:
    if upload.version_id is not None:
        return bool(source.get("version_id") == upload.version_id)
    return _etag(str(source.get("etag") or "")) == upload.etag
