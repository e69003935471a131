"""The load report: what the loader did with one uploaded file.

Written as JSON to `reports/<key>.json` in the uploads bucket and logged as one JSON line
(`{"event": "load_report", ...}`). Its shape is a contract with the CLI (docs/data-formats.md).
`source.version_id` and `source.etag` (unquoted) name the exact object version that was read, so a
client that just uploaded can tell its report from an older one of the same key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from lambda_src.inventory_csv import DuplicateRow, RejectedRow
from lambda_src.structured_log import event_line

Status = Literal["loaded", "empty", "rejected"]

# Lists in a report are capped so that a file of 100,000 bad rows still gives a small report and
# a bounded loader; the totals are always complete (`rejected_count`, `duplicate_count`).
MAX_LISTED = 1000


@dataclass(frozen=True)
class ObjectSource:
    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "version_id": self.version_id,
                "etag": self.etag}


@dataclass
class LoadReport:
    source: ObjectSource
    status: Status = "loaded"
    rows_read: int = 0
    loaded: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    rejected_count: int = 0
    duplicate_count: int = 0
    message: str = ""

    def add_rejected(self, row: RejectedRow) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(row)

    def add_duplicate(self, row: DuplicateRow) -> None:
        self.duplicate_count += 1
        self.list_duplicate(row)

    def list_duplicate(self, row: DuplicateRow) -> None:
        """List a duplicate already counted (the loader counts them all before it lists any)."""
        if len(self.duplicates) < MAX_LISTED:
            self.duplicates.append(row)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.as_dict(),
            "status": self.status,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "duplicates": [{"line": d.line, "store": d.store, "item": d.item,
                            "previous_line": d.previous_line} for d in self.duplicates],
            "rejected_count": self.rejected_count,
            "duplicate_count": self.duplicate_count,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadReport:
        """The inverse of `as_dict` (a load carries its report to its next invocation)."""
        return cls(
            source=ObjectSource(**data["source"]), status=data["status"],
            rows_read=int(data["rows_read"]), loaded=int(data["loaded"]),
            rejected=[RejectedRow(int(r["line"]), str(r["reason"])) for r in data["rejected"]],
            duplicates=[DuplicateRow(int(d["line"]), str(d["store"]), str(d["item"]),
                                     int(d["previous_line"])) for d in data["duplicates"]],
            rejected_count=int(data["rejected_count"]),
            duplicate_count=int(data["duplicate_count"]), message=str(data["message"]))

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n"

    def log_line(self) -> str:
        return event_line("load_report", **self.as_dict())


def summarize(report: LoadReport) -> str:
    """The human sentence in `message`."""
    if report.status == "rejected":
        return report.message
    if report.status == "empty":
        return f"nothing loaded: {report.message}"
    parts = [f"loaded {report.loaded} item{'s' if report.loaded != 1 else ''} "
             f"from {report.rows_read} row{'s' if report.rows_read != 1 else ''}"]
    if report.rejected_count:
        listed = "" if report.rejected_count <= MAX_LISTED else f", first {MAX_LISTED} listed"
        parts.append(f"{report.rejected_count} rejected{listed}")
    if report.duplicate_count:
        listed = "" if report.duplicate_count <= MAX_LISTED else f", first {MAX_LISTED} listed"
        plural = "s" if report.duplicate_count != 1 else ""
        parts.append(f"{report.duplicate_count} duplicate{plural} (the last row wins{listed})")
    return "; ".join(parts)
