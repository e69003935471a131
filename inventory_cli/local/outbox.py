"""The local outbox: SNS e-mail and SMS deliveries that cannot leave the machine.

The emulator appends each message it would have delivered to `<home>/outbox.jsonl`, one JSON
object per line, oldest first; `inventory local outbox` reads it back. One writer (the emulator
process) appends whole lines under a lock, so readers never see a half-written message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inventory_cli.errors import InventoryError

OUTBOX_FILE = "outbox.jsonl"
# The SNS protocols whose deliveries go to the outbox; SQS, Lambda and HTTP are delivered.
OUTBOX_PROTOCOLS = frozenset({"email", "email-json", "sms"})


@dataclass(frozen=True)
class OutboxMessage:
    time: str
    topic_arn: str
    protocol: str
    to: str
    subject: str | None
    message: str
    attributes: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def outbox_path(home: Path) -> Path:
    return home / OUTBOX_FILE


class Outbox:
    """Appends messages to an outbox file; safe to call from many server threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, *, topic_arn: str, protocol: str, to: str, subject: str | None,
               message: str, attributes: Mapping[str, Any] | None = None,
               message_id: str | None = None, now: datetime | None = None) -> OutboxMessage:
        stamp = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
        entry = OutboxMessage(time=stamp, topic_arn=topic_arn, protocol=protocol, to=to,
                              subject=subject, message=message,
                              attributes=dict(attributes or {}), message_id=message_id)
        line = json.dumps(entry.to_json(), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
        return entry

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)


def read_outbox(path: Path) -> list[OutboxMessage]:
    """Every message in the outbox, oldest first; a damaged line is an error naming it."""
    if not path.exists():
        return []
    messages = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                messages.append(OutboxMessage(
                    time=str(data["time"]), topic_arn=str(data["topic_arn"]),
                    protocol=str(data["protocol"]), to=str(data["to"]),
                    subject=data.get("subject"), message=str(data["message"]),
                    attributes=dict(data.get("attributes") or {}),
                    message_id=data.get("message_id")))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                reason = (f"missing field {exc}" if isinstance(exc, KeyError)
                          else f"not a JSON object ({exc})")
                raise InventoryError(f"{path}, line {number}: {reason}",
                                     hint="the outbox is written by the emulator; remove the "
                                          "damaged line or the file") from None
    return messages
