"""The emulator's state folder and the `emulator.json` file that says which process serves it.

The folder follows platform conventions (`platformdirs.user_state_dir("inventory")`) and can be
moved with `INVENTORY_HOME`. The server writes `emulator.json` once it listens and removes it
when it stops; a file left by a process that died is recognised as stale by the pid in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"


@dataclass(frozen=True)
class EmulatorInfo:
    """A running emulator: where it answers and which process it is."""

    endpoint: str
    pid: int
    port: int
    home: Path
    started_at: str = ""

    @property
    def log_file(self) -> Path:
        return self.home / LOG_FILE

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["home"] = str(self.home)
        return data


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("INVENTORY_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_state_dir("inventory"))


def write_state(info: EmulatorInfo) -> None:
    """Write atomically, so a reader never sees half a file."""
    info.home.mkdir(parents=True, exist_ok=True)
    target = info.home / STATE_FILE
    staging = target.with_name(f".{STATE_FILE}.{os.getpid()}")
    staging.write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
    staging.replace(target)


def read_state(home: Path) -> EmulatorInfo | None:
    """The recorded emulator, or None when there is no readable record."""
    try:
        data = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
        return EmulatorInfo(endpoint=str(data["endpoint"]), pid=int(data["pid"]),
                            port=int(data["port"]), home=home,
                            started_at=str(data.get("started_at", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_state(home: Path, *, pid: int | None = None) -> None:
    """Remove the record (only if it still names `pid`, when given)."""
    if pid is not None:
        current = read_state(home)
        if current is not None and current.pid != pid:
            return
    (home / STATE_FILE).unlink(missing_ok=True)
